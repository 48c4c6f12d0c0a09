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
