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


# --- attended transfer ---------------------------------------------------------------------------------

from callcore.acd.core.commands import CreateBridge, OriginateAgent  # noqa: E402
from callcore.acd.core.events import AgentConsult, AgentLegFailed, AgentLegHungUp  # noqa: E402
from callcore.errors import InputError  # noqa: E402


def with_colleague(*, session: bool = False) -> tuple[Harness, str]:
    h = Harness.build([QueueConfig("sales", moh_class="jazz", wrapup_time=5, transfer_context="xfer")],
                      [AgentConfig("a1", "Ann", "PJSIP/a1", memberships={"sales": 0}),
                       AgentConfig("b1", "Bob", "PJSIP/b1", memberships={})])
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


def test_consult_a_number_then_complete_hands_the_caller_over() -> None:
    h, leg = with_colleague()
    out = h.send(AgentConsult("a1", "k1", number="5550100"))
    assert StartMoh("c1", "jazz") in out and RemoveFromBridge("callcore-c1", ("c1",)) in out
    (orig,) = of(out, OriginateAgent)
    assert orig.endpoint == "Local/5550100@xfer" and orig.app_args == ("consult", "k1")
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "complete"))  # nobody answered yet
    with pytest.raises(Conflict):
        h.send(AgentConsult("a1", "k2", number="5550101"))
    out = h.send(AgentLegAnswered("k1"))
    assert AddToBridge("callcore-c1", ("k1",)) in out
    h.advance(30)
    out = h.send(AgentCallControl("a1", "complete"))
    assert StopMoh("c1") in out and AddToBridge("callcore-c1", ("c1",)) in out
    assert Hangup(leg, "transferred") in out
    assert h.engine.state.agents["a1"].state is AgentState.WRAP_UP
    call = h.engine.state.calls["c1"]
    assert call.status == "transferred" and h.engine.snapshot(h.now)["queues"]["sales"]["transferred"] == 1
    # the consulted party hangs up: the caller's call ends too, nothing is left behind
    out = h.send(AgentLegHungUp("k1"))
    assert Hangup("c1", "transfer-target-hangup") in out
    assert "c1" not in h.engine.state.calls and not h.engine.state.consults


def test_caller_leaving_after_the_transfer_hangs_up_the_consulted_party() -> None:
    h, _ = with_colleague()
    h.send(AgentConsult("a1", "k1", agent="b1"))
    h.send(AgentLegAnswered("k1"))
    h.send(AgentCallControl("a1", "complete"))
    out = h.send(CallerHungUp("c1"))
    assert Hangup("k1", "caller-hangup") in out
    assert "c1" not in h.engine.state.calls and not h.engine.state.consults


def test_return_to_the_caller_and_a_consult_that_fails() -> None:
    h, _ = with_colleague()
    out = h.send(AgentConsult("a1", "k1", agent="b1"))
    assert of(out, OriginateAgent)[0].endpoint == "PJSIP/b1"
    h.send(AgentLegAnswered("k1"))
    with pytest.raises(Conflict):
        h.send(AgentCallControl("a1", "resume"))  # return, or complete
    out = h.send(AgentCallControl("a1", "return"))
    assert Hangup("k1", "consult-ended") in out and AddToBridge("callcore-c1", ("c1",)) in out
    assert h.engine.current_call("a1", h.now)["held"] is False  # type: ignore[index]
    h.send(AgentConsult("a1", "k2", number="5550100"))
    h.send(AgentLegFailed("k2", "busy"))
    call = h.engine.state.calls["c1"]
    assert call.consult_leg is None and call.held and call.status == "connected"  # caller waits on hold
    h.send(AgentCallControl("a1", "resume"))
    assert not h.engine.state.calls["c1"].held


def test_consult_refuses_bad_targets() -> None:
    h, _ = with_colleague()
    with pytest.raises(InputError):
        h.send(AgentConsult("a1", "k1", number="55@evil"))
    with pytest.raises(InputError):
        h.send(AgentConsult("a1", "k1", agent="a1"))
    with pytest.raises(InputError):
        h.send(AgentConsult("a1", "k1"))
    with pytest.raises(Exception, match="unknown agent"):
        h.send(AgentConsult("a1", "k1", agent="zz"))
    assert not h.engine.state.consults and not h.engine.state.calls["c1"].held


def test_hanging_up_during_a_consultation_ends_both_legs() -> None:
    h, _ = with_colleague()
    h.send(AgentConsult("a1", "k1", number="5550100"))
    h.send(AgentLegAnswered("k1"))
    out = h.send(AgentCallControl("a1", "hangup"))
    assert Hangup("c1", "agent-hangup") in out and Hangup("k1", "agent-hangup") in out
    assert not h.engine.state.consults


def test_complete_in_session_mode_moves_both_to_their_own_bridge() -> None:
    h, sess = with_colleague(session=True)
    h.send(AgentConsult("a1", "k1", number="5550100"))
    h.send(AgentLegAnswered("k1"))
    out = h.send(AgentCallControl("a1", "complete"))
    assert RemoveFromBridge("callcore-agent-a1", ("k1",)) in out
    assert CreateBridge("callcore-xfer-c1", "mixing") in out and AddToBridge("callcore-xfer-c1", ("c1", "k1")) in out
    assert not [c for c in of(out, Hangup) if c.channel == sess]
    out = h.send(CallerHungUp("c1"))
    assert Hangup("k1", "caller-hangup") in out
