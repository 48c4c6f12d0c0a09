"""``callcore report queues | queue-log``: queue figures and Asterisk queue_log export from the journal.

Dates on the command line are ISO 8601 (``2026-11-01`` or ``2026-11-01T08:00:00+03:00``); without an
offset they are UTC. ``--until`` defaults to now; a bare date means the start of that day.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import IO, Any, TypeAlias

from callcore.directory import records
from callcore.directory.queuelog import QueueLogWriter
from callcore.directory.sqlload import sql
from callcore.directory.stats import EventRow, QueueReport, format_table
from callcore.errors import CallcoreError, InputError
from callcore.store.db import Database

Db: TypeAlias = Database
CALL_COLUMNS = ("call_id", "queue", "caller_number", "caller_name", "entered_at", "answered_at", "ended_at",
                "agent_id", "outcome", "disposition_code", "disposition_notes", "callback_at", "recording_name")
Action = Callable[[Db], Awaitable[None]]
Runner = Callable[[Action], Coroutine[Any, Any, None]]


def parse_time(text: str, fld: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"must be an ISO 8601 date or time, got {text!r}", field=fld) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _event(row: Any) -> EventRow:
    payload = row["payload"]
    data = json.loads(payload) if isinstance(payload, str) else (payload or {})
    return EventRow(ts=float(row["ts"]), type=row["type"], call_id=row["call_id"], agent_id=row["agent_id"],
                    queue=row["queue"], payload=data if isinstance(data, dict) else {},
                    channel_id=row["channel_id"])


async def journal_events(conn: Db, since: datetime, until: datetime) -> AsyncIterator[EventRow]:
    """Call and agent-state events of ``[since, until)`` in time order, streamed with a cursor.

    ``conn`` must be a connection (not a pool): the cursor needs a transaction.
    """
    async with conn.transaction():
        async for row in conn.cursor(sql("report_events"), since, until, prefetch=2000):
            yield _event(row)


async def queue_report(conn: Db, since: datetime, until: datetime, *, queue: str | None = None,
                       sl_threshold: float | None = None) -> list[QueueReport]:
    """Per-queue figures, aggregated in PostgreSQL (definitions in ``callcore.directory.stats``).

    Each queue's own service-level threshold applies unless ``sl_threshold`` is given.
    """
    if until < since:
        raise InputError("must not be before since", field="until")
    rows = await conn.fetch(sql("report_queues"), since, until, queue, sl_threshold)
    reports = []
    for r in rows:
        rep = QueueReport(r["queue"], float(r["threshold"]))
        for name in ("offered", "answered", "abandoned", "overflowed", "callbacks", "transferred", "refused",
                     "answered_within_sl", "abandoned_after_sl", "talks", "wrapups"):
            setattr(rep, name, int(r[name]))
        for name in ("wait_total", "talk_total", "wrapup_total", "abandon_wait_total"):
            setattr(rep, name, float(r[name]))
        reports.append(rep)
    return reports


async def write_queue_log(conn: Db, since: datetime, until: datetime, out: IO[str], *,
                          agent_field: str = "id") -> int:
    """Write queue_log lines for ``[since, until)``; returns the number of lines.

    Consecutive windows give the lines of one export of their union: a call that straddles ``since`` has its
    ENTERQUEUE in the earlier window and its CONNECT/COMPLETE... lines in this one."""
    memberships: dict[str, list[str]] = {}
    for r in await conn.fetch(sql("report_memberships")):
        memberships.setdefault(r["agent_id"], []).append(r["queue"])
    endpoints = {r["id"]: r["endpoint"] for r in await conn.fetch("SELECT id, endpoint FROM agents")} \
        if agent_field == "endpoint" else {}
    history = [(r["agent_id"], r["queue"], float(r["valid_from"]),
                None if r["valid_to"] is None else float(r["valid_to"]))
               for r in await conn.fetch(sql("report_membership_history"))]
    writer = QueueLogWriter(memberships, agent_field=agent_field, endpoints=endpoints, history=history)
    # calls that entered before the window: their earlier events give context, their lines were written
    # by the previous window's export
    async with conn.transaction():
        async for row in conn.cursor(sql("report_events_before"), since, until, prefetch=2000):
            writer.feed(_event(row))
    count = 0
    async for ev in journal_events(conn, since, until):
        for line in writer.feed(ev):
            out.write(line + "\n")
            count += 1
    return count


Emit: TypeAlias = Callable[[list[tuple[Any, list[str]]]], Awaitable[None]]


async def _follow(conn: Db, start: tuple[datetime, int], emit: Emit, *, agent_field: str, poll: float,
                  stop: asyncio.Event) -> int:
    """Feed events after ``start`` (ts, id) to a QueueLogWriter as they reach the journal and hand each batch
    of (event row, its lines) to ``emit``, until ``stop`` is set; returns the number of lines."""
    memberships: dict[str, list[str]] = {}
    for r in await conn.fetch(sql("report_memberships")):
        memberships.setdefault(r["agent_id"], []).append(r["queue"])
    endpoints = {r["id"]: r["endpoint"] for r in await conn.fetch("SELECT id, endpoint FROM agents")} \
        if agent_field == "endpoint" else {}
    writer = QueueLogWriter(memberships, agent_field=agent_field, endpoints=endpoints)
    far = datetime(9999, 1, 1, tzinfo=UTC)
    for row in await conn.fetch(sql("report_events_before"), start[0], far):
        writer.feed(_event(row))
    position = start
    count = 0
    while True:
        history = [(r["agent_id"], r["queue"], float(r["valid_from"]),
                    None if r["valid_to"] is None else float(r["valid_to"]))
                   for r in await conn.fetch(sql("report_membership_history"))]
        writer.set_history(history)
        rows = await conn.fetch(sql("report_events_after"), position[0], position[1])
        batch = [(row, writer.feed(_event(row))) for row in rows]
        await emit(batch)
        count += sum(len(lines) for _row, lines in batch)
        if rows:
            position = (rows[-1]["ts_raw"], int(rows[-1]["id"]))
        if not rows or len(rows) < 5000:
            if stop.is_set():
                return count
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)


async def follow_queue_log(conn: Db, since: datetime, out: IO[str], *, agent_field: str = "id",
                           poll: float = 1.0, stop: asyncio.Event | None = None) -> int:
    """The live writer: queue_log lines from ``since`` on, appended (and flushed) as events reach the journal,
    until ``stop`` is set; a file written this way can be tailed by queue-statistics tools. Returns the lines.

    Events are read in (time, id) order once written to PostgreSQL; events replayed later from a spill file
    with an earlier time are not written by a writer that has already passed that time."""

    async def emit(batch: list[tuple[Any, list[str]]]) -> None:
        for _row, lines in batch:
            for line in lines:
                out.write(line + "\n")
        out.flush()

    return await _follow(conn, (since, -1), emit, agent_field=agent_field, poll=poll, stop=stop or asyncio.Event())


async def follow_queue_log_table(conn: Db, since: datetime, *, partition: str = "P001", agent_field: str = "id",
                                 poll: float = 1.0, stop: asyncio.Event | None = None) -> int:
    """The live writer into the ``queue_log`` table (QueueMetrics reads it): the same lines as the file writer,
    one row each, with ``partition`` and the event's instance as server id. It resumes after the last event
    already in the table for ``partition`` (or at ``since``, whichever is later); returns the rows written."""
    if not partition or len(partition) > 20:
        raise InputError("partition must be 1 to 20 characters", field="--partition")
    start: tuple[datetime, int] = (since, -1)
    last = await conn.fetchrow(sql("queue_log_position"), partition)
    if last is not None and (last["source_ts"], int(last["source_event"])) > start:
        start = (last["source_ts"], int(last["source_event"]))
    insert = sql("queue_log_insert")

    async def emit(batch: list[tuple[Any, list[str]]]) -> None:
        cols: list[list[Any]] = [[] for _ in range(14)]
        for row, lines in batch:
            for seq, line in enumerate(lines):
                t, callid, queue, agent, event, *data = line.split("|")
                data = [*data, "", "", "", "", ""][:5] if len(data) <= 5 else [*data[:4], "|".join(data[4:])]
                values = [float(t), callid, queue, agent, event, *data, row["instance"] or "",
                          row["ts_raw"], int(row["id"]), seq]
                for col, value in zip(cols, values, strict=True):
                    col.append(value)
        if cols[0]:
            await conn.execute(insert, partition, *cols)

    return await _follow(conn, start, emit, agent_field=agent_field, poll=poll, stop=stop or asyncio.Event())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore report", description="Reports from the event journal.")
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queues",
                       help="offered, answered, abandoned, ASA, AHT, abandonment rate, service level")
    ql = sub.add_parser("queue-log", help="export Asterisk queue_log lines")
    for s in (q, ql):
        s.add_argument("--since", required=True, help="start (ISO 8601; UTC unless an offset is given)")
        s.add_argument("--until", help="end, exclusive (default: now)")
    q.add_argument("--queue", help="only this queue")
    q.add_argument("--sl-threshold", type=float, help="service level threshold, seconds (default: per queue)")
    q.add_argument("--json", action="store_true", help="JSON instead of a table")
    ql.add_argument("--output", "-o", help="file to write (default: standard output)")
    ql.add_argument("--agent-field", choices=("id", "agent", "endpoint"), default="id",
                    help="agent column: callcore's agent id (default), Agent/<id>, or the agent's endpoint")
    ql.add_argument("--follow", action="store_true",
                    help="keep running and append lines as calls happen (a live queue_log; --until ignored)")
    ql.add_argument("--table", action="store_true",
                    help="with --follow: write the lines into the queue_log table (QueueMetrics) instead of a file")
    ql.add_argument("--partition", default="P001", help="queue_log table partition (default P001)")
    c = sub.add_parser("calls", help="call records as CSV (e.g. every abandoned call, to call back)")
    c.add_argument("--since", required=True, help="start (ISO 8601; UTC unless an offset is given)")
    c.add_argument("--until", help="end, exclusive (default: now)")
    c.add_argument("--queue", help="only this queue")
    c.add_argument("--outcome", help="answered | abandoned | overflowed | transferred | callback | refused")
    return p


async def _default_runner(action: Action) -> None:
    from callcore.directory.cli import with_db

    await with_db(action)


def main(argv: list[str], *, out: IO[str] | None = None, err: IO[str] | None = None,
         runner: Runner | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        since = parse_time(args.since, "since")
        until = parse_time(args.until, "until") if args.until else datetime.now(UTC)
        if until <= since:
            raise InputError("must be after --since", field="until")
        if args.cmd == "queue-log" and args.table and not args.follow:
            raise InputError("the queue_log table is written live: use --table with --follow", field="--table")
    except InputError as exc:
        print(f"callcore report: {exc}", file=err)
        return 2

    async def action(conn: Db) -> None:
        if args.cmd == "queues":
            reports = await queue_report(conn, since, until, queue=args.queue, sl_threshold=args.sl_threshold)
            if args.json:
                out.write(json.dumps([r.to_json() for r in reports], indent=2) + "\n")
            else:
                out.write(format_table(reports))
            return
        if args.cmd == "calls":
            calls = await records.list_calls(conn, since=since, until=until, queue=args.queue,
                                             outcome=args.outcome, limit=1_000_000)
            writer = csv.writer(out)
            writer.writerow(CALL_COLUMNS)
            for rec in calls:
                row = rec.to_json()
                writer.writerow(["" if row[k] is None else row[k] for k in CALL_COLUMNS])
            return
        if args.table:
            await follow_queue_log_table(conn, since, partition=args.partition, agent_field=args.agent_field)
            return
        if args.follow:
            if args.output:
                with open(args.output, "a", encoding="utf-8") as fh:  # noqa: ASYNC230 - a local file, once
                    await follow_queue_log(conn, since, fh, agent_field=args.agent_field)
            else:
                await follow_queue_log(conn, since, out, agent_field=args.agent_field)
            return
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:  # noqa: ASYNC230 - a local file, once
                n = await write_queue_log(conn, since, until, fh, agent_field=args.agent_field)
            err.write(f"{n} lines written to {args.output}\n")
        else:
            await write_queue_log(conn, since, until, out, agent_field=args.agent_field)

    try:
        asyncio.run((runner or _default_runner)(action))
    except InputError as exc:
        print(f"callcore report: {exc}", file=err)
        return 2
    except BrokenPipeError:
        raise
    except (CallcoreError, OSError) as exc:
        print(f"callcore report: {exc}", file=err)
        return 1
    return 0
