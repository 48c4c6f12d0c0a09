from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.agi import cli
from callcore.agi.cli import match_forms, parse_days, route_main, stored_number
from callcore.agi.protocol import build_env
from callcore.agi.scripts import AgiScripts, _candidates
from callcore.agi.store import PgAgiStore
from callcore.clihelp import Runner
from callcore.clock import ManualClock
from callcore.errors import InputError


@pytest.fixture(autouse=True, scope="module")
def _us_numbers() -> Any:
    """These tests write US numbers: the phone region is set for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CALLCORE_PHONE_REGION", "US")
        yield

Action = Callable[[Any], Awaitable[None]]


QUEUES = ("support", "support-night", "sales", "internal", "q", "vip", "night", "general", "billing")


def make_runner(dsn: str) -> Runner:
    async def runner(action: Action) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            # DID routes name existing queues: the ones these tests route to
            await conn.execute("INSERT INTO queues (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                               list(QUEUES))
            await action(conn)
        finally:
            await conn.close()

    return runner


async def no_database(action: Action) -> None:
    raise AssertionError("bad input must be refused before the database is used")


def run(dsn: str | None, *argv: str, clock: ManualClock | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    runner = make_runner(dsn) if dsn else no_database
    code = route_main(list(argv), runner=runner, out=out, err=err, clock=clock)
    return code, out.getvalue(), err.getvalue()


def ok(dsn: str, *argv: str) -> str:
    code, out, err = run(dsn, *argv)
    assert code == 0, err
    return out


# --- pure parts ------------------------------------------------------------------------------------------

numbers = st.text(alphabet="0123456789+-() .s", max_size=16) | st.sampled_from(
    ["+7 495 123-45-67", "84951234567", "(212) 555-1234", "+1 212 555 1234", "100", "s", "ext100"])


@given(numbers)
def test_stored_form_is_one_the_route_script_looks_up(number: str) -> None:
    assert match_forms(number) == _candidates(number, cli.route_region())
    if number.strip():
        assert stored_number(number, "DID") in _candidates(number, cli.route_region())


@given(st.sampled_from(["+74951234567", "2125551234", "84951234567", "100"]),
       st.sampled_from(["{}", "+{}", "{} ", "({})"]))
def test_formatting_does_not_change_the_stored_form(number: str, fmt: str) -> None:
    digits = "".join(c for c in number if c.isdigit())
    assert stored_number(fmt.format(digits), "DID") in match_forms(number)


def test_region_is_the_route_scripts() -> None:
    # the CLI stores numbers in CALLCORE_PHONE_REGION, the region the service gives the route script
    assert cli.route_region() == "US"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CALLCORE_PHONE_REGION", "GB")
        assert cli.route_region() == "GB"
        assert stored_number("020 7946 0018", "DID") == "+442079460018"


@given(st.integers(0, 6), st.integers(0, 6))
def test_day_ranges_wrap_around_the_week(start: int, end: int) -> None:
    days = parse_days(f"{cli.DAYS[start]}-{cli.FULL_DAYS[end]}")
    assert days[0] == min(days) and len(days) == (end - start) % 7 + 1
    assert start in days and end in days


def test_day_names() -> None:
    assert parse_days("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_days("Sat,sun") == (5, 6) == parse_days("weekend")
    assert parse_days("fri-mon") == (0, 4, 5, 6)
    assert parse_days("all") == tuple(range(7))
    with pytest.raises(InputError) as exc:
        parse_days("mon-fry")
    assert exc.value.field == "--days"


@pytest.mark.parametrize(("argv", "field"), [
    (["did", "add", "100", "--queue", "q", "--priority", "101"], "--priority"),
    (["did", "add", "100", "--queue", "q", "--priority", "-1"], "--priority"),
    (["did", "add", " ", "--queue", "q"], "DID"),
    (["did", "add", "100", "--queue", "two words"], "--queue"),
    (["did", "add", "100", "--queue", "q", "--language", "r u"], "--language"),
    (["vip", "add", "+74951234567", "--priority", "500"], "--priority"),
    (["hours", "set", "q", "--days", "mon-fri", "--open", "09:00", "--close", "18:00", "--tz", "Mars/Olympus"],
     "--tz"),
    (["hours", "set", "q", "--days", "mon-fri", "--open", "09:00", "--close", "18:00", "--tz", "../etc"], "--tz"),
    (["hours", "set", "q", "--days", "moon", "--open", "09:00", "--close", "18:00", "--tz", "UTC"], "--days"),
    (["hours", "set", "q", "--days", "mon", "--open", "09:00", "--close", "09:00", "--tz", "UTC"], "--close"),
    (["hours", "set", "q", "--days", "mon", "--open", "9am", "--close", "18:00", "--tz", "UTC"], "--open"),
    (["hours", "set", "q", "--days", "mon", "--open", "09:00", "--close", "25:00", "--tz", "UTC"], "--close"),
    (["hours", "clear", "q", "--days", "mon-xyz"], "--days"),
    (["holiday", "add", "31/12/2026"], "DATE"),
    (["holiday", "remove", "2026-02-30"], "DATE"),
    (["test", "100", "--at", "2026-12-01T10:00"], "--at"),
    (["test", "100", "--at", "tomorrow"], "--at"),
])
def test_bad_input_names_the_field(argv: list[str], field: str) -> None:
    code, out, err = run(None, *argv)
    assert code == 2 and out == ""
    assert f": {field}: " in err and err.startswith("callcore route ")


# --- commands on PostgreSQL ------------------------------------------------------------------------------


def test_did_commands(pg_dsn: str) -> None:
    assert "added" in ok(pg_dsn, "did", "add", "+7 (495) 123-45-67", "--queue", "support", "--priority", "20",
                         "--language", "ru", "--after-hours-queue", "support-night", "--note", "main line")
    assert "updated" in ok(pg_dsn, "did", "add", "+74951234567", "--queue", "sales")
    ok(pg_dsn, "did", "add", "100", "--queue", "internal")
    rows = json.loads(ok(pg_dsn, "did", "list", "--json"))
    assert rows == [
        {"did": "+74951234567", "queue": "sales", "priority": 0, "language": None, "after_hours_queue": None,
         "note": ""},
        {"did": "100", "queue": "internal", "priority": 0, "language": None, "after_hours_queue": None,
         "note": ""},
    ]
    assert "+74951234567" in ok(pg_dsn, "did", "list").splitlines()[1]
    assert "removed DID +74951234567" in ok(pg_dsn, "did", "remove", "74951234567")
    code, _, err = run(pg_dsn, "did", "remove", "74951234567")
    assert code == 1 and "no route" in err
    assert [r["did"] for r in json.loads(ok(pg_dsn, "did", "list", "--json"))] == ["100"]


def test_vip_commands(pg_dsn: str) -> None:
    assert "added" in ok(pg_dsn, "vip", "add", "+7 916 000-00-01", "--priority", "60", "--name", "Иван")
    assert "updated" in ok(pg_dsn, "vip", "add", "79160000001", "--priority", "70", "--name", "Иван Петров")
    ok(pg_dsn, "vip", "add", "2125551234")
    rows = json.loads(ok(pg_dsn, "vip", "list", "--json"))
    assert rows == [{"number": "+79160000001", "priority": 70, "name": "Иван Петров"},
                    {"number": "+12125551234", "priority": 10, "name": ""}]
    assert "removed" in ok(pg_dsn, "vip", "remove", "+1 (212) 555-1234")
    code, _, err = run(pg_dsn, "vip", "remove", "2125551234")
    assert code == 1 and "not a VIP" in err


def test_hours_commands(pg_dsn: str) -> None:
    ok(pg_dsn, "hours", "set", "support", "--days", "mon-fri", "--open", "09:00", "--close", "18:00",
       "--tz", "Europe/Moscow")
    assert "past midnight" in ok(pg_dsn, "hours", "set", "support", "--days", "fri", "--open", "20:00",
                                 "--close", "02:00", "--tz", "Europe/Moscow")
    ok(pg_dsn, "hours", "set", "sales", "--days", "sat", "--open", "10:00", "--close", "24:00", "--tz", "UTC")
    rows = json.loads(ok(pg_dsn, "hours", "list", "support", "--json"))
    assert [(r["day"], r["open"], r["close"]) for r in rows] == [
        ("mon", "09:00", "18:00"), ("tue", "09:00", "18:00"), ("wed", "09:00", "18:00"),
        ("thu", "09:00", "18:00"), ("fri", "20:00", "02:00")]
    assert {r["tz"] for r in rows} == {"Europe/Moscow"}
    assert len(ok(pg_dsn, "hours", "list").splitlines()) == 1 + 6
    code, _, err = run(pg_dsn, "hours", "set", "support", "--days", "sat", "--open", "10:00", "--close",
                       "12:00", "--tz", "Asia/Tokyo")
    assert code == 2 and "--tz" in err and "Europe/Moscow" in err
    assert "cleared mon,tue" in ok(pg_dsn, "hours", "clear", "support", "--days", "mon-tue")
    assert "cleared wed,thu,fri" in ok(pg_dsn, "hours", "clear", "support")
    code, _, err = run(pg_dsn, "hours", "clear", "support")
    assert code == 1 and "no business hours" in err
    assert json.loads(ok(pg_dsn, "hours", "list", "sales", "--json")) == [
        {"queue": "sales", "day": "sat", "open": "10:00", "close": "00:00", "tz": "UTC"}]


def test_holiday_commands(pg_dsn: str) -> None:
    assert "every queue (added)" in ok(pg_dsn, "holiday", "add", "2026-12-31", "--name", "New Year's Eve")
    assert "(updated)" in ok(pg_dsn, "holiday", "add", "31.12.2026", "--name", "Канун Нового года")
    ok(pg_dsn, "holiday", "add", "2026-12-31", "--queue", "sales", "--name", "stock-taking")
    ok(pg_dsn, "holiday", "add", "2027-01-01", "--name", "New Year")
    rows = json.loads(ok(pg_dsn, "holiday", "list", "--year", "2026", "--json"))
    assert rows == [{"date": "2026-12-31", "queue": None, "name": "Канун Нового года"},
                    {"date": "2026-12-31", "queue": "sales", "name": "stock-taking"}]
    assert len(ok(pg_dsn, "holiday", "list").splitlines()) == 1 + 3
    assert "queue sales" in ok(pg_dsn, "holiday", "remove", "2026-12-31", "--queue", "sales")
    code, _, err = run(pg_dsn, "holiday", "remove", "2026-12-31", "--queue", "sales")
    assert code == 1 and "no holiday" in err
    ok(pg_dsn, "holiday", "remove", "2026-12-31")
    assert [r["date"] for r in json.loads(ok(pg_dsn, "holiday", "list", "--json"))] == ["2027-01-01"]


# --- test: the same decision as the route script ----------------------------------------------------------


class Session:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.env = build_env(pairs)
        self.variables: dict[str, str] = {}

    async def set_variables(self, values: dict[str, str]) -> None:
        self.variables.update(values)


def script_decision(dsn: str, did: str, caller: str, at: dt.datetime) -> dict[str, str]:
    async def go() -> dict[str, str]:
        conn = await asyncpg.connect(dsn)
        try:
            session = Session([("network_script", "route"), ("extension", did), ("dnid", "unknown"),
                               ("callerid", caller or "unknown")])
            await AgiScripts(PgAgiStore(conn), ManualClock(at.timestamp())).route(session)  # type: ignore[arg-type]
            return session.variables
        finally:
            await conn.close()

    return asyncio.run(go())


def cli_decision(dsn: str, did: str, caller: str, at: dt.datetime, *, use_clock: bool) -> dict[str, str]:
    argv = ["test", did] + (["--caller", caller] if caller else [])
    if use_clock:
        code, out, err = run(dsn, *argv, clock=ManualClock(at.timestamp()))
    else:
        code, out, err = run(dsn, *argv, "--at", at.isoformat())
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines())
    return {k: v.strip() for k, v in fields.items()}


MSK = dt.timezone(dt.timedelta(hours=3))
CASES = [
    # (dialled, caller, moment, queue, priority, reason)
    ("+74951234567", "", dt.datetime(2026, 12, 1, 10, 0, tzinfo=MSK), "support", "20", "did"),
    ("84951234567", "", dt.datetime(2026, 12, 1, 10, 0, tzinfo=MSK), "default", "0", "default"),
    ("74951234567", "7 (916) 000-00-01", dt.datetime(2026, 12, 1, 10, 0, tzinfo=MSK), "support", "60", "vip"),
    ("74951234567", "+79160000002", dt.datetime(2026, 12, 1, 10, 0, tzinfo=MSK), "support", "20", "did"),
    ("+74951234567", "", dt.datetime(2026, 12, 1, 19, 0, tzinfo=MSK), "support-night", "20", "closed"),
    ("+74951234567", "", dt.datetime(2026, 12, 5, 12, 0, tzinfo=MSK), "support-night", "20", "closed"),
    ("+74951234567", "", dt.datetime(2026, 12, 4, 23, 30, tzinfo=MSK), "support", "20", "did"),
    ("+74951234567", "", dt.datetime(2026, 12, 31, 10, 0, tzinfo=MSK), "support-night", "20", "holiday"),
    ("+74951234567", "", dt.datetime(2026, 12, 30, 22, 30, tzinfo=dt.UTC), "support-night", "20", "holiday"),
    ("100", "", dt.datetime(2026, 12, 31, 10, 0, tzinfo=dt.UTC), "after-hours", "0", "holiday"),
    ("100", "", dt.datetime(2027, 1, 8, 10, 0, tzinfo=dt.UTC), "internal", "0", "did"),
]


def test_test_command_agrees_with_the_route_script(pg_dsn: str) -> None:
    ok(pg_dsn, "did", "add", "+74951234567", "--queue", "support", "--priority", "20", "--language", "ru",
       "--after-hours-queue", "support-night")
    ok(pg_dsn, "did", "add", "100", "--queue", "internal")
    ok(pg_dsn, "vip", "add", "+7 916 000-00-01", "--priority", "60", "--name", "Иван")
    ok(pg_dsn, "vip", "add", "+7 916 000-00-02", "--priority", "5")
    ok(pg_dsn, "hours", "set", "support", "--days", "mon-thu", "--open", "09:00", "--close", "18:00",
       "--tz", "Europe/Moscow")
    ok(pg_dsn, "hours", "set", "support", "--days", "fri", "--open", "09:00", "--close", "00:30",
       "--tz", "Europe/Moscow")
    ok(pg_dsn, "holiday", "add", "2026-12-31", "--queue", "support", "--name", "New Year's Eve")
    ok(pg_dsn, "holiday", "add", "2026-12-31", "--queue", "internal")
    for i, (did, caller, at, queue, priority, reason) in enumerate(CASES):
        shown = cli_decision(pg_dsn, did, caller, at, use_clock=i % 2 == 0)
        script = script_decision(pg_dsn, did, caller, at)
        assert (shown["queue"], shown["priority"], shown["reason"]) == (queue, priority, reason), (did, at)
        assert (script["CALLCORE_QUEUE"], script["CALLCORE_PRIORITY"], script["CALLCORE_ROUTE_REASON"]) == (
            queue, priority, reason), (did, at)
        assert shown["language"] == script.get("CALLCORE_LANGUAGE", "-")
    assert "New Year's Eve" in cli_decision(pg_dsn, *CASES[7][:3], use_clock=False)["holiday"]


def test_default_queue_option(pg_dsn: str) -> None:
    out = ok(pg_dsn, "test", "555", "--default-queue", "reception", "--at", "2026-12-01T10:00+03:00")
    assert "queue:    reception" in out and "no route" in out


def test_configured_database_is_migrated_first(pg_empty_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCORE_DATABASE_URL", pg_empty_dsn)
    out, err = io.StringIO(), io.StringIO()
    # the empty database gets the schema, so the queue check runs (and refuses a queue that is not there)
    assert route_main(["did", "add", "200", "--queue", "sales"], out=out, err=err) == 2, err.getvalue()
    assert "queue 'sales' does not exist" in err.getvalue()
    out = io.StringIO()
    assert route_main(["did", "list"], out=out, err=err) == 0
