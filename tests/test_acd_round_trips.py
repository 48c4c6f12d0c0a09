"""ARI requests per inbound call: what the dialplan already did is not repeated, and the caller's bridge
exists before the agent answers (against the simulated Asterisk over HTTP/websocket)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.testkit.acd_rig import AcdRig

ANSWER = "rest:POST /ari/channels/{channelId}/answer"
MOH_ON = "rest:POST /ari/channels/{channelId}/moh"
MOH_OFF = "rest:DELETE /ari/channels/{channelId}/moh"


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    s = SimAsterisk(seed=5, agents=["PJSIP/a1"])
    s.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.4))
    async with s:
        yield s


AGENT = [AgentConfig("a1", "A1", "PJSIP/a1", memberships={"sales": 0})]


async def test_the_bridge_is_ready_while_the_agent_rings(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales", ring_timeout=5)], AGENT) as rig:
        await rig.svc.login("a1")
        # the agent's answer (0.4 s after the dial) and the caller's hang-up (0.3 s after the bridge) come
        # when the test moves simulated time, not when a loaded machine gets round to the next check
        sim.hold_time()
        cid = await sim.inject_call(queue="sales", talk_time=0.3)
        await rig.until(lambda: rig.state("a1") == "reserved", "agent rung")
        leg = rig.svc.engine.state.agents["a1"].leg_id
        assert leg is not None
        await rig.until(lambda: f"callcore-{cid}" in sim.engine.bridges, "bridge created while ringing")
        await rig.until(lambda: leg in sim.engine.channels, "agent channel created")
        assert sim.engine.channels[leg].state != "Up"  # the agent has not answered yet
        sim.advance_time(sim.engine.dial_start_delay + 0.5)  # the dial starts, the agent answers 0.4 s later
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "caller and agent bridged")
        assert set(sim.engine.bridges[f"callcore-{cid}"].channels) == {cid, leg}
        creates = sim.counters.get("rest:POST /ari/bridges", 0) + sim.counters.get(
            "rest:POST /ari/bridges/{bridgeId}", 0)
        assert creates == 1  # created once, not again at the answer
        await rig.until(lambda: not sim.engine.channels[cid].moh, "MOH stops right after the caller joins")
        sim.release_time()
        await rig.until(lambda: rig.state("a1") == "available", "call over")
        await rig.svc.drain()
        assert f"callcore-{cid}" not in sim.engine.bridges
        assert rig.svc.runtime._precreated == {}


async def test_a_caller_leaving_while_the_agent_rings_takes_the_bridge_along(sim: SimAsterisk) -> None:
    sim.set_endpoint("PJSIP/a1", EndpointBehaviour(p_answer=0.0))
    async with AcdRig(sim.ari_url, [QueueConfig("sales", ring_timeout=10)], AGENT) as rig:
        await rig.svc.login("a1")
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: f"callcore-{cid}" in sim.engine.bridges, "bridge created while ringing")
        await sim.hangup(cid)
        await rig.until(lambda: rig.state("a1") == "available", "offer withdrawn")
        await rig.until(lambda: f"callcore-{cid}" not in sim.engine.bridges, "bridge destroyed")
        await rig.svc.drain()
        assert rig.svc.runtime._precreated == {} and len(rig.svc.runtime.keys) == 0


@pytest.mark.parametrize("dialplan_moh", [False, True])
async def test_an_answered_channel_is_not_answered_again(sim: SimAsterisk, dialplan_moh: bool) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales")], AGENT) as rig:
        rig.svc.runtime.dialplan_moh = dialplan_moh
        await rig.svc.login("a1")
        await sim.inject_call(queue="sales", answered=True, talk_time=0.2)
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "caller and agent bridged")
        await rig.until(lambda: rig.state("a1") == "available", "call over")
        await rig.svc.drain()
        assert sim.counters.get(ANSWER, 0) == 0
        assert sim.counters.get(MOH_ON, 0) == (0 if dialplan_moh else 1)
        assert sim.counters.get(MOH_OFF, 0) == 1  # MOH stops when the caller is bridged, whoever started it


async def test_a_ringing_channel_is_answered_and_gets_moh_whatever_the_setting(sim: SimAsterisk) -> None:
    async with AcdRig(sim.ari_url, [QueueConfig("sales")], AGENT) as rig:
        rig.svc.runtime.dialplan_moh = True  # the dialplan did not answer: it cannot have started MOH
        cid = await sim.inject_call(queue="sales")
        await rig.until(lambda: cid in sim.engine.channels and sim.engine.channels[cid].moh, "caller hears MOH")
        assert sim.counters.get(ANSWER, 0) == 1 and sim.engine.channels[cid].state == "Up"


async def test_a_backlog_of_events_is_handled_in_slices() -> None:
    """Events already queued are taken without waiting; the loop still runs other work between slices."""
    import asyncio

    from callcore.acd.runtime.executor import YIELD_EVERY, AcdRuntime
    from callcore.ari.fake import FakeAri
    from callcore.clock import ManualClock
    from callcore.store.api import MemoryJournal
    from callcore.testkit.acd_harness import Harness

    clock = ManualClock()
    rt = AcdRuntime(Harness.build([QueueConfig("sales")], AGENT).engine, FakeAri(clock=clock), MemoryJournal(),
                    clock)
    fed: list[object] = []
    rt.feed = fed.append  # type: ignore[method-assign,assignment]
    total = 4 * YIELD_EVERY

    class Backlog:  # every event is ready: __anext__ never suspends
        def __init__(self) -> None:
            self.n = 0

        def __aiter__(self) -> Backlog:
            return self

        async def __anext__(self) -> object:
            if self.n >= total:
                raise StopAsyncIteration
            self.n += 1
            return object()

    seen_at: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: seen_at.append(len(fed)))
    await rt.run(Backlog())
    assert len(fed) == total
    assert seen_at and seen_at[0] < total  # the other callback ran while the backlog was being handled


async def test_settle_waits_for_what_was_submitted_not_for_what_keeps_coming() -> None:
    import asyncio

    from callcore.acd.runtime.lanes import Lanes

    done: list[str] = []
    gate = asyncio.Event()

    async def execute(item: str) -> None:
        if item.startswith("late"):
            await gate.wait()  # work submitted after the settle began, still running when it returns
        done.append(item)

    lanes: Lanes[str] = Lanes(execute, concurrency=2)
    pool = asyncio.get_running_loop().create_task(lanes.run())
    try:
        for i in range(5):
            lanes.submit(f"c{i}", f"early{i}")
        lanes.submit("c0", "withdrawn")
        assert lanes.withdraw_last("c0", lambda x: x == "withdrawn")
        settling = asyncio.get_running_loop().create_task(lanes.settle())
        lanes.submit("c9", "late")
        await asyncio.wait_for(settling, 10)
        assert sorted(d for d in done if d.startswith("early")) == [f"early{i}" for i in range(5)]
        assert "late" not in done and lanes.active_lanes == 1
        gate.set()
        await lanes.drain()
        assert "late" in done
    finally:
        pool.cancel()
        await asyncio.gather(pool, return_exceptions=True)
