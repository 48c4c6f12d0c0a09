"""Calls through a real Asterisk configured with asterisk-config/: FastAGI route hook, inbound call
queued and bridged to an agent, caller abandoning, outbound answered/busy/no answer, AMI health.

The test process is the Stasis application (it opens the `callcore` event websocket) and the FastAGI
server, so these tests check the Asterisk configuration and callcore's AGI/AMI pieces end to end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from callcore.agi.routing import DidRoute, RouteFacts
from callcore.agi.scripts import AgiScripts
from callcore.agi.server import AgiServer
from callcore.agi.store import CallerInfo
from callcore.ami import AmiClient
from callcore.clock import SystemClock
from callcore.doctor import collect
from real_asterisk.lab import AriLab, LabConfig, finish, of_type, phone, run_sipp, scenario, stop, succeeded

AGENT = "agent1001"
AGENT_PORT = 5070


class RouteOnly:
    """AgiStore for the lab: every DID goes to queue `sales` with priority 7."""

    async def route_facts(self, dids: list[str], callers: list[str], now: dt.datetime) -> RouteFacts:
        return RouteFacts(DidRoute(dids[0] if dids else "", "sales", 7))

    async def caller_info(self, callers: list[str]) -> CallerInfo:
        return CallerInfo()

    async def is_dnc(self, phone_e164: str) -> bool:
        return False

    async def add_callback(self, number: str, queue: str, due_at: dt.datetime, note: str) -> bool:
        return True


@pytest.fixture
async def agi(lab_config: LabConfig) -> AsyncIterator[AgiServer]:
    async with AgiServer(lab_config.settings(), AgiScripts(RouteOnly(), SystemClock()).scripts()) as server:
        yield server


async def _inbound_call(sipp: str, cfg: LabConfig, ari: AriLab,
                        hold_ms: int) -> tuple[asyncio.subprocess.Process, str]:
    """A caller from the trunk's address to the DID; hangs up ``hold_ms`` after being answered."""
    caller = await run_sipp(sipp, cfg, "-sf", scenario("caller.xml"), "-s", cfg.did, "-p", "5061",
                            "-recv_timeout", str(hold_ms))
    start = await ari.wait(lambda e: e.get("type") == "StasisStart" and e.get("args", [None])[0] == "inbound")
    return caller, start["channel"]["id"]


async def test_fastagi_route_sets_stasis_arguments(sipp: str, lab_config: LabConfig, ari: AriLab,
                                                   agi: AgiServer) -> None:
    caller, channel = await _inbound_call(sipp, lab_config, ari, 3000)
    start = await ari.wait(of_type("StasisStart", channel))
    assert start["args"] == ["inbound", "sales", "7"]
    status, body = await ari.rest("GET", f"/channels/{channel}/variable", variable="CALLCORE_ROUTE_REASON")
    assert (status, body) == (200, {"value": "did"})
    await ari.rest("DELETE", f"/channels/{channel}")
    await finish(caller)


async def test_inbound_queued_and_bridged_to_agent(sipp: str, lab_config: LabConfig, ari: AriLab,
                                                   agi: AgiServer) -> None:
    async with phone(sipp, lab_config, ari, AGENT, AGENT_PORT):
        caller, customer = await _inbound_call(sipp, lab_config, ari, 8000)
        assert (await ari.rest("POST", f"/channels/{customer}/answer"))[0] == 204
        assert (await ari.rest("POST", f"/channels/{customer}/moh"))[0] == 204
        agent_id = f"agent-{uuid.uuid4().hex[:8]}"
        status, _ = await ari.rest("POST", "/channels", endpoint=f"PJSIP/{AGENT}", app=lab_config.app,
                                   appArgs="agent", channelId=agent_id, timeout=15)
        assert status == 200
        await ari.wait(of_type("StasisStart", agent_id))
        status, bridge = await ari.rest("POST", "/bridges", type="mixing")
        assert status == 200
        await ari.rest("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{customer},{agent_id}")
        await ari.rest("DELETE", f"/channels/{customer}/moh")
        for ch in (customer, agent_id):
            await ari.wait(of_type("ChannelEnteredBridge", ch))
        await ari.wait(of_type("StasisEnd", customer), limit=30)  # the caller hangs up (BYE)
        await ari.rest("DELETE", f"/channels/{agent_id}")
        await ari.wait(of_type("ChannelDestroyed", agent_id))
        await ari.rest("DELETE", f"/bridges/{bridge['id']}")
        await succeeded(caller, "the caller")


async def test_caller_abandons_while_queued(sipp: str, lab_config: LabConfig, ari: AriLab,
                                            agi: AgiServer) -> None:
    caller, channel = await _inbound_call(sipp, lab_config, ari, 2000)
    await ari.rest("POST", f"/channels/{channel}/answer")
    await ari.rest("POST", f"/channels/{channel}/moh")
    hangup = await ari.wait(of_type("ChannelHangupRequest", channel))
    assert "cause" not in hangup  # a remote BYE carries no cause
    await ari.wait(of_type("StasisEnd", channel))
    await succeeded(caller, "the caller")


@pytest.mark.parametrize(("customer_scenario", "cause"),
                         [("trunk_answer.xml", 16), ("trunk_busy.xml", 17), ("trunk_noanswer.xml", 19)])
async def test_outbound_answered_busy_no_answer(sipp: str, lab_config: LabConfig, ari: AriLab,
                                                customer_scenario: str, cause: int) -> None:
    hold = ["-recv_timeout", "60000"] if customer_scenario == "trunk_answer.xml" else []
    customer = await run_sipp(sipp, lab_config, "-sf", scenario(customer_scenario), *hold,
                              "-p", str(lab_config.trunk_port))
    try:
        await asyncio.sleep(0.3)
        channel = f"dial-{uuid.uuid4().hex[:8]}"
        status, _ = await ari.rest("POST", "/channels", app=lab_config.app, appArgs="dialer",
                                   channelId=channel, endpoint="PJSIP/5550199@trunk", timeout=5)
        assert status == 200
        if cause == 16:
            await ari.wait(of_type("StasisStart", channel))
            await ari.rest("DELETE", f"/channels/{channel}")
        destroyed = await ari.wait(of_type("ChannelDestroyed", channel), limit=30)
        assert destroyed["cause"] == cause
    finally:
        await stop(customer)


async def test_ami_health_registrations_and_dialplan(lab_config: LabConfig) -> None:
    lab_config.need_ami()
    async with AmiClient(lab_config.settings()) as client:
        health = client.health()
        assert health["logged_in"] and health["version"]
        assert await client.ping() and client.last_ping_rtt is not None
        assert client.registered(AGENT) is not None, "agent1001 should be a known PJSIP endpoint"
        for context in ("inbound", "agents", "dialer-amd", "callcore-fallback"):
            assert await client.list_action("ShowDialPlan", Context=context)


async def test_doctor_sees_asterisk(lab_config: LabConfig, ari: AriLab, agi: AgiServer) -> None:
    checks = {c.name: c for c in await collect(lab_config.settings())}
    assert checks["ARI"].status == "ok"
    assert checks["Stasis application"].status == "ok"
    assert checks["FastAGI"].status == "ok"
    if lab_config.ami_secret:
        assert checks["AMI"].status == "ok" and checks["Dialplan"].status == "ok"
