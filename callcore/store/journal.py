"""The PostgreSQL event journal.

``append`` is synchronous, O(1) and never waits for the database: the event gets its idempotency key
(a UUID) and goes into a bounded in-memory buffer. A flusher task writes the buffer in batches (COPY into a
per-connection staging table, then ``INSERT ... SELECT ... ON CONFLICT (event_key) DO NOTHING``).

When PostgreSQL is down or too slow and the buffer is full, the journal switches to *spilling*: new events
go to an append-only JSON-lines file (fsync'd per batch) in ``journal_spill_dir``. Once the database answers
again the flusher writes what was still in memory, replays the spill files in order, deletes them, and then
returns to the in-memory path, so events reach the table in the order they were appended and, thanks to the
key, exactly once. Spill files left by a previous run are replayed at start. ``close()`` drains everything
to PostgreSQL, or to a spill file when PostgreSQL cannot take it.

Nothing accepted is lost when the process is killed (SIGKILL, OOM killer): before ``append`` returns, the
event is written to a local write-ahead log (``*.wal`` segments in the spill directory, one ``write`` per
event, fsync'd once per flush interval from a worker thread). A segment is deleted once all its events are
committed or spilled; segments left by a killed run are replayed at start like spill files. If the log
cannot be written (disk full), events still reach PostgreSQL from memory, the failure is logged and
counted, and writing is retried every flush interval.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from prometheus_client import Counter, Gauge, Histogram

from callcore.clock import Clock, SystemClock
from callcore.errors import StoreError
from callcore.metrics import REGISTRY
from callcore.store.encoding import EventKeys, clean_text, encode_payload, seq_of
from callcore.store.spill import (
    Row,
    SpillReader,
    SpillWriter,
    WalWriter,
    adopt_wal_segments,
    count_lines,
    spill_files,
)
from callcore.store.sqlfiles import load_sql

if TYPE_CHECKING:
    import asyncpg

    from callcore.config import Settings
    from callcore.store.db import Database

log = structlog.get_logger(__name__)

BUFFER_EVENTS = Gauge("callcore_journal_buffer_events", "Journal events in memory, not yet written.",
                      registry=REGISTRY)
FLUSH_SECONDS = Histogram("callcore_journal_flush_seconds", "Time to write one journal batch to PostgreSQL.",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                          registry=REGISTRY)
EVENTS_WRITTEN = Counter("callcore_journal_events_written", "Journal events inserted into PostgreSQL.",
                         registry=REGISTRY)
EVENTS_SPILLED = Counter("callcore_journal_spilled_events", "Journal events written to a spill file.",
                         registry=REGISTRY)
DB_ERRORS = Counter("callcore_journal_db_errors", "Failed journal writes to PostgreSQL.", registry=REGISTRY)
SPILLING = Gauge("callcore_journal_spilling", "1 while new journal events go to a spill file.",
                 registry=REGISTRY)
EVENTS_REJECTED = Counter("callcore_journal_rejected_events",
                          "Journal events PostgreSQL refused as invalid (logged, kept in a .rejected file).",
                          registry=REGISTRY)

WAL_ERRORS = Counter("callcore_journal_log_errors",
                     "Failed writes to the journal's local write-ahead log (events then only in memory).",
                     registry=REGISTRY)
EVENTS_DROPPED = Counter("callcore_journal_dropped_events",
                         "Journal events lost because neither PostgreSQL nor the spill directory took them.",
                         registry=REGISTRY)

# Events held in memory beyond the buffer while spill files cannot be written, as a multiple of the buffer.
OVERFLOW_FACTOR = 4
STAGING_TABLE = "callcore_journal_staging"
COLUMNS = ("event_key", "ts", "type", "instance", "call_id", "channel_id", "agent_id", "queue", "campaign_id",
           "payload")
# PostgreSQL down: a probe every 0.25 s at most (a refused connection costs next to nothing; an unreachable
# host costs the connect timeout anyway), so the journal is back within a quarter second of it
MAX_BACKOFF = 0.25
IDLE_PROBE = 5.0


_fromts = datetime.fromtimestamp


class PgJournal:
    """Durable journal on PostgreSQL (implements ``callcore.store.api.JournalSink``)."""

    def __init__(self, target: str | Database | asyncpg.Pool, settings: Settings, *, clock: Clock | None = None,
                 on_flushed: Callable[[int], None] | None = None, op_timeout: float = 10.0,
                 max_backoff: float = MAX_BACKOFF, wal: bool = True) -> None:
        from callcore.store.db import Database

        if isinstance(target, Database):
            target = target.raw  # the journal drives COPY on the driver itself (it is part of the store)
        self._dsn = target if isinstance(target, str) else None
        self._pool = None if isinstance(target, str) else target
        self._conn: asyncpg.Connection | None = None
        self._clock = clock or SystemClock()
        self._instance = settings.instance_id or os.uname().nodename
        self._max = settings.journal_buffer
        self._batch = settings.journal_batch
        self._interval = settings.journal_flush_interval
        self._op_timeout = op_timeout
        self._max_backoff = max_backoff
        self._on_flushed = on_flushed
        self.spill_dir = Path(settings.journal_spill_dir)
        self._keys = EventKeys()
        self._buf: deque[Row] = deque()
        self._overflow: list[Row] = []
        self._spilling = False
        self._spilled_pending = 0
        run_id = f"{time.time_ns():020d}"
        self._writer = SpillWriter(self.spill_dir, run_id)
        self._wal = WalWriter(self.spill_dir, run_id) if wal else None
        self._wal_ok = True
        self._wal_failing = False
        self._wal_pinned = False  # events were dropped from memory: keep every log segment for the next start
        self._reader = SpillReader()
        self._db_ok = False
        self._last_ok = -math.inf
        self._started = False
        self._closing = False
        self._closed = False
        self._flush_wake = asyncio.Event()
        self._spill_wake = asyncio.Event()
        self._close_wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._spiller: asyncio.Task[None] | None = None
        self._wal_batch: list[Row] | None = None  # rows of the open ``batch()`` block, not yet logged
        self._staging_sql = load_sql("callcore.store", "journal_staging")
        self._insert_sql = load_sql("callcore.store", "journal_insert")

    # -- the sink ------------------------------------------------------------------------------------

    def append(self, type: str, payload: Mapping[str, Any] | None = None, *, call_id: str | None = None,
               channel_id: str | None = None, agent_id: str | None = None, queue: str | None = None,
               campaign_id: str | None = None, ts: float | None = None) -> None:
        if ts is None or not math.isfinite(ts):
            ts = self._clock.now()
        row: Row = (self._keys.next(), float(ts), clean_text(type) or "", self._instance,
                    clean_text(call_id), clean_text(channel_id), clean_text(agent_id), clean_text(queue),
                    clean_text(campaign_id), encode_payload(payload))
        if self._wal is not None and self._wal_ok and not self._closed:
            if self._wal_batch is not None:
                self._wal_batch.append(row)
            else:
                self._log_rows([row], self._keys.seq)
        if self._closed:
            try:
                self._spill_now([row])
            except StoreError as exc:
                log.error("journal_event_lost", type=type, error=str(exc))
            return
        if self._spilling or len(self._buf) >= self._max:
            if not self._spilling:
                self._set_spilling(True)
            self._overflow.append(row)
            if len(self._overflow) >= self._batch:
                self._spill_wake.set()
        else:
            self._buf.append(row)
            if len(self._buf) >= self._batch:
                self._flush_wake.set()

    def _log_rows(self, rows: list[Row], first_seq: int) -> None:
        assert self._wal is not None
        try:
            self._wal.write_many(rows, first_seq, first_seq + len(rows) - 1)
            if self._wal_failing:
                self._wal_failing = False
                log.warning("journal_log_write_resumed")
        except StoreError as exc:
            self._wal_ok = False
            WAL_ERRORS.inc()
            if not self._wal_failing:
                self._wal_failing = True
                log.error("journal_log_write_failed", error=str(exc))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Events appended inside the block go to the write-ahead log in one write when it ends: one
        system call per decision instead of one per event. The block is synchronous (no ``await`` inside),
        so nothing can act on those events, nor the process be stopped by anything but a kill, before
        they are written; a kill inside the block loses what the block appended, and nothing of it has
        been acted on yet."""
        if self._wal_batch is not None:  # nested: the outer block writes
            yield
            return
        self._wal_batch = []
        first = self._keys.seq + 1
        try:
            yield
        finally:
            rows, self._wal_batch = self._wal_batch, None
            if rows and self._wal is not None and self._wal_ok and not self._closed:
                self._log_rows(rows, first)

    def health(self) -> dict[str, Any]:
        return {"db_ok": self._db_ok, "spilling": self._spilling,
                "buffered": len(self._buf) + len(self._overflow), "spilled_pending": self._spilled_pending,
                "log_ok": self._wal is not None and self._wal_ok}

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        adopted = adopt_wal_segments(self.spill_dir)
        if adopted:
            log.warning("journal_log_recovered", files=len(adopted))
        leftover = spill_files(self.spill_dir)
        if leftover:
            self._spilled_pending = sum(count_lines(p) for p in leftover)
            log.warning("journal_spill_replay_pending", files=len(leftover), events=self._spilled_pending)
            self._set_spilling(True)
        self._flusher = asyncio.create_task(self._run_flusher(), name="journal-flusher")
        self._spiller = asyncio.create_task(self._run_spiller(), name="journal-spiller")

    async def close(self) -> None:
        """Write everything out: to PostgreSQL, or to a spill file when it cannot take it."""
        if self._closed:
            return
        self._closing = True
        self._flush_wake.set()
        self._close_wake.set()
        if self._flusher is not None:
            await self._flusher
        if self._spiller is not None:
            self._spiller.cancel()
            with suppress(asyncio.CancelledError):
                await self._spiller
        if self._buf:
            rows = list(self._buf)
            self._buf.clear()
            try:
                self._spill_now(rows, separate=True)
            except StoreError as exc:
                self._drop(len(rows), exc)
        self._write_overflow()
        if self._overflow:
            self._drop(len(self._overflow), None)
            self._overflow.clear()
        self._writer.close()
        self._release_log()
        if self._wal is not None:
            self._wal.close()
        self._closed = True
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with suppress(Exception):
                await conn.close(timeout=2)
        self._update_gauges()
        log.info("journal_closed", **self.health())

    async def __aenter__(self) -> PgJournal:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- spilling ------------------------------------------------------------------------------------

    def _set_spilling(self, on: bool) -> None:
        self._spilling = on
        SPILLING.set(1 if on else 0)
        log.warning("journal_spilling_started" if on else "journal_spilling_ended",
                    buffered=len(self._buf), spilled_pending=self._spilled_pending)

    def _spill_now(self, rows: list[Row], *, separate: bool = False) -> None:
        first = seq_of(rows[0][0])
        if separate:
            self._writer.write_separate(rows, first)
        else:
            self._writer.append(rows, first)
        EVENTS_SPILLED.inc(len(rows))
        self._spilled_pending += len(rows)

    def _write_overflow(self) -> None:
        if not self._overflow:
            return
        rows, self._overflow = self._overflow, []
        try:
            self._spill_now(rows)
        except Exception as exc:  # disk full or unwritable: the rows stay in memory
            self._overflow[:0] = rows
            log.error("journal_spill_failed", error=str(exc), held_in_memory=len(self._overflow))
            excess = len(self._overflow) - OVERFLOW_FACTOR * self._max
            if excess > 0:
                del self._overflow[:excess]
                self._drop(excess, exc)

    def _drop(self, count: int, exc: BaseException | None) -> None:
        """Last resort when neither PostgreSQL nor the disk takes events: lose the oldest, loudly."""
        EVENTS_DROPPED.inc(count)
        if self._wal is not None and self._wal_ok:
            self._wal_pinned = True  # the dropped events are still in the log: replayed at the next start
        log.error("journal_events_dropped", count=count, error=str(exc) if exc else "spill file unavailable")

    async def _run_spiller(self) -> None:
        while True:
            await _wait(self._spill_wake, self._interval)
            self._spill_wake.clear()
            self._write_overflow()
            self._release_log()
            self._update_gauges()

    # -- writing -------------------------------------------------------------------------------------

    async def _run_flusher(self) -> None:
        backoff = self._interval
        while True:
            if not self._closing:
                await _wait(self._flush_wake, self._interval)
            self._flush_wake.clear()
            try:
                await self._drain()
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                if self._closing:
                    return
                await _wait(self._close_wake, backoff)
                backoff = min(backoff * 2, self._max_backoff)
                self._flush_wake.set()  # the backoff was the pause: no flush interval on top of it
                continue
            finally:
                self._update_gauges()
                await self._sync_log()
            if self._closing and not self._buf:
                return  # events appended while the log was synced are drained first, not spilled

    # -- the write-ahead log ---------------------------------------------------------------------------

    def _first_unsafe(self) -> int:
        """Sequence number of the oldest event that is neither committed nor in a spill file."""
        first = self._keys.seq + 1
        if self._buf:
            first = min(first, seq_of(self._buf[0][0]))
        if self._overflow:
            first = min(first, seq_of(self._overflow[0][0]))
        return first

    def _release_log(self) -> None:
        if self._wal is not None and not self._wal_pinned:
            self._wal.release(self._first_unsafe())

    async def _sync_log(self) -> None:
        wal = self._wal
        if wal is None:
            return
        if not self._wal_ok:
            self._wal_ok = True  # retried by the next append
        self._release_log()
        await asyncio.to_thread(wal.sync)

    async def _drain(self) -> None:
        while self._buf:
            batch = list(islice(self._buf, self._batch))
            await self._write(batch)
            for _ in range(len(batch)):
                self._buf.popleft()
            if self._on_flushed is not None:
                self._on_flushed(len(batch))
        if self._spilling:
            await self._replay()
        elif not self._db_ok or self._clock.monotonic() - self._last_ok > IDLE_PROBE:
            await self._probe()

    async def _replay(self) -> None:
        while True:
            files = spill_files(self.spill_dir)
            if not files:
                break
            path = files[0]
            rows, offset = self._reader.read(path, self._batch)
            if rows:
                await self._write(rows, replay=True)
                self._reader.advance(path, offset)
                self._spilled_pending = max(0, self._spilled_pending - len(rows))
                continue
            if offset != self._reader.offset:
                self._reader.advance(path, offset)
                continue
            self._reader.forget()
            if path == self._writer.current:
                self._writer.close()
                path.unlink()
                break
            path.unlink()
            log.info("journal_spill_file_replayed", file=str(path))
        if self._writer.current is None:
            self._buf.extend(self._overflow)
            self._overflow.clear()
            self._spilled_pending = 0
            self._set_spilling(False)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is not None:
            async with self._pool.acquire() as conn:
                yield conn
            return
        if self._conn is None or self._conn.is_closed():
            import asyncpg

            # A plain connection: no json codecs, so jsonb columns take JSON text (needed by direct COPY).
            self._conn = await asyncpg.connect(self._dsn or "", timeout=self._op_timeout)
        import asyncpg

        try:
            yield self._conn
        except asyncpg.PostgresError:
            raise
        except BaseException:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.terminate()
            raise

    async def _probe(self) -> None:
        async with asyncio.timeout(self._op_timeout), self._connection() as conn:
            await conn.fetchval("SELECT 1")
        self._ok()

    async def _write(self, rows: list[Row], *, replay: bool = False) -> None:
        """Commit ``rows`` (each at most once). Raises when PostgreSQL cannot be used."""
        import asyncpg

        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._op_timeout), self._connection() as conn:
                written = -1
                if self._pool is None and not replay:
                    written = await self._copy_direct(conn, rows)
                if written < 0:
                    written = await self._copy_staged(conn, rows)
        except asyncpg.DataError as exc:
            if len(rows) == 1:
                self._reject(rows[0], exc)
                return
            for row in rows:
                await self._write([row], replay=True)
            return
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        EVENTS_WRITTEN.inc(written)
        self._ok()

    async def _copy_direct(self, conn: asyncpg.Connection, rows: list[Row]) -> int:
        """COPY straight into ``events``: the fast path for new events. -1 when it cannot be used
        (a key already present after an unacknowledged commit, or a timestamp Python cannot represent)."""
        import asyncpg

        try:
            records = [(r[0], _fromts(r[1], UTC), *r[2:]) for r in rows]
        except (OverflowError, ValueError, OSError):
            return -1
        try:
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=records, columns=COLUMNS)
        except asyncpg.UniqueViolationError:
            return -1
        return len(rows)

    async def _copy_staged(self, conn: asyncpg.Connection, rows: list[Row]) -> int:
        """COPY into the staging table, then insert what is not in ``events`` yet; returns rows inserted."""
        async with conn.transaction():
            await conn.execute(self._staging_sql)
            await conn.copy_records_to_table(STAGING_TABLE, records=rows, columns=COLUMNS)
            status: str = await conn.execute(self._insert_sql)
        return int(status.rsplit(" ", 1)[-1])

    def _reject(self, row: Row, exc: Exception) -> None:
        EVENTS_REJECTED.inc()
        log.error("journal_event_rejected", event_key=row[0], type=row[2], error=str(exc))
        path = self.spill_dir / f"{self._writer.run_id}.rejected"
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(msgspec.json.encode(row) + b"\n")

    def _ok(self) -> None:
        self._last_ok = self._clock.monotonic()
        if not self._db_ok:
            self._db_ok = True
            log.info("journal_db_available")

    def _failed(self, exc: BaseException) -> None:
        DB_ERRORS.inc()
        if self._db_ok:
            log.warning("journal_db_unavailable", error=repr(exc), buffered=len(self._buf))
        self._db_ok = False

    def _update_gauges(self) -> None:
        BUFFER_EVENTS.set(len(self._buf) + len(self._overflow))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
