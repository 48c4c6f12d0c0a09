"""Table projections are written in batches (one transaction each); a bad row in a batch costs only itself."""

from __future__ import annotations

import asyncio

import pytest

from callcore.directory import records
from callcore.errors import NotFound
from callcore.service import projector as pj
from callcore.service.projector import ProjectingJournal
from callcore.store.api import MemoryJournal
from callcore.store.db import Database


async def drained(sink: ProjectingJournal) -> None:
    for _ in range(500):
        if not sink.pending:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{sink.pending} projections still pending")


async def test_a_batch_lands_in_order_and_a_bad_row_costs_only_itself(pg_pool: Database) -> None:
    inner = MemoryJournal()
    sink = ProjectingJournal(inner, pg_pool, instance="t")
    errors0 = pj.PROJECTION_ERRORS._value.get()
    # queued before the writer starts: all of it is one batch
    sink.append("call.queued", {"caller_number": "+15550001"}, call_id="c1", queue="sales", ts=1_800_000_000.0)
    sink.append("call.queued", {"caller_number": "bad\x00number"}, call_id="c2", queue="sales", ts=1_800_000_001.0)
    sink.append("call.queued", {"caller_number": "+15550003"}, call_id="c3", queue="sales", ts=1_800_000_002.0)
    sink.append("call.abandoned", {}, call_id="c3", queue="sales", ts=1_800_000_005.0)
    assert sink.pending == 4
    await sink.start()
    try:
        await drained(sink)
    finally:
        await sink.close()
    assert len(inner.events) == 4  # the journal has everything, bad row included
    assert (await records.get_call(pg_pool, "c1")).caller_number == "+15550001"
    c3 = await records.get_call(pg_pool, "c3")
    assert c3.outcome == "abandoned" and c3.ended_at is not None  # its end came after its entry
    with pytest.raises(NotFound):
        await records.get_call(pg_pool, "c2")
    assert pj.PROJECTION_ERRORS._value.get() == errors0 + 1


async def test_batches_are_bounded(pg_pool: Database) -> None:
    sink = ProjectingJournal(MemoryJournal(), pg_pool, instance="t")
    sink.batch_size = 3
    for i in range(10):
        sink.append("call.queued", {"caller_number": f"+1555000{i}"}, call_id=f"b{i}", queue="sales",
                    ts=1_800_000_000.0 + i)
    await sink.start()
    try:
        await drained(sink)
    finally:
        await sink.close()
    for i in range(10):
        assert (await records.get_call(pg_pool, f"b{i}")).caller_number == f"+1555000{i}"


class ReplayingJournal(MemoryJournal):
    """An in-memory journal that says, like ``PgJournal.health``, whether it is replaying spilled events."""

    def __init__(self) -> None:
        super().__init__()
        self.replaying = True

    def health(self) -> dict[str, object]:
        return {"db_ok": True, "spilling": self.replaying, "buffered": 0,
                "spilled_pending": 100 if self.replaying else 0}


async def test_projections_wait_while_the_journal_replays_then_catch_up(pg_pool: Database) -> None:
    inner = ReplayingJournal()
    sink = ProjectingJournal(inner, pg_pool, instance="t")
    sink.append("call.queued", {"caller_number": "+15550042"}, call_id="r1", queue="sales", ts=1_800_000_000.0)
    await sink.start()
    try:
        await asyncio.sleep(0.3)
        assert sink.pending == 1  # the replay goes first
        with pytest.raises(NotFound):
            await records.get_call(pg_pool, "r1")
        inner.replaying = False
        await drained(sink)
    finally:
        await sink.close()
    assert (await records.get_call(pg_pool, "r1")).caller_number == "+15550042"


async def test_projections_wait_for_a_replay_only_so_long(pg_pool: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pj, "REPLAY_YIELD_MAX", 0.2)
    sink = ProjectingJournal(ReplayingJournal(), pg_pool, instance="t")  # a replay that never ends
    sink.append("call.queued", {"caller_number": "+15550043"}, call_id="r2", queue="sales", ts=1_800_000_000.0)
    await sink.start()
    try:
        await drained(sink)
    finally:
        await sink.close()
    assert (await records.get_call(pg_pool, "r2")).caller_number == "+15550043"
