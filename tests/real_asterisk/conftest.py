"""Opt-in tests against a real Asterisk 20/22 configured with asterisk-config/.

Skipped unless CALLCORE_TEST_ARI_URL is set. Environment:

  CALLCORE_TEST_ARI_URL        e.g. http://127.0.0.1:8088
  CALLCORE_TEST_ARI_USER       default callcore
  CALLCORE_TEST_ARI_PASSWORD   the password put in ari.conf
  CALLCORE_TEST_AMI_HOST/PORT  default 127.0.0.1 / 5038
  CALLCORE_TEST_AMI_SECRET     the secret put in manager.conf (AMI tests skip without it)
  CALLCORE_TEST_SIP            Asterisk's SIP address, default 127.0.0.1:5060
  CALLCORE_TEST_AGENT_PASSWORD password of endpoint agent1001 in pjsip.conf (agent tests skip without it)
  CALLCORE_TEST_DID            a DID routed by the `inbound` context, default 5550100

Asterisk must accept the SIPp callers as the trunk: set `match = 127.0.0.1` (the SIPp host) in the
[trunk-identify] section of pjsip.conf. The FastAGI server of these tests listens on 127.0.0.1:4573,
so no callcore service may run on that port at the same time. SIPp (`sipp`, Debian package sip-tester)
must be installed for the call tests; they skip with a clear reason otherwise.
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
