"""PgJournal against a real PostgreSQL, with outages made by a TCP proxy the test controls."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pgproxy import Proxy

from callcore.clock import ManualClock
from callcore.config import Settings
from callcore.store.journal import EVENTS_REJECTED, EVENTS_SPILLED, EVENTS_WRITTEN, PgJournal
from callcore.store.spill import count_lines, spill_files


@pytest.fixture
async def proxy(pg_dsn: str) -> AsyncIterator[Proxy]:
    parts = urlsplit(pg_dsn)
    p = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


def settings(tmp_path: Path, *, buffer: int = 300, batch: int = 100, interval: float = 0.01) -> Settings:
    return Settings(journal_buffer=buffer, journal_batch=batch, journal_flush_interval=interval,
                    journal_spill_dir=str(tmp_path / "spill"), instance_id="test-node")


async def until(cond: Callable[[], bool], what: str, *, steps: int = 3000) -> None:
    """Let the journal's tasks run until ``cond()`` holds (bounded number of 10 ms steps)."""
    for _ in range(steps):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def idle(j: PgJournal) -> Callable[[], bool]:
    return lambda: j.health() == {"db_ok": True, "spilling": False, "buffered": 0, "spilled_pending": 0,
                               "log_ok": True}


async def fetch_is(dsn: str, where: str = "TRUE") -> list[int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT (payload->>'i')::int AS i FROM events WHERE {where} ORDER BY id")
        return [r["i"] for r in rows]
    finally:
        await conn.close()


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


class Producer:
    def __init__(self, journal: PgJournal) -> None:
        self.j = journal
        self.n = 0

    async def produce(self, count: int, *, typ: str = "test.event") -> None:
        for k in range(count):
            self.j.append(typ, {"i": self.n}, call_id=f"c{self.n % 7}", queue="sales")
            self.n += 1
            if k % 25 == 0:
                await asyncio.sleep(0.001)


async def test_events_are_written_with_all_fields(pg_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    clock = ManualClock(1_800_000_000.25)
    before = EVENTS_WRITTEN._value.get()
    async with PgJournal(pg_dsn, settings(tmp_path), clock=clock) as j:
        j.append("call.queued", {"caller": "+3312345678", "nested": {"a": [1, 2.5, None, True]}},
                 call_id="call-1", channel_id="chan-1", agent_id="a7", queue="sales", campaign_id="camp")
        j.append("weird", {"text": "nul\x00inside"}, ts=1_700_000_000.5, call_id="x\x00y")
        j.append("empty")
    assert EVENTS_WRITTEN._value.get() - before == 3
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch("SELECT * FROM events ORDER BY id")
    finally:
        await conn.close()
    assert [r["type"] for r in rows] == ["call.queued", "weird", "empty"]
    first = rows[0]
    assert json.loads(first["payload"]) == {"caller": "+3312345678", "nested": {"a": [1, 2.5, None, True]}}
    ids = (first["call_id"], first["channel_id"], first["agent_id"], first["queue"], first["campaign_id"])
    assert ids == ("call-1", "chan-1", "a7", "sales", "camp")
    assert first["instance"] == "test-node"
    assert first["ts"].timestamp() == 1_800_000_000.25
    assert rows[1]["ts"].timestamp() == 1_700_000_000.5
    assert json.loads(rows[1]["payload"]) == {"text": "nul\ufffdinside"}
    assert rows[1]["call_id"] == "x\ufffdy"
    assert json.loads(rows[2]["payload"]) == {}
    assert len({r["event_key"] for r in rows}) == 3


@pytest.mark.parametrize("outage", ["proxy", "database"])
async def test_nothing_lost_or_duplicated_across_an_outage(pg_dsn: str, pg_server: str, proxy: Proxy,
                                                           tmp_path: Path, outage: str) -> None:
    import asyncpg

    dbname = urlsplit(pg_dsn).path.lstrip("/")
    admin = await asyncpg.connect(pg_server)
    target = proxy.dsn(pg_dsn) if outage == "proxy" else pg_dsn

    async def cut() -> None:
        if outage == "proxy":
            proxy.cut()
        else:
            await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                                dbname)

    async def restore() -> None:
        if outage == "proxy":
            proxy.restore()
        else:
            await admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')

    try:
        async with PgJournal(target, settings(tmp_path), op_timeout=2, max_backoff=0.05) as j:
            p = Producer(j)
            await p.produce(1000)
            await cut()
            await p.produce(200)
            await until(lambda: not j.health()["db_ok"], "journal notices the outage")
            await p.produce(1800)
            assert j.health()["spilling"]
            await until(lambda: j.health()["spilled_pending"] >= 1500, "spill file written")
            assert spill_files(tmp_path / "spill")
            await restore()
            await p.produce(1000)
            await until(idle(j), "journal back to normal")
            assert not spill_files(tmp_path / "spill")
            await p.produce(500)
        assert await fetch_is(pg_dsn) == list(range(4500))
    finally:
        await restore()
        await admin.close()


async def test_events_appended_while_the_log_syncs_at_close_are_written_not_spilled(
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Close right after a drain, while the flusher waits for the log's fsync: what was appended meanwhile
    still goes to PostgreSQL (it used to land in a spill file, replayed only at the next start)."""
    async with PgJournal(pg_dsn, settings(tmp_path)) as j:
        p = Producer(j)
        await p.produce(50)
        await until(idle(j), "first events written")
        real_sync = PgJournal._sync_log
        late = asyncio.Event()

        async def sync_then_late_appends(self: PgJournal) -> None:
            await real_sync(self)
            if not late.is_set():
                late.set()
                for _ in range(24):  # appended without yielding, then the close begins
                    p.j.append("test.event", {"i": p.n}, call_id="c0", queue="sales")
                    p.n += 1
                await asyncio.sleep(0.05)

        monkeypatch.setattr(PgJournal, "_sync_log", sync_then_late_appends)
        p.j.append("test.event", {"i": p.n}, call_id="c0", queue="sales")
        p.n += 1
        j._flush_wake.set()
        await asyncio.wait_for(late.wait(), 5)
    assert not spill_files(tmp_path / "spill")
    assert await fetch_is(pg_dsn) == list(range(75))


async def test_close_while_database_down_spills_everything_then_replays(
        pg_dsn: str, proxy: Proxy, tmp_path: Path) -> None:
    s = settings(tmp_path, buffer=100, batch=40)
    proxy.cut()
    spilled_before = EVENTS_SPILLED._value.get()
    async with PgJournal(proxy.dsn(pg_dsn), s, op_timeout=1, max_backoff=0.05) as j:
        await Producer(j).produce(250)
    assert j.health()["spilled_pending"] == 250
    assert EVENTS_SPILLED._value.get() - spilled_before == 250
    assert sum(count_lines(f) for f in spill_files(tmp_path / "spill")) == 250
    proxy.restore()
    async with PgJournal(proxy.dsn(pg_dsn), s) as j2:
        await until(idle(j2), "replay finished")
    assert await fetch_is(pg_dsn) == list(range(250))
    assert not spill_files(tmp_path / "spill")


async def test_spill_files_left_by_a_crash_are_replayed_once_and_first(
        pg_dsn: str, proxy: Proxy, tmp_path: Path) -> None:
    s = settings(tmp_path, buffer=100, batch=50)
    proxy.cut()
    j = PgJournal(proxy.dsn(pg_dsn), s, op_timeout=1, max_backoff=0.05)
    await j.start()
    await Producer(j).produce(500)
    await until(lambda: j.health()["spilled_pending"] == 400, "overflow on disk")
    # Crash: the tasks die, nothing is closed; the 100 events still in memory are in the write-ahead log.
    for task in (j._flusher, j._spiller):
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    files = spill_files(tmp_path / "spill")
    assert sum(count_lines(f) for f in files) == 400
    # A file already replayed before the crash (deleted too late) is replayed again: keys make it harmless.
    shutil.copy(files[0], files[0].with_name("0" + files[0].name))
    _append_bytes(files[-1], b'["torn line')
    proxy.restore()
    async with PgJournal(proxy.dsn(pg_dsn), s) as j2:
        j2.append("after.restart", {"i": -1})
        await until(idle(j2), "leftover replayed")
    got = await fetch_is(pg_dsn)
    assert sorted(got[:-1]) == list(range(500)) and got[-1] == -1
    assert not spill_files(tmp_path / "spill")
    assert not list((tmp_path / "spill").glob("*.wal"))


async def test_event_refused_by_postgres_is_set_aside(pg_dsn: str, tmp_path: Path) -> None:
    before = EVENTS_REJECTED._value.get()
    async with PgJournal(pg_dsn, settings(tmp_path)) as j:
        j.append("ok", {"i": 0})
        j.append("bad", {"i": 1}, ts=1e300)
        j.append("ok", {"i": 2})
    assert j.health()["db_ok"]
    assert await fetch_is(pg_dsn) == [0, 2]
    assert EVENTS_REJECTED._value.get() - before == 1
    rejected = list((tmp_path / "spill").glob("*.rejected"))
    assert len(rejected) == 1 and b'"bad"' in rejected[0].read_bytes()


async def test_works_on_a_pool_and_reports_flushes(pg_pool: Any, pg_dsn: str, tmp_path: Path) -> None:
    flushed: list[int] = []
    async with PgJournal(pg_pool, settings(tmp_path, batch=64), on_flushed=flushed.append) as j:
        await Producer(j).produce(300)
    assert sum(flushed) == 300 and max(flushed) <= 64
    assert await fetch_is(pg_dsn) == list(range(300))


async def test_rewriting_a_committed_batch_inserts_nothing(pg_dsn: str, tmp_path: Path) -> None:
    async with PgJournal(pg_dsn, settings(tmp_path)) as j:
        for i in range(3):
            j.append("e", {"i": i})
        rows = list(j._buf)
        await until(idle(j), "first write")
        before = EVENTS_WRITTEN._value.get()
        await j._write(rows)  # e.g. a commit whose acknowledgement was lost, sent again
        assert EVENTS_WRITTEN._value.get() == before
        j.append("e", {"i": 3})
    assert await fetch_is(pg_dsn) == [0, 1, 2, 3]


async def test_unwritable_spill_directory_bounds_memory_and_counts_losses(
        pg_dsn: str, proxy: Proxy, tmp_path: Path) -> None:
    from callcore.store.journal import EVENTS_DROPPED, OVERFLOW_FACTOR

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    s = settings(tmp_path, buffer=50, batch=20).replace(journal_spill_dir=str(blocker / "spill"))
    proxy.cut()
    dropped_before = EVENTS_DROPPED._value.get()
    async with PgJournal(proxy.dsn(pg_dsn), s, op_timeout=1, max_backoff=0.05) as j:
        await Producer(j).produce(600)
        await until(lambda: j.health()["buffered"] <= 50 + OVERFLOW_FACTOR * 50 + 20, "overflow trimmed")
        assert j.health()["spilling"] and not j.health()["db_ok"]
    assert EVENTS_DROPPED._value.get() - dropped_before == 600
    assert j.health()["buffered"] == 0
