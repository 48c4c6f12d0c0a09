"""The queue_log table (QueueMetrics) against PostgreSQL: the live table writer writes the same lines as the
file writer, one row each in Asterisk's realtime columns plus partition and server id, starts with QUEUESTART
when the service starts, and a restarted writer neither loses nor repeats a row."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from test_report import SCENARIO, T0, ev, insert_events

from callcore.directory.queuelog import QueueLogWriter
from callcore.directory.report import follow_queue_log, follow_queue_log_table, main

SINCE = datetime.fromtimestamp(T0 - 3600, UTC)


def test_service_start_is_a_queuestart_line() -> None:
    [line] = QueueLogWriter().feed(ev(-20, "service.started", queue=None, version="0.1.0"))
    assert line == f"{int(T0 - 20)}|NONE|NONE|NONE|QUEUESTART|"


def _fields(line: str) -> tuple[str, ...]:
    t, callid, queue, agent, event, *data = line.split("|")
    return (t, callid, queue, agent, event, *[*data, "", "", "", "", ""][:5])


async def _rows(conn: Any, partition: str = "P001") -> list[tuple[str, ...]]:
    rows = await conn.fetch("SELECT extract(epoch FROM time)::bigint AS t, callid, queuename, agent, event, data1, "
                            "data2, data3, data4, data5 FROM queue_log WHERE partition = $1 ORDER BY id", partition)
    return [(str(r["t"]), *(r[k] for k in ("callid", "queuename", "agent", "event", "data1", "data2", "data3",
                                            "data4", "data5"))) for r in rows]


async def _file_lines(conn: Any) -> list[str]:
    out = io.StringIO()
    stop = asyncio.Event()
    stop.set()   # one pass over what is in the journal
    await follow_queue_log(conn, SINCE, out, stop=stop)
    return out.getvalue().splitlines()



@pytest.mark.postgres
async def test_table_rows_are_the_file_lines_and_a_restart_repeats_nothing(pg_pool: Any) -> None:
    await insert_events(pg_pool, [ev(-20, "service.started", queue=None, version="0.1.0"), *SCENARIO])
    async with pg_pool.acquire() as conn:
        stop = asyncio.Event()
        stop.set()
        written = await follow_queue_log_table(conn, SINCE, stop=stop)
        lines = await _file_lines(conn)
        assert lines[0].endswith("|NONE|NONE|NONE|QUEUESTART|") and written == len(lines) > 5
        assert await _rows(conn) == [_fields(x) for x in lines]
        assert {r["serverid"] for r in await conn.fetch("SELECT serverid FROM queue_log")} == {"test"}

        # the writer restarts: nothing is written twice; a later call (and a service restart) is added
        assert await follow_queue_log_table(conn, SINCE, stop=stop) == 0
        await insert_events(pg_pool, [ev(4000, "service.started", queue=None),
                                      ev(4001, "call.queued", "c9", caller_number="+7999")])
        assert await follow_queue_log_table(conn, SINCE, stop=stop) == 2
        lines = await _file_lines(conn)
        assert await _rows(conn) == [_fields(x) for x in lines]
        assert [r[4] for r in (await _rows(conn))[-2:]] == ["QUEUESTART", "ENTERQUEUE"]

        # another partition gets its own copy
        assert await follow_queue_log_table(conn, SINCE, partition="P002", stop=stop) == len(lines)


@pytest.mark.postgres
async def test_the_table_writer_follows_the_journal_live(pg_pool: Any) -> None:
    async with pg_pool.acquire() as conn:
        stop = asyncio.Event()
        task = asyncio.create_task(follow_queue_log_table(conn, SINCE, poll=0.05, stop=stop))
        await asyncio.sleep(0.2)
        await insert_events(pg_pool, [ev(0, "call.queued", "c1", caller_number="+7900")])
        for _ in range(100):
            if await pg_pool.fetchval("SELECT count(*) FROM queue_log"):
                break
            await asyncio.sleep(0.05)
        stop.set()
        assert await task == 1
    assert await pg_pool.fetchval("SELECT event FROM queue_log") == "ENTERQUEUE"


def test_table_needs_follow() -> None:
    err = io.StringIO()
    async def never(action: Any) -> None:
        raise AssertionError("no database needed")
    code = main(["queue-log", "--since", "2026-11-01", "--table"], err=err, runner=never)
    assert code == 2 and "--follow" in err.getvalue()
