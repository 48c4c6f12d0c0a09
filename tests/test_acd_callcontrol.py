"""Hold, resume and hang-up of a connected call in the ACD core."""

from __future__ import annotations

from typing import Any

import pytest

from callcore.acd.core.commands import AddToBridge, Hangup, RemoveFromBridge, StartMoh, StopMoh
from callcore.acd.core.events import (
    AgentCallControl,
    AgentLegAnswered,
    AgentLogin,
    AgentSessionConnected,
    AgentTransfer,
    CallArrived,
    CallerHungUp,
)
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig
from callcore.errors import Conflict
from callcore.testkit.acd_harness import Harness


def of(cmds: list[Any], kind: type) -> list[Any]:
    return [c for c in cmds if isinstance(c, kind)]


def connected(*, session: bool = False) -> tuple[Harness, str]:
    h = Harness.build([QueueConfig("sales", moh_class="jazz", wrapup_time=5)],
                      [AgentConfig("a1", "Ann", "PJSIP/a1", memberships={"sales": 0})])
    if session:
        h.send(AgentSessionConnected("a1", "sess-1"))
    else:
        h.send(AgentLogin("a1"))
    h.advance(1)
    out = h.send(CallArrived("c1", "sales", caller_number="5551"))
    if session:
        return h, "sess-1"
    leg = next(c.leg_id for c in out if hasattr(c, "leg_id"))
    h.send(AgentLegAnswered(leg))
    return h, leg


def test_hold_plays_music_out_of_the_bridge_and_resume_puts_the_caller_back() -> None:
    h, _ = connected()
    out = h.send(AgentCallControl("a1", "hold"))
    assert RemoveFromBridge("callcore-c1", ("c1",)) in out and StartMoh("c1", "jazz") in out
    assert h.engine.current_call("a1", h.now)["held"] is True  # type: ignore[index]
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "hold"))
    out = h.send(AgentCallControl("a1", "resume"))
    assert out.index(StopMoh("c1")) < out.index(AddToBridge("callcore-c1", ("c1",)))
    assert h.engine.current_call("a1", h.now)["held"] is False  # type: ignore[index]
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "resume"))


def test_hangup_ends_the_call_and_starts_wrap_up() -> None:
    h, leg = connected()
    h.send(AgentCallControl("a1", "hold"))
    out = h.send(AgentCallControl("a1", "hangup"))
    assert Hangup("c1", "agent-hangup") in out and Hangup(leg, "agent-hangup") in out
    assert StopMoh("c1") in out
    assert h.engine.state.agents["a1"].state is AgentState.WRAP_UP
    assert "c1" not in h.engine.state.calls
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "hangup"))


def test_hangup_in_session_mode_keeps_the_session_channel() -> None:
    h, sess = connected(session=True)
    assert h.engine.state.agents["a1"].state is AgentState.ON_CALL
    out = h.send(AgentCallControl("a1", "hangup"))
    assert Hangup("c1", "agent-hangup") in out
    assert not [c for c in of(out, Hangup) if c.channel == sess]


def test_caller_leaving_while_on_hold_ends_the_call_and_transfer_stops_the_music() -> None:
    h, _ = connected()
    h.send(AgentCallControl("a1", "hold"))
    h.send(CallerHungUp("c1"))
    assert h.engine.state.agents["a1"].state is AgentState.WRAP_UP
    h2, _ = connected()
    h2.send(AgentCallControl("a1", "hold"))
    out = h2.send(AgentTransfer("a1", number="5550100"))
    assert StopMoh("c1") in out


def test_hold_without_a_call_is_a_conflict() -> None:
    h = Harness.build([QueueConfig("sales")], [AgentConfig("a1", memberships={"sales": 0})])
    h.send(AgentLogin("a1"))
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "hold"))
