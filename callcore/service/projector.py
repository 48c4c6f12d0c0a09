"""Keeps the relational tables (calls, agent_state, callbacks) in step with the journal, off the hot path.

``ProjectingJournal`` is a ``JournalSink`` that forwards every event to the real journal (the source of
truth) and queues the few types that update tables. A writer task applies them in order. When PostgreSQL
is down the writer waits and retries (the bounded queue holds what arrives meanwhile; beyond that the
oldest projections are dropped and counted: the journal still has every event, and ``calls`` rows can be
rebuilt from it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter

from callcore.errors import CallcoreError, DatabaseUnavailable
from callcore.metrics import REGISTRY
from callcore.service import looplag
from callcore.store.api import JournalEvent, JournalSink, journal_batch
from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

PROJECTED_TYPES = frozenset({"agent.state", "call.queued", "call.answered", "call.ended", "call.abandoned",
                             "call.overflowed", "call.disposition", "call.callback", "call.transferred",
                             "call.closed"})

BATCH = 500  # projections written per transaction at most
OVERLOADED_PAUSE = 1.0  # overloaded: wait this long before each batch so that batches grow
# PostgreSQL back after an outage: the journal replays what it spilled first (the source of truth, and what
# recovery waits for); the projections, which would compete for the CPU and the database, wait this long at
# most for it, then go on regardless
REPLAY_YIELD_MAX = 10.0
REPLAY_POLL = 0.05

PROJECTION_DROPPED = Counter("callcore_projection_dropped", "Table projections dropped (queue full)",
                             registry=REGISTRY)
PROJECTION_ERRORS = Counter("callcore_projection_errors", "Table projections that failed", registry=REGISTRY)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class ProjectingJournal:
    def __init__(self, inner: JournalSink, pool: Database | None, *, maxlen: int = 50_000, retry: float = 1.0,
                 instance: str = "") -> None:
        self.inner = inner
        self.pool = None if pool is None else database(pool)
        self.instance = instance  # agent states are written as this instance's view (see save_agent_state)
        self._q: deque[JournalEvent] = deque()
        self._maxlen = maxlen
        self._retry = retry
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batch_size = BATCH
        self._closing = False
        self._yield_since: float | None = None  # monotonic time the projector began waiting for a replay

    def batch(self) -> AbstractContextManager[None]:
        return journal_batch(self.inner)

    def append(self, type: str, payload: Mapping[str, Any] | None = None, *, call_id: str | None = None,
               channel_id: str | None = None, agent_id: str | None = None, queue: str | None = None,
               campaign_id: str | None = None, ts: float | None = None) -> None:
        self.inner.append(type, payload, call_id=call_id, channel_id=channel_id, agent_id=agent_id, queue=queue,
                          campaign_id=campaign_id, ts=ts)
        if type not in PROJECTED_TYPES or self.pool is None:
            return
        if len(self._q) >= self._maxlen:
            self._q.popleft()
            PROJECTION_DROPPED.inc()
        self._q.append(JournalEvent(type, dict(payload or {}), time.time() if ts is None else ts, call_id,
                                    channel_id, agent_id, queue, campaign_id))
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._q)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="table-projector")

    async def close(self, grace: float = 5.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        deadline = asyncio.get_running_loop().time() + grace
        while self._q and asyncio.get_running_loop().time() < deadline:
            self._wake.set()
            await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._q:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._yield_to_replay():
                await asyncio.sleep(REPLAY_POLL)
                continue
            if not self._closing and looplag.shedding("projection"):  # overloaded: fewer, larger transactions
                await asyncio.sleep(OVERLOADED_PAUSE)
            batch = [self._q[i] for i in range(min(len(self._q), self.batch_size))]
            try:
                done = await self._apply_batch(batch)
            except (DatabaseUnavailable, TimeoutError, OSError) as exc:
                log.warning("projection_waiting_for_database", error=str(exc))
                await asyncio.sleep(self._retry)
                continue
            for ev in batch[:done]:
                if self._q and self._q[0] is ev:  # (unless dropped meanwhile by a full queue)
                    self._q.popleft()

    def _yield_to_replay(self) -> bool:
        """True while the journal, connected to PostgreSQL again, replays spilled events (for at most
        ``REPLAY_YIELD_MAX`` seconds per replay)."""
        health = getattr(self.inner, "health", None)
        replaying = False
        if health is not None and not self._closing:
            h = health()
            replaying = bool(h.get("db_ok") and (h.get("spilling") or h.get("spilled_pending")))
        if not replaying:
            self._yield_since = None
            return False
        now = time.monotonic()
        if self._yield_since is None:
            self._yield_since = now
        return now - self._yield_since < REPLAY_YIELD_MAX

    async def _apply_batch(self, batch: list[JournalEvent]) -> int:
        """Apply ``batch`` in one transaction (one connection, one commit instead of one per row); when a
        row of it fails, apply them one by one so that only the bad one is skipped. Returns how many were
        dealt with; raises ``DatabaseUnavailable`` when not even the first could be."""
        if self.pool is None:
            return len(batch)
        if len(batch) > 1:
            try:
                async with self.pool.transaction() as conn:
                    for ev in batch:
                        await self.apply(ev, conn)
                    # a database error that ``apply`` let pass (agent deleted meanwhile...) left the
                    # transaction aborted, and its COMMIT would roll everything back without a word: ask
                    await conn.fetchval(load_sql("callcore.service", "transaction_alive"))
                return len(batch)
            except (DatabaseUnavailable, TimeoutError, OSError):
                raise
            except Exception as exc:  # one by one below skips only the bad row and names it
                log.info("projection_batch_retried_one_by_one", events=len(batch), error=str(exc))
        for i, ev in enumerate(batch):
            try:
                await self.apply(ev)
            except (DatabaseUnavailable, TimeoutError, OSError):
                if i == 0:
                    raise
                return i
            except Exception as exc:  # a bad row must not stop the projector
                PROJECTION_ERRORS.inc()
                log.warning("projection_failed", type=ev.type, call_id=ev.call_id, error=str(exc))
        return len(batch)

    async def apply(self, ev: JournalEvent, conn: Database | None = None) -> None:
        """Update the tables for one event, on ``conn`` (inside a batch's transaction) or the pool."""
        db = self.pool if conn is None else conn
        if db is None:
            return
        from callcore.directory import records, store

        p = ev.payload
        when = _dt(ev.ts)
        if ev.type == "agent.state" and ev.agent_id:
            reason = p.get("reason") if p.get("to") == "paused" else None
            try:
                # a login on this instance takes the agent over; other changes only touch this instance's agents
                if not await store.save_agent_state(db, ev.agent_id, str(p.get("to", "")), reason, when,
                                                    instance=self.instance,
                                                    take_over=p.get("from") == "logged_out"):
                    log.info("agent_state_owned_elsewhere", agent_id=ev.agent_id, state=p.get("to"))
            except DatabaseUnavailable:
                raise  # kept and retried
            except CallcoreError:
                pass  # agent deleted meanwhile
        elif ev.type == "call.queued" and ev.call_id and not p.get("from_queue"):
            await records.record_call_entered(
                db, call_id=ev.call_id, queue=ev.queue, entered_at=when, channel_id=ev.channel_id,
                caller_number=str(p.get("caller_number", "")), caller_name=str(p.get("caller_name", "")))
        elif ev.call_id and ev.type in ("call.answered", "call.ended", "call.abandoned", "call.overflowed",
                                        "call.disposition", "call.transferred", "call.closed"):
            await self._call_update(db, ev, when)
        elif ev.type == "call.callback":
            if ev.call_id:  # the caller left the queue for a callback: this call is over
                await self._call_update(db, ev, when)
            await db.execute(load_sql("callcore.service", "inbound_callback_add"),
                                    str(p.get("caller_number", "")), ev.queue, ev.agent_id,
                                    _dt(float(p.get("callback_at") or ev.ts)),
                                    json.dumps({"call_id": ev.call_id, "position": p.get("position")}))

    async def _call_update(self, db: Database, ev: JournalEvent, when: datetime) -> None:
        from callcore.directory import records

        p = ev.payload
        ended = p.get("ended_at")
        if isinstance(ended, int | float) and ev.type != "call.answered":
            when = _dt(float(ended))  # a call found gone after an outage ended when last known alive
        try:
            if ev.type == "call.answered":
                agent = str(p.get("agent") or ev.agent_id or "")
                await records.record_call_answered(db, call_id=ev.call_id or "", agent_id=agent,
                                                   answered_at=when)
                if p.get("recording"):
                    await records.record_recording(db, call_id=ev.call_id or "",
                                                   recording_name=str(p["recording"]))
            elif ev.type == "call.disposition":
                cb = p.get("callback_at")
                await records.record_disposition(db, call_id=ev.call_id or "", code=str(p.get("code", "")),
                                                 notes=str(p.get("notes", "")),
                                                 callback_at=_dt(float(cb)) if cb else None)
            elif ev.type == "call.closed":
                await records.record_call_ended(db, call_id=ev.call_id or "", ended_at=when,
                                                outcome=str(p.get("outcome") or "unknown-during-outage"))
            else:
                outcome = {"call.ended": "answered", "call.abandoned": "abandoned", "call.callback": "callback",
                           "call.overflowed": "overflowed", "call.transferred": "transferred"}[ev.type]
                await records.record_call_ended(db, call_id=ev.call_id or "", ended_at=when,
                                                outcome=outcome)
        except DatabaseUnavailable:
            raise  # kept and retried
        except CallcoreError as exc:
            log.debug("projection_skipped", type=ev.type, call_id=ev.call_id, why=str(exc))

