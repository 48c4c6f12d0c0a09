from __future__ import annotations

from typing import Any

import pytest

from callcore.acd.core.commands import (
    AddToBridge,
    CallbackRequested,
    ContinueInDialplan,
    CreateBridge,
    Hangup,
    Journal,
    OriginateAgent,
    Play,
    StartMoh,
    StartRecording,
)
from callcore.acd.core.events import (
    AgentDisposition,
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentSessionConnected,
    AgentTransfer,
    CallArrived,
    CallerHungUp,
    DtmfReceived,
    EndpointRegistration,
    PlaybackFinished,
)
from callcore.acd.core.model import AgentConfig, AgentState, Overflow, QueueConfig, SkillRequirement
from callcore.errors import Conflict, InputError
from callcore.testkit.acd_harness import Harness


def agents(*ids: str, queues: tuple[str, ...] = ("sales",), **kw: Any) -> list[AgentConfig]:
    return [AgentConfig(i, i.upper(), f"PJSIP/{i}", memberships=dict.fromkeys(queues, 0), **kw) for i in ids]


def harness(queues: list[QueueConfig] | None = None, ags: list[AgentConfig] | None = None,
            login: bool = True) -> Harness:
    h = Harness.build(queues or [QueueConfig("sales")], ags if ags is not None else agents("a1"))
    if login:
        for a in ags if ags is not None else agents("a1"):
            h.send(AgentLogin(a.id))
            h.advance(1)
    return h


def state(h: Harness, agent_id: str) -> AgentState:
    return h.engine.state.agents[agent_id].state


def of(cmds: list[Any], kind: type) -> list[Any]:
    return [c for c in cmds if isinstance(c, kind)]


def test_call_is_answered_moh_and_agent_rung() -> None:
    h = harness([QueueConfig("sales", moh_class="jazz")])
    out = h.send(CallArrived("c1", "sales", caller_number="5551", caller_name="Ann"))
    assert StartMoh("c1", "jazz") in out
    (orig,) = of(out, OriginateAgent)
    assert orig.endpoint == "PJSIP/a1" and orig.app_args == ("agent", "c1", "a1")
    assert state(h, "a1") is AgentState.RESERVED
    out = h.send(AgentLegAnswered(orig.leg_id))
    assert of(out, CreateBridge) and AddToBridge("callcore-c1", ("c1", orig.leg_id)) in out
    assert state(h, "a1") is AgentState.ON_CALL
    assert h.engine.current_call("a1", h.now)["caller_name"] == "Ann"  # type: ignore[index]


def test_caller_hangs_up_while_agent_rung_cancels_leg_and_frees_agent() -> None:
    h = harness()
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    out = h.send(CallerHungUp("c1"))
    assert Hangup(orig.leg_id, "offer-withdrawn") in out
    assert state(h, "a1") is AgentState.AVAILABLE
    assert h.engine.state.stats["sales"].abandoned == 1
    assert f"ring:{orig.leg_id}" not in h.timers


def test_agent_answers_after_caller_left_is_hung_up_and_available() -> None:
    h = harness()
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(CallerHungUp("c1"))
    out = h.send(AgentLegAnswered(orig.leg_id))
    assert Hangup(orig.leg_id, "call-gone") in out
    assert not of(out, AddToBridge)
    assert state(h, "a1") is AgentState.AVAILABLE


def test_ring_all_two_answers_at_once_second_is_hung_up() -> None:
    h = harness([QueueConfig("sales", strategy="ring-all")], agents("a1", "a2", "a3"))
    legs = [o.leg_id for o in of(h.send(CallArrived("c1", "sales")), OriginateAgent)]
    assert len(legs) == 3
    first = h.send(AgentLegAnswered(legs[1]))
    assert {c.channel for c in of(first, Hangup)} == {legs[0], legs[2]}
    second = h.send(AgentLegAnswered(legs[0]))
    assert Hangup(legs[0], "call-gone") in second and not of(second, AddToBridge)
    assert [state(h, a) for a in ("a1", "a2", "a3")] == [AgentState.AVAILABLE, AgentState.ON_CALL,
                                                         AgentState.AVAILABLE]


def test_wrapup_never_skipped_with_several_queues() -> None:
    qs = [QueueConfig("sales", wrapup_time=30), QueueConfig("support", wrapup_time=0)]
    h = harness(qs, agents("a1", queues=("sales", "support")))
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegAnswered(orig.leg_id))
    h.advance(5)
    h.send(CallerHungUp("c1"))
    assert state(h, "a1") is AgentState.WRAP_UP
    out = h.send(CallArrived("c2", "support"))
    assert not of(out, OriginateAgent)
    h.advance(29)
    assert state(h, "a1") is AgentState.WRAP_UP and not h.legs_for("a1")
    out = h.advance(2)
    assert state(h, "a1") is AgentState.RESERVED
    assert of(out, OriginateAgent)[0].app_args[1] == "c2"


def test_disposition_ends_wrapup_and_validates_code() -> None:
    h = harness([QueueConfig("sales", wrapup_time=60, dispositions=("sale", "nosale"))])
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    with pytest.raises(Conflict):
        h.send(AgentDisposition("a1", "sale"))
    h.send(AgentLegAnswered(orig.leg_id))
    h.send(AgentLegHungUp(orig.leg_id))
    with pytest.raises(InputError):
        h.send(AgentDisposition("a1", "bogus"))
    out = h.send(AgentDisposition("a1", "sale", callback_at=h.now + 3600))
    assert of(out, CallbackRequested) and state(h, "a1") is AgentState.AVAILABLE
    with pytest.raises(Conflict):
        h.send(AgentDisposition("a1", "sale"))


def test_agent_hangup_hangs_up_caller() -> None:
    h = harness()
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegAnswered(orig.leg_id))
    out = h.send(AgentLegHungUp(orig.leg_id))
    assert Hangup("c1", "agent-hangup") in out
    assert not h.engine.state.calls


def test_pause_during_call_applies_after_wrapup_with_reason() -> None:
    h = harness([QueueConfig("sales", wrapup_time=10)])
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegAnswered(orig.leg_id))
    h.send(AgentPause("a1", "lunch"))
    assert state(h, "a1") is AgentState.ON_CALL
    h.send(CallerHungUp("c1"))
    assert state(h, "a1") is AgentState.WRAP_UP
    h.advance(11)
    a = h.engine.state.agents["a1"]
    assert a.state is AgentState.PAUSED and a.pause_reason == "lunch"


def test_pause_while_rung_withdraws_offer_and_rings_next() -> None:
    h = harness(ags=agents("a1", "a2"))
    (orig,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    out = h.send(AgentPause("a1", "break"))
    assert Hangup(orig.leg_id, "offer-withdrawn") in out
    assert of(out, OriginateAgent)[0].app_args[2] == "a2"
    assert state(h, "a1") is AgentState.PAUSED


def test_no_answer_rings_next_and_auto_pauses_after_misses() -> None:
    h = harness([QueueConfig("sales", ring_timeout=10, max_no_answer=2)], agents("a1", "a2"))
    (o1,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    assert o1.app_args[2] == "a1"
    out = h.advance(11)
    assert Hangup(o1.leg_id, "no-answer") in out
    assert of(out, OriginateAgent)[0].app_args[2] == "a2"
    out = h.send(AgentLegFailed(of(out, OriginateAgent)[0].leg_id, "busy"))
    (o3,) = of(out, OriginateAgent)
    assert o3.app_args[2] == "a1"
    h.send(AgentLegFailed(o3.leg_id, "no-answer"))
    a1 = h.engine.state.agents["a1"]
    assert a1.state is AgentState.PAUSED and a1.pause_reason == "no-answer"


def test_unregistered_endpoint_is_not_offered() -> None:
    h = harness(ags=agents("a1", "a2"))
    h.send(EndpointRegistration("PJSIP/a1", False))
    out = h.send(CallArrived("c1", "sales"))
    assert [o.app_args[2] for o in of(out, OriginateAgent)] == ["a2"]


@pytest.mark.parametrize(("strategy", "expected"), [
    ("longest-idle", ["a1", "a2", "a3", "a1"]),
    ("linear", ["a1", "a1", "a1", "a1"]),
    ("round-robin", ["a1", "a2", "a3", "a1"]),
])
def test_strategies_pick_order(strategy: str, expected: list[str]) -> None:
    h = harness([QueueConfig("sales", strategy=strategy)], agents("a1", "a2", "a3"))
    got = []
    for i in range(4):
        (o,) = of(h.send(CallArrived(f"c{i}", "sales")), OriginateAgent)
        got.append(o.app_args[2])
        h.send(AgentLegAnswered(o.leg_id))
        h.advance(1)
        h.send(CallerHungUp(f"c{i}"))
        h.advance(1)
    assert got == expected


def test_fewest_calls_prefers_agent_with_fewer_answers() -> None:
    h = harness([QueueConfig("sales", strategy="fewest-calls")], agents("a1", "a2"))
    for i in range(2):
        (o,) = of(h.send(CallArrived(f"x{i}", "sales")), OriginateAgent)
        if o.app_args[2] == "a2":
            h.send(AgentLegFailed(o.leg_id))
            (o,) = of(h.log[-10:], OriginateAgent)[-1:]
        h.send(AgentLegAnswered(o.leg_id))
        h.send(CallerHungUp(f"x{i}"))
    assert h.engine.state.agents["a1"].answered["sales"] == 2
    (o,) = of(h.send(CallArrived("c", "sales")), OriginateAgent)
    assert o.app_args[2] == "a2"


def test_random_strategy_is_deterministic_per_seed() -> None:
    def picks(seed: int) -> list[str]:
        h = Harness.build([QueueConfig("sales", strategy="random")], agents("a1", "a2", "a3", "a4"),
                          seed=seed)
        for a in ("a1", "a2", "a3", "a4"):
            h.send(AgentLogin(a))
        out = []
        for i in range(6):
            (o,) = of(h.send(CallArrived(f"c{i}", "sales")), OriginateAgent)
            out.append(o.app_args[2])
            h.send(AgentLegFailed(o.leg_id))
            h.send(CallerHungUp(f"c{i}"))
        return out
    assert picks(7) == picks(7)
    assert len({tuple(picks(s)) for s in range(5)}) > 1


def test_priority_first_then_fifo() -> None:
    h = harness(ags=agents("a1"), login=False)
    for cid, prio in [("c1", 0), ("c2", 5), ("c3", 0), ("c4", 5)]:
        h.send(CallArrived(cid, "sales", priority=prio))
        h.advance(1)
    order = []
    h.send(AgentLogin("a1"))
    for _ in range(4):
        (o,) = of(h.log, OriginateAgent)[-1:]
        order.append(o.app_args[1])
        h.send(AgentLegAnswered(o.leg_id))
        h.send(CallerHungUp(o.app_args[1]))
    assert order == ["c2", "c4", "c1", "c3"]


def test_skills_relax_over_wait_time() -> None:
    req = SkillRequirement.parse("lang_ru>=3, after 30 s >=1, after 60 s dropped")
    q = QueueConfig("ru", skills=(req,))
    ags = [AgentConfig("novice", endpoint="PJSIP/n", skills={"lang_ru": 1}, memberships={"ru": 0}),
           AgentConfig("none", endpoint="PJSIP/z", skills={}, memberships={"ru": 0})]
    h = harness([q], ags)
    assert not of(h.send(CallArrived("c1", "ru")), OriginateAgent)
    out = h.advance(31)
    assert [o.app_args[2] for o in of(out, OriginateAgent)] == ["novice"]
    h.send(AgentPause("novice", "x"))
    assert not h.legs_for("none")
    out = h.advance(30)
    assert [o.app_args[2] for o in of(out, OriginateAgent)] == ["none"]


def test_max_wait_overflows_to_other_queue_keeping_entry_time() -> None:
    qs = [QueueConfig("sales", max_wait=60, overflow=Overflow.parse("queue:backup")), QueueConfig("backup")]
    ags = [AgentConfig("b1", endpoint="PJSIP/b1", memberships={"backup": 0})]
    h = harness(qs, ags)
    h.send(AgentPause("b1", "x"))
    h.send(CallArrived("c1", "sales"))
    h.advance(61)
    call = h.engine.state.calls["c1"]
    assert call.queue == "backup" and call.entered_at == 1_800_000_000.0 + 1
    assert h.engine.state.stats["sales"].overflowed == 1
    out = h.send(AgentReady("b1"))
    assert of(out, OriginateAgent)


def test_overflow_to_dialplan_and_voicemail() -> None:
    for text, expected in [("dialplan:after-hours,s,2", ContinueInDialplan("c1", "after-hours", "s", 2)),
                           ("voicemail:100", ContinueInDialplan("c1", "callcore-voicemail", "100", 1))]:
        h = harness([QueueConfig("sales", max_wait=5, overflow=Overflow.parse(text))], [])
        h.send(CallArrived("c1", "sales"))
        assert expected in h.advance(6)


def test_join_empty_and_max_len_and_leave_empty() -> None:
    h = harness([QueueConfig("sales", join_empty="no_members")], agents("a1"), login=False)
    out = h.send(CallArrived("c1", "sales"))
    assert ContinueInDialplan("c1") in out and not h.engine.state.calls
    h = harness([QueueConfig("sales", max_len=1)], agents("a1"), login=False)
    h.send(CallArrived("c1", "sales"))
    assert ContinueInDialplan("c2") in h.send(CallArrived("c2", "sales"))
    h = harness([QueueConfig("sales", leave_empty="none_available")], agents("a1", "a2"))
    h.send(AgentPause("a1", "x"))
    h.send(AgentPause("a2", "x"))
    h.send(AgentReady("a2"))
    (o,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegFailed(o.leg_id))
    h.send(AgentPause("a2", "x"))
    assert "c1" not in h.engine.state.calls


def test_leave_empty_sends_callers_away_by_queue_name_then_service_order() -> None:
    qs = [QueueConfig(n, leave_empty="none_available") for n in ("zeta", "alpha")]
    h = harness(qs, agents("a1", queues=("zeta", "alpha")))
    h.send(AgentPause("a1", "x"))
    h.send(AgentReady("a1"))
    assert of(h.send(CallArrived("c0", "zeta")), OriginateAgent)  # a1 rings; the others wait
    for cid, queue, prio in [("c1", "alpha", 0), ("c2", "zeta", 0), ("c3", "alpha", 5), ("c4", "zeta", 0)]:
        h.send(CallArrived(cid, queue, prio))
    out = h.send(AgentLogout("a1"))  # the offer is withdrawn, both queues are empty
    left = [c.call_id for c in of(out, Journal) if c.type == "call.overflowed"]
    assert left == ["c3", "c1", "c0", "c2", "c4"]  # alpha before zeta (by name), then priority, arrival


def test_an_overflow_loop_of_empty_queues_moves_a_caller_round_once_per_change() -> None:
    qs = [QueueConfig(n, leave_empty="none_available", overflow=Overflow("queue", target=t))
          for n, t in (("q1", "q2"), ("q2", "q3"), ("q3", "q1"))]
    h = harness(qs, [a for i in (1, 2, 3) for a in agents(f"a{i}", queues=(f"q{i}",))])
    h.send(CallArrived("c1", "q1"))
    h.send(AgentPause("a1", "x"))  # q1 empty: on to q2, staffed
    h.send(AgentPause("a2", "x"))  # q2 empty: on to q3, staffed
    out = h.send(AgentPause("a3", "x"))  # all empty: each queue sends the caller on once, then it stays
    assert [(c.queue, c.payload["from_queue"]) for c in of(out, Journal) if c.type == "call.queued"] == [
        ("q1", "q3"), ("q2", "q1"), ("q3", "q2")]
    assert h.engine.state.calls["c1"].queue == "q3"
    (o,) = of(h.send(AgentReady("a2")), OriginateAgent)  # the next change: on to q1, then q2, rung there
    assert o.app_args == ("agent", "c1", "a2")


def test_position_announcement_restores_moh() -> None:
    h = harness([QueueConfig("sales", announce_position_every=30, announce_holdtime=True)], agents("a1"),
                login=False)
    h.send(AgentLogin("a1"))
    h.send(AgentPause("a1", "x"))
    h.send(CallArrived("c0", "sales"))
    h.send(CallArrived("c1", "sales"))
    out = h.advance(31)
    plays = [p for p in of(out, Play) if p.channel == "c1"]
    assert plays
    assert plays[0].media[:3] == ("sound:queue-thereare", "sound:digits/2", "sound:queue-callswaiting")
    assert "sound:queue-holdtime" in plays[0].media
    out = h.send(PlaybackFinished(plays[0].playback_id))
    assert StartMoh("c1", "default") in out


def test_callback_keypress_keeps_position() -> None:
    h = harness([QueueConfig("sales", callback_digit="5")], agents("a1"), login=False)
    h.send(CallArrived("c1", "sales", caller_number="555"))
    h.send(CallArrived("c2", "sales", caller_number="556", priority=0))
    assert not of(h.send(DtmfReceived("c2", "4")), CallbackRequested)
    out = h.send(DtmfReceived("c2", "5"))
    (cb,) = of(out, CallbackRequested)
    assert cb.position == 2 and cb.caller_number == "556" and Hangup("c2", "callback") in out


def test_recording_policy_and_script() -> None:
    q = QueueConfig("sales", recording="all", script="Hello {caller_name}, about {product} {missing}")
    h = harness([q])
    h.send(CallArrived("c1", "sales", caller_name="Ann", data={"product": "tv"}))
    (o,) = of(h.log, OriginateAgent)
    out = h.send(AgentLegAnswered(o.leg_id))
    assert of(out, StartRecording)
    info = h.engine.current_call("a1", h.now)
    assert info is not None and info["script"] == "Hello Ann, about tv {missing}"


def test_persistent_session_bridges_at_once_with_beep() -> None:
    h = harness(ags=agents("a1"), login=False)
    h.send(AgentSessionConnected("a1", "sess1"))
    assert state(h, "a1") is AgentState.AVAILABLE
    out = h.send(CallArrived("c1", "sales"))
    assert not of(out, OriginateAgent)
    assert AddToBridge("callcore-agent-a1", ("c1",)) in out
    assert any(isinstance(c, Play) and c.channel == "sess1" for c in out)
    assert state(h, "a1") is AgentState.ON_CALL
    h.send(CallerHungUp("c1"))
    assert state(h, "a1") is AgentState.AVAILABLE and "sess1" not in h.hung_up


def test_transfer_to_queue_and_number() -> None:
    qs = [QueueConfig("sales", wrapup_time=5), QueueConfig("billing")]
    ags = [*agents("a1"), AgentConfig("b1", endpoint="PJSIP/b1", memberships={"billing": 0})]
    h = harness(qs, ags)
    h.send(AgentPause("b1", "x"))
    (o,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.advance(10)
    h.send(AgentLegAnswered(o.leg_id))
    h.send(AgentTransfer("a1", queue="billing"))
    call = h.engine.state.calls["c1"]
    assert call.queue == "billing" and call.status == "waiting" and call.entered_at == 1_800_000_002.0
    assert state(h, "a1") is AgentState.WRAP_UP
    (o2,) = of(h.send(AgentReady("b1")), OriginateAgent)
    h.send(AgentLegAnswered(o2.leg_id))
    out = h.send(AgentTransfer("b1", number="5550100"))
    assert ContinueInDialplan("c1", "callcore-transfer", "5550100", 1) in out
    assert "c1" not in h.engine.state.calls


def test_journal_has_call_lifecycle() -> None:
    h = harness()
    (o,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegAnswered(o.leg_id))
    h.send(CallerHungUp("c1"))
    types = [j.type for j in of(h.log, Journal) if j.call_id == "c1"]
    for t in ("call.queued", "call.offered", "call.answered", "call.ended"):
        assert t in types
    snap = h.engine.snapshot(h.now)
    assert snap["queues"]["sales"]["answered"] == 1 and snap["queues"]["sales"]["service_level"] == 1.0
