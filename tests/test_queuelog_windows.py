"""queue_log exports of consecutive windows (hourly cron) against PostgreSQL: a call straddling --since keeps
its end, and the windows together give exactly the lines of one export of the whole period."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from test_report import SCENARIO, T0, insert_events

from callcore.directory import store
from callcore.directory.model import build_agent, build_queue
from callcore.directory.report import write_queue_log
from callcore.directory.stats import EventRow

pytestmark = pytest.mark.postgres


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


async def export(pool: Any, since: float, until: float) -> list[str]:
    out = io.StringIO()
    async with pool.acquire() as conn:
        await write_queue_log(conn, at(since), at(until), out)
    return out.getvalue().splitlines()


async def test_windows_split_inside_calls_lose_no_line(pg_pool: Any) -> None:
    await insert_events(pg_pool, SCENARIO)
    whole = await export(pg_pool, -3600, 7200)
    assert any("COMPLETE" in line for line in whole)
    times = sorted({e.ts - T0 for e in SCENARIO})
    for cut in times[1:]:
        cut_at = cut - 0.5  # between two events, inside whatever calls are open then
        parts = await export(pg_pool, -3600, cut_at) + await export(pg_pool, cut_at, 7200)
        assert parts == whole, f"split at {cut_at}"


async def test_agent_column_from_the_agents_endpoints(pg_pool: Any) -> None:
    await store.create_queue(pg_pool, build_queue({"name": "sales"}))
    await store.create_agent(pg_pool, build_agent({"id": "a1", "endpoint": "PJSIP/1001",
                                                   "memberships": {"sales": 0}}))
    await insert_events(pg_pool, SCENARIO)
    for field, shown in (("endpoint", "PJSIP/1001"), ("agent", "Agent/a1"), ("id", "a1")):
        out = io.StringIO()
        async with pg_pool.acquire() as conn:
            await write_queue_log(conn, at(-3600), at(7200), out, agent_field=field)
        connects = [ln for ln in out.getvalue().splitlines() if "|CONNECT|" in ln and "|c1|" in ln]
        assert connects and connects[0].split("|")[3] == shown, (field, connects)


async def test_adding_an_agent_to_a_queue_later_does_not_rewrite_earlier_logins(pg_pool: Any) -> None:
    await store.create_queue(pg_pool, build_queue({"name": "sales"}))
    await store.create_queue(pg_pool, build_queue({"name": "support"}))
    await store.create_agent(pg_pool, build_agent({"id": "a1", "memberships": {"sales": 0}}))
    async with pg_pool.acquire() as conn:
        start = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())"))
    login = EventRow(start + 1, "agent.state", None, "a1", None, {"from": "logged_out", "to": "available"})
    await insert_events(pg_pool, [login])

    async def adds() -> list[str]:
        out = io.StringIO()
        async with pg_pool.acquire() as conn:
            await write_queue_log(conn, datetime.fromtimestamp(start - 60, UTC),
                                  datetime.fromtimestamp(start + 3600, UTC), out)
        return [ln for ln in out.getvalue().splitlines() if "|ADDMEMBER|" in ln]

    before = await adds()
    assert [ln.split("|")[2] for ln in before] == ["sales"]
    async with pg_pool.acquire() as conn:
        # the agent joins support after the login: a re-export must not invent a login into support
        await conn.execute("SELECT pg_sleep(1.2)")
        await conn.execute("INSERT INTO memberships (agent_id, queue) VALUES ('a1', 'support')")
        await conn.execute("DELETE FROM memberships WHERE agent_id = 'a1' AND queue = 'sales'")
    assert await adds() == before
    # the history itself: sales closed, support from now on
    async with pg_pool.acquire() as conn:
        rows = await conn.fetch("SELECT queue, valid_to IS NULL AS open FROM membership_history "
                                "WHERE agent_id = 'a1' ORDER BY id")
    assert [(r["queue"], r["open"]) for r in rows] == [("sales", False), ("support", True)]


async def test_live_writer_appends_lines_as_events_arrive(pg_pool: Any) -> None:
    import asyncio

    from callcore.directory.report import follow_queue_log

    first, rest = SCENARIO[:6], SCENARIO[6:]
    await insert_events(pg_pool, first)
    out, stop = io.StringIO(), asyncio.Event()
    async with pg_pool.acquire() as conn:
        task = asyncio.create_task(follow_queue_log(conn, at(-3600), out, poll=0.05, stop=stop))
        for _ in range(200):
            if out.getvalue().count("\n") >= 3:
                break
            await asyncio.sleep(0.02)
        early = out.getvalue().splitlines()
        assert early and all("COMPLETE" not in ln for ln in early)
        await insert_events(pg_pool, rest)  # the calls go on: their lines are appended
        for _ in range(200):
            if "|COMPLETEAGENT|" in out.getvalue():
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert out.getvalue().splitlines() == await export(pg_pool, -3600, 7200)
