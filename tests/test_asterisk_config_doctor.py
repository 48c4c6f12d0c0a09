"""``callcore doctor`` against the simulated Asterisk (ARI), SimAmi, a FastAGI server and a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from callcore.agi.server import AgiServer
from callcore.config import Secret, Settings
from callcore.doctor import collect, run_doctor
from callcore.sim.ami import SimAmi

sim_mod = pytest.importorskip("callcore.sim", reason="the ARI simulator (callcore.sim) is not available")

pytestmark = pytest.mark.postgres


@dataclass
class Lab:
    settings: Settings
    ami: SimAmi
    ws: Any


@pytest.fixture
async def lab(pg_dsn: str) -> AsyncIterator[Lab]:
    async with sim_mod.SimAsterisk(seed=1) as sim, SimAmi() as ami:
        settings = Settings().replace(
            ari_url=sim.ari_url, ami_enabled=True, ami_port=ami.port, ami_secret=Secret(ami.secret),
            ami_timeout=2.0, agi_port=0, database_url=Secret(pg_dsn))
        async with AgiServer(settings, []) as agi, aiohttp.ClientSession() as http:
            settings = settings.replace(agi_port=agi.port)
            ws_url = sim.ari_url.replace("http", "ws") + "/ari/events"
            params = {"app": "callcore", "api_key": "callcore:callcore-secret"}
            ws = await http.ws_connect(ws_url, params=params)
            try:
                yield Lab(settings, ami, ws)
            finally:
                await ws.close()


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


async def test_healthy_installation(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.ami.set_registered("agent1001", True)
    assert await run_doctor(lab.settings) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "Everything callcore needs is in place." in out
    assert "1 of 3 endpoints registered" in out


async def test_problems_are_named(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    del lab.ami.contexts["dialer-amd"]
    await lab.ws.close()
    bad = lab.settings.replace(ari_password=Secret("nope"))
    checks = by_name(await collect(bad))
    assert checks["ARI"].status == "fail" and "CALLCORE_ARI_PASSWORD" in checks["ARI"].detail
    assert checks["Dialplan"].status == "fail" and "dialer-amd" in checks["Dialplan"].detail
    checks = by_name(await collect(lab.settings))
    assert checks["Stasis application"].status == "fail"
    wrong_ami = lab.settings.replace(ami_secret=Secret("wrong"), agi_port=1)
    checks = by_name(await collect(wrong_ami))
    assert checks["AMI"].status == "fail" and "CALLCORE_AMI_SECRET" in checks["AMI"].detail
    assert checks["FastAGI"].status == "fail"
    assert await run_doctor(wrong_ami) == 1
    assert "problem(s) found" in capsys.readouterr().out


async def test_unmigrated_database(lab: Lab, pg_server: str) -> None:
    import asyncpg

    from callcore.store.pg import with_database

    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute("DROP DATABASE IF EXISTS callcore_doctor_empty")
        await admin.execute("CREATE DATABASE callcore_doctor_empty")
        empty = Secret(with_database(pg_server, "callcore_doctor_empty"))
        checks = by_name(await collect(lab.settings.replace(database_url=empty)))
        assert checks["Database"].status == "fail" and "callcore db migrate" in checks["Database"].detail
        assert checks["Database"].detail.count("0001") == 1
    finally:
        await admin.execute("DROP DATABASE IF EXISTS callcore_doctor_empty")
        await admin.close()


async def test_missing_safe_harbour_recording_is_named(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from callcore.sim import media

    assert by_name(await collect(lab.settings))["Safe-harbour recording"].status == "ok"
    monkeypatch.delitem(media.SOUNDS, "custom/callcore-safe-harbour")
    check = by_name(await collect(lab.settings))["Safe-harbour recording"]
    assert check.status == "fail" and "python -m callcore.dialer.sounds" in check.detail
