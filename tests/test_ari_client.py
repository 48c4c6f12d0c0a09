"""AriClient against a local ARI server: requests as ARI expects them, error mapping from real bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from callcore.ari.client import AriClient, error_for
from callcore.ari.mockserver import MockAriServer
from callcore.ari.models import Channel
from callcore.ari.traces import shared_dir, trace_records, traces_dir
from callcore.config import Secret, Settings
from callcore.errors import (
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnauthorized,
    AriUnavailable,
    AriUnprocessable,
    CallcoreError,
)
from callcore.metrics import REGISTRY


@pytest.fixture
async def server() -> AsyncIterator[MockAriServer]:
    async with MockAriServer() as srv:
        yield srv


@pytest.fixture
async def client(server: MockAriServer) -> AsyncIterator[AriClient]:
    async with AriClient(server.url, "callcore", Secret("callcore-secret"), "callcore", timeout=2.0) as c:
        yield c


def trace_error_responses() -> list[dict[str, Any]]:
    if traces_dir() is None:
        pytest.skip(f"Asterisk traces not found under {shared_dir()} (set CALLCORE_SHARED_DIR)")
    return [rec for _, rec in trace_records("rest_response")
            if (rec.get("status") or 0) >= 400 and rec.get("body")]


EXPECTED = {400: AriBadRequest, 401: AriUnauthorized, 404: AriNotFound, 409: AriConflict,
            422: AriUnprocessable, 500: AriServerError}


async def test_recorded_error_responses_map_to_typed_errors(server: MockAriServer, client: AriClient) -> None:
    recs = trace_error_responses()
    assert len(recs) > 20
    seen = set()
    for rec in recs:
        path = rec["path"].removeprefix("/ari")
        server.responses[(rec["method"], path)] = (rec["status"], rec["body"])
        with pytest.raises(AriError) as info:
            await client.request(rec["method"], path)
        err = info.value
        expected = EXPECTED.get(rec["status"], AriError)
        assert type(err) is expected, rec
        assert err.status == rec["status"] and err.method == rec["method"] and err.path == path
        assert err.message == rec["body"].get("message", rec["body"].get("error"))
        assert isinstance(err, CallcoreError)
        seen.add(rec["status"])
    assert {400, 404, 409, 422, 500} <= seen


def test_allocation_failed_uses_error_key() -> None:
    err = error_for(500, b'{"error": "Allocation failed"}', method="POST", path="/channels")
    assert isinstance(err, AriServerError) and err.message == "Allocation failed"
    assert str(err) == "ARI POST /channels -> 500: Allocation failed"
    assert isinstance(error_for(503, b"", method="GET", path="/x"), AriServerError)
    html = error_for(400, b"<html>bad</html>", method="GET", path="/events", reason="Bad Request")
    assert isinstance(html, AriBadRequest) and html.message == "Bad Request"


async def test_wrong_password_is_unauthorized(server: MockAriServer) -> None:
    async with AriClient(server.url, "callcore", "wrong", "callcore") as bad:
        with pytest.raises(AriUnauthorized) as info:
            await bad.list_channels()
    assert info.value.message == "Authentication required"


async def test_connection_refused_is_unavailable() -> None:
    async with MockAriServer() as srv:
        url = srv.url
    async with AriClient(url, "callcore", "x", "callcore", timeout=1.0) as c:
        with pytest.raises(AriUnavailable) as info:
            await c.ping()
    assert info.value.status == 0 and info.value.path == "/asterisk/ping"


async def test_timeout_is_unavailable() -> None:
    from aiohttp import web

    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/ari/asterisk/ping", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with AriClient(f"http://127.0.0.1:{port}", "u", "p", "callcore", timeout=0.1) as c:
            with pytest.raises(AriUnavailable):
                await c.ping()
    finally:
        release.set()
        await runner.cleanup()


async def test_originate_parameters_and_body(server: MockAriServer, client: AriClient) -> None:
    server.responses[("POST", "/channels")] = (200, {"id": "agent-1", "name": "PJSIP/agent1001-01",
                                                     "state": "Down"})
    ch = await client.originate("PJSIP/agent1001", channel_id="agent-1", app_args=["agent", "c-1"],
                                caller_id='"Sales queue" <15551230001>', timeout=20,
                                variables={"CAMPAIGN": "x", "LEAD_ID": "42"}, originator="c-1")
    assert ch.id == "agent-1" and ch.state == "Down"
    req = server.requests[-1]
    assert req.query == {"endpoint": "PJSIP/agent1001", "channelId": "agent-1", "app": "callcore",
                         "appArgs": "agent,c-1", "callerId": '"Sales queue" <15551230001>', "timeout": "20",
                         "originator": "c-1"}
    assert req.body == {"variables": {"CAMPAIGN": "x", "LEAD_ID": "42"}}
    assert req.authorization.startswith("Basic ")
    # dialplan originate: no app
    await client.originate("PJSIP/trunk/sip:1@x", channel_id="amd-1", context="dialer-amd", extension="s",
                           priority=1)
    q = server.requests[-1].query
    assert "app" not in q and q["context"] == "dialer-amd" and q["priority"] == "1"
    assert server.requests[-1].body is None


async def test_originate_duplicate_id_returns_existing_channel(
    server: MockAriServer, client: AriClient,
) -> None:
    server.add_channel(Channel(id="dup-1", name="Local/1001@agents-local-00000003;1", state="Ringing"))
    dup = {"message": "Channel with given unique ID already exists"}
    server.responses[("POST", "/channels")] = (409, dup)
    ch = await client.originate("Local/1002@agents-local", channel_id="dup-1", app_args=["agent"])
    assert ch.id == "dup-1" and ch.state == "Ringing"
    sent = [r.method + " " + r.path for r in server.requests[-2:]]
    assert sent == ["POST /channels", "GET /channels/dup-1"]
    # a 409 for an id that does not exist (any more) stays an error
    with pytest.raises(AriNotFound):
        await client.originate("Local/1002@agents-local", channel_id="gone-1")


async def test_query_shapes(server: MockAriServer, client: AriClient) -> None:
    server.responses[("POST", "/channels/c;2/play")] = (201, {"id": "pb-1", "state": "queued"})
    server.responses[("POST", "/channels/c1/record")] = (201, {"name": "rec-1", "state": "queued"})
    await client.add_channel("bridge-1", ["a", "b"], role="agent")
    await client.play("c;2", ["sound:hello-world", "sound:beep"], playback_id="pb-1", lang="en")
    await client.record("c1", "rec-1", max_duration=10, beep=True, if_exists="overwrite")
    await client.hangup("c1")
    await client.set_variable("c1", "QUEUE_ENTERED", "1795917150")
    reqs = server.requests[-5:]
    assert reqs[0].path == "/bridges/bridge-1/addChannel"
    assert reqs[0].query == {"channel": "a,b", "role": "agent"}
    assert reqs[1].path == "/channels/c;2/play"
    assert reqs[1].query == {"media": "sound:hello-world,sound:beep", "playbackId": "pb-1", "lang": "en"}
    assert reqs[2].query == {"name": "rec-1", "format": "wav", "maxDurationSeconds": "10",
                             "ifExists": "overwrite", "beep": "true", "terminateOn": "none"}
    assert reqs[3].method == "DELETE" and reqs[3].query == {"reason": "normal"}
    assert reqs[4].query == {"variable": "QUEUE_ENTERED", "value": "1795917150"}


async def test_missing_ok_swallows_404_only(server: MockAriServer, client: AriClient) -> None:
    server.responses[("DELETE", "/channels/gone")] = (404, {"message": "Channel not found"})
    server.responses[("DELETE", "/bridges/gone")] = (404, {"message": "Bridge not found"})
    await client.hangup("gone", missing_ok=True)
    await client.destroy_bridge("gone", missing_ok=True)
    with pytest.raises(AriNotFound):
        await client.hangup("gone")
    server.responses[("DELETE", "/channels/busy")] = (409, {"message": "Channel not in Stasis application"})
    with pytest.raises(AriConflict):
        await client.hangup("busy", missing_ok=True)


async def test_event_filter_and_variable(server: MockAriServer, client: AriClient) -> None:
    server.add_channel(Channel(id="c1"))
    app = await client.set_event_filter(["StasisStart", "StasisEnd"])
    assert server.event_filter == {"allowed": [{"type": "StasisStart"}, {"type": "StasisEnd"}]}
    assert app.channel_ids == ["c1"]
    server.responses[("GET", "/channels/c1/variable")] = (200, {"value": "sales"})
    assert await client.get_variable("c1", "ROUTE") == "sales"
    server.responses[("GET", "/channels/c1")] = (200, {"unexpected": True})
    with pytest.raises(AriServerError):
        await client.get_channel("c1")


async def test_metrics_count_requests(server: MockAriServer, client: AriClient) -> None:
    def value() -> float:
        labels = {"method": "GET", "status": "404"}
        return REGISTRY.get_sample_value("callcore_ari_requests_total", labels) or 0.0

    before = value()
    with pytest.raises(AriNotFound):
        await client.get_bridge("nope")
    assert value() == before + 1
    assert (REGISTRY.get_sample_value("callcore_ari_request_seconds_count", {"method": "GET"}) or 0) >= 1


async def test_from_settings_and_external_session(server: MockAriServer) -> None:
    settings = Settings(ari_url=server.url + "/", ari_timeout=3.0)
    async with aiohttp.ClientSession() as session:
        c = AriClient.from_settings(settings, session=session)
        assert c.base_url == server.url + "/ari" and c.timeout == 3.0 and c.app == "callcore"
        assert (await c.ping()).ping == "pong"
        await c.close()
        assert not session.closed  # a borrowed session stays open
    assert "callcore-secret" not in repr(vars(c).get("base_url"))


def test_no_credentials_in_urls() -> None:
    c = AriClient("http://127.0.0.1:8088", "callcore", Secret("s3cret"), "callcore")
    assert "s3cret" not in c.base_url and "@" not in c.base_url

