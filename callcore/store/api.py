"""The journal interface every subsystem writes its events to.

``append`` never blocks and never raises because PostgreSQL is slow or down: the PostgreSQL journal
(``callcore.store.journal``) buffers, spills to disk and replays. ``MemoryJournal`` is the in-memory fake
used by unit tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class JournalEvent:
    type: str
    payload: Mapping[str, Any]
    ts: float
    call_id: str | None = None
    channel_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    campaign_id: str | None = None


class JournalSink(Protocol):
    def append(
        self,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        channel_id: str | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        campaign_id: str | None = None,
        ts: float | None = None,
    ) -> None: ...


@dataclass
class MemoryJournal:
    events: list[JournalEvent] = field(default_factory=list)

    def append(
        self,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        channel_id: str | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        campaign_id: str | None = None,
        ts: float | None = None,
    ) -> None:
        self.events.append(
            JournalEvent(type, dict(payload or {}), time.time() if ts is None else ts, call_id, channel_id,
                         agent_id, queue, campaign_id)
        )

    def types(self) -> list[str]:
        return [e.type for e in self.events]


def journal_batch(sink: object) -> AbstractContextManager[None]:
    """``sink.batch()`` when the sink (or the journal it forwards to) batches its log writes, else a block
    that does nothing: appends inside reach the write-ahead log in one write (see ``PgJournal.batch``)."""
    batch = getattr(sink, "batch", None)
    return batch() if batch is not None else nullcontext()
