from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.dialer import compliance as c
from callcore.errors import InputError

W = c.CallingWindow(time(9, 0), time(21, 0))


def at(zone: str, *args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).timestamp()  # type: ignore[arg-type, misc]


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[arg-type, misc]


def test_window_edges_in_local_time() -> None:
    assert c.check_window(W, ["Europe/Moscow"], at("Europe/Moscow", 2026, 3, 10, 8, 59, 59)) is not None
    assert c.check_window(W, ["Europe/Moscow"], at("Europe/Moscow", 2026, 3, 10, 9, 0)) is None
    assert c.check_window(W, ["Europe/Moscow"], at("Europe/Moscow", 2026, 3, 10, 20, 59, 59)) is None
    refusal = c.check_window(W, ["Europe/Moscow"], at("Europe/Moscow", 2026, 3, 10, 21, 0))
    assert refusal is not None and refusal.code is c.RefusalCode.OUTSIDE_WINDOW
    assert refusal.retry_at == at("Europe/Moscow", 2026, 3, 11, 9, 0)


def test_same_instant_differs_by_zone() -> None:
    t = utc(2026, 6, 1, 7, 0)  # 10:00 Moscow, 03:00 New York
    assert c.window_open(W, ["Europe/Moscow"], t)
    assert not c.window_open(W, ["America/New_York"], t)


def test_several_zones_use_the_intersection() -> None:
    zones = ["Europe/Moscow", "Asia/Yekaterinburg"]  # UTC+3 and UTC+5
    # 19:30 in Moscow is 21:30 in Yekaterinburg: closed there, so closed for the lead.
    assert not c.window_open(W, zones, at("Europe/Moscow", 2026, 6, 1, 19, 30))
    # 09:30 Moscow = 11:30 Yekaterinburg: open in both.
    assert c.window_open(W, zones, at("Europe/Moscow", 2026, 6, 1, 9, 30))
    # Opening is when the later zone (Moscow) reaches 09:00; closing when Yekaterinburg reaches 21:00.
    assert c.next_window_open(W, zones, at("Europe/Moscow", 2026, 6, 1, 5, 0)) == \
        at("Europe/Moscow", 2026, 6, 1, 9, 0)
    r = c.check_window(W, zones, at("Asia/Yekaterinburg", 2026, 6, 1, 21, 0))
    assert r is not None and r.retry_at == at("Europe/Moscow", 2026, 6, 2, 9, 0)


def test_zones_without_common_window() -> None:
    narrow = c.CallingWindow(time(9, 0), time(12, 0))
    r = c.check_window(narrow, ["Asia/Tokyo", "America/New_York"], utc(2026, 6, 1, 0, 0))
    assert r is not None and r.code is c.RefusalCode.NO_COMMON_WINDOW


def test_spring_forward_gap_window_start() -> None:
    # New York skips 02:00-03:00 on 2026-03-08; a window starting 02:30 opens at 03:00 EDT that day.
    w = c.CallingWindow(time(2, 30), time(4, 0))
    before = at("America/New_York", 2026, 3, 8, 1, 0)
    nxt = c.next_window_open(w, ["America/New_York"], before)
    assert nxt == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert c.window_open(w, ["America/New_York"], utc(2026, 3, 8, 7, 0))
    assert not c.window_open(w, ["America/New_York"], utc(2026, 3, 8, 6, 59, 59))  # 01:59:59 EST


def test_dst_change_keeps_local_window() -> None:
    # 09:00 local is 13:00 UTC in summer and 14:00 UTC in winter for New York.
    assert c.window_open(W, ["America/New_York"], utc(2026, 10, 30, 13, 0))
    assert not c.window_open(W, ["America/New_York"], utc(2026, 11, 2, 13, 0))
    assert c.window_open(W, ["America/New_York"], utc(2026, 11, 2, 14, 0))


def test_fall_back_repeated_hour_is_judged_by_wall_clock() -> None:
    w = c.CallingWindow(time(1, 0), time(1, 45))
    first = at("America/New_York", 2026, 11, 1, 1, 30, fold=0)
    second = at("America/New_York", 2026, 11, 1, 1, 30, fold=1)
    assert second - first == 3600
    assert c.window_open(w, ["America/New_York"], first)
    assert c.window_open(w, ["America/New_York"], second)


def test_window_across_midnight_and_parse() -> None:
    w = c.CallingWindow.parse("21:00–02:00")
    assert w.contains(time(23, 0)) and w.contains(time(1, 59)) and not w.contains(time(2, 0))
    with pytest.raises(InputError):
        c.CallingWindow.parse("9-21")
    with pytest.raises(InputError):
        c.CallingWindow(time(9), time(9))
    with pytest.raises(InputError):
        c.window_open(W, [], 0.0)
    with pytest.raises(InputError):
        c.window_open(W, ["Mars/Olympus"], 0.0)


def test_dnc_and_attempt_caps() -> None:
    assert c.check_dnc(False) is None
    dnc = c.check_dnc(True)
    assert dnc is not None and dnc.code is c.RefusalCode.DNC
    assert c.check_lead_attempts(2, 3) is None
    r = c.check_lead_attempts(3, 3)
    assert r is not None and r.code is c.RefusalCode.LEAD_ATTEMPTS


def test_daily_cap_counts_local_day() -> None:
    zone = "Asia/Vladivostok"  # UTC+10
    noon = at(zone, 2026, 5, 5, 12, 0)
    yesterday_late = at(zone, 2026, 5, 4, 23, 30)
    today_early = at(zone, 2026, 5, 5, 0, 30)
    assert c.attempts_today([yesterday_late, today_early, noon - 60], noon, zone) == 2
    assert c.check_number_daily_attempts(2, 3, noon, zone) is None
    r = c.check_number_daily_attempts(3, 3, noon, zone)
    assert r is not None and r.code is c.RefusalCode.NUMBER_DAILY_ATTEMPTS
    assert r.retry_at == at(zone, 2026, 5, 6, 0, 0)


def test_local_day_start_on_dst_days() -> None:
    # Santiago moves clocks at midnight: 2026-09-06 00:00 does not exist, the day starts at 01:00.
    zone = "America/Santiago"
    start = c.local_day_start(at(zone, 2026, 9, 6, 12, 0), zone)
    local = datetime.fromtimestamp(start, ZoneInfo(zone))
    assert local.date().isoformat() == "2026-09-06" and local.hour == 1
    assert c.local_day_start(at("Europe/Berlin", 2026, 3, 29, 12), "Europe/Berlin") == \
        at("Europe/Berlin", 2026, 3, 29, 0, 0)


def test_abandon_lockout_72h_unless_operator_guaranteed() -> None:
    t0 = 1_800_000_000.0
    r = c.check_abandon_lockout(t0, t0 + 71 * 3600, operator_guaranteed=False)
    assert r is not None and r.code is c.RefusalCode.ABANDON_LOCKOUT and r.retry_at == t0 + 72 * 3600
    assert c.check_abandon_lockout(t0, t0 + 72 * 3600, operator_guaranteed=False) is None
    assert c.check_abandon_lockout(t0, t0 + 60, operator_guaranteed=True) is None
    assert c.check_abandon_lockout(None, t0, operator_guaranteed=False) is None


ZONES = ["Europe/Moscow", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago",
         "Europe/London", "Pacific/Chatham"]


@settings(max_examples=150, deadline=None)
@given(st.floats(1.7e9, 1.9e9), st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
       st.integers(0, 23), st.integers(1, 12))
def test_next_window_open_is_open_and_not_later_than_needed(t: float, zones: list[str], start: int,
                                                            length: int) -> None:
    w = c.CallingWindow(time(start, 0), time((start + length) % 24, 0))
    nxt = c.next_window_open(w, zones, t)
    if nxt is None:
        # No common window: nothing in the next 24 h (sampled every 15 min) is open everywhere.
        assert not any(c.window_open(w, zones, t + k * 900) for k in range(96))
        return
    assert nxt >= t
    assert c.window_open(w, zones, nxt)
    # Nothing earlier (sampled on a 15-minute grid) was open.
    k = 1
    while t + k * 900 < nxt - 1:
        assert not c.window_open(w, zones, t + k * 900)
        k += 1
