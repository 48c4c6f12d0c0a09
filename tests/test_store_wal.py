"""The journal's write-ahead log: what ``append`` accepted survives SIGKILL, and the log stays small."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from callcore.config import Settings
from callcore.store.journal import WAL_ERRORS, PgJournal
from callcore.store.spill import WalWriter, adopt_wal_segments, decode_line, spill_files


def settings(spill: Path, *, interval: float = 0.01) -> Settings:
    return Settings(journal_buffer=10_000, journal_batch=500, journal_flush_interval=interval,
                    journal_spill_dir=str(spill), instance_id="wal-test")


async def until(cond: Any, what: str, steps: int = 2000) -> None:
    for _ in range(steps):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def fetch_is(dsn: str) -> list[int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT (payload->>'i')::int AS i FROM events ORDER BY id")
        return [r["i"] for r in rows]
    finally:
        await conn.close()


CHILD = textwrap.dedent("""
    import asyncio, contextlib, sys, time
    from callcore.config import Settings
    from callcore.store.journal import PgJournal

    async def main() -> None:
        # a flush interval far beyond the test: nothing reaches PostgreSQL before the kill
        s = Settings(journal_buffer=100_000, journal_batch=50_000, journal_flush_interval=3600,
                     journal_spill_dir=sys.argv[2], instance_id="victim")
        j = PgJournal(sys.argv[1], s)
        await j.start()
        n, batched = int(sys.argv[3]), len(sys.argv) > 4
        for start in range(0, n, 10):
            with j.batch() if batched else contextlib.nullcontext():
                for i in range(start, min(n, start + 10)):
                    j.append("test.event", {"i": i}, call_id=f"c{i % 7}")
        print("appended", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


@pytest.mark.parametrize("batched", [False, True], ids=["one-write-per-event", "one-write-per-batch"])
async def test_events_accepted_before_sigkill_are_replayed_once(pg_dsn: str, tmp_path: Path,
                                                                batched: bool) -> None:
    spill = tmp_path / "spill"
    extra = ["batched"] if batched else []
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, pg_dsn, str(spill), "3000", *extra,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.strip() == b"appended"
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert await fetch_is(pg_dsn) == []
    assert list(spill.glob("*.wal"))
    async with PgJournal(pg_dsn, settings(spill)) as j:
        j.append("test.event", {"i": -1})
        await until(lambda: j.health()["spilled_pending"] == 0 and not j.health()["spilling"]
                    and j.health()["buffered"] == 0, "log replayed")
    got = await fetch_is(pg_dsn)
    assert got == [*range(3000), -1]
    assert not spill_files(spill) and not list(spill.glob("*.wal"))


async def test_log_segments_are_deleted_once_committed(pg_dsn: str, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    async with PgJournal(pg_dsn, settings(spill)) as j:
        assert j._wal is not None
        j._wal.segment_bytes = 4096  # many segments
        for i in range(2000):
            j.append("test.event", {"i": i})
        assert len(list(spill.glob("*.wal"))) > 10
        await until(lambda: not list(spill.glob("*.wal")), "segments released")
        assert j.health()["log_ok"]
    assert await fetch_is(pg_dsn) == list(range(2000))


async def test_log_write_failure_keeps_events_in_memory_and_recovers(
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    errors_before = WAL_ERRORS._value.get()
    async with PgJournal(pg_dsn, settings(tmp_path / "spill", interval=0.05)) as j:
        monkeypatch.setattr(os, "write", full)
        for i in range(100):
            j.append("test.event", {"i": i})
        assert not j.health()["log_ok"]
        assert WAL_ERRORS._value.get() - errors_before == 1  # one failure, then no retry until the flusher
        monkeypatch.setattr(os, "write", real_write)
        await until(lambda: j.health()["log_ok"], "log retried")
        for i in range(100, 200):
            j.append("test.event", {"i": i})
    assert await fetch_is(pg_dsn) == list(range(200))


def test_a_short_write_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    w = WalWriter(tmp_path, "00000000000000000001")
    row = ("k1", 1.0, "t", "i", None, None, None, None, None, "{}")
    w.write(row, 1)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:7]))
    with pytest.raises(Exception, match="short write"):
        w.write(("k2", *row[1:]), 2)
    monkeypatch.setattr(os, "write", real_write)
    w.write(("k3", *row[1:]), 3)
    w.close()
    adopted = adopt_wal_segments(tmp_path)
    assert len(adopted) == 1 and adopted[0].name.endswith("-log.jsonl")
    lines = adopted[0].read_bytes().splitlines(keepends=True)
    assert [decode_line(x) for x in lines] == [row, ("k3", *row[1:])]


def test_release_keeps_segments_with_unsafe_events(tmp_path: Path) -> None:
    w = WalWriter(tmp_path, "00000000000000000001", segment_bytes=1)  # one event per segment
    row = ("k", 1.0, "t", "i", None, None, None, None, None, "{}")
    for seq in range(1, 6):
        w.write(row, seq)
    assert len(list(tmp_path.glob("*.wal"))) == 5
    assert w.release(3) == 2  # events 1 and 2 are safe
    assert len(list(tmp_path.glob("*.wal"))) == 3
    w.release(6)
    assert not list(tmp_path.glob("*.wal"))
    w.close()
    assert adopt_wal_segments(tmp_path) == []


def test_spill_write_failure_leaves_no_partial_line_and_the_writer_usable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from callcore.errors import StoreError
    from callcore.store.spill import SpillReader, SpillWriter

    row = ("k1", 1.0, "t", "i", None, None, None, None, None, "{}")
    w = SpillWriter(tmp_path, "00000000000000000001")
    path = w.append([row], 1)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreError, match="No space left"):
        w.append([("k2", *row[1:])], 2)
    monkeypatch.undo()
    w.append([("k3", *row[1:])], 3)
    w.close()
    w.close()  # closing twice (or after a failed close) is harmless
    rows, _ = SpillReader().read(path, 10)
    assert [r[0] for r in rows] == ["k1", "k3"]


def test_write_many_is_one_system_call_and_keeps_the_sequence(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    w = WalWriter(tmp_path, "run")
    writes: list[int] = []
    real = os.write

    def counting(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real(fd, data)

    monkeypatch.setattr(os, "write", counting)
    rows = [(f"k{i}", 1.0, "t", "i", None, None, None, None, None, "{}") for i in range(5)]
    w.write_many(rows, 10, 14)
    assert len(writes) == 1
    assert w.release(14) == 0  # event 14 not safe yet: the segment stays
    decoded = [decode_line(line) for line in (tmp_path / "run-000000000010.wal").read_bytes().splitlines()]
    assert [row[0] if row is not None else None for row in decoded] == [f"k{i}" for i in range(5)]
    assert w.release(15) == 1
