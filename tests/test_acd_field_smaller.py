"""Smaller field findings on the pure core: a pause asked for during a call and an explicit ready."""

from __future__ import annotations

from callcore.acd.core.events import (
    AgentLegAnswered,
    AgentLogin,
    AgentPause,
    AgentReady,
    CallArrived,
    CallerHungUp,
)
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig
from callcore.testkit.acd_harness import Harness


def harness(wrapup: float = 10.0) -> Harness:
    h = Harness.build([QueueConfig("sales", wrapup_time=wrapup)],
                      [AgentConfig("a1", endpoint="PJSIP/a1", memberships={"sales": 0})])
    h.send(AgentLogin("a1"))
    return h


def take_call(h: Harness, cid: str) -> None:
    h.send(CallArrived(cid, "sales"))
    (leg,) = h.legs_for("a1")
    h.send(AgentLegAnswered(leg))
    assert h.engine.state.agents["a1"].state is AgentState.ON_CALL


def test_ready_in_wrap_up_cancels_a_pause_asked_for_during_the_call() -> None:
    h = harness()
    take_call(h, "c1")
    h.send(AgentPause("a1", "coffee"))
    h.send(CallerHungUp("c1"))
    assert h.engine.state.agents["a1"].state is AgentState.WRAP_UP
    h.send(AgentReady("a1"))
    a = h.engine.state.agents["a1"]
    assert a.state is AgentState.AVAILABLE and a.pending is None
    take_call(h, "c2")
    h.send(CallerHungUp("c2"))
    h.advance(11)
    assert h.engine.state.agents["a1"].state.value == "available", "the old pause came back"


def test_ready_when_available_cancels_a_pending_pause() -> None:
    h = harness(wrapup=0)
    take_call(h, "c1")
    h.send(AgentPause("a1", "coffee"))
    h.send(AgentReady("a1"))  # during the call
    h.send(CallerHungUp("c1"))
    assert h.engine.state.agents["a1"].state is AgentState.AVAILABLE


def test_after_a_start_with_registration_tracking_nobody_is_rung_before_the_phones_are_known() -> None:
    """Field: right after a restart calls were offered to operators whose phone was offline (not yet read
    from AMI), each counting a miss against them."""
    from callcore.acd.core.engine import Engine
    from callcore.acd.core.events import EndpointRegistration, PersistedAgent, RegistrationsKnown, Resync
    agents = [AgentConfig(a, endpoint=f"PJSIP/{a}", memberships={"sales": 0}) for a in ("a1", "a2", "a3")]
    h = Harness(Engine([QueueConfig("sales")], agents, registrations_known=False))
    h.send(Resync((), {}, tuple(PersistedAgent(a, "available") for a in ("a1", "a2", "a3"))))
    h.send(CallArrived("c1", "sales"))
    assert not h.originated, "no phone is known reachable yet"
    assert h.engine.snapshot(h.now)["agents"]["a1"]["registered"] is False
    h.send(EndpointRegistration("PJSIP/a2", False))
    h.send(EndpointRegistration("PJSIP/a3", True))
    assert [o.app_args[2] for o in h.originated.values()] == ["a3"]
    h.send(CallArrived("c2", "sales"))
    h.send(RegistrationsKnown())   # a1's phone was not reported: reachable as without tracking; a2 stays offline
    assert sorted(o.app_args[2] for o in h.originated.values()) == ["a1", "a3"]
    assert all(a.misses == 0 for a in h.engine.state.agents.values())


def test_caller_overflowed_by_leave_empty_into_a_staffed_queue_is_offered_at_once() -> None:
    """A caller moved by a leave-empty overflow into a queue with free agents waited until something else
    happened in that queue."""
    from callcore.acd.core.model import Overflow
    queues = [QueueConfig("sales"), QueueConfig("night", leave_empty="none_available",
                                                 overflow=Overflow("queue", target="sales"))]
    h = Harness.build(queues, [AgentConfig("a1", endpoint="PJSIP/a1", memberships={"sales": 0})])
    h.send(AgentLogin("a1"))
    h.send(CallArrived("c1", "night"))
    assert h.engine.state.calls["c1"].queue == "sales"
    assert h.legs_for("a1"), "a1 is rung for the overflowed caller in the same step"
