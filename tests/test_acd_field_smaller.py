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
