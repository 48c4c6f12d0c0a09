from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.dialer import pacer
from callcore.dialer.campaign import CampaignSettings, Mode
from callcore.dialer.pacer import AnswerEstimate, BusyOperator, PacerState, TalkEstimate


def cs(mode: Mode = Mode.PREDICTIVE, **kw: float) -> CampaignSettings:
    if mode is Mode.AGENTLESS:
        return CampaignSettings(caller_id="1", mode=mode, agentless_message="sound:x", **kw)  # type: ignore[arg-type]
    return CampaignSettings(caller_id="1", queue="q", mode=mode, **kw)  # type: ignore[arg-type]


busy_st = st.builds(BusyOperator, st.one_of(st.none(), st.floats(0, 3000)), st.floats(0, 30))
answer_st = st.builds(
    AnswerEstimate,
    probability=st.floats(0.01, 1.0),
    delays=st.lists(st.floats(0, 30), max_size=30).map(lambda x: tuple(sorted(x))),
    unanswered_durations=st.lists(st.floats(0, 30), max_size=30).map(lambda x: tuple(sorted(x))),
    give_up=st.floats(15, 40),
)
talk_st = st.builds(TalkEstimate, st.floats(10, 900),
                    st.lists(st.floats(1, 2000), max_size=60).map(lambda x: tuple(sorted(x))))
state_st = st.builds(
    PacerState,
    free=st.integers(0, 30),
    busy=st.lists(busy_st, max_size=120).map(tuple),
    ringing=st.lists(st.floats(0, 40), max_size=150).map(tuple),
    answered_waiting=st.integers(0, 5),
    talk=talk_st,
    answer=answer_st,
    answered_24h=st.integers(0, 5000),
    abandoned_24h=st.integers(0, 300),
    window_open=st.booleans(),
    line_capacity=st.one_of(st.none(), st.integers(0, 400)),
)
mode_st = st.sampled_from([Mode.PREDICTIVE, Mode.PROGRESSIVE, Mode.PREVIEW])
level_st = st.tuples(st.floats(0, 1), st.floats(1, 8))


@settings(max_examples=300, deadline=None)
@given(state_st, mode_st, level_st)
def test_never_negative_and_within_bounds(state: PacerState, mode: Mode, levels: tuple[float, float]) -> None:
    s = cs(mode, dial_level_min=levels[0], dial_level_max=levels[1])
    n = pacer.decide(state, s)
    lo, hi = pacer.bounds(state, s)
    assert 0 <= lo <= n <= hi
    assert state.in_flight + n <= max(state.in_flight, math.floor(levels[1] * state.active + 1e-9))
    if state.line_capacity is not None:
        assert n <= max(0, state.line_capacity - state.in_flight)


@settings(max_examples=150, deadline=None)
@given(state_st, mode_st)
def test_zero_outside_window_or_without_operators(state: PacerState, mode: Mode) -> None:
    closed = dataclasses.replace(state, window_open=False)
    assert pacer.decide(closed, cs(mode)) == 0
    nobody = dataclasses.replace(state, free=0, busy=())
    assert pacer.decide(nobody, cs(mode)) == 0


@settings(max_examples=200, deadline=None)
@given(state_st)
def test_progressive_is_free_minus_in_flight(state: PacerState) -> None:
    st_ = dataclasses.replace(state, window_open=True, line_capacity=None)
    assert pacer.decide(st_, cs(Mode.PROGRESSIVE)) == max(0, st_.free - st_.in_flight)
    assert pacer.decide(st_, cs(Mode.PREVIEW)) == 0


@settings(max_examples=150, deadline=None)
@given(state_st, st.integers(1, 5))
def test_more_free_operators_never_launch_fewer(state: PacerState, extra: int) -> None:
    base = dataclasses.replace(state, window_open=True, line_capacity=None)
    more = dataclasses.replace(base, free=base.free + extra)
    assert pacer.decide(more, cs()) >= pacer.decide(base, cs())


@settings(max_examples=100, deadline=None)
@given(state_st)
def test_spent_allowance_falls_back_to_the_lower_bound(state: PacerState) -> None:
    spent = dataclasses.replace(state, window_open=True, answered_24h=100, abandoned_24h=10)
    lo, _ = pacer.bounds(spent, cs())
    assert pacer.theta(spent, cs()) == 0.0
    assert pacer.decide(spent, cs()) == lo


def test_agentless_fills_lines() -> None:
    s = cs(Mode.AGENTLESS)
    assert pacer.decide(PacerState(free=0, ringing=(1.0, 2.0), line_capacity=10), s) == 8
    assert pacer.decide(PacerState(free=0, line_capacity=10, window_open=False), s) == 0
    assert pacer.decide(PacerState(free=0), s) == 0


def test_hand_computed_decision() -> None:
    # Two free operators, nothing else, p = 0.2, theta at its maximum 4 * 0.03 = 0.12.
    # P(Bin(n, .2) >= 2): n=2 -> 0.04, n=3 -> 0.104, n=4 -> 0.1808 > 0.12, so 4 calls.
    state = PacerState(free=2, answer=AnswerEstimate(probability=0.2), answered_24h=10_000)
    d = pacer.decide_detail(state, cs())
    assert d.theta == pytest.approx(0.12)
    assert d.launch == 4
    assert d.risk == pytest.approx(1 - 0.8**4 - 4 * 0.2 * 0.8**3)
    # A new campaign starts cautious: theta = 0.03 / 6 = 0.005 -> n=3 has risk 0.04 > 0.005.
    fresh = PacerState(free=2, answer=AnswerEstimate(probability=0.2))
    assert pacer.theta(fresh, cs()) == pytest.approx(0.005)
    assert pacer.decide(fresh, cs()) == 2


def test_ringing_calls_weigh_by_age() -> None:
    a = AnswerEstimate(probability=0.3, delays=tuple(float(x) for x in range(3, 13)), give_up=20.0)
    assert a.still_answers(0.0) == pytest.approx(0.3)
    ws = [a.still_answers(r) for r in (0, 4, 8, 12, 16, 19.9)]
    assert all(x >= y for x, y in itertools.pairwise(ws))
    assert a.still_answers(20.0) == 0.0
    # Old ringing calls count less, so more of them are tolerated.
    young = PacerState(free=3, ringing=(1.0,) * 6, answer=a, answered_24h=10_000)
    old = PacerState(free=3, ringing=(15.0,) * 6, answer=a, answered_24h=10_000)
    assert pacer.decide(old, cs()) > pacer.decide(young, cs())


def test_free_probability() -> None:
    t = TalkEstimate(mean=120.0)
    assert pacer.free_probability(BusyOperator(50.0), 10.0, t, 5.0) == pytest.approx(1 - math.exp(-5 / 120))
    assert pacer.free_probability(BusyOperator(50.0), 4.0, t, 5.0) == 0.0
    assert pacer.free_probability(BusyOperator(None, 3.0), 4.0, t, 5.0) == 1.0
    assert pacer.free_probability(BusyOperator(None, 6.0), 4.0, t, 5.0) == 0.0
    emp = TalkEstimate(120.0, tuple(float(x) for x in range(10, 110, 2)))  # 50 samples 10..108
    # On a call for 99 s: 5 longer samples (100..108); 2 of them end within 4 s of talk (100, 102).
    q = pacer.free_probability(BusyOperator(99.0), 9.0, emp, 5.0)
    assert q == pytest.approx(2 / 5)


def test_normal_approximation_agrees_with_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    a = AnswerEstimate(probability=0.25, give_up=20.0)
    busy = tuple(BusyOperator(float(i)) for i in range(40))
    results = []
    for free in (0, 3, 8):
        state = PacerState(free=free, busy=busy, ringing=tuple(float(i % 19) for i in range(25)), answer=a,
                           answered_24h=2000, abandoned_24h=20)
        exact = pacer.decide(state, cs())
        monkeypatch.setattr(pacer, "EXACT_LIMIT", 0)
        approx = pacer.decide(state, cs())
        monkeypatch.setattr(pacer, "EXACT_LIMIT", 80)
        results.append(exact)
        assert abs(exact - approx) <= 1
    assert results[0] < results[-1]


def test_pacing_stats_priors_and_learning() -> None:
    stats = pacer.PacingStats(give_up=20.0, talk_prior=300.0)
    assert stats.answer_estimate().probability == pytest.approx(pacer.PRIOR_ANSWER_PROBABILITY)
    assert stats.talk_estimate().mean == 300.0
    for i in range(1000):
        if i % 5 == 0:
            stats.observe_answer(6.0)
        else:
            stats.observe_unanswered(20.0)
        stats.observe_talk(60.0)
    est = stats.answer_estimate()
    assert est.probability == pytest.approx(0.2, abs=0.01)
    assert est.mean_delay() == pytest.approx(6.0, abs=0.5)
    assert stats.talk_estimate().mean == pytest.approx(60.0, abs=5)
