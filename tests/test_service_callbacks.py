"""Callbacks end to end: a waiting caller's callback keypress dialled back and bridged to an operator,
unanswered callbacks retried then failed, claims shared by instances, operators' callback dispositions."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_service_runtime import service_settings, start, until

from callcore.acd.core.commands import CallbackRequested
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.clock import ManualClock
from callcore.service.callbacks import (
    CallbackDialer,
    CallbackRequests,
    after_failure,
    channel_id,
    claim_budget,
    is_disposition,
    keypress_call_id,
    parse_channel_id,
)
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.store.sqlfiles import load_sql

# --- pure parts ------------------------------------------------------------------------------------


@given(st.integers(0, 50), st.integers(0, 50))
def test_claim_budget_never_exceeds_free_operators(available: int, in_flight: int) -> None:
    n = claim_budget(available, in_flight)
    assert 0 <= n <= available
    assert n + in_flight >= available


@given(st.integers(1, 10**9), st.integers(1, 999))
def test_channel_id_round_trips(cid: int, attempt: int) -> None:
    ch = channel_id(cid, attempt)
    assert ch.startswith("callback-")
    assert parse_channel_id(ch) == (cid, attempt)


@pytest.mark.parametrize("other", ["dial-abc", "callback-x-1", "callback-1", "callback-1-2-3", "agent-1-2", ""])
def test_other_channels_are_not_callbacks(other: str) -> None:
    assert parse_channel_id(other) is None


@given(st.integers(1, 10), st.floats(0, 1e9))
def test_after_failure_retries_until_the_cap(attempts: int, now: float) -> None:
    state, due = after_failure(attempts, now, max_attempts=3, retry_delay=600.0)
    if attempts >= 3:
        assert (state, due) == ("failed", None)
    else:
        assert state == "pending" and due == now + 600.0


def test_keypress_note_and_disposition_kinds() -> None:
    assert keypress_call_id(json.dumps({"call_id": "c1", "position": 2})) == "c1"
    assert keypress_call_id("inbound 1234.5") is None
    assert keypress_call_id("[1]") is None
    keypress = CallbackRequested("c1", "q", "+1555", "", 2, 0, 0.0)
    disposition = CallbackRequested("c1", "q", "", "", 0, 0, 0.0, callback_at=100.0, agent_id="a1")
    assert not is_disposition(keypress) and is_disposition(disposition)


# --- with PostgreSQL -------------------------------------------------------------------------------

pg = pytest.mark.postgres


async def seed(dsn: str) -> None:
    from callcore.directory import store
    from callcore.store.db import open_pool

    pool = await open_pool(dsn, 1)
    try:
        await store.create_queue(pool, QueueConfig(name="support", wrapup_time=0.1, ring_timeout=5.0,
                                                   callback_digit="1"))
        await store.create_agent(pool, AgentConfig(id="a1", name="Ann", endpoint="PJSIP/a1",
                                                   memberships={"support": 0}))
    finally:
        await pool.close()


def quick(dialer: Any, **kw: Any) -> None:
    dialer.interval = 0.2
    for k, v in kw.items():
        setattr(dialer, k, v)


@pg
async def test_keypress_callback_is_dialled_and_bridged_to_the_operator(pg_dsn: str, tmp_path: Path) -> None:
    await seed(pg_dsn)
    conn = await asyncpg.connect(pg_dsn)
    async with SimAsterisk(seed=11, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.2, p_answer=1.0, talk_time=0.5))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.callbacks is not None
            acd = svc.acd
            await acd.login("a1")
            busy = await sim.inject_call(queue="support", caller_number="+12025550100")
            await until(lambda: acd.agent_state("a1")["state"] == "on_call", "a1 busy")
            waiting = await sim.inject_call(queue="support", caller_number="+12025550177")
            await until(lambda: acd.snapshot()["queues"]["support"]["waiting"] == 1, "caller waiting")
            await sim.send_dtmf(waiting, "1")
            rows: list[Any] = []

            async def poll_rows() -> None:
                nonlocal rows
                rows = await conn.fetch("SELECT id, state, queue FROM callbacks")

            for _ in range(200):
                await poll_rows()
                if rows:
                    break
                await asyncio.sleep(0.05)
            assert len(rows) == 1 and rows[0]["queue"] == "support" and rows[0]["state"] == "pending", rows
            assert not svc.callbacks.calls  # the only operator is busy: nothing dialled
            quick(svc.callbacks)
            await sim.hangup(busy)
            for _ in range(300):
                await poll_rows()
                if rows[0]["state"] == "done":
                    break
                await asyncio.sleep(0.05)
            assert rows[0]["state"] == "done", rows
        finally:
            await run.shutdown()
    try:
        cid = rows[0]["id"]
        events = await conn.fetch("SELECT type, agent_id, payload FROM events WHERE type LIKE 'callback.%' "
                                  "ORDER BY id")
        answered = await conn.fetchrow("SELECT agent_id, caller_number FROM calls WHERE call_id = $1",
                                       channel_id(cid, 1))
    finally:
        await conn.close()
    types = [e["type"] for e in events if e["type"] != "callback.requested"]
    assert types == ["callback.dialled", "callback.connected"], types
    assert json.loads(events[-1]["payload"])["callback_id"] == cid
    assert answered is not None and answered["agent_id"] == "a1", answered
    assert answered["caller_number"] == "+12025550177"


@pg
async def test_unanswered_callback_goes_back_to_pending_then_fails(pg_dsn: str, tmp_path: Path) -> None:
    await seed(pg_dsn)
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute("INSERT INTO callbacks (caller_number, queue, due_at) VALUES ('+12025550188', "
                       "'support', now() - interval '1 minute')")
    async with SimAsterisk(seed=12, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.1, p_answer=0.0))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.callbacks is not None
            dialer = svc.callbacks
            quick(dialer, ring_timeout=1, retry_delay=3600.0)
            await svc.acd.login("a1")
            first: Any = None
            for _ in range(200):
                first = await conn.fetchrow("SELECT state, attempts, due_at FROM callbacks")
                if first["attempts"] == 1 and first["state"] == "pending":
                    break
                await asyncio.sleep(0.05)
            assert first["state"] == "pending" and first["attempts"] == 1, first
            assert first["due_at"] > datetime.now(UTC) + timedelta(minutes=50), first
            dialer.retry_delay = 0.0
            await conn.execute("UPDATE callbacks SET due_at = now() - interval '1 second'")
            last: Any = None
            for _ in range(300):
                last = await conn.fetchrow("SELECT state, attempts FROM callbacks")
                if last["state"] == "failed":
                    break
                await asyncio.sleep(0.05)
            assert last["state"] == "failed" and last["attempts"] == 3, last
            assert svc.acd.snapshot()["queues"]["support"]["answered"] == 0
        finally:
            await run.shutdown()
    try:
        failed = await conn.fetch("SELECT payload FROM events WHERE type = 'callback.failed' ORDER BY id")
    finally:
        await conn.close()
    states = [json.loads(r["payload"])["state"] for r in failed]
    assert states == ["pending", "pending", "failed"], states


@pg
async def test_two_instances_never_claim_the_same_callback(pg_dsn: str) -> None:
    pools = [await asyncpg.create_pool(pg_dsn, min_size=1, max_size=2) for _ in range(2)]
    try:
        await pools[0].execute("INSERT INTO callbacks (caller_number, queue, due_at, agent_id) SELECT "
                               "'+1202555' || lpad(g::text, 4, '0'), 'support', now() - interval '1 minute', "
                               "CASE WHEN g % 5 = 0 THEN 'a9' END FROM generate_series(1, 40) g")
        sql = load_sql("callcore.service", "callback_claim_queue")
        now = datetime.now(UTC)
        for _ in range(3):
            got = await asyncio.gather(*(p.fetch(sql, now, 20, f"i{n}", "support", ["a1"])
                                         for n, p in enumerate(pools)))
            ids = [[r["id"] for r in rows] for rows in got]
            assert not set(ids[0]) & set(ids[1])
        claimed = await pools[0].fetch("SELECT id, agent_id FROM callbacks WHERE state = 'claimed'")
    finally:
        for p in pools:
            await p.close()
    assert len(claimed) == 32  # the 8 personal callbacks of a9 (not available) stay pending
    assert all(r["agent_id"] is None for r in claimed)


@pg
async def test_service_stores_an_inbound_callback_disposition(pg_dsn: str, tmp_path: Path) -> None:
    await seed(pg_dsn)
    async with SimAsterisk(seed=13, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.callback_requests is not None
            acd = svc.acd
            await acd.login("a1")
            call = await sim.inject_call(queue="support", caller_number="+12025550166", talk_time=0.3)
            await until(lambda: acd.agent_state("a1")["state"] == "on_call", "a1 on the call")
            await until(lambda: acd.agent_state("a1")["state"] != "on_call", "call over")
            at = datetime.now(UTC).timestamp() + 7200.0
            await acd.disposition("a1", "callback", callback_at=at)
            conn = await asyncpg.connect(pg_dsn)
            try:
                row: Any = None
                for _ in range(200):
                    row = await conn.fetchrow("SELECT caller_number, queue, agent_id, due_at FROM callbacks")
                    if row is not None:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()
        finally:
            await run.shutdown()
    assert row is not None, "no callbacks row"
    assert (row["caller_number"], row["queue"], row["agent_id"]) == ("+12025550166", "support", "a1"), call
    assert abs(row["due_at"].timestamp() - at) < 0.01


async def _outbound_attempt(pool: Any, state: str) -> int:
    cid = await pool.fetchval("INSERT INTO campaigns (name, mode, queue) VALUES ('c', 'preview', 'support') "
                              "RETURNING id")
    lead = await pool.fetchval("INSERT INTO leads (campaign_id, phone_e164, state, attempts) VALUES "
                               "($1, '+12025550150', $2, 1) RETURNING id", cid, state)
    await pool.execute("INSERT INTO dial_attempts (id, lead_id, campaign_id, number, started_at) VALUES "
                       "('dial-1', $1, $2, '+12025550150', now())", lead, cid)
    return int(lead)


class _Journal:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def append(self, type: str, payload: Any = None, **kw: Any) -> None:
        self.events.append((type, dict(payload or {})))


@pg
async def test_outbound_callback_disposition_makes_the_lead_personal(pg_pool: Any) -> None:
    lead = await _outbound_attempt(pg_pool, "dialing")
    clock = ManualClock(datetime.now(UTC).timestamp())
    requests = CallbackRequests(pg_pool, _Journal(), clock)
    at = clock.now() + 3600.0
    cmd = CallbackRequested("dial-1", "support", "", "", 0, 0, clock.now(), callback_at=at, agent_id="a1")
    assert await requests.store(cmd) is False  # the attempt's own result is not written yet
    await pg_pool.execute("UPDATE leads SET state = 'done', final_reason = 'human' WHERE id = $1", lead)
    assert await requests.store(cmd) is True
    row = await pg_pool.fetchrow("SELECT state, callback_agent, next_attempt_at, final_reason FROM leads")
    assert row["state"] == "callback" and row["callback_agent"] == "a1" and row["final_reason"] is None
    assert abs(row["next_attempt_at"].timestamp() - at) < 0.01
    assert await pg_pool.fetchval("SELECT count(*) FROM callbacks") == 0
    from callcore.dialer.store import DialerStore

    store = DialerStore(pg_pool)
    campaign = await pg_pool.fetchval("SELECT id FROM campaigns")
    assert await store.claim_leads(campaign, 5, "i1", at + 1) == []  # only for a1
    mine = await store.claim_leads(campaign, 5, "i1", at + 1, agent_id="a1")
    assert [m.id for m in mine] == [lead]


@pg
async def test_inbound_callback_disposition_adds_a_callbacks_row(pg_pool: Any) -> None:
    clock = ManualClock(datetime.now(UTC).timestamp())
    journal = _Journal()
    requests = CallbackRequests(pg_pool, journal, clock, retry=0.01)
    at = clock.now() + 600.0
    requests.on_callback(CallbackRequested("in-1", "support", "+12025550160", "", 1, 0, 0.0))  # keypress
    requests.on_callback(CallbackRequested("in-1", "support", "", "", 0, 0, clock.now(), callback_at=at,
                                           agent_id="a1"))
    assert requests.pending == 1
    worker = asyncio.create_task(requests.run())
    try:
        await asyncio.sleep(0.1)
        assert await pg_pool.fetchval("SELECT count(*) FROM callbacks") == 0  # no calls row yet: waits
        await pg_pool.execute("INSERT INTO calls (call_id, queue, caller_number) VALUES "
                              "('in-1', 'support', '+12025550160')")
        for _ in range(200):
            if await pg_pool.fetchval("SELECT count(*) FROM callbacks"):
                break
            await asyncio.sleep(0.02)
    finally:
        worker.cancel()
    rows = await pg_pool.fetch("SELECT caller_number, queue, agent_id, due_at, state FROM callbacks")
    assert len(rows) == 1, rows
    r = rows[0]
    assert (r["caller_number"], r["queue"], r["agent_id"], r["state"]) == ("+12025550160", "support", "a1",
                                                                           "pending")
    assert abs(r["due_at"].timestamp() - at) < 0.01
    assert [t for t, _ in journal.events] == ["callback.scheduled"]


def test_dialer_subscription_takes_only_its_channels() -> None:
    from callcore.ari import events as E
    from callcore.ari.models import Channel

    def started(ch: str) -> Any:
        return E.StasisStart(channel=Channel(id=ch, name=ch), args=["callback", "1"])

    assert CallbackDialer.wants(started("callback-1-1"))
    assert not CallbackDialer.wants(started("dial-abc"))


def test_callback_numbers_are_dialled_in_e164_like_leads() -> None:
    """Field: a keypress callback was dialled as the raw caller id 79161110061, without its +."""
    from callcore.dialer.phones import PhoneNormalizer
    from callcore.service.callbacks import callback_number

    ru, us = PhoneNormalizer("RU"), PhoneNormalizer("US")
    assert callback_number("79161110061", ru) == "+79161110061"
    assert callback_number("89161110061", ru) == "+79161110061"
    assert callback_number("79161110061", us) == "+79161110061"   # international without its +
    assert callback_number("2025550101", us) == "+12025550101"
    assert callback_number("+12025550101", ru) == "+12025550101"
    assert callback_number("anonymous", ru) is None and callback_number("", ru) is None
