"""Every error the API answers is RFC 9457 problem details, and hostile input gets a 4xx naming the place:
deep JSON, ids beyond int64, U+0000 in text, path or query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcore.config import Secret, Settings
from callcore.http.app import create_app

AGENT = {"Authorization": "Bearer agent1-token"}
SUP = {"Authorization": "Bearer super-token-1"}
TOKENS = "super-token-1=supervisor:sue, agent1-token=agent:1001"


class PauseOnly:
    """Only pause is reachable in these tests; it records what it was given."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def pause(self, agent_id: str, reason: str) -> dict[str, Any]:
        self.reasons.append(reason)
        return {"id": agent_id, "state": "paused", "pause_reason": reason}


@pytest.fixture
async def client() -> AsyncIterator[tuple[TestClient[Any, Any], PauseOnly]]:
    acd = PauseOnly()
    app = create_app(acd=acd, pool=None, settings=Settings(api_tokens=Secret(TOKENS)),  # type: ignore[arg-type]
                     health=lambda: {}, metrics=lambda: b"")
    async with TestClient(TestServer(app)) as c:
        yield c, acd


async def problem(resp: Any, status: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/problem+json"
    data: dict[str, Any] = await resp.json(content_type=None)
    assert data["status"] == status
    assert {"type", "title", "status", "detail", "code"} <= data.keys()
    return data


async def test_deep_json_array_is_a_400(client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, acd = client
    deep = "[" * 100_000 + "]" * 100_000
    resp = await c.post("/api/v1/agents/1001/pause", headers={**AGENT, "Content-Type": "application/json"},
                        data=deep)
    p = await problem(resp, 400)
    assert "deep" in p["detail"]
    nested: Any = 1
    for _ in range(40):
        nested = [nested]
    resp = await c.post("/api/v1/agents/1001/pause", headers=AGENT, json={"reason": "x", "extra": nested})
    assert resp.status == 400
    assert acd.reasons == []


async def test_id_beyond_int64_in_the_path_is_a_400(client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, _ = client
    p = await problem(await c.post("/api/v1/tickets/99999999999999999999999/close", headers=SUP), 400)
    assert p["field"] == "ticket_id" and "64-bit" in p["detail"]
    p = await problem(await c.post("/api/v1/help-requests/-9223372036854775809/answer", headers=SUP,
                                   json={"note": "x"}), 400)
    assert p["field"] == "request_id"


async def test_nul_in_a_pause_reason_is_refused_naming_the_field(
        client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, acd = client
    p = await problem(await c.post("/api/v1/agents/1001/pause", headers=AGENT, json={"reason": "lunch\x00"}),
                      400)
    assert p["field"] == "reason" and "U+0000" in p["detail"]
    assert acd.reasons == []   # never reaches the ACD, so never a journal event PostgreSQL cannot store
    resp = await c.post("/api/v1/agents/1001/pause", headers=AGENT, json={"reason": "lunch"})
    assert resp.status == 200 and acd.reasons == ["lunch"]


async def test_nul_in_ticket_text_query_and_keys(client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, _ = client
    p = await problem(await c.post("/api/v1/agents/1001/tickets", headers=AGENT,
                                   json={"type": "complaint", "text": "broken\x00router"}), 400)
    assert p["field"] == "text"
    p = await problem(await c.get("/api/v1/tickets", headers=SUP, params={"agent_id": "a\x00b"}), 400)
    assert p["field"] == "agent_id"
    p = await problem(await c.post("/api/v1/agents/1001/pause", headers=AGENT,
                                   json={"reason": "x", "k\x00": 1}), 400)
    assert p["field"] == "k\x00"


async def test_integers_beyond_int64_in_a_body_are_refused(client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, _ = client
    p = await problem(await c.post("/api/v1/agents/1001/preview/call", headers=AGENT,
                                   json={"campaign": "a", "lead_id": 2 ** 64}), 422)
    assert p["field"] == "lead_id"


async def test_plain_http_errors_are_problems_too(client: tuple[TestClient[Any, Any], PauseOnly]) -> None:
    c, _ = client
    p = await problem(await c.get("/api/v1/no-such-thing"), 404)
    assert p["type"] == "about:blank"
    resp = await c.put("/api/v1/agents/1001/pause", headers=AGENT)
    p = await problem(resp, 405)
    assert "POST" in resp.headers["Allow"]
    p = await problem(await c.get("/api/v1/agents/1001/state"), 401)
    assert p["type"] == "urn:callcore:problem:unauthorized" and p["code"] == "unauthorized"
    p = await problem(await c.get("/api/v1/queues", headers=SUP), 503)
    assert p["code"] == "unavailable"
    big = b'{"reason": "' + b"x" * (2 << 20) + b'"}'
    p = await problem(await c.post("/api/v1/agents/1001/pause", headers={**AGENT, "Content-Type": "application/json"},
                                   data=big), 413)
