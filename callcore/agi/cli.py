"""``callcore route ...``: the inbound routing tables read by the FastAGI ``route`` script.

``did`` (DID -> queue), ``vip`` (caller priority), ``hours`` (business hours per queue), ``holiday`` and
``test`` (a dry run of the real routing decision). Numbers are stored in the form the ``route`` script
looks up: E.164 when the number is valid as a national number of ``route_region()`` (the script's region)
or as an international one, else its digits, else the text as given (e.g. the ``s`` extension), so
``79160000001``, ``+7 916 000-00-01`` and ``+79160000001`` are one VIP. Exit codes: 0 done, 1 failed
(not found, database trouble), 2 bad input (the message names the field). The schema is migrated first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcore.agi import names
from callcore.agi.routing import MAX_PRIORITY, MIN_PRIORITY, decide_route, number_candidates
from callcore.agi.scripts import to_e164
from callcore.agi.store import PgAgiStore
from callcore.clihelp import EXIT_USAGE, Action, Db, Runner, print_json, print_table, run_action, with_db
from callcore.clock import Clock, SystemClock
from callcore.errors import InputError, NotFound
from callcore.store.sqlfiles import load_sql

PKG = "callcore.agi"
def route_region() -> str:
    """The region the FastAGI route script uses for national numbers: ``CALLCORE_PHONE_REGION``."""
    from callcore.config import load_settings

    return load_settings().phone_region
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_SETS = {"all": range(7), "daily": range(7), "weekdays": range(5), "weekend": (5, 6), "weekends": (5, 6)}
_FORMATTING = frozenset("+-(). ")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}([_-][A-Za-z0-9]{2,8})*")
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


# --- input (pure) --------------------------------------------------------------------------------------


def match_forms(number: str) -> list[str]:
    """Every form the ``route`` script looks a dialled or caller number up under (same order)."""
    out = number_candidates(number)
    e164 = to_e164(number, route_region())
    if e164 and e164 not in out:
        out.append(e164)
    return out


def stored_number(text: str, field: str) -> str:
    """The one form a DID or VIP number is stored under; always among ``match_forms(text)``."""
    raw = text.strip()
    if not raw:
        raise InputError("must not be empty", field=field)
    digits = "".join(c for c in raw if c.isdigit())
    # national in the script's region, else international without its "+" (both are looked up)
    region = route_region()
    e164 = to_e164(raw, region) or (to_e164(f"+{digits}", region) if digits else None)
    if e164:
        return e164
    if digits and all(c.isdigit() or c in _FORMATTING for c in raw):
        return digits
    return raw


def parse_priority(value: int, field: str = "--priority") -> int:
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise InputError(f"{value} is out of range {MIN_PRIORITY}..{MAX_PRIORITY}", field=field)
    return value


def parse_name(text: str | None, field: str) -> str | None:
    """A queue name: None stays None; blank or with spaces is refused."""
    if text is None:
        return None
    name = text.strip()
    if not name or any(c.isspace() for c in name):
        raise InputError(f"bad queue name {text!r} (no blanks)", field=field)
    return name


def parse_language(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if not _LANGUAGE.fullmatch(text.strip()):
        raise InputError(f"bad language {text!r} (e.g. ru, en, pt_BR)", field="--language")
    return text.strip()


def _day(text: str) -> int:
    name = text.strip().lower()
    for i, (short, full) in enumerate(zip(DAYS, FULL_DAYS, strict=True)):
        if name == short or (len(name) >= 3 and full.startswith(name)):
            return i
    raise InputError(f"unknown day {text!r}: use mon tue wed thu fri sat sun, ranges such as mon-fri, "
                     "lists such as mon,wed,fri, or all/weekdays/weekend", field="--days")


def parse_days(text: str) -> tuple[int, ...]:
    """``mon-fri``, ``sat,sun``, ``fri-mon`` (wraps), ``all`` ... -> sorted weekdays, 0 = Monday."""
    key = text.strip().lower()
    if key in DAY_SETS:
        return tuple(DAY_SETS[key])
    out: set[int] = set()
    for part in key.split(","):
        first, dash, last = part.partition("-")
        start = _day(first)
        end = _day(last) if dash else start
        day = start
        out.add(day)
        while day != end:
            day = (day + 1) % 7
            out.add(day)
    return tuple(sorted(out))


def parse_time(text: str, field: str) -> dt.time:
    """``HH:MM``; ``24:00`` is midnight at the end of the day."""
    m = _TIME.fullmatch(text.strip())
    hour, minute = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
    if (hour, minute) == (24, 0):
        return dt.time(0, 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InputError(f"bad time {text!r}: expected HH:MM, e.g. 09:00", field=field)
    return dt.time(hour, minute)


def parse_tz(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(f"unknown time zone {text!r}: use an IANA name such as Europe/Moscow",
                         field="--tz") from None
    return name


def parse_date(text: str, field: str = "DATE") -> dt.date:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise InputError(f"unknown date format {text!r}: use YYYY-MM-DD (e.g. 2026-12-31) or DD.MM.YYYY",
                     field=field)


def parse_at(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"bad date and time {text!r}: expected e.g. 2026-12-01T10:00+03:00",
                         field="--at") from None
    if at.tzinfo is None:
        raise InputError(f"{text!r} has no UTC offset: add one, e.g. 2026-12-01T10:00+03:00", field="--at")
    return at


def days_text(days: tuple[int, ...] | list[int]) -> str:
    return ",".join(DAYS[d] for d in days)


# --- arguments -----------------------------------------------------------------------------------------


def route_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore route", description="Inbound routing for the FastAGI hook.")
    kinds = p.add_subparsers(dest="kind", required=True)

    did = kinds.add_parser("did", help="DID -> queue").add_subparsers(dest="cmd", required=True)
    a = did.add_parser("add", help="add or replace the route of a DID")
    a.add_argument("did")
    a.add_argument("--queue", required=True)
    a.add_argument("--priority", type=int, default=0, help="0..100, higher first (default 0)")
    a.add_argument("--language", help="channel language, e.g. ru")
    a.add_argument("--after-hours-queue", dest="after_hours_queue",
                   help=f"queue when closed (default {names.AFTER_HOURS_QUEUE!r})")
    a.add_argument("--note", default="")
    did.add_parser("remove", help="remove the route of a DID").add_argument("did")
    did.add_parser("list", help="list DID routes").add_argument("--json", action="store_true")

    vip = kinds.add_parser("vip", help="VIP callers").add_subparsers(dest="cmd", required=True)
    a = vip.add_parser("add", help="add or replace a VIP caller")
    a.add_argument("number")
    a.add_argument("--priority", type=int, default=10, help="0..100 (default 10)")
    a.add_argument("--name", default="")
    vip.add_parser("remove", help="remove a VIP caller").add_argument("number")
    vip.add_parser("list", help="list VIP callers").add_argument("--json", action="store_true")

    hours = kinds.add_parser("hours", help="business hours").add_subparsers(dest="cmd", required=True)
    s = hours.add_parser("set", help="replace a queue's window on some days")
    s.add_argument("queue")
    s.add_argument("--days", required=True, help="e.g. mon-fri, sat,sun, all")
    s.add_argument("--open", required=True, help="HH:MM local time")
    s.add_argument("--close", required=True, help="HH:MM local time (before --open: runs past midnight)")
    s.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/Moscow")
    c = hours.add_parser("clear", help="remove a queue's windows (open all the time once none is left)")
    c.add_argument("queue")
    c.add_argument("--days", help="only these days (default: all)")
    h = hours.add_parser("list", help="list business hours")
    h.add_argument("queue", nargs="?")
    h.add_argument("--json", action="store_true")

    hol = kinds.add_parser("holiday", help="holidays").add_subparsers(dest="cmd", required=True)
    a = hol.add_parser("add", help="add or rename a holiday")
    a.add_argument("date", help="YYYY-MM-DD")
    a.add_argument("--queue", help="only this queue (default: every queue)")
    a.add_argument("--name", default="")
    r = hol.add_parser("remove", help="remove a holiday")
    r.add_argument("date")
    r.add_argument("--queue", help="the holiday of this queue (default: the one of every queue)")
    h = hol.add_parser("list", help="list holidays")
    h.add_argument("--year", type=int)
    h.add_argument("--json", action="store_true")

    t = kinds.add_parser("test", help="dry run: the queue, priority and reason the route script would give")
    t.add_argument("did")
    t.add_argument("--caller", default="", help="caller number")
    t.add_argument("--at", help="moment of the call, e.g. 2026-12-01T10:00+03:00 (default: now)")
    t.add_argument("--default-queue", dest="default_queue", default=names.DEFAULT_QUEUE,
                   help="queue for DIDs without a route (the script's 'default' parameter)")
    return p


def _validate(ns: argparse.Namespace) -> None:
    """Check and normalise every input before the database is touched (InputError names the field)."""
    if ns.kind == "did" and ns.cmd == "add":
        ns.did = stored_number(ns.did, "DID")
        ns.queue = parse_name(ns.queue, "--queue")
        ns.priority = parse_priority(ns.priority)
        ns.language = parse_language(ns.language)
        ns.after_hours_queue = parse_name(ns.after_hours_queue, "--after-hours-queue")
    elif ns.kind == "vip" and ns.cmd == "add":
        ns.number = stored_number(ns.number, "NUMBER")
        ns.priority = parse_priority(ns.priority)
    elif ns.kind == "hours":
        ns.queue = parse_name(ns.queue, "QUEUE")
        if ns.cmd in ("set", "clear"):
            ns.days = parse_days(ns.days) if ns.days is not None else tuple(range(7))
        if ns.cmd == "set":
            ns.open = parse_time(ns.open, "--open")
            ns.close = parse_time(ns.close, "--close")
            ns.tz = parse_tz(ns.tz)
            if ns.open == ns.close:
                raise InputError(f"--open and --close are both {ns.open:%H:%M}: the window would be empty",
                                 field="--close")
    elif ns.kind == "holiday":
        if ns.cmd in ("add", "remove"):
            ns.date = parse_date(ns.date)
            ns.queue = parse_name(ns.queue, "--queue")
    elif ns.kind == "test":
        if not ns.did.strip():
            raise InputError("must not be empty", field="DID")
        ns.at = parse_at(ns.at) if ns.at else None
        ns.default_queue = parse_name(ns.default_queue, "--default-queue")


# --- commands --------------------------------------------------------------------------------------------


async def _fetch(db: Db, name: str, *args: Any) -> list[Any]:
    rows: list[Any] = await db.fetch(load_sql(PKG, name), *args)
    return rows


async def _did(db: Db, ns: argparse.Namespace, out: IO[str]) -> None:
    if ns.cmd == "add":
        from callcore.directory.references import require_queues

        await require_queues(db, [("--queue", ns.queue), ("--after-hours-queue", ns.after_hours_queue)])
        rows = await _fetch(db, "cli_did_upsert", ns.did, ns.queue, ns.priority, ns.language,
                            ns.after_hours_queue, ns.note)
        out.write(f"DID {ns.did} -> queue {ns.queue} priority {ns.priority} "
                  f"({'added' if rows[0]['inserted'] else 'updated'})\n")
    elif ns.cmd == "remove":
        gone = [r["did"] for r in await _fetch(db, "cli_did_delete", match_forms(ns.did))]
        if not gone:
            raise NotFound(f"no route for DID {ns.did!r}")
        out.write(f"removed DID {' '.join(gone)}\n")
    else:
        rows = await _fetch(db, "cli_did_list")
        if ns.json:
            keys = ("did", "queue", "priority", "language", "after_hours_queue", "note")
            print_json(out, [{k: r[k] for k in keys} for r in rows])
            return
        print_table(out, ("DID", "QUEUE", "PRIORITY", "LANGUAGE", "AFTER-HOURS", "NOTE"),
               [(r["did"], r["queue"], str(r["priority"]), r["language"] or "-",
                 r["after_hours_queue"] or "-", r["note"]) for r in rows])


async def _vip(db: Db, ns: argparse.Namespace, out: IO[str]) -> None:
    if ns.cmd == "add":
        rows = await _fetch(db, "cli_vip_upsert", ns.number, ns.priority, ns.name)
        out.write(f"VIP {ns.number} priority {ns.priority} ({'added' if rows[0]['inserted'] else 'updated'})\n")
    elif ns.cmd == "remove":
        gone = [r["number"] for r in await _fetch(db, "cli_vip_delete", match_forms(ns.number))]
        if not gone:
            raise NotFound(f"{ns.number!r} is not a VIP caller")
        out.write(f"removed VIP {' '.join(gone)}\n")
    else:
        rows = await _fetch(db, "cli_vip_list")
        if ns.json:
            print_json(out, [{k: r[k] for k in ("number", "priority", "name")} for r in rows])
            return
        print_table(out, ("NUMBER", "PRIORITY", "NAME"), [(r["number"], str(r["priority"]), r["name"]) for r in rows])


async def _hours(db: Db, ns: argparse.Namespace, out: IO[str]) -> None:
    if ns.cmd == "set":
        async with db.transaction():
            zones = [r["tz"] for r in await _fetch(db, "cli_hours_zones", ns.queue, list(ns.days))]
            if any(z != ns.tz for z in zones):
                raise InputError(f"queue {ns.queue} has hours in {', '.join(zones)} on other days: use the "
                                 "same time zone, or clear those days first", field="--tz")
            await _fetch(db, "cli_hours_delete", ns.queue, list(ns.days))
            await db.execute(load_sql(PKG, "cli_hours_insert"), ns.queue, list(ns.days), ns.open, ns.close,
                             ns.tz)
        overnight = " (runs past midnight)" if ns.close < ns.open else ""
        out.write(f"queue {ns.queue}: {days_text(ns.days)} {ns.open:%H:%M}-{ns.close:%H:%M} {ns.tz}"
                  f"{overnight}\n")
    elif ns.cmd == "clear":
        gone = sorted({r["weekday"] for r in await _fetch(db, "cli_hours_delete", ns.queue, list(ns.days))})
        if not gone:
            raise NotFound(f"queue {ns.queue} has no business hours on {days_text(ns.days)}")
        out.write(f"queue {ns.queue}: cleared {days_text(gone)}\n")
    else:
        rows = await _fetch(db, "cli_hours_list", ns.queue)
        if ns.json:
            print_json(out, [{"queue": r["queue"], "day": DAYS[r["weekday"]], "open": f"{r['open_at']:%H:%M}",
                             "close": f"{r['close_at']:%H:%M}", "tz": r["tz"]} for r in rows])
            return
        print_table(out, ("QUEUE", "DAY", "OPEN", "CLOSE", "TZ"),
               [(r["queue"], DAYS[r["weekday"]], f"{r['open_at']:%H:%M}", f"{r['close_at']:%H:%M}", r["tz"])
                for r in rows])


async def _holiday(db: Db, ns: argparse.Namespace, out: IO[str]) -> None:
    scope = f"queue {ns.queue}" if getattr(ns, "queue", None) else "every queue"
    if ns.cmd == "add":
        rows = await _fetch(db, "cli_holiday_upsert", ns.date, ns.queue, ns.name)
        out.write(f"holiday {ns.date} for {scope} ({'added' if rows[0]['inserted'] else 'updated'})\n")
    elif ns.cmd == "remove":
        if not await _fetch(db, "cli_holiday_delete", ns.date, ns.queue):
            raise NotFound(f"no holiday on {ns.date} for {scope}")
        out.write(f"removed holiday {ns.date} for {scope}\n")
    else:
        rows = await _fetch(db, "cli_holiday_list", ns.year)
        if ns.json:
            print_json(out, [{"date": r["day"].isoformat(), "queue": r["queue"], "name": r["name"]}
                             for r in rows])
            return
        print_table(out, ("DATE", "QUEUE", "NAME"),
               [(r["day"].isoformat(), r["queue"] or "*", r["name"]) for r in rows])


async def _test(db: Db, ns: argparse.Namespace, out: IO[str], clock: Clock) -> None:
    now: dt.datetime = ns.at or dt.datetime.fromtimestamp(clock.now(), dt.UTC)
    facts = await PgAgiStore(db).route_facts(match_forms(ns.did), match_forms(ns.caller), now)
    decision = decide_route(facts, now, default_queue=ns.default_queue)
    zone = ZoneInfo(facts.hours[0].tz) if facts.hours else now.tzinfo
    local = now.astimezone(zone)
    route = facts.did_route
    lines = [
        f"queue:    {decision.queue}",
        f"priority: {decision.priority}",
        f"reason:   {decision.reason}",
        f"language: {decision.language or '-'}",
        f"at:       {local:%Y-%m-%d %H:%M} {DAYS[local.weekday()]} ({local.tzname()})",
        f"did:      {f'{route.did} -> {route.queue}' if route else 'no route (default queue)'}",
        f"vip:      {'-' if facts.vip_priority is None else f'priority {facts.vip_priority}'}",
        f"hours:    {'open all the time' if not facts.hours else f'{len(facts.hours)} window(s)'}",
    ]
    if decision.holiday is not None:
        lines.append(f"holiday:  {decision.holiday or '(unnamed)'}")
    out.write("\n".join(lines) + "\n")


async def _route_db(action: Action) -> None:
    await with_db(action, migrate_first=True, tables="routing")


def route_main(argv: list[str], *, runner: Runner | None = None, out: IO[str] | None = None,
               err: IO[str] | None = None, clock: Clock | None = None) -> int:
    """``callcore route ...``; ``runner`` replaces the database connection (tests), ``clock`` the time."""
    out = out or sys.stdout
    err = err or sys.stderr
    ns = route_parser().parse_args(argv)
    prog = f"callcore route {ns.kind}" + (f" {ns.cmd}" if ns.kind != "test" else "")
    try:
        _validate(ns)
    except InputError as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_USAGE

    async def action(db: Db) -> None:
        if ns.kind == "test":
            await _test(db, ns, out, clock or SystemClock())
        else:
            await {"did": _did, "vip": _vip, "hours": _hours, "holiday": _holiday}[ns.kind](db, ns, out)

    return run_action(prog, action, err, runner or _route_db)
