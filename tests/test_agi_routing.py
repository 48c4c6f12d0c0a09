"""Pure routing decision: DID, VIP, business hours (with time zones and midnight), holidays."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.agi import names
from callcore.agi.routing import (
    DidRoute,
    Holiday,
    HoursWindow,
    RouteFacts,
    decide_route,
    in_window,
    number_candidates,
)

UTC = dt.UTC
NINE_TO_FIVE = [HoursWindow(d, dt.time(9), dt.time(17), "Europe/Paris") for d in range(5)]
ROUTE = DidRoute("+33140000000", "sales", 5, "fr", "sales-closed")


def at(y: int, m: int, d: int, h: int, mi: int = 0, tz: str = "UTC") -> dt.datetime:
    from zoneinfo import ZoneInfo
    return dt.datetime(y, m, d, h, mi, tzinfo=ZoneInfo(tz))


def test_did_route_open() -> None:
    # Wednesday 2026-12-02 10:00 Paris
    d = decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE), at(2026, 12, 2, 10, tz="Europe/Paris"))
    assert (d.queue, d.priority, d.reason, d.language) == ("sales", 5, names.REASON_DID, "fr")
    assert d.variables() == {"CALLCORE_QUEUE": "sales", "CALLCORE_PRIORITY": "5",
                             "CALLCORE_ROUTE_REASON": "did", "CALLCORE_LANGUAGE": "fr"}


def test_closed_uses_the_time_zone_of_the_window() -> None:
    # 08:30 UTC is 09:30 in Paris (winter): open; 16:30 UTC is 17:30 in Paris: closed.
    assert decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE), at(2026, 12, 2, 8, 30)).reason == "did"
    closed = decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE), at(2026, 12, 2, 16, 30))
    assert (closed.queue, closed.reason) == ("sales-closed", names.REASON_CLOSED)
    weekend = decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE), at(2026, 12, 5, 11, tz="Europe/Paris"))
    assert weekend.reason == names.REASON_CLOSED


def test_holiday_for_all_queues_or_one_queue() -> None:
    now = at(2026, 12, 25, 10, tz="Europe/Paris")  # a Friday, inside hours
    xmas = Holiday(dt.date(2026, 12, 25), None, "Christmas")
    d = decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE, [xmas]), now)
    assert (d.reason, d.queue, d.holiday) == (names.REASON_HOLIDAY, "sales-closed", "Christmas")
    other = Holiday(dt.date(2026, 12, 25), "support", "Support party")
    assert decide_route(RouteFacts(ROUTE, None, NINE_TO_FIVE, [other]), now).reason == names.REASON_DID


def test_vip_raises_priority_and_default_queue_without_did() -> None:
    d = decide_route(RouteFacts(None, 50), at(2026, 12, 2, 3))
    assert (d.queue, d.priority, d.reason) == (names.DEFAULT_QUEUE, 50, names.REASON_VIP)
    low_vip = decide_route(RouteFacts(ROUTE, 1, NINE_TO_FIVE), at(2026, 12, 2, 10, tz="Europe/Paris"))
    assert (low_vip.priority, low_vip.reason) == (5, names.REASON_DID)
    huge = decide_route(RouteFacts(None, 10_000), at(2026, 12, 2, 3))
    assert huge.priority == 100


def test_window_over_midnight() -> None:
    night = HoursWindow(4, dt.time(22), dt.time(2), "UTC")  # Friday 22:00 -> Saturday 02:00
    assert in_window(night, at(2026, 12, 4, 23))
    assert in_window(night, at(2026, 12, 5, 1, 59))
    assert not in_window(night, at(2026, 12, 5, 2))
    assert not in_window(night, at(2026, 12, 4, 21, 59))


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError):
        decide_route(RouteFacts(), dt.datetime(2026, 1, 1))


def test_number_candidates() -> None:
    assert number_candidates("+1 555-123") == ["+1 555-123", "1555123", "+1555123"]
    assert number_candidates("") == []


times = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1),
                     timezones=st.just(UTC))
windows = st.builds(HoursWindow, st.integers(0, 6), st.times(), st.times(),
                    st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]))


@given(st.lists(windows, max_size=5), st.one_of(st.none(), st.integers(-5, 500)), times)
def test_decision_is_always_usable(hours: list[HoursWindow], vip: int | None, now: dt.datetime) -> None:
    d = decide_route(RouteFacts(ROUTE, vip, hours), now)
    assert 0 <= d.priority <= 100
    assert d.reason in (names.REASON_DID, names.REASON_VIP, names.REASON_CLOSED)
    assert d.queue == ("sales" if d.reason != names.REASON_CLOSED else "sales-closed")
    assert (d.reason == names.REASON_CLOSED) == (bool(hours) and not any(in_window(w, now) for w in hours))


@given(st.integers(0, 6), st.times(), st.times(), times)
def test_window_matches_a_brute_force_definition(weekday: int, o: dt.time, c: dt.time,
                                                 now: dt.datetime) -> None:
    w = HoursWindow(weekday, o, c, "UTC")
    t = now.time().replace(tzinfo=None)
    if o < c:
        expected = now.weekday() == weekday and o <= t < c
    else:
        expected = (now.weekday() == weekday and t >= o) or (now.weekday() == (weekday + 1) % 7 and t < c)
    assert in_window(w, now) == expected
