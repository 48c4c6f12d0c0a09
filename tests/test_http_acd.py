"""The HTTP API on the real AcdService (FakeAri), configured from the directory in PostgreSQL, and the
reports computed from the journal it writes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcore.acd.runtime.service import AcdService
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.config import Secret, Settings
from callcore.directory import records, store
from callcore.directory.model import build_agent, build_queue
from callcore.directory.queuelog import queue_log_lines
from callcore.directory.stats import EventRow, queue_stats
from callcore.http.app import create_app
from callcore.store.api import MemoryJournal

SUP = {"Authorization": "Bearer super-token-1"}


class Rig:
    def __init__(self, svc: AcdService, fake: FakeAri, clock: ManualClock, journal: MemoryJournal) -> None:
        self.svc, self.fake, self.clock, self.journal = svc, fake, clock, journal

    async def settle(self) -> None:
        for _ in range(5):
            for _ in range(10):
                await asyncio.sleep(0)
            await self.svc.drain()

    def rows(self) -> list[EventRow]:
        return [
            EventRow(e.ts, e.type, e.call_id, e.agent_id, e.queue, dict(e.payload), e.channel_id)
            for e in self.journal.events
        ]


@pytest.fixture
async def rig(pg_pool: Any) -> AsyncIterator[tuple[Rig, TestClient[Any, Any], str]]:
    await store.create_queue(
        pg_pool,
        build_queue(
            {"name": "sales", "wrapup_time": 30, "dispositions": ["sale"], "script": "Hello {caller_number}"}
        ),
    )
    await store.create_agent(
        pg_pool, build_agent({"id": "a1", "name": "Ann", "endpoint": "PJSIP/a1", "memberships": {"sales": 0}})
    )
    token = await store.issue_agent_token(pg_pool, "a1")
    directory = await store.load_directory(pg_pool)
    clock = ManualClock()
    fake = FakeAri(clock=clock)
    journal = MemoryJournal()
    svc = AcdService(
        fake, journal, clock, directory.queues, directory.agents, loader=store.directory_loader(pg_pool)
    )
    sub = fake.events("acd-http-test")
    task = asyncio.create_task(svc.run(sub), name="acd-under-http-test")
    app = create_app(
        acd=svc,
        pool=pg_pool,
        settings=Settings(api_tokens=Secret("super-token-1=supervisor:sue")),
        health=dict,
        metrics=lambda: b"",
    )
    async with TestClient(TestServer(app)) as client:
        yield Rig(svc, fake, clock, journal), client, token
    sub.close()
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


async def next_event(resp: Any, kind: str) -> dict[str, Any]:
    async def scan() -> dict[str, Any]:
        current = ""
        while True:
            line = (await resp.content.readline()).decode()
            if line.startswith("event: "):
                current = line[7:].strip()
            elif line.startswith("data: ") and current == kind:
                data: dict[str, Any] = json.loads(line[6:])
                return data

    return await asyncio.wait_for(scan(), 10)


async def test_call_through_the_api(rig: tuple[Rig, TestClient[Any, Any], str], pg_pool: Any) -> None:
    r, client, token = rig
    me = {"Authorization": f"Bearer {token}"}
    stream = await client.get("/api/v1/agents/a1/events", headers=me)
    assert (await next_event(stream, "state"))["state"] == "logged_out"
    resp = await client.post("/api/v1/agents/a1/login", headers=me, json={})
    assert resp.status == 200 and (await resp.json())["state"] == "available"

    cid = r.fake.inject_call("+15550001", args=("inbound", "sales"))
    await r.settle()
    (leg,) = [kw["channel_id"] for kw in r.fake.calls_to("originate")]
    r.clock.advance(6)
    r.fake.answer_originated(leg)
    await r.settle()
    offered = await next_event(stream, "call")
    assert offered["caller_number"] == "+15550001"
    call = (await (await client.get("/api/v1/agents/a1/call", headers=me)).json())["call"]
    assert call["script"] == "Hello +15550001" and call["queue"] == "sales"

    r.clock.advance(40)
    r.fake.remote_hangup(cid)
    await r.settle()
    state = await (await client.get("/api/v1/agents/a1/state", headers=me)).json()
    assert state["state"] == "wrap_up"
    resp = await client.post(
        "/api/v1/agents/a1/tickets", headers=me, json={"type": "request", "text": "brochure"}
    )
    assert resp.status == 201 and (await resp.json())["call_id"] == state["call_id"]
    resp = await client.post("/api/v1/agents/a1/disposition", headers=me, json={"code": "nope"})
    assert resp.status == 422 and (await resp.json())["field"] == "code"
    r.clock.advance(5)
    resp = await client.post("/api/v1/agents/a1/disposition", headers=me, json={"code": "sale"})
    assert resp.status == 200 and (await resp.json())["state"] == "available"
    resp = await client.post("/api/v1/agents/a1/disposition", headers=me, json={"code": "sale"})
    assert resp.status == 409

    resp = await client.post("/api/v1/agents/a1/pause", headers=me, json={"reason": "training"})
    assert (await resp.json())["pause_reason"] == "training"
    saved = (await store.load_agent_states(pg_pool))["a1"]
    assert (saved.state, saved.pause_reason) == ("paused", "training")
    assert [p.pause_reason for p in await store.persisted_agents(pg_pool)] == ["training"]
    snap = await (await client.get("/api/v1/snapshot", headers=SUP)).json()
    assert snap
    stream.close()

    rows = r.rows()
    sales = queue_stats(rows)["sales"]
    assert (sales.offered, sales.answered, sales.abandoned) == (1, 1, 0)
    assert sales.asa == 6.0 and sales.avg_talk == 40.0 and sales.avg_wrapup == 5.0 and sales.aht == 45.0
    lines = list(queue_log_lines(rows, {"a1": ["sales"]}))
    kinds = [line.split("|")[4] for line in lines]
    assert kinds == ["ADDMEMBER", "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "PAUSE"], lines

    # call records are rebuilt from the journal once it reaches PostgreSQL
    await pg_pool.executemany(
        "INSERT INTO events (event_key, ts, type, instance, call_id, channel_id, agent_id, queue, payload) "
        "VALUES ($1, to_timestamp($2), $3, 'test', $4, $5, $6, $7, $8::text::jsonb)",
        [
            (
                uuid.uuid4(),
                e.ts,
                e.type,
                e.call_id,
                e.channel_id,
                e.agent_id,
                e.queue,
                json.dumps(dict(e.payload)),
            )
            for e in r.journal.events
        ],
    )
    assert await records.refresh_calls(pg_pool, since=None) == 1
    assert await records.refresh_calls(pg_pool, since=None) == 1  # idempotent
    rec = await records.get_call(pg_pool, call["call_id"])
    assert (rec.queue, rec.caller_number, rec.agent_id, rec.outcome) == (
        "sales",
        "+15550001",
        "a1",
        "answered",
    )
    assert rec.disposition_code == "sale" and rec.channel_id == cid
    assert rec.answered_at is not None and (rec.answered_at - rec.entered_at).total_seconds() == 6


async def test_reload_applies_directory_changes(
    rig: tuple[Rig, TestClient[Any, Any], str], pg_pool: Any
) -> None:
    r, client, _ = rig
    resp = await client.get("/api/v1/agents/b2/state", headers=SUP)
    assert resp.status == 404
    await store.create_agent(pg_pool, build_agent({"id": "b2", "memberships": {"sales": 1}}))
    await r.svc.reload()
    await r.settle()
    resp = await client.get("/api/v1/agents/b2/state", headers=SUP)
    assert resp.status == 200 and (await resp.json())["state"] == "logged_out"
