"""The API while PostgreSQL is really unreachable (the service's connections go through a TCP proxy that is
cut): operators keep working with agent tokens and browser sessions, and every route that needs the database
answers a 503 problem with Retry-After, never a 500."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pgproxy import Proxy
from test_service_runtime import Running, seed, service_settings, start

from callcore.directory import store
from callcore.http.routes import openapi
from callcore.sim import EndpointBehaviour, SimAsterisk
from callcore.store.db import open_pool
from callcore.web import accounts

pytestmark = pytest.mark.postgres

ADMIN = {"Authorization": "Bearer test-admin-token"}
PASSWORD = "correct horse battery"
PATH_VALUES = {"agent_id": "a1", "name": "sales", "queue": "sales", "login": "a1", "number": "+15551230000",
               "ticket_id": "1", "request_id": "1", "department_id": "1", "flag_id": "1"}
TIME = "2026-01-01T00:00:00+00:00"
# Routes that only read or change routing state in memory: they must keep answering 2xx during an outage.
OPERATOR_ROUTING = [("POST", "login"), ("GET", "state"), ("POST", "pause"), ("POST", "ready"), ("GET", "call"),
                    ("GET", "desk"), ("POST", "logout")]
# Routes whose answer lives only in PostgreSQL: they must answer 503 during an outage.
DATABASE_ONLY = {("GET", "/api/v1/queues"), ("POST", "/api/v1/queues"), ("GET", "/api/v1/queues/{name}"),
                 ("PATCH", "/api/v1/queues/{name}"), ("DELETE", "/api/v1/queues/{name}"),
                 ("GET", "/api/v1/agents"), ("POST", "/api/v1/agents"), ("GET", "/api/v1/agents/{agent_id}"),
                 ("POST", "/api/v1/agents/{agent_id}/token"), ("GET", "/api/v1/accounts"),
                 ("PUT", "/api/v1/accounts/{login}"), ("GET", "/api/v1/reports/queues"), ("GET", "/api/v1/calls"),
                 ("GET", "/api/v1/tickets"), ("GET", "/api/v1/help-requests"), ("POST", "/api/v1/session")}


@dataclass
class Outage:
    run: Running
    proxy: Proxy
    agent_token: str
    cookie: str
    csrf: str
    other_cookie: str
    other_csrf: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.run.service.http_port}"


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A small valid value of a JSON schema of the document (enough to get past validation)."""
    schema = _resolve(schema, doc)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example(schema[key][0], doc)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(props[k], doc) for k in schema.get("required", []) if k in props}
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if schema.get("format") == "date-time":
        return TIME
    return "x" * max(1, int(schema.get("minLength", 1))) if "pattern" not in schema else "sales"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = openapi()
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            sse = "text/event-stream" in op["responses"].get("200", {}).get("content", {})
            if path.startswith("/api/v1/") and not path.endswith("openapi.json") and not sse:
                out.append((method.upper(), path, op))
    return out


@pytest.fixture
async def outage(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Outage]:
    await seed(pg_dsn)
    pool = await open_pool(pg_dsn, 1)
    try:
        token = await store.issue_agent_token(pool, "a1")
        await accounts.set_password(pool, "a1", "agent", PASSWORD)
        # a session opened on another instance: known here only through the cache loaded at start
        elsewhere = await accounts.Sessions(3600).sign_in(pool, "a1", PASSWORD)
        assert elsewhere is not None
    finally:
        await pool.close()
    host, _, port = pg_dsn.split("@", 1)[1].split("/", 1)[0].partition(":")
    proxy = Proxy(host, int(port or 5432))
    await proxy.start()
    async with SimAsterisk(seed=5, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        run = await start(service_settings(sim, tmp_path), proxy.dsn(pg_dsn))
        try:
            url = f"http://127.0.0.1:{run.service.http_port}"
            async with aiohttp.ClientSession() as http, http.post(
                    f"{url}/api/v1/session", json={"login": "a1", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf"]
                cookie = r.cookies["callcore_session"].value
            proxy.cut()
            yield Outage(run, proxy, token, cookie, csrf, elsewhere[0], elsewhere[1].csrf)
        finally:
            await run.shutdown()
            await proxy.close()


async def _call(http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
                body: Any = None) -> tuple[int, str, dict[str, str]]:
    async with http.request(method, url, headers=headers, json=body) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_operators_keep_working_with_agent_tokens_and_sessions(outage: Outage) -> None:
    agent = f"{outage.url}/api/v1/agents/a1"
    async with aiohttp.ClientSession() as http:
        for who, headers in (("token", {"Authorization": f"Bearer {outage.agent_token}"}),
                             ("session", {"Cookie": f"callcore_session={outage.cookie}",
                                          "X-CSRF-Token": outage.csrf}),
                             ("other instance's session", {"Cookie": f"callcore_session={outage.other_cookie}",
                                                           "X-CSRF-Token": outage.other_csrf})):
            for method, action in OPERATOR_ROUTING:
                body = {"reason": "break"} if action == "pause" else None
                status, text, _ = await _call(http, method, f"{agent}/{action}", headers, body)
                assert status == 200, (who, method, action, status, text)
            status, _, _ = await _call(http, "GET", f"{agent}/state", {"Authorization": "Bearer cca_not-issued"})
            assert status == 401
            status, text, _ = await _call(http, "GET", f"{outage.url}/api/v1/session", headers)
            assert status == 200 and '"login":"a1"' in text.replace(" ", ""), text
        assert outage.run.service.acd is not None
        assert outage.run.service.acd.agent_state("a1")["state"] == "logged_out"


async def test_every_database_route_answers_503_problem_while_postgresql_is_down(outage: Outage) -> None:
    doc = openapi()
    seen_503: set[tuple[str, str]] = set()
    failures: list[tuple[str, str, object, object]] = []
    async with aiohttp.ClientSession() as http:
        for method, path, op in operations():
            url = outage.url + re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], path)
            query = {p["name"]: TIME for p in op.get("parameters", []) if p["in"] == "query" and p["required"]}
            body = None
            if "requestBody" in op:
                body = example(op["requestBody"]["content"]["application/json"]["schema"], doc)
            if path == "/api/v1/session" and method == "POST":
                body = {"login": "a1", "password": PASSWORD}
            async with http.request(method, url, params=query, json=body, headers=ADMIN) as r:
                status, text, headers = r.status, await r.text(), r.headers
            if status == 503:
                seen_503.add((method, path))
                if r.content_type != "application/problem+json" or "Retry-After" not in headers:
                    failures.append((method, path, "503 without problem+json and Retry-After", dict(headers)))
            elif status >= 500 and status != 502:
                failures.append((method, path, status, text))
    assert not failures, failures
    missing = DATABASE_ONLY - seen_503
    assert not missing, f"answered without the database although they need it: {sorted(missing)}"
    async with aiohttp.ClientSession() as http:
        status, text, answered = await _call(http, "GET", f"{outage.url}/api/v1/queues", ADMIN)
    assert status == 503 and '"code":"database_unavailable"' in text.replace(" ", "")
    assert answered["Retry-After"].isdigit()
    outage.proxy.restore()
    async with aiohttp.ClientSession() as http:
        status, text, _ = await _call(http, "GET", f"{outage.url}/api/v1/queues", ADMIN)
    assert status == 200, text
