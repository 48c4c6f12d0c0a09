"""Overload detection from event-loop lag (``callcore.overload.LagMonitor``), driven with given times."""

from __future__ import annotations

import pytest

from callcore.overload import LagMonitor


def tick(m: LagMonitor, at: float, lag: float, backlog: int = 0) -> float:
    """One tick due at ``at`` that ran ``lag`` seconds late."""
    return m.sample(at, at + lag, backlog)


def test_lag_is_how_late_the_tick_ran_and_never_negative() -> None:
    m = LagMonitor()
    assert tick(m, 10.0, 0.03) == pytest.approx(0.03)
    assert m.sample(11.0, 10.99) == 0.0  # woken early (clock granularity): no negative lag
    assert m.last_lag == 0.0 and m.recent_max == pytest.approx(0.03)
    assert not m.overloaded


def test_one_late_tick_enters_overload_and_quiet_hold_leaves_it() -> None:
    m = LagMonitor(enter_lag=0.25, exit_lag=0.05, hold=5.0)
    t = 100.0
    for _ in range(10):
        t += 0.1
        tick(m, t, 0.01)
    assert not m.overloaded
    t += 0.1
    tick(m, t, 0.4)
    assert m.overloaded and m.since == pytest.approx(t + 0.4) and m.episodes == 1
    # lag between exit and enter thresholds keeps it overloaded (no flapping near the line)
    for _ in range(100):
        t += 0.1
        tick(m, t, 0.1)
    assert m.overloaded
    # quiet ticks, but not yet for the whole hold
    quiet_from = t + 0.1
    while t + 0.1 - quiet_from < 4.9:
        t += 0.1
        tick(m, t, 0.0)
        assert m.overloaded
    t += 0.3
    tick(m, t, 0.0)
    assert not m.overloaded and m.since is None
    report = m.report(t)
    assert report["overloaded"] is False and report["overload_episodes"] == 1


def test_event_backlog_alone_is_overload() -> None:
    m = LagMonitor(enter_backlog=2000, exit_backlog=200, hold=1.0)
    tick(m, 1.0, 0.0, backlog=1999)
    assert not m.overloaded
    tick(m, 1.1, 0.0, backlog=2000)
    assert m.overloaded
    tick(m, 1.2, 0.0, backlog=500)  # draining, but above the exit line
    tick(m, 2.5, 0.0, backlog=500)
    assert m.overloaded
    tick(m, 2.6, 0.0, backlog=10)
    tick(m, 3.7, 0.0, backlog=10)
    assert not m.overloaded
    tick(m, 3.8, 0.0, backlog=5000)
    assert m.overloaded and m.episodes == 2


def test_report_while_overloaded_says_for_how_long() -> None:
    m = LagMonitor()
    tick(m, 50.0, 1.0)
    r = m.report(53.0)
    assert r["overloaded"] is True and r["overloaded_for_s"] == pytest.approx(2.0)
    assert r["loop_lag_s"] == pytest.approx(1.0) and r["loop_lag_recent_max_s"] == pytest.approx(1.0)


def test_recent_max_forgets_old_samples() -> None:
    m = LagMonitor(window=3, enter_lag=10.0, exit_lag=5.0)
    tick(m, 0.0, 2.0)
    for i in range(3):
        tick(m, 1.0 + i, 0.1)
    assert m.recent_max == pytest.approx(0.1)


@pytest.mark.parametrize("kwargs", [{"exit_lag": 0.5, "enter_lag": 0.25}, {"exit_backlog": 10, "enter_backlog": 5},
                                    {"interval": 0.0}, {"window": 0}])
def test_inconsistent_thresholds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LagMonitor(**kwargs)  # type: ignore[arg-type]
