"""The inbound ACD across websocket drops and an Asterisk restart, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.testkit.acd_rig import AcdRig

MOH_POSTS = "rest:POST /ari/channels/{channelId}/moh"


def agents(*ids: str) -> list[AgentConfig]:
    return [AgentConfig(a, a.upper(), f"PJSIP/{a}", memberships={"sales": 0}) for a in ids]


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    s = SimAsterisk(seed=5, agents=["PJSIP/a1", "PJSIP/a2", "PJSIP/a3"])
    for a in ("a1", "a2", "a3"):
        s.set_endpoint(f"PJSIP/{a}", EndpointBehaviour(answer_delay=0.1))
    async with s:
        yield s


async def test_websocket_drop_readopts_waiting_caller(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales", moh_class="jazz")], agents("a1")) as rig:
        await rig.svc.login("a1")
        await rig.svc.pause("a1", "coffee")
        first = await sim.inject_call(queue="sales", caller_number="+15550001")
        second = await sim.inject_call(queue="sales", caller_number="+15550002")
        await rig.until(lambda: sim.counters.get(MOH_POSTS, 0) == 2, "both callers hear MOH")
        reconnects = rig.session.stream.connections
        await sim.drop_websockets()
        sim.engine.channels[first].moh = False
        sim.engine.channels[second].moh = False
        await rig.until(lambda: rig.session.stream.connections == reconnects + 1, "websocket reconnected")
        await rig.until(lambda: sim.engine.channels[first].moh and sim.engine.channels[second].moh,
                        "MOH restarted for the callers still waiting")
        snap = rig.svc.snapshot()["queues"]["sales"]
        assert snap["waiting"] == 2 and [c["call_id"] for c in snap["calls"]] == [first, second]
        assert rig.svc.agent_state("a1")["pause_reason"] == "coffee"
        await rig.svc.ready("a1")
        await rig.until(lambda: (rig.svc.current_call("a1") or {}).get("call_id") == first,
                        "the first caller is bridged after the outage")
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "sim counts the call bridged")
        assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 1


async def test_websocket_drop_keeps_a_bridged_call(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales", wrapup_time=0.1)], agents("a1")) as rig:
        await rig.svc.login("a1")
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.state("a1") == "on_call", "agent on the call")
        reconnects = rig.session.stream.connections
        await sim.drop_websockets()
        await rig.until(lambda: rig.session.stream.connections == reconnects + 1, "websocket reconnected")
        await rig.svc.drain()
        assert rig.state("a1") == "on_call"
        assert rig.svc.engine.state.calls[cid].status == "connected"
        await sim.hangup(cid)
        await rig.until(lambda: rig.state("a1") == "available", "call ends normally after the outage")


async def test_asterisk_restart_leaves_no_agent_stuck(sim: SimAsterisk) -> None:
    sim.set_endpoint("PJSIP/a2", EndpointBehaviour(p_answer=0.0))
    queue = QueueConfig("sales", strategy="linear", ring_timeout=30, wrapup_time=0.2)
    async with AcdRig(sim.ari_url, [queue], agents("a1", "a2", "a3")) as rig:
        for a in ("a1", "a2", "a3"):
            await rig.svc.login(a)
        await rig.svc.pause("a3", "lunch")
        await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.state("a1") == "on_call", "a1 on a call")
        await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.state("a2") == "reserved", "a2 ringing")
        await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.svc.snapshot()["queues"]["sales"]["waiting"] == 2, "third caller waits")
        reconnects = rig.session.stream.connections
        sim.restart_soon(0.2)
        await rig.until(lambda: rig.session.stream.connections == reconnects + 1, "reconnected after restart")
        await rig.until(lambda: all(rig.state(a) in ("available", "paused") for a in ("a1", "a2", "a3")),
                        "nobody reserved or on a call")
        assert not rig.svc.engine.state.calls and not rig.svc.engine.state.legs
        assert rig.svc.agent_state("a3")["pause_reason"] == "lunch"
        assert sim.engine.channels == {}
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: (rig.svc.current_call("a1") or {}).get("call_id") == cid,
                        "routing works after the restart")


async def test_phone_session_by_endpoint_name_survives_a_websocket_drop() -> None:
    """Field: the shipped *55 passes the phone's endpoint name (agent1001); the resync after a websocket
    blip looked up agent ids only and hung every such session up, cutting the conversation."""
    async with SimAsterisk(seed=9, agents=["PJSIP/agent1001"]) as sim:
        operators = [AgentConfig("1001", "Anna", "PJSIP/agent1001", memberships={"sales": 0})]
        async with AcdRig(sim.ari_url, [QueueConfig("sales", wrapup_time=0.1)], operators) as rig:
            session = await sim.inject_agent_login("PJSIP/agent1001")
            await rig.until(lambda: rig.state("1001") == "available", "*55 logs the operator in")
            cid = await sim.inject_call(queue="sales", talk_time=30)
            await rig.until(lambda: rig.state("1001") == "on_call", "caller bridged to the session")
            reconnects = rig.session.stream.connections
            await sim.drop_websockets()
            await rig.until(lambda: rig.session.stream.connections == reconnects + 1, "websocket reconnected")
            await rig.svc.drain()
            assert session in sim.engine.channels and cid in sim.engine.channels
            assert rig.state("1001") == "on_call"
            assert set(sim.engine.bridges["callcore-agent-1001"].channels) == {session, cid}
            await sim.hangup(cid)
            await rig.until(lambda: rig.state("1001") == "available", "the call ends, the session stays")
            assert session in sim.engine.channels


async def test_phone_session_by_endpoint_name_survives_a_service_restart() -> None:
    """Field: after a restart the caller talking through a *55 session was re-queued and the same phone rung
    again, and an empty callcore-agent-* bridge was left in Asterisk."""
    async with SimAsterisk(seed=9, agents=["PJSIP/agent1001"]) as sim:
        operators = [AgentConfig("1001", "Anna", "PJSIP/agent1001", memberships={"sales": 0})]
        queues = [QueueConfig("sales", wrapup_time=0.1)]
        async with AcdRig(sim.ari_url, queues, operators) as rig:
            session = await sim.inject_agent_login("PJSIP/agent1001")
            await rig.until(lambda: rig.state("1001") == "available", "*55 logs the operator in")
            cid = await sim.inject_call(queue="sales", talk_time=30)
            await rig.until(lambda: rig.state("1001") == "on_call", "caller bridged to the session")
        originated = sim.counters.get("channels_originated", 0)
        async with AcdRig(sim.ari_url, queues, operators) as rig:   # the service starts again
            await rig.until(lambda: rig.state("1001") == "on_call", "conversation adopted")
            await rig.svc.drain()
            assert session in sim.engine.channels and cid in sim.engine.channels
            assert set(sim.engine.bridges["callcore-agent-1001"].channels) == {session, cid}
            assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 0
            assert sim.counters.get("channels_originated", 0) == originated, "nobody rung again"
            await sim.hangup(cid)
            await rig.until(lambda: rig.state("1001") == "available", "the call ends, the session stays")
            assert session in sim.engine.channels
            assert [b for b in sim.engine.bridges if b.startswith("callcore-agent-")] == ["callcore-agent-1001"]
