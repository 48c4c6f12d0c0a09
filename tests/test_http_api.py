from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcore.config import Secret, Settings
from callcore.directory import records, store
from callcore.directory.model import build_agent, build_queue
from callcore.errors import ConfigError, Conflict, InputError, NotFound
from callcore.http.app import create_app
from callcore.http.auth import parse_static_tokens

ADMIN = {"Authorization": "Bearer admin-token-1"}
SUP = {"Authorization": "Bearer super-token-1"}
A1 = {"Authorization": "Bearer agent1-token"}
TOKENS = "admin-token-1=admin:root, super-token-1=supervisor:sue, agent1-token=agent:1001"


class FakeAcd:
    """In-memory AcdPort: agents 1001 and 1002, one call for 1001 in wrap-up after ``ring()``."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {
            a: {"id": a, "state": "logged_out", "since": 1_800_000_000.0} for a in ("1001", "1002")
        }
        self.calls: dict[str, dict[str, Any]] = {}
        self.streams: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.transfers: list[tuple[str, str | None, str | None]] = []
        self.supervised: list[tuple[str, str, str]] = []

    def _agent(self, agent_id: str) -> dict[str, Any]:
        if agent_id not in self.states:
            raise NotFound(f"agent {agent_id!r} is unknown")
        return self.states[agent_id]

    def _set(self, agent_id: str, state: str, **extra: Any) -> dict[str, Any]:
        st = self._agent(agent_id)
        st.update(state=state, pause_reason=extra.get("pause_reason", ""))
        self.streams.setdefault(agent_id, asyncio.Queue()).put_nowait({"event": "state", **st})
        return dict(st)

    async def login(self, agent_id: str, *, endpoint: str | None = None) -> dict[str, Any]:
        return self._set(agent_id, "available")

    async def logout(self, agent_id: str) -> dict[str, Any]:
        return self._set(agent_id, "logged_out")

    async def pause(self, agent_id: str, reason: str) -> dict[str, Any]:
        if self._agent(agent_id)["state"] == "logged_out":
            raise Conflict("agent is logged out")
        return self._set(agent_id, "paused", pause_reason=reason)

    async def ready(self, agent_id: str) -> dict[str, Any]:
        return self._set(agent_id, "available")

    def agent_state(self, agent_id: str) -> dict[str, Any]:
        return dict(self._agent(agent_id))

    def ring(self, agent_id: str) -> None:
        self.calls[agent_id] = {
            "call_id": "call-1",
            "caller_number": "+79001112233",
            "caller_name": "Ivan",
            "queue": "sales",
            "wait": 12.5,
            "script": "Hello Ivan",
        }
        self._set(agent_id, "wrap_up")

    def current_call(self, agent_id: str) -> dict[str, Any] | None:
        self._agent(agent_id)
        return self.calls.get(agent_id)

    async def disposition(
        self, agent_id: str, code: str, notes: str = "", callback_at: float | None = None
    ) -> dict[str, Any]:
        if self._agent(agent_id)["state"] != "wrap_up":
            raise Conflict("not in wrap-up")
        if code not in ("sale", "no_sale"):
            raise InputError(f"unknown disposition {code!r}", field="code")
        call = self.calls.pop(agent_id)
        self._set(agent_id, "available")
        return {"call_id": call["call_id"], "code": code, "callback_at": callback_at}

    async def transfer(self, agent_id: str, *, queue: str | None = None, number: str | None = None) -> dict[str, Any]:
        self.transfers.append((agent_id, queue, number))
        return {"transferred": True}

    async def call_control(self, agent_id: str, action: str) -> dict[str, Any]:
        if self.current_call(agent_id) is None:
            raise Conflict("no connected call")
        return {"action": action}

    async def consult(self, agent_id: str, *, number: str | None = None,
                      agent: str | None = None) -> dict[str, Any]:
        if self.current_call(agent_id) is None:
            raise Conflict("no connected call")
        return {"consulting": number or agent}

    async def dial(self, agent_id: str, *, number: str, queue: str, endpoint: str,
                   caller_id: str) -> dict[str, Any]:
        if self._agent(agent_id)["state"] == "logged_out":
            raise Conflict("not logged in")
        return {"dialing": number, "queue": queue}

    async def events(self, agent_id: str) -> AsyncIterator[dict[str, Any]]:
        q = self.streams.setdefault(agent_id, asyncio.Queue())
        while True:
            yield await q.get()

    def snapshot(self) -> dict[str, Any]:
        return {"queues": [{"name": "sales", "waiting": 0}], "agents": list(self.states.values())}

    async def supervise(self, agent_id: str, mode: str, supervisor_endpoint: str) -> dict[str, Any]:
        self._agent(agent_id)
        self.supervised.append((agent_id, mode, supervisor_endpoint))
        return {"snoop_channel": "snoop-1"}

    async def reload(self) -> None:
        return None


HEALTH: dict[str, Any] = {"ari_connected": True, "database_reachable": True, "journal_spilling": False}


def make_app(acd: FakeAcd | None, pool: Any) -> web.Application:
    return create_app(
        acd=acd,
        pool=pool,
        settings=Settings(api_tokens=Secret(TOKENS)),
        health=lambda: dict(HEALTH),
        metrics=lambda: b"callcore_up 1\n",
    )


@pytest.fixture
def fake_acd() -> FakeAcd:
    return FakeAcd()


@pytest.fixture
async def client(fake_acd: FakeAcd, pg_pool: Any) -> AsyncIterator[TestClient[Any, Any]]:
    await store.create_queue(pg_pool, build_queue({"name": "sales", "dispositions": ["sale", "no_sale"]}))
    await store.create_agent(pg_pool, build_agent({"id": "1001", "memberships": {"sales": 0}}))
    await store.create_agent(pg_pool, build_agent({"id": "1002"}))
    async with TestClient(TestServer(make_app(fake_acd, pg_pool))) as c:
        yield c


@pytest.fixture
async def bare() -> AsyncIterator[TestClient[Any, Any]]:
    """No ACD and no database."""
    async with TestClient(TestServer(make_app(None, None))) as c:
        yield c


async def err(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    data: dict[str, Any] = await resp.json()
    return data


# --- public endpoints and errors ------------------------------------------------------------------


async def test_health_ready_and_metrics(bare: TestClient[Any, Any]) -> None:
    assert (await bare.get("/healthz")).status == 200
    resp = await bare.get("/readyz")
    assert resp.status == 200 and (await resp.json())["ready"] is True
    HEALTH.update(database_reachable=False, journal_spilling=True)
    try:
        assert (await bare.get("/readyz")).status == 200
        HEALTH.update(journal_spilling=False, ari_connected=False)
        resp = await bare.get("/readyz")
        body = await resp.json()
        assert resp.status == 503 and body["ready"] is False
        assert body["checks"]["ari_connected"] is False and len(body["problems"]) == 2
    finally:
        HEALTH.update(ari_connected=True, database_reachable=True, journal_spilling=False)
    metrics = await bare.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain") and await metrics.text() == "callcore_up 1\n"


async def test_readiness_reports_overload_and_stays_ready(bare: TestClient[Any, Any]) -> None:
    body = await (await bare.get("/readyz")).json()
    assert body["overloaded"] is False and body["degraded"] == []
    HEALTH["load"] = {"overloaded": True, "overloaded_for_s": 3.5, "loop_lag_recent_max_s": 0.8}
    try:
        resp = await bare.get("/readyz")
        body = await resp.json()
        # still routing calls: ready, but says it is overloaded and what is shed
        assert resp.status == 200 and body["ready"] is True and body["overloaded"] is True
        assert "overloaded for 3.5 s" in body["degraded"][0] and "0.8 s" in body["degraded"][0]
        assert body["checks"]["load"]["overloaded"] is True
    finally:
        HEALTH.pop("load")


async def test_auth_errors_and_unavailable_dependencies(bare: TestClient[Any, Any]) -> None:
    e = await err(await bare.post("/api/v1/agents/1001/login"), 401)
    assert e["code"] == "unauthorized"
    await err(await bare.post("/api/v1/agents/1001/login", headers={"Authorization": "Bearer nope"}), 401)
    e = await err(await bare.post("/api/v1/agents/1002/login", headers=A1), 403)
    assert e["code"] == "forbidden"
    await err(await bare.post("/api/v1/queues", headers=SUP, json={"name": "x"}), 403)
    e = await err(await bare.post("/api/v1/agents/1001/login", headers=A1), 503)
    assert e["code"] == "unavailable"
    await err(await bare.get("/api/v1/queues", headers=SUP), 503)
    e = await err(await bare.get("/api/v1/nothing-here", headers=SUP), 404)
    assert e["code"] == "not_found"


def test_static_token_setting_is_checked_without_showing_tokens() -> None:
    assert parse_static_tokens("abcdefgh=agent:7")
    for bad in (
        "abcdefgh",
        "abcdefgh=agent",
        "abcdefgh=king:x",
        "short=admin:x",
        "abcdefgh=admin:x,abcdefgh=agent:y",
    ):
        with pytest.raises(ConfigError) as exc:
            parse_static_tokens(bad)
        assert "abcdefgh" not in str(exc.value) and exc.value.setting == "CALLCORE_API_TOKENS"


# --- operator ------------------------------------------------------------------------------------


async def test_operator_session_and_pause_reason_is_persisted(client: TestClient[Any, Any], pg_pool: Any) -> None:
    e = await err(await client.post("/api/v1/agents/1001/pause", headers=A1, json={"reason": "lunch"}), 409)
    assert e["code"] == "conflict"
    resp = await client.post("/api/v1/agents/1001/login", headers=A1, json={"endpoint": "PJSIP/1001"})
    assert resp.status == 200 and (await resp.json())["state"] == "available"
    e = await err(await client.post("/api/v1/agents/1001/pause", headers=A1, json={}), 422)
    assert e["field"] == "reason"
    e = await err(await client.post("/api/v1/agents/1001/pause", headers=A1, data=b"{oops"), 400)
    assert e["code"] == "bad_request"
    e = await err(await client.post("/api/v1/agents/1001/pause", headers=A1, json={"reason": "x", "why": 1}), 400)
    assert e["field"] == "why"
    resp = await client.post("/api/v1/agents/1001/pause", headers=A1, json={"reason": "lunch"})
    assert (await resp.json())["pause_reason"] == "lunch"
    saved = await store.load_agent_states(pg_pool)
    assert (saved["1001"].state, saved["1001"].pause_reason) == ("paused", "lunch")
    assert (await (await client.get("/api/v1/agents/1001/state", headers=A1)).json())["state"] == "paused"
    await err(await client.post("/api/v1/agents/9999/login", headers=SUP), 404)


async def test_call_disposition_ticket_and_transfer(
    client: TestClient[Any, Any], fake_acd: FakeAcd, pg_pool: Any
) -> None:
    assert (await (await client.get("/api/v1/agents/1001/call", headers=A1)).json()) == {"call": None}
    await err(await client.post("/api/v1/agents/1001/disposition", headers=A1, json={"code": "sale"}), 409)
    fake_acd.ring("1001")
    from datetime import UTC, datetime

    await records.record_call_entered(
        pg_pool, call_id="call-1", queue="sales", entered_at=datetime(2026, 11, 2, tzinfo=UTC)
    )
    call = (await (await client.get("/api/v1/agents/1001/call", headers=A1)).json())["call"]
    assert call["caller_name"] == "Ivan" and call["script"] == "Hello Ivan"

    resp = await client.post("/api/v1/agents/1001/tickets", headers=A1, json={"type": "claim", "text": "broken"})
    assert resp.status == 201
    ticket = await resp.json()
    assert (ticket["call_id"], ticket["caller_number"], ticket["status"]) == (
        "call-1",
        "+79001112233",
        "open",
    )
    e = await err(await client.post("/api/v1/agents/1001/tickets", headers=A1, json={"type": "x", "text": "y"}), 422)
    assert e["field"] == "type"
    listed = await (await client.get("/api/v1/agents/1001/tickets", headers=A1)).json()
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]

    e = await err(await client.post("/api/v1/agents/1001/transfer", headers=A1, json={}), 422)
    e = await err(
        await client.post("/api/v1/agents/1001/transfer", headers=A1, json={"queue": "a", "number": "1"}), 422
    )
    assert (await client.post("/api/v1/agents/1001/transfer", headers=A1, json={"number": "200"})).status == 200
    assert fake_acd.transfers == [("1001", None, "200")]

    e = await err(await client.post("/api/v1/agents/1001/disposition", headers=A1, json={"code": "zzz"}), 422)
    assert e["field"] == "code"
    e = await err(
        await client.post(
            "/api/v1/agents/1001/disposition", headers=A1, json={"code": "sale", "callback_at": "tomorrow"}
        ),
        422,
    )
    assert e["field"] == "callback_at"
    resp = await client.post(
        "/api/v1/agents/1001/disposition",
        headers=A1,
        json={"code": "sale", "notes": "2 units", "callback_at": "2026-11-03T10:00:00+00:00"},
    )
    assert resp.status == 200
    rec = await records.get_call(pg_pool, "call-1")
    assert (rec.disposition_code, rec.disposition_notes) == ("sale", "2 units")
    assert rec.callback_at == datetime(2026, 11, 3, 10, tzinfo=UTC)


async def read_event(resp: Any, kind: str) -> dict[str, Any]:
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


async def test_help_request_answer_reaches_agent_stream(client: TestClient[Any, Any]) -> None:
    stream = await client.get("/api/v1/agents/1001/events", headers=A1)
    sup_stream = await client.get("/api/v1/supervisor/events?access_token=super-token-1")
    assert stream.headers["Content-Type"] == "text/event-stream" and sup_stream.status == 200
    await client.post("/api/v1/agents/1001/login", headers=A1)
    assert (await read_event(stream, "state"))["state"] == "available"

    resp = await client.post("/api/v1/agents/1001/help", headers=A1, json={"text": "refund?"})
    req = await resp.json()
    assert resp.status == 201 and (await read_event(sup_stream, "help_request"))["id"] == req["id"]
    open_reqs = await (await client.get("/api/v1/help-requests", headers=SUP)).json()
    assert [r["id"] for r in open_reqs["help_requests"]] == [req["id"]]
    await err(await client.get("/api/v1/help-requests", headers=A1), 403)
    resp = await client.post(f"/api/v1/help-requests/{req['id']}/answer", headers=SUP, json={"note": "yes, 10%"})
    assert resp.status == 200
    pushed = await read_event(stream, "help_answer")
    assert (pushed["id"], pushed["answer_note"], pushed["answered_by"]) == (req["id"], "yes, 10%", "sue")
    await err(await client.post(f"/api/v1/help-requests/{req['id']}/answer", headers=SUP, json={"note": "x"}), 409)
    await err(await client.post("/api/v1/help-requests/abc/answer", headers=SUP, json={"note": "x"}), 400)
    stream.close()
    sup_stream.close()


async def test_supervisor_snapshot_and_supervise(client: TestClient[Any, Any], fake_acd: FakeAcd) -> None:
    snap = await (await client.get("/api/v1/snapshot", headers=SUP)).json()
    assert snap["queues"][0]["name"] == "sales"
    body = {"agent_id": "1001", "mode": "whisper", "endpoint": "PJSIP/sup"}
    await err(await client.post("/api/v1/supervise", headers=A1, json=body), 403)
    e = await err(await client.post("/api/v1/supervise", headers=SUP, json={**body, "mode": "spy"}), 422)
    assert e["field"] == "mode"
    assert (await client.post("/api/v1/supervise", headers=SUP, json=body)).status == 200
    assert fake_acd.supervised == [("1001", "whisper", "PJSIP/sup")]


# --- admin ---------------------------------------------------------------------------------------


async def test_admin_queue_and_agent_crud(client: TestClient[Any, Any], pg_pool: Any) -> None:
    resp = await client.post(
        "/api/v1/queues",
        headers=ADMIN,
        json={
            "name": "support",
            "strategy": "ring-all",
            "wrapup_time": 5,
            "skills": ["lang=ru>=2, after 30 s >=1"],
        },
    )
    assert resp.status == 201
    created = await resp.json()
    assert created["skills"] == [{"skill": "lang=ru", "min_level": 2, "relax": [{"after": 30.0, "level": 1}]}]
    await err(await client.post("/api/v1/queues", headers=ADMIN, json={"name": "support"}), 409)
    e = await err(await client.post("/api/v1/queues", headers=ADMIN, json={"name": "q2", "strategy": "best"}), 422)
    assert e["field"] == "strategy"
    e = await err(await client.patch("/api/v1/queues/support", headers=ADMIN, json={"max_wait": -1}), 422)
    assert e["field"] == "max_wait"
    resp = await client.patch("/api/v1/queues/support", headers=ADMIN, json={"max_wait": 90})
    assert (await resp.json())["max_wait"] == 90.0 and (await store.get_queue(pg_pool, "support")).max_wait == 90
    names = [q["name"] for q in (await (await client.get("/api/v1/queues", headers=SUP)).json())["queues"]]
    assert names == ["sales", "support"]

    resp = await client.post(
        "/api/v1/agents",
        headers=ADMIN,
        json={
            "id": "2001",
            "name": "Bob",
            "endpoint": "PJSIP/2001",
            "skills": {"lang=ru": 3},
            "memberships": {"support": 1},
        },
    )
    assert resp.status == 201
    e = await err(await client.post("/api/v1/agents", headers=ADMIN, json={"id": "2002", "endpoint": "bad"}), 422)
    assert e["field"] == "endpoint"
    resp = await client.put("/api/v1/agents/2001/memberships/sales", headers=ADMIN, json={"penalty": 2})
    assert (await resp.json())["memberships"] == {"sales": 2, "support": 1}
    await err(await client.put("/api/v1/agents/2001/memberships/nope", headers=ADMIN, json={}), 404)
    resp = await client.delete("/api/v1/agents/2001/memberships/support", headers=ADMIN)
    assert (await resp.json())["memberships"] == {"sales": 2}
    resp = await client.patch("/api/v1/agents/2001", headers=ADMIN, json={"name": "Robert"})
    assert (await resp.json())["name"] == "Robert"

    token = (await (await client.post("/api/v1/agents/2001/token", headers=ADMIN)).json())["token"]
    bob = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/agents/1001/state", headers=bob)).status == 403
    await err(await client.get("/api/v1/agents/2001/state", headers=bob), 404)  # known to the DB, not the ACD
    await err(await client.get("/api/v1/agents/2001", headers=bob), 403)

    assert (await client.delete("/api/v1/queues/support", headers=ADMIN)).status == 200
    await err(await client.get("/api/v1/queues/support", headers=SUP), 404)
    assert (await client.delete("/api/v1/agents/2001", headers=ADMIN)).status == 200
    await err(await client.get("/api/v1/agents/2001/state", headers=bob), 401)


async def test_queue_report_endpoint(client: TestClient[Any, Any], pg_pool: Any) -> None:
    import uuid
    from datetime import UTC, datetime

    rows = [
        ("c1", "call.queued", {}),
        ("c1", "call.answered", {"wait": 4.0}),
        ("c2", "call.queued", {}),
        ("c2", "call.abandoned", {"wait": 30.0}),
    ]
    await pg_pool.executemany(
        "INSERT INTO events (event_key, ts, type, instance, call_id, queue, payload) "
        "VALUES ($1, $2, $3, 't', $4, 'sales', $5::text::jsonb)",
        [
            (uuid.uuid4(), datetime(2026, 11, 2, 10, i, tzinfo=UTC), t, c, json.dumps(p))
            for i, (c, t, p) in enumerate(rows)
        ],
    )
    resp = await client.get("/api/v1/reports/queues?since=2026-11-02&until=2026-11-03", headers=SUP)
    assert resp.status == 200
    (sales,) = (await resp.json())["queues"]
    assert (sales["offered"], sales["answered"], sales["abandoned"], sales["asa"]) == (2, 1, 1, 4.0)
    assert sales["service_level"] == 0.5 and sales["abandonment_rate"] == 0.5
    e = await err(await client.get("/api/v1/reports/queues", headers=SUP), 400)
    assert e["field"] == "since"
    e = await err(await client.get("/api/v1/reports/queues?since=2026-11-03&until=2026-11-02", headers=SUP), 422)
    assert e["field"] == "until"
    await err(await client.get("/api/v1/reports/queues?since=2026-11-02", headers=A1), 403)
    for bad in ("7.180657796273398e16", "-1", "nan", "86400.5"):  # outside what the OpenAPI document declares
        e = await err(await client.get(f"/api/v1/reports/queues?since=2026-11-02&sl_threshold={bad}",
                                       headers=SUP), 400)
        assert e["field"] == "sl_threshold", bad
    resp = await client.get("/api/v1/reports/queues?since=2026-11-02&sl_threshold=86400", headers=SUP)
    assert resp.status == 200


async def test_shutdown_ends_open_event_streams(fake_acd: FakeAcd) -> None:
    """An open SSE stream must not hold a graceful shutdown (AppRunner.cleanup) open."""
    import aiohttp

    from callcore.http.sse import EventHub

    hub = EventHub()
    app = create_app(
        acd=fake_acd, pool=None, settings=Settings(api_tokens=Secret(TOKENS)), health=dict, metrics=lambda: b"", hub=hub
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        stream = await session.get(f"http://127.0.0.1:{port}/api/v1/agents/1001/events", headers=A1)
        assert (await stream.content.readline()) == b": connected\n"
        assert len(hub.streams) == 1
        await asyncio.wait_for(runner.cleanup(), 30)  # hangs here when streams are not ended
        assert hub.streams == set() and hub.subscribers("1001") == 0
        assert (await stream.content.read()).strip() == b""  # ends cleanly, no payload error


async def test_requests_are_counted_by_route(bare: TestClient[Any, Any]) -> None:
    from callcore.metrics import REGISTRY

    def count(route: str, status: str) -> float:
        labels = {"method": "POST", "route": route, "status": status}
        return REGISTRY.get_sample_value("callcore_http_requests_total", labels) or 0.0

    route = "/api/v1/agents/{agent_id}/login"
    before_401, before_503 = count(route, "401"), count(route, "503")
    await bare.post("/api/v1/agents/1001/login")
    await bare.post("/api/v1/agents/1002/login")
    await bare.post("/api/v1/agents/1001/login", headers=A1)
    assert (count(route, "401"), count(route, "503")) == (before_401 + 2, before_503 + 1)


async def test_call_list_endpoint(client: TestClient[Any, Any], pg_pool: Any) -> None:
    from datetime import UTC, datetime

    for i, outcome in enumerate(["answered", "abandoned", "abandoned"]):
        await records.record_call_entered(
            pg_pool,
            call_id=f"k{i}",
            queue="sales",
            caller_number=f"+100{i}",
            entered_at=datetime(2026, 11, 2, 9, i, tzinfo=UTC),
        )
        await records.record_call_ended(
            pg_pool, call_id=f"k{i}", outcome=outcome, ended_at=datetime(2026, 11, 2, 9, i, 30, tzinfo=UTC)
        )
    resp = await client.get("/api/v1/calls?since=2026-11-02&outcome=abandoned", headers=SUP)
    assert [c["caller_number"] for c in (await resp.json())["calls"]] == ["+1001", "+1002"]
    resp = await client.get("/api/v1/calls?since=2026-11-02&limit=1", headers=SUP)
    assert [c["call_id"] for c in (await resp.json())["calls"]] == ["k0"]
    e = await err(await client.get("/api/v1/calls?since=2026-11-02&outcome=lost", headers=SUP), 422)
    assert e["field"] == "outcome"
    await err(await client.get("/api/v1/calls?since=2026-11-02", headers=A1), 403)
    for bad in ("0", "-5"):  # the OpenAPI document declares minimum 1
        e = await err(await client.get(f"/api/v1/calls?since=2026-11-02&limit={bad}", headers=SUP), 400)
        assert e["field"] == "limit", bad
