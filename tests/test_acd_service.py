from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from acd_rig import Rig

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.errors import AriServerError, Conflict, NotFound
from callcore.metrics import REGISTRY


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    agents = [AgentConfig(a, a.upper(), f"PJSIP/{a}", memberships={"sales": 0}) for a in ("a1", "a2")]
    r = Rig([QueueConfig("sales", wrapup_time=10, moh_class="jazz", script="Hi {caller_number}")], agents)
    sub = r.fake.events("acd-test")
    r.task = asyncio.create_task(r.svc.run(sub), name="acd-under-test")
    yield r
    sub.close()
    r.task.cancel()
    try:
        await r.task
    except (asyncio.CancelledError, Exception):
        pass


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_inbound_call_is_bridged_to_agent_and_wrapped_up(rig: Rig) -> None:
    answered_before = sample("callcore_queue_calls_answered_total", queue="sales")
    await rig.svc.login("a1")
    stream = rig.svc.events("a1")
    assert (await anext(stream))["state"] == "available"
    cid = rig.fake.inject_call("+15550001", args=("inbound", "sales", "2"))
    await rig.settle()
    assert rig.fake.moh.get(cid) == "jazz"
    (leg,) = rig.originated()
    assert rig.svc.agent_state("a1")["state"] == "reserved"
    rig.clock.advance(4)
    rig.fake.answer_originated(leg)
    await rig.settle()
    assert rig.svc.agent_state("a1")["state"] == "on_call"
    bridge = rig.fake.bridges[f"callcore-{cid}"]
    assert set(bridge.channels) == {cid, leg}
    info = rig.svc.current_call("a1")
    assert info is not None and info["script"] == "Hi +15550001" and info["priority"] == 2
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert rig.svc.agent_state("a1")["state"] == "wrap_up"
    assert leg not in rig.fake.channels
    assert sample("callcore_queue_calls_answered_total", queue="sales") == answered_before + 1
    states = []
    while True:
        ev = await asyncio.wait_for(anext(stream), 1)
        states.append(ev.get("state") or ev["event"])
        if ev.get("state") == "wrap_up":
            break
    assert "call" in states
    await rig.svc.disposition("a1", "sale")
    assert rig.svc.agent_state("a1")["state"] == "available"
    types = rig.journal.types()
    assert "call.answered" in types and "call.disposition" in types


async def test_caller_abandons_while_agent_rings(rig: Rig) -> None:
    await rig.svc.login("a1")
    cid = rig.fake.inject_call()
    await rig.settle()
    (leg,) = rig.originated()
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert leg not in rig.fake.channels
    assert rig.svc.agent_state("a1")["state"] == "available"
    assert rig.svc.snapshot()["queues"]["sales"]["abandoned"] == 1


async def test_originate_failure_moves_to_next_agent(rig: Rig) -> None:
    await rig.svc.login("a1")
    await rig.svc.login("a2")
    rig.fake.fail_next("originate", AriServerError("Allocation failed", status=500))
    rig.fake.inject_call()
    await rig.settle()
    legs = rig.originated()
    assert len(legs) == 2 and "-a1-" in legs[0] and "-a2-" in legs[1]
    assert rig.svc.agent_state("a2")["state"] == "reserved"


async def test_ring_timer_and_reconnect_restart_moh(rig: Rig) -> None:
    await rig.svc.login("a1")
    await rig.svc.pause("a1", "coffee")
    cid = rig.fake.inject_call()
    await rig.settle()
    rig.fake.moh.pop(cid, None)
    rig.fake.reconnect()
    await rig.settle()
    assert rig.fake.moh.get(cid) == "jazz"
    assert rig.svc.agent_state("a1")["pause_reason"] == "coffee"
    await rig.svc.ready("a1")
    await rig.settle()
    (leg,) = rig.originated()
    assert f"ring:{leg}" in rig.svc.runtime.pending_timers()
    rig.clock.advance(16)
    rig.svc.runtime.fire(f"ring:{leg}")
    await rig.settle()
    assert leg not in rig.fake.channels


async def test_port_errors(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.svc.login("nobody")
    with pytest.raises(NotFound):
        rig.svc.events("nobody")
    await rig.svc.login("a1")
    with pytest.raises(Conflict):
        await rig.svc.transfer("a1", queue="sales")
    with pytest.raises(Conflict):
        await rig.svc.supervise("a1", "listen", "PJSIP/sup")


async def test_apply_config_adds_queue(rig: Rig) -> None:
    agents = [AgentConfig("a1", endpoint="PJSIP/a1", memberships={"vip": 0})]
    rig.svc.apply_config([QueueConfig("sales"), QueueConfig("vip")], agents)
    await rig.svc.login("a1")
    rig.fake.inject_call(args=("inbound", "vip"))
    await rig.settle()
    assert len(rig.originated()) == 1
    snap = rig.svc.snapshot()
    assert set(snap["queues"]) == {"sales", "vip"} and "a2" in snap["agents"]
    assert snap["agents"]["a2"]["state"] == "logged_out"
