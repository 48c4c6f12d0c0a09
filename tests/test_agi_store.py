"""The FastAGI scripts' PostgreSQL queries, on a fresh migrated database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from callcore.agi.routing import decide_route
from callcore.agi.store import PgAgiStore
from callcore.errors import StoreError

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 12, 25, 10, tzinfo=dt.UTC)  # a Friday


async def test_route_facts(pg_pool: Any) -> None:
    await pg_pool.execute("""
        INSERT INTO did_routes (did, queue, priority, language, after_hours_queue)
            VALUES ('+15551230700', 'sales', 5, 'en', 'sales-closed'), ('700', 'support', 1, NULL, NULL);
        INSERT INTO vip_callers (number, priority, name) VALUES ('+15551239999', 60, 'Big Client');
        INSERT INTO business_hours (queue, weekday, open_at, close_at, tz)
            VALUES ('sales', 4, '09:00', '17:00', 'America/New_York');
        INSERT INTO holidays (day, queue, name) VALUES ('2026-12-25', 'support', 'Xmas');
    """)
    store = PgAgiStore(pg_pool)
    facts = await store.route_facts(["+15551230700", "15551230700"], ["+15551239999"], NOW)
    assert facts.did_route is not None and facts.did_route.queue == "sales"
    assert facts.vip_priority == 60
    assert [(w.weekday, w.open, w.tz) for w in facts.hours] == [(4, dt.time(9), "America/New_York")]
    assert facts.holidays == []  # the holiday belongs to another queue
    decision = decide_route(facts, NOW)  # 05:00 in New York: closed
    assert (decision.queue, decision.reason, decision.priority) == ("sales-closed", "closed", 60)
    support = await store.route_facts(["700"], [], NOW)
    assert decide_route(support, NOW).reason == "holiday"
    nothing = await store.route_facts(["123"], ["456"], NOW)
    assert nothing.did_route is None and nothing.vip_priority is None


async def test_caller_info_dnc_and_callbacks(pg_pool: Any) -> None:
    await pg_pool.execute("""
        INSERT INTO calls (call_id, queue, caller_number, caller_name, entered_at)
            VALUES ('c1', 'sales', '+15551230700', 'Zoë', now() - interval '2 days'),
                   ('c2', 'sales', '+15551230700', '', now() - interval '1 day'),
                   ('c3', 'sales', '+15551230700', 'Old', now() - interval '400 days');
        INSERT INTO tickets (agent_id, type, text, caller_number, status)
            VALUES ('a1', 'claim', 'broken', '+15551230700', 'open'),
                   ('a1', 'claim', 'fixed', '+15551230700', 'closed');
        INSERT INTO dnc (phone_e164) VALUES ('+12025550143');
    """)
    store = PgAgiStore(pg_pool)
    info = await store.caller_info(["15551230700", "+15551230700"])
    assert (info.name, info.calls, info.open_tickets, info.vip) == ("Zoë", 2, 1, False)
    assert info.last_call is not None and info.last_call > dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    assert await store.is_dnc("+12025550143") and not await store.is_dnc("+12025550144")
    assert await store.add_callback("+15551230700", "sales", NOW, "n")
    assert not await store.add_callback("+15551230700", "sales", NOW, "again")
    assert await store.add_callback("+15551230700", "support", NOW, "other queue")
    assert await pg_pool.fetchval("SELECT count(*) FROM callbacks") == 2


async def test_lookup_degrades_without_calls_table(pg_pool: Any) -> None:
    await pg_pool.execute("DROP TABLE tickets; DROP TABLE calls CASCADE")
    await pg_pool.execute("""INSERT INTO events (event_key, ts, type, instance, payload)
        VALUES (gen_random_uuid(), now(), 'call.entered', 'i1', '{"caller_number": "+15551230700"}')""")
    info = await PgAgiStore(pg_pool).caller_info(["+15551230700"])
    assert (info.calls, info.open_tickets, info.source) == (1, 0, "events")


async def test_store_errors_are_store_errors(pg_pool: Any) -> None:
    await pg_pool.execute("DROP TABLE dnc")
    with pytest.raises(StoreError):
        await PgAgiStore(pg_pool).is_dnc("+12025550143")
