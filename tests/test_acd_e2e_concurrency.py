"""ARI lanes over real sockets: a slow request holds up only its own call, and the in-flight cap holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.testkit.acd_rig import AcdRig

IDS = tuple(f"a{i}" for i in range(1, 9))


def agents(*ids: str) -> list[AgentConfig]:
    return [AgentConfig(a, a.upper(), f"PJSIP/{a}", memberships={"sales": 0}) for a in ids]


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    s = SimAsterisk(seed=9, agents=[f"PJSIP/{a}" for a in IDS])
    for a in IDS:
        s.set_endpoint(f"PJSIP/{a}", EndpointBehaviour(answer_delay=0.05))
    async with s:
        yield s


async def test_a_slow_request_holds_up_only_its_own_call(sim: SimAsterisk) -> None:
    queue = QueueConfig("sales", strategy="linear")
    async with AcdRig(sim.ari_url, [queue], agents("a1", "a2")) as rig:
        await rig.svc.login("a1")
        await rig.svc.login("a2")
        slow = await sim.inject_call(queue="sales")
        sim.add_rest_fault(f"/ari/channels/{slow}/answer", delay=1.5, count=1)
        fast = await sim.inject_call(queue="sales")
        await rig.until(lambda: (rig.svc.current_call("a2") or {}).get("call_id") == fast, "second call routed")
        await rig.until(lambda: sim.counters.get("calls_bridged") == 1, "second call bridged")
        assert sim.engine.channels[slow].state == "Ring"  # its answer is still on the wire
        # The agent leg of the slow call was originated at once (it has its own lane) and answered ...
        assert rig.state("a1") == "on_call"
        # ... but the slow caller's bridge waits behind its answer and MOH, in order.
        assert sim.engine.channels[slow].bridge_id is None
        await rig.until(lambda: sim.counters.get("calls_bridged") == 2, "slow call bridged after its answer")
        assert sim.engine.channels[slow].state == "Up" and not sim.engine.channels[slow].moh


async def test_in_flight_cap_holds_over_sockets(sim: SimAsterisk) -> None:
    sim.add_rest_fault("/ari/channels", delay=0.02)
    async with AcdRig(sim.ari_url, [QueueConfig("sales")], agents(*IDS), concurrency=2) as rig:
        for a in IDS:
            await rig.svc.login(a)
        calls = [await sim.inject_call(queue="sales", talk_time=0.1) for _ in range(8)]
        await rig.until(lambda: sim.counters.get("calls_bridged") == 8, "every call bridged", timeout=10)
        await rig.until(lambda: all(rig.state(a) == "available" for a in IDS), "every call over", timeout=10)
        await rig.svc.drain()
        lanes = rig.svc.runtime.lanes
        assert lanes.peak_in_flight == 2
        assert lanes.active_lanes == 0 and len(rig.svc.runtime.keys) == 0
        assert all(c not in sim.engine.channels for c in calls)


async def test_shutdown_with_requests_in_flight_leaves_nothing_running(sim: SimAsterisk) -> None:
    rig = AcdRig(sim.ari_url, [QueueConfig("sales")], agents(*IDS))
    await rig.start()
    sim.add_rest_fault("/ari/channels/", delay=30.0)
    for a in IDS[:3]:
        await rig.svc.login(a)
    for _ in range(3):
        await sim.inject_call(queue="sales")
    lanes = rig.svc.runtime.lanes
    await rig.until(lambda: lanes.in_flight == 3 and lanes.queued > 0, "answers stuck on the wire")
    await asyncio.wait_for(rig.close(), 5)  # guards against a hang only
    assert not lanes.running and lanes.in_flight == 0 and lanes.active_lanes == 0 and lanes.dropped > 0
    await asyncio.wait_for(rig.svc.drain(), 1)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("acd-")]
    assert rig.svc.runtime.pending_timers() == []
    sim.clear_rest_faults()
