"""Opt-in tests against a real Asterisk 20/22 configured with asterisk-config/.

Skipped unless CALLCORE_TEST_ARI_URL is set. `python tests/real_asterisk/labconfig.py DIR --prefix PREFIX`
writes a lab configuration (the project's asterisk-config/ with its placeholders filled) and DIR/lab.env,
which sets every variable below; README "Connecting a real Asterisk" gives the lab topology. Environment:

  CALLCORE_TEST_ARI_URL        e.g. http://127.0.0.1:8088
  CALLCORE_TEST_ARI_USER       default callcore
  CALLCORE_TEST_ARI_PASSWORD   the password put in ari.conf
  CALLCORE_TEST_AMI_HOST/PORT  default 127.0.0.1 / 5038
  CALLCORE_TEST_AMI_SECRET     the secret put in manager.conf (AMI and service tests skip without it)
  CALLCORE_TEST_SIP            Asterisk's SIP address, default 127.0.0.1:5060
  CALLCORE_TEST_PHONE_IP       address the operators' SIPp phones use, default 127.0.0.1
  CALLCORE_TEST_TRUNK_IP       address of the trunk side (callers, customers), default 127.0.0.2: it must be
                               the trunk's identify `match` and no phone may use it
  CALLCORE_TEST_TRUNK_PORT     port of the SIPp customers behind the trunk (its aor contact), default 5090
  CALLCORE_TEST_AGI_PORT       FastAGI port the dialplan calls (CALLCORE_AGI), default 4573
  CALLCORE_TEST_AGENT_PASSWORD password of endpoints agent1001/agent1002 (agent tests skip without it)
  CALLCORE_TEST_DID            a DID routed by the `inbound` context, default 5550100

The FastAGI server of these tests (or the callcore service they start) listens on the AGI port, so no
other callcore service may use it at the same time. SIPp (`sipp`, Debian package sip-tester) must be
installed for the call tests; they skip with a clear reason otherwise. The service tests need PostgreSQL
(the fixtures of tests/conftest.py find or start one).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from real_asterisk.lab import AriLab, LabConfig

collect_ignore: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CALLCORE_TEST_ARI_URL"):
        return
    reason = "real-Asterisk suite: set CALLCORE_TEST_ARI_URL (and credentials) to run it"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "real_asterisk" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def lab_config() -> LabConfig:
    return LabConfig.from_env()


@pytest.fixture
def sipp(lab_config: LabConfig) -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.skip("SIPp is not installed (Debian package sip-tester): call tests need it")
    return path


@pytest.fixture
async def ari(lab_config: LabConfig) -> AsyncIterator[AriLab]:
    async with AriLab(lab_config) as lab:
        yield lab
