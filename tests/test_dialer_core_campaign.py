from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.dialer import campaign as cp
from callcore.dialer.campaign import LeadStatus, Mode, Outcome
from callcore.dialer.compliance import RefusalCode
from callcore.errors import InputError

MSK = "Europe/Moscow"
NOON = datetime(2026, 6, 2, 12, 0, tzinfo=ZoneInfo(MSK)).timestamp()


def settings(**kw: object) -> cp.CampaignSettings:
    base: dict[str, object] = {"caller_id": "+74950000000", "queue": "sales", "mode": Mode.PREDICTIVE}
    base.update(kw)
    return cp.CampaignSettings(**base)  # type: ignore[arg-type]


def lead(**kw: object) -> cp.Lead:
    base: dict[str, object] = {"id": "L1", "phone": "+74951234567", "zones": (MSK,)}
    base.update(kw)
    return cp.Lead(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cause", "expected"), [
    (16, Outcome.NO_ANSWER), (17, Outcome.BUSY), (18, Outcome.NO_ANSWER), (19, Outcome.NO_ANSWER),
    (21, Outcome.BUSY), (34, Outcome.CONGESTION), (38, Outcome.CONGESTION), (41, Outcome.CONGESTION),
    (42, Outcome.CONGESTION), (1, Outcome.FAILED), (3, Outcome.FAILED), (28, Outcome.FAILED),
    (127, Outcome.NO_ANSWER), (None, Outcome.NO_ANSWER), (999, Outcome.FAILED),
])
def test_unanswered_causes(cause: int | None, expected: Outcome) -> None:
    assert cp.outcome_from_hangup(cause, answered=False) is expected


def test_answered_calls_use_amd() -> None:
    assert cp.outcome_from_hangup(16, True, "MACHINE") is Outcome.MACHINE
    assert cp.outcome_from_hangup(16, True, cp.AmdStatus.HUMAN) is Outcome.HUMAN
    assert cp.outcome_from_hangup(16, True, "NOTSURE") is Outcome.HUMAN
    assert cp.outcome_from_hangup(17, True, None) is Outcome.HUMAN


def test_connect_grace_two_seconds() -> None:
    assert cp.classify_connect(100.0, 102.0) is Outcome.HUMAN
    assert cp.classify_connect(100.0, 102.01) is Outcome.ABANDONED
    assert cp.classify_connect(100.0, None) is Outcome.ABANDONED


def test_answer_action() -> None:
    s = settings(amd=True)
    assert cp.answer_action(s, "MACHINE", True) is cp.AnswerAction.HANG_UP
    lm = settings(amd=True, machine_handling=cp.MachineHandling.LEAVE_MESSAGE)
    assert cp.answer_action(lm, "MACHINE", True) is cp.AnswerAction.LEAVE_MESSAGE
    assert cp.answer_action(s, "HUMAN", True) is cp.AnswerAction.CONNECT
    assert cp.answer_action(s, "HUMAN", False) is cp.AnswerAction.SAFE_HARBOUR
    al = settings(mode=Mode.AGENTLESS, queue="", agentless_message="sound:promo")
    assert cp.answer_action(al, None, False) is cp.AnswerAction.PLAY_AGENTLESS


def test_settings_validation() -> None:
    with pytest.raises(InputError, match="ring timeout"):
        settings(ring_timeout=14.9)
    assert settings().ring_timeout >= 15
    assert settings().abandon_target == 0.03
    with pytest.raises(InputError):
        settings(abandon_target=0.0)
    with pytest.raises(InputError):
        settings(queue="")
    with pytest.raises(InputError):
        settings(dial_level_min=2.0)
    with pytest.raises(InputError):
        settings(mode=Mode.AGENTLESS, queue="")
    with pytest.raises(InputError):
        cp.RetryDelays(busy=-1)


def test_retry_schedule_per_outcome() -> None:
    s = settings(retry=cp.RetryDelays(busy=60, no_answer=600, machine=7200, failed=900, congestion=30))
    dialled = cp.start_dial(lead(), NOON)
    assert dialled.status is LeadStatus.DIALING and dialled.attempts == 1
    for outcome, delay in [(Outcome.BUSY, 60), (Outcome.NO_ANSWER, 600), (Outcome.MACHINE, 7200),
                           (Outcome.FAILED, 900), (Outcome.CONGESTION, 30)]:
        after = cp.apply_outcome(s, dialled, outcome, NOON + 5)
        assert after.status is LeadStatus.SCHEDULED
        assert after.next_attempt_at == NOON + 5 + delay
        assert after.last_outcome is outcome


def test_final_outcomes() -> None:
    s = settings()
    d = cp.start_dial(lead(), NOON)
    human = cp.apply_outcome(s, d, Outcome.HUMAN, NOON)
    assert human.status is LeadStatus.DONE and human.final_reason is cp.FinalReason.CONTACTED
    dnc = cp.apply_outcome(s, d, Outcome.DNC_BLOCKED, NOON)
    assert dnc.final_reason is cp.FinalReason.DNC
    lm = settings(machine_handling=cp.MachineHandling.LEAVE_MESSAGE)
    assert cp.apply_outcome(lm, d, Outcome.MACHINE, NOON).final_reason is cp.FinalReason.MESSAGE_LEFT
    with pytest.raises(InputError):
        cp.start_dial(human, NOON)


def test_attempt_cap_makes_outcome_final() -> None:
    s = settings(max_attempts=2)
    lead_ = lead()
    for i in range(2):
        lead_ = cp.apply_outcome(s, cp.start_dial(lead_, NOON + i), Outcome.NO_ANSWER, NOON + i)
    assert lead_.status is LeadStatus.DONE and lead_.final_reason is cp.FinalReason.ATTEMPTS_EXHAUSTED


def test_abandoned_lockout_depends_on_mode() -> None:
    d = cp.start_dial(lead(), NOON)
    pred = cp.apply_outcome(settings(), d, Outcome.ABANDONED, NOON)
    assert pred.next_attempt_at == NOON + 72 * 3600 and pred.last_abandoned_at == NOON
    refusal = cp.dial_refusal(settings(), pred, NOON + 3600, on_dnc_list=False)
    assert refusal is not None and refusal.code is RefusalCode.ABANDON_LOCKOUT
    prog = settings(mode=Mode.PROGRESSIVE)
    assert cp.dial_refusal(prog, pred, NOON + 3600, on_dnc_list=False) is None


def test_outside_window_reschedules_without_attempt() -> None:
    evening = datetime(2026, 6, 2, 22, 0, tzinfo=ZoneInfo(MSK)).timestamp()
    s = settings()
    r = cp.dial_refusal(s, lead(), evening, on_dnc_list=False)
    assert r is not None and r.code is RefusalCode.OUTSIDE_WINDOW
    after = cp.apply_refusal(lead(), r)
    assert after.attempts == 0 and after.status is LeadStatus.SCHEDULED
    assert after.next_attempt_at == datetime(2026, 6, 3, 9, 0, tzinfo=ZoneInfo(MSK)).timestamp()
    assert not cp.is_due(after, evening) and cp.is_due(after, after.next_attempt_at)


def test_dnc_refusal_is_final() -> None:
    r = cp.dial_refusal(settings(), lead(), NOON, on_dnc_list=True)
    assert r is not None and r.code is RefusalCode.DNC
    assert cp.apply_refusal(lead(), r).last_outcome is Outcome.DNC_BLOCKED


def test_daily_cap_per_number() -> None:
    s = settings(max_attempts=10, max_attempts_per_number_per_day=2)
    lead_ = lead()
    for i in range(2):
        lead_ = cp.apply_outcome(s, cp.start_dial(lead_, NOON + i * 60), Outcome.BUSY, NOON + i * 60)
    r = cp.dial_refusal(s, lead_, NOON + 3600, on_dnc_list=False)
    assert r is not None and r.code is RefusalCode.NUMBER_DAILY_ATTEMPTS


def test_callbacks() -> None:
    s = settings(max_attempts=1)
    d = cp.start_dial(lead(), NOON)
    done = cp.apply_outcome(s, d, Outcome.HUMAN, NOON + 60)
    cb = cp.apply_callback(done, cp.CallbackDisposition(NOON + 7200, cp.CallbackTarget.SELF, "op7"), NOON)
    assert cb.status is LeadStatus.CALLBACK and cb.callback_agent == "op7" and cb.next_attempt_at == NOON + 7200
    # The per-lead cap does not stop a promised callback.
    assert cp.dial_refusal(s, cb, NOON + 7200, on_dnc_list=False) is None
    anyone = cp.apply_callback(done, cp.CallbackDisposition(NOON + 60, agent="op7"), NOON)
    assert anyone.callback_agent is None
    with pytest.raises(InputError):
        cp.apply_callback(done, cp.CallbackDisposition(NOON - 1), NOON)
    with pytest.raises(InputError):
        cp.apply_callback(done, cp.CallbackDisposition(NOON + 5, cp.CallbackTarget.SELF), NOON)


def test_abandon_ledger_rolling_windows() -> None:
    led = cp.AbandonLedger()
    t0 = 1_800_000_000.0
    for i in range(100):
        led = led.record(Outcome.HUMAN, t0 + i)
    for i in range(3):
        led = led.record(Outcome.ABANDONED, t0 + 200 + i)
    led = led.record(Outcome.BUSY, t0 + 300)  # ignored
    now = t0 + 400
    assert led.last_24h(now) == cp.AbandonRate(103, 3)
    assert led.last_24h(now).rate == pytest.approx(3 / 103)
    later = t0 + 2 * cp.DAY
    assert led.last_24h(later).answered == 0
    assert led.last_30d(later) == cp.AbandonRate(103, 3)
    assert led.last_30d(t0 + 31 * cp.DAY).answered == 0


@given(st.lists(st.tuples(st.floats(0, 40 * 86400), st.booleans()), max_size=60))
def test_ledger_counts_match_naive(events: list[tuple[float, bool]]) -> None:
    t0 = 1_800_000_000.0
    led = cp.AbandonLedger()
    for dt, ab in sorted(events):
        led = led.record(Outcome.ABANDONED if ab else Outcome.HUMAN, t0 + dt)
    now = t0 + max((dt for dt, _ in events), default=0.0)
    lo = (int((now - cp.DAY) // 3600) + 1) * 3600
    naive = [(dt, ab) for dt, ab in events if t0 + dt >= lo]
    got = led.last_24h(now)
    assert got.answered == len(naive)
    assert got.abandoned == sum(ab for _, ab in naive)
    assert 0.0 <= got.rate <= 1.0


def test_lead_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        lead().attempts = 3  # type: ignore[misc]
