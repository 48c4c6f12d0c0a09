from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.directory import records, store
from callcore.directory.model import build_agent, build_queue
from callcore.directory.queuelog import queue_log_lines
from callcore.directory.report import main as report_main
from callcore.directory.report import queue_report
from callcore.directory.stats import EventRow, queue_stats

T0 = 1_793_520_000.0  # 2026-11-01T08:00:00Z


def ev(
    dt: float,
    type_: str,
    call: str | None = None,
    queue: str | None = "sales",
    agent: str | None = None,
    **payload: Any,
) -> EventRow:
    return EventRow(T0 + dt, type_, call, agent, queue, payload)


# One hour of "sales" (service level threshold 20 s) and one "support" call.
SCENARIO = [
    ev(-10, "agent.state", agent="a1", queue=None, **{"from": "logged_out", "to": "available"}),
    ev(0, "call.queued", "c1", caller_number="+7900", caller_name="Ivan"),
    ev(0, "call.queued", "c5", queue="support", caller_number="+7901"),
    ev(1, "call.offered", "c1", agent="a1"),
    ev(1, "call.answered", "c5", queue="support", agent="a9", wait=1.0, leg_id="leg5"),
    ev(2, "call.queued", "c2", caller_number="+7902"),
    ev(3, "call.offered", "c2", agent="a2"),
    ev(5, "call.answered", "c1", agent="a1", wait=5.0, leg_id="leg1"),
    ev(5, "agent.state", agent="a1", call="c1", **{"from": "reserved", "to": "on_call"}),
    ev(10, "call.queued", "c3", caller_number="+7903"),
    ev(15, "call.abandoned", "c3", wait=5.0, position=2, why="hangup"),
    ev(18, "call.offer_failed", "c2", agent="a2", cause="noanswer"),
    ev(20, "call.queued", "c4", caller_number="+7904"),
    ev(30, "call.offered", "c2", agent="a3"),
    ev(31, "call.ended", "c5", queue="support", agent="a9", talk=30.0, why="caller-hangup"),
    ev(32, "call.answered", "c2", agent="a3", wait=30.0, leg_id="leg2"),
    ev(65, "call.ended", "c1", agent="a1", talk=60.0, why="caller-hangup"),
    ev(65, "agent.state", agent="a1", call="c1", **{"from": "on_call", "to": "wrap_up"}),
    ev(75, "agent.state", agent="a1", queue=None, **{"from": "wrap_up", "to": "available"}),
    ev(80, "call.overflowed", "c4", reason="timeout", wait=60.0, destination="voicemail:100"),
    ev(92, "call.ended", "c2", agent="a3", talk=60.0, why="agent-hangup"),
    ev(100, "agent.state", agent="a1", queue=None, **{"from": "available", "to": "paused", "reason": "lunch"}),
    ev(200, "agent.state", agent="a1", queue=None, **{"from": "paused", "to": "available"}),
    ev(300, "agent.state", agent="a1", queue=None, **{"from": "available", "to": "logged_out"}),
]


def test_queue_figures_known_answer() -> None:
    reports = queue_stats(SCENARIO, thresholds={"sales": 20.0, "support": 20.0})
    sales = reports["sales"]
    assert (sales.offered, sales.answered, sales.abandoned, sales.overflowed) == (4, 2, 1, 1)
    assert sales.asa == 17.5
    assert (sales.avg_talk, sales.avg_wrapup, sales.aht) == (60.0, 10.0, 70.0)
    assert sales.abandonment_rate == 0.25
    assert sales.service_level == 0.5  # c3 hung up after 5 s: neither for nor against the 20 s level
    support = reports["support"].to_json()
    assert (support["offered"], support["answered"], support["asa"], support["aht"]) == (1, 1, 1.0, 30.0)
    assert support["service_level"] == 1.0
    assert queue_stats(SCENARIO, only="support").keys() == {"support"}
    # a 40 s threshold puts both sales answers inside it
    assert queue_stats(SCENARIO, default_threshold=40.0)["sales"].answered_within_sl == 2


def test_queue_log_known_answer() -> None:
    lines = list(queue_log_lines(SCENARIO, {"a1": ["sales", "support"]}))
    e = int(T0)
    assert lines == [
        f"{e - 10}|NONE|sales|a1|ADDMEMBER|",
        f"{e - 10}|NONE|support|a1|ADDMEMBER|",
        f"{e}|c1|sales|NONE|ENTERQUEUE||+7900|1",
        f"{e}|c5|support|NONE|ENTERQUEUE||+7901|1",
        f"{e + 1}|c5|support|a9|CONNECT|1|leg5|0",
        f"{e + 2}|c2|sales|NONE|ENTERQUEUE||+7902|2",
        f"{e + 5}|c1|sales|a1|CONNECT|5|leg1|4",
        f"{e + 10}|c3|sales|NONE|ENTERQUEUE||+7903|2",
        f"{e + 15}|c3|sales|NONE|ABANDON|2|2|5",
        f"{e + 18}|c2|sales|a2|RINGNOANSWER|15000",
        f"{e + 20}|c4|sales|NONE|ENTERQUEUE||+7904|2",
        f"{e + 31}|c5|support|a9|COMPLETECALLER|1|30|1",
        f"{e + 32}|c2|sales|a3|CONNECT|30|leg2|2",
        f"{e + 65}|c1|sales|a1|COMPLETECALLER|5|60|1",
        f"{e + 80}|c4|sales|NONE|EXITWITHTIMEOUT|1|2|60",
        f"{e + 92}|c2|sales|a3|COMPLETEAGENT|30|60|2",
        f"{e + 100}|NONE|sales|a1|PAUSE|lunch",
        f"{e + 100}|NONE|support|a1|PAUSE|lunch",
        f"{e + 200}|NONE|sales|a1|UNPAUSE|",
        f"{e + 200}|NONE|support|a1|UNPAUSE|",
        f"{e + 300}|NONE|sales|a1|REMOVEMEMBER|",
        f"{e + 300}|NONE|support|a1|REMOVEMEMBER|",
    ]


@st.composite
def call_histories(draw: st.DrawFn) -> list[EventRow]:
    """Random calls in random queues, each queued then answered+ended, abandoned or overflowed."""
    events: list[EventRow] = []
    for i in range(draw(st.integers(0, 30))):
        queue = draw(st.sampled_from(["a", "b", "c|d"]))
        start = draw(st.floats(0, 3600, allow_nan=False))
        wait = draw(st.floats(0, 300, allow_nan=False))
        cid = f"k{i}"
        if draw(st.booleans()):
            events.append(ev(start, "call.queued", cid, queue=queue, caller_number="1"))
            if draw(st.booleans()):
                events.append(ev(start, "call.readopted", cid, queue=queue))  # a restart while it waited
        else:  # entered while callcore was down, adopted at its restart
            events.append(ev(start, "call.readopted", cid, queue=queue))
        outcome = draw(st.sampled_from(["answered", "abandoned", "overflowed"]))
        if outcome == "answered":
            talk = draw(st.floats(0, 600, allow_nan=False))
            events.append(ev(start + wait, "call.answered", cid, queue=queue, agent="x", wait=wait))
            events.append(ev(start + wait + talk, "call.ended", cid, queue=queue, agent="x", talk=talk))
        else:
            events.append(ev(start + wait, f"call.{outcome}", cid, queue=queue, wait=wait, reason="timeout"))
    events.sort(key=lambda e: e.ts)
    return events


@settings(max_examples=150, deadline=None)
@given(call_histories())
def test_figures_are_consistent(events: list[EventRow]) -> None:
    reports = queue_stats(events)
    first_seen = {e.call_id: e.type for e in reversed(events)}
    assert sum(r.offered for r in reports.values()) == len(first_seen)
    assert all(t in ("call.queued", "call.readopted") for t in first_seen.values())
    for r in reports.values():
        assert r.answered + r.abandoned + r.overflowed == r.offered
        assert 0 <= r.answered_within_sl <= r.answered and 0 <= r.abandoned_after_sl <= r.abandoned
        for rate in (r.abandonment_rate, r.service_level):
            assert rate is None or 0.0 <= rate <= 1.0
        if r.asa is not None:
            assert 0 <= r.asa <= 300
    lines = list(queue_log_lines(events))
    assert sum("|ENTERQUEUE|" in line for line in lines) == len([e for e in events if e.type == "call.queued"])
    for line in lines:
        fields = line.split("|")
        assert fields[0].isdigit() and fields[2] in ("a", "b", "c/d") and len(fields) >= 5


# --- from PostgreSQL -------------------------------------------------------------------------------


async def insert_events(pool: Any, events: list[EventRow]) -> None:
    await pool.executemany(
        "INSERT INTO events (event_key, ts, type, instance, call_id, channel_id, agent_id, queue, payload) "
        "VALUES ($1, $2, $3, 'test', $4, $5, $6, $7, $8::text::jsonb)",
        [
            (
                uuid.uuid4(),
                datetime.fromtimestamp(e.ts, UTC),
                e.type,
                e.call_id,
                None,
                e.agent_id,
                e.queue,
                json.dumps(dict(e.payload)),
            )
            for e in events
        ],
    )


async def test_report_from_the_journal(pg_pool: Any, pg_dsn: str) -> None:
    await store.create_queue(pg_pool, build_queue({"name": "sales", "service_level_threshold": 40}))
    await store.create_agent(pg_pool, build_agent({"id": "a1", "memberships": {"sales": 0}}))
    # the same hour, plus noise outside the window and a dialer event that is not a queue event
    await insert_events(
        pg_pool,
        [
            *SCENARIO,
            ev(-7200, "call.queued", "old"),
            ev(7200, "call.queued", "new"),
            ev(50, "dialer.attempt", "d1", queue=None),
        ],
    )
    since = datetime.fromtimestamp(T0 - 3600, UTC)
    until = since + timedelta(hours=2)
    async with pg_pool.acquire() as conn:
        reports = {r.queue: r for r in await queue_report(conn, since, until)}
        assert reports["sales"].offered == 4 and reports["sales"].answered_within_sl == 2  # queue's 40 s
        assert reports["support"].sl_threshold == 20.0
        only = await queue_report(conn, since, until, queue="sales", sl_threshold=10)
        assert [r.queue for r in only] == ["sales"] and only[0].answered_within_sl == 1


def test_report_cli(pg_dsn: str, tmp_path: Any) -> None:
    async def setup() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await insert_events(conn, SCENARIO)
        finally:
            await conn.close()

    async def runner(action: Callable[[Any], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await action(conn)
        finally:
            await conn.close()

    asyncio.run(setup())
    window = ["--since", "2026-11-01T07:00:00", "--until", "2026-11-01T10:00:00+01:00"]
    out, err = io.StringIO(), io.StringIO()
    assert report_main(["queues", *window, "--json"], out=out, err=err, runner=runner) == 0, err.getvalue()
    rows = {r["queue"]: r for r in json.loads(out.getvalue())}
    assert (rows["sales"]["offered"], rows["sales"]["aht"], rows["sales"]["abandonment_rate"]) == (
        4,
        70.0,
        0.25,
    )
    out = io.StringIO()
    assert report_main(["queues", *window], out=out, runner=runner) == 0
    assert out.getvalue().splitlines()[1].split()[:5] == ["sales", "4", "2", "1", "1"]
    target = tmp_path / "queue_log"
    err = io.StringIO()
    assert report_main(["queue-log", *window, "-o", str(target)], err=err, runner=runner) == 0
    lines = target.read_text().splitlines()
    assert len(lines) == 18 and "18 lines" in err.getvalue()  # no memberships: agent lines use queue NONE
    assert lines[0].endswith("|NONE|NONE|a1|ADDMEMBER|")

    async def project() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await records.refresh_calls(conn, since=None)
        finally:
            await conn.close()

    asyncio.run(project())
    out = io.StringIO()
    assert report_main(["calls", *window, "--outcome", "abandoned"], out=out, runner=runner) == 0
    calls = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["call_id"], r["queue"], r["caller_number"]) for r in calls] == [("c3", "sales", "+7903")]
    out = io.StringIO()
    assert report_main(["calls", *window, "--queue", "sales"], out=out, runner=runner) == 0
    outcomes = {r["call_id"]: r["outcome"] for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert outcomes == {"c1": "answered", "c2": "answered", "c3": "abandoned", "c4": "overflowed"}
    err = io.StringIO()
    assert report_main(["calls", *window, "--outcome", "lost"], err=err, runner=runner) == 2
    assert "outcome" in err.getvalue()

    err = io.StringIO()
    assert report_main(["queues", "--since", "2026-11-02", "--until", "2026-11-01"], err=err) == 2
    assert "until" in err.getvalue()
    assert report_main(["queue-log", "--since", "yesterday"], err=io.StringIO()) == 2


def random_history(seed: int, calls: int) -> list[EventRow]:
    rnd = random.Random(seed)
    events: list[EventRow] = []
    for i in range(calls):
        queue, cid, start = rnd.choice(["x", "y", "z"]), f"r{i}", rnd.uniform(0, 3000)
        wait = round(rnd.uniform(0, 90), 3)
        # one call in ten entered while no instance ran: first seen when adopted after the restart
        events.append(ev(start, "call.readopted" if i % 10 == 3 else "call.queued", cid, queue=queue))
        if i % 10 == 5:  # queued, then adopted again after a restart
            events.append(ev(start + 0.001, "call.readopted", cid, queue=queue))
        kind = rnd.choice(["answered", "abandoned", "overflowed", "callback", "refused"])
        if kind == "answered":
            agent, talk, wrap = f"g{i}", round(rnd.uniform(1, 300), 3), round(rnd.uniform(0, 30), 3)
            events.append(ev(start + wait, "call.answered", cid, queue=queue, agent=agent, wait=wait))
            events.append(ev(start + wait + talk, "call.ended", cid, queue=queue, agent=agent, talk=talk))
            events.append(
                ev(
                    start + wait + talk,
                    "agent.state",
                    None,
                    queue=queue,
                    agent=agent,
                    **{"from": "on_call", "to": "wrap_up"},
                )
            )
            events.append(
                ev(
                    start + wait + talk + wrap,
                    "agent.state",
                    None,
                    queue=None,
                    agent=agent,
                    **{"from": "wrap_up", "to": "available"},
                )
            )
        else:
            events.append(ev(start + wait, f"call.{kind}", cid, queue=queue, wait=wait))
    events.sort(key=lambda e: e.ts)
    return events


async def test_sql_and_python_figures_agree(pg_pool: Any) -> None:
    history = random_history(7, 300)
    await insert_events(pg_pool, [*SCENARIO, *history])
    since = datetime.fromtimestamp(T0 - 3600, UTC)
    until = since + timedelta(hours=3)
    async with pg_pool.acquire() as conn:
        for only, threshold in ((None, None), ("x", 15.0), ("sales", None)):
            from_sql = [r.to_json() for r in await queue_report(conn, since, until, queue=only, sl_threshold=threshold)]
            in_python = [
                r.to_json()
                for r in queue_stats(
                    sorted([*SCENARIO, *history], key=lambda e: e.ts), only=only, default_threshold=threshold or 20.0
                ).values()
            ]
            assert from_sql == in_python
