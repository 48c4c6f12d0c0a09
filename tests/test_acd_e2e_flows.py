"""The inbound ACD end to end: AcdService <-> ARI over HTTP/websocket <-> the simulated Asterisk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.testkit.acd_rig import AcdRig

AGENTS = ("a1", "a2", "a3")
MOH_POSTS = "rest:POST /ari/channels/{channelId}/moh"
PLAY_POSTS = "rest:POST /ari/channels/{channelId}/play"


def agents(*ids: str) -> list[AgentConfig]:
    return [AgentConfig(a, a.upper(), f"PJSIP/{a}", memberships={"sales": 0}) for a in ids]


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    s = SimAsterisk(seed=3, agents=[f"PJSIP/{a}" for a in (*AGENTS, "sup1")])
    for a in (*AGENTS, "sup1"):
        s.set_endpoint(f"PJSIP/{a}", EndpointBehaviour(answer_delay=0.1))
    async with s:
        yield s


async def bridge_members(rig: AcdRig) -> dict[str, set[str]]:
    return {b.id: set(b.channels) for b in await rig.client.list_bridges()}


async def test_inbound_call_moh_ring_bridge_wrapup(sim: SimAsterisk) -> None:
    queue = QueueConfig("sales", wrapup_time=0.3, ring_timeout=5, moh_class="jazz")
    sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.3))
    async with AcdRig(sim.ari_url, [queue], agents("a1")) as rig:
        await rig.svc.login("a1")
        cid = await sim.inject_call(queue="sales", caller_number="+15550001", talk_time=0.4)
        await rig.until(lambda: cid in sim.engine.channels and sim.engine.channels[cid].moh, "caller hears MOH")
        assert sim.engine.channels[cid].state == "Up"
        await rig.until(lambda: rig.state("a1") == "on_call", "agent answers")
        moves = [e.payload["to"] for e in rig.journal.events  # type: ignore[attr-defined]
                 if e.type == "agent.state" and e.agent_id == "a1"]
        assert moves == ["available", "reserved", "on_call"]
        leg = rig.svc.engine.state.agents["a1"].leg_id
        assert leg and leg in sim.engine.channels
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "sim counts the call bridged")
        assert (await bridge_members(rig)) == {f"callcore-{cid}": {cid, leg}}
        assert not sim.engine.channels[cid].moh
        await rig.until(lambda: rig.state("a1") == "wrap_up", "caller hangs up, agent in wrap-up")
        await rig.until(lambda: rig.state("a1") == "available", "wrap-up over")
        await rig.until(lambda: leg not in sim.engine.channels, "agent leg hung up")
        await rig.svc.drain()
        assert await bridge_members(rig) == {}
        types = rig.journal_types()
        for t in ("call.queued", "call.offered", "call.answered", "call.ended"):
            assert t in types
        assert sim.counters["channels_originated"] == 1
        assert len(rig.svc.runtime.keys) == 0 and rig.svc.runtime.lanes.active_lanes == 0


async def test_caller_abandons_while_waiting(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales")], agents("a1")) as rig:
        cid = await sim.inject_call(queue="sales", patience=0.2)
        await rig.until(lambda: "call.queued" in rig.journal_types(), "caller waits")
        await rig.until(lambda: rig.svc.snapshot()["queues"]["sales"]["abandoned"] == 1, "caller abandons")
        assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 0
        assert sim.counters["calls_abandoned"] == 1 and cid not in sim.engine.channels
        assert "call.abandoned" in rig.journal_types()
        assert sim.counters.get("channels_originated", 0) == 0


async def test_caller_hangs_up_while_agent_rings(sim: SimAsterisk) -> None:
    sim.set_endpoint("PJSIP/a1", EndpointBehaviour(p_answer=0.0))
    async with AcdRig(sim.ari_url, [QueueConfig("sales", ring_timeout=10)], agents("a1")) as rig:
        await rig.svc.login("a1")
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.state("a1") == "reserved", "agent rung")
        leg = rig.svc.engine.state.agents["a1"].leg_id
        assert leg is not None
        await rig.until(lambda: leg in sim.engine.channels and sim.engine.channels[leg].state == "Ringing",
                        "agent phone rings")
        await sim.hangup(cid)
        await rig.until(lambda: rig.state("a1") == "available", "agent available again")
        await rig.until(lambda: leg not in sim.engine.channels, "agent leg cancelled")
        assert sim.counters["calls_abandoned"] == 1
        assert rig.svc.agent_state("a1")["misses"] == 0


async def test_ring_no_answer_moves_on_and_auto_pauses(sim: SimAsterisk) -> None:
    sim.set_endpoint("PJSIP/a1", EndpointBehaviour(p_answer=0.0))
    queue = QueueConfig("sales", strategy="linear", ring_timeout=0.3, max_no_answer=2)
    async with AcdRig(sim.ari_url, [queue], agents("a1", "a2")) as rig:
        await rig.svc.login("a1")
        await rig.svc.login("a2")
        first = await sim.inject_call(queue="sales", talk_time=0.6)
        await rig.until(lambda: rig.state("a2") == "on_call", "second agent takes the first call")
        assert rig.svc.agent_state("a1")["misses"] == 1 and rig.state("a1") == "available"
        second = await sim.inject_call(queue="sales", talk_time=0.2)
        await rig.until(lambda: rig.state("a1") == "paused", "a1 auto-paused after two misses")
        assert rig.svc.agent_state("a1")["pause_reason"] == "no-answer"
        await rig.until(lambda: (rig.svc.current_call("a2") or {}).get("call_id") == second,
                        "a2 takes the second call")
        assert first not in rig.svc.engine.state.calls
        offers = [e for e in rig.journal.events if e.type == "call.offer_failed"]  # type: ignore[attr-defined]
        assert [e.agent_id for e in offers] == ["a1", "a1"]
        assert all(e.payload["cause"] == "timeout" for e in offers)


async def test_agent_session_gets_call_at_once_with_beep(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales", wrapup_time=0.2)], agents("a1")) as rig:
        await rig.client.originate("PJSIP/a1", channel_id="session-a1", app="callcore",
                                   app_args=["agent-login", "a1"])
        await rig.until(lambda: rig.state("a1") == "available", "session logs the agent in")
        await rig.until(lambda: (sim.engine.bridges.get("callcore-agent-a1") is not None
                                 and sim.engine.bridges["callcore-agent-a1"].channels == ["session-a1"]),
                        "session channel waits in the agent bridge")
        plays = sim.counters.get(PLAY_POSTS, 0)
        cid = await sim.inject_call(queue="sales", talk_time=0.3)
        await rig.until(lambda: rig.state("a1") == "on_call", "call connected to the session")
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "sim counts the call bridged")
        assert (await bridge_members(rig))["callcore-agent-a1"] == {"session-a1", cid}
        await rig.until(lambda: sim.counters.get(PLAY_POSTS, 0) == plays + 1, "beep to the agent")
        assert sim.counters["channels_originated"] == 1  # only the session itself
        await rig.until(lambda: rig.state("a1") == "available", "caller gone, wrap-up over")
        assert (await bridge_members(rig))["callcore-agent-a1"] == {"session-a1"}
        assert "session-a1" in sim.engine.channels


async def test_dtmf_callback_request(sim: SimAsterisk) -> None:
    queue = QueueConfig("sales", callback_digit="1")
    async with AcdRig(sim.ari_url, [queue], agents("a1")) as rig:
        cid = await sim.inject_call(queue="sales", caller_number="+15550009", caller_name="Ann")
        await rig.until(lambda: rig.svc.snapshot()["queues"]["sales"]["waiting"] == 1, "caller waits")
        await sim.send_dtmf(cid, "5")
        await sim.send_dtmf(cid, "1")
        await rig.until(lambda: len(rig.callbacks) == 1, "callback requested")
        cb = rig.callbacks[0]
        assert (cb.call_id, cb.queue, cb.caller_number, cb.caller_name, cb.position) == (
            cid, "sales", "+15550009", "Ann", 1)
        await rig.until(lambda: cid not in sim.engine.channels, "caller leaves")
        assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 0
        assert "callback.requested" in rig.journal_types()


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_supervisor_snoop_on_agent_call(sim: SimAsterisk, mode: str) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales")], agents("a1")) as rig:
        await rig.svc.login("a1")
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: rig.state("a1") == "on_call", "agent on the call")
        leg = rig.svc.engine.state.agents["a1"].leg_id
        sup = await rig.svc.supervise("a1", mode, "PJSIP/sup1")
        sup_leg = sup["leg_id"]
        await rig.until(lambda: sup_leg in sim.engine.channels and sim.engine.channels[sup_leg].bridge_id,
                        "supervisor leg answered and bridged")
        if mode == "barge":
            assert (await bridge_members(rig))[f"callcore-{cid}"] == {cid, leg, sup_leg}
            assert not [c for c in sim.engine.channels.values() if c.kind == "snoop"]
        else:
            (snoop,) = [c for c in sim.engine.channels.values() if c.kind == "snoop"]
            assert snoop.snoop_of == leg and snoop.id == f"snoop-{sup_leg}"
            assert (await bridge_members(rig))[f"callcore-sup-{sup_leg}"] == {snoop.id, sup_leg}
        await sim.hangup(cid)
        await rig.until(lambda: sup_leg not in sim.engine.channels, "supervisor leg ends with the call")
        await rig.until(lambda: not [c for c in sim.engine.channels.values() if c.kind == "snoop"],
                        "snoop channel gone")
        await rig.svc.drain()
        assert await bridge_members(rig) == {}
