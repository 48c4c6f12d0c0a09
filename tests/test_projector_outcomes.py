"""Call records (``calls``) closed by the live projection and by the rebuild from the journal: a callback
request ends the call, and a call found gone after an outage ends when it was last known alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from callcore.directory import records
from callcore.service.projector import ProjectingJournal
from callcore.store.api import JournalEvent, MemoryJournal

T0 = 1_800_000_000.0


def ev(type_: str, ts: float, **payload: Any) -> JournalEvent:
    return JournalEvent(type_, payload, ts, "c1", "c1", None, "sales", None)


async def row(pool: Any) -> Any:
    return await pool.fetchrow("SELECT outcome, ended_at FROM calls WHERE call_id = 'c1'")


async def test_callback_request_closes_the_call_record(pg_pool: Any) -> None:
    proj = ProjectingJournal(MemoryJournal(), pg_pool)
    await proj.apply(ev("call.queued", T0, caller_number="+15550001"))
    await proj.apply(ev("call.callback", T0 + 30, position=1, caller_number="+15550001"))
    r = await row(pg_pool)
    assert r["outcome"] == "callback" and r["ended_at"] == datetime.fromtimestamp(T0 + 30, UTC)


async def test_call_gone_in_an_outage_ends_when_last_known_alive(pg_pool: Any) -> None:
    proj = ProjectingJournal(MemoryJournal(), pg_pool)
    await proj.apply(ev("call.queued", T0))
    await proj.apply(ev("call.answered", T0 + 5, agent="1001"))
    await proj.apply(ev("call.ended", T0 + 120, talk=55.0, why="caller-gone", ended_at=T0 + 60))
    r = await row(pg_pool)
    assert r["outcome"] == "answered" and r["ended_at"] == datetime.fromtimestamp(T0 + 60, UTC)


async def test_rebuild_from_the_journal_agrees(pg_pool: Any) -> None:
    for type_, ts, payload in [("call.queued", T0, {}), ("call.abandoned", T0 + 120, {"ended_at": T0 + 60})]:
        await pg_pool.execute("INSERT INTO events (event_key, instance, type, payload, ts, call_id, queue) "
                              "VALUES (gen_random_uuid(), 'i1', $1, $2, $3, 'c1', 'sales')",
                              type_, payload, datetime.fromtimestamp(ts, UTC))
    await records.refresh_calls(pg_pool, since=None)
    r = await row(pg_pool)
    assert r["outcome"] == "abandoned" and r["ended_at"] == datetime.fromtimestamp(T0 + 60, UTC)
