"""A tiny scriptable ARI server (aiohttp) for tests and benchmarks of the ARI client.

It knows just enough state for a resync (channels, bridges, the application's channel ids), checks
basic auth like Asterisk (401 ``{"message": "Authentication required"}``), records every request, and
answers other requests from ``responses[(method, path)] = (status, body)`` (default 204).
Events are pushed to connected websockets with ``send_event`` / ``send_raw``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from callcore.ari.models import Bridge, Channel


class RecordedRequest(msgspec.Struct, frozen=True):
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str
    raw_query: str


class MockAriServer:
    def __init__(self, *, app: str = "callcore", user: str = "callcore", password: str = "callcore-secret",
                 host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.app_channel_ids: list[str] = []
        self.app_bridge_ids: list[str] = []
        self.responses: dict[tuple[str, str], tuple[int, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.websockets: list[web.WebSocketResponse] = []
        self.ws_connects = 0
        self.ws_queries: list[dict[str, str]] = []
        self.pings_received = 0
        self.answer_pings = True
        self.event_filter: Any = None
        self._ws_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> MockAriServer:
        webapp = web.Application()
        webapp.router.add_get("/ari/events", self._events)
        webapp.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(webapp, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockAriServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- state helpers -------------------------------------------------------------------------
    def add_channel(self, channel: Channel, *, in_app: bool = True) -> None:
        self.channels[channel.id] = channel
        if in_app and channel.id not in self.app_channel_ids:
            self.app_channel_ids.append(channel.id)

    def remove_channel(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)
        if channel_id in self.app_channel_ids:
            self.app_channel_ids.remove(channel_id)

    def add_bridge(self, bridge: Bridge) -> None:
        self.bridges[bridge.id] = bridge

    # --- websocket -----------------------------------------------------------------------------
    async def send_event(self, event: Mapping[str, Any]) -> None:
        await self.send_raw(msgspec.json.encode(event).decode())

    async def send_raw(self, frame: str) -> None:
        for ws in list(self.websockets):
            if not ws.closed:
                await ws.send_str(frame)

    @staticmethod
    async def write_raw(ws: web.WebSocketResponse, data: bytes, *, buffer_limit: int = 4 << 20) -> None:
        """Write pre-encoded websocket frames as they are, waiting only while more than
        ``buffer_limit`` bytes are still unsent (bulk sending for benchmarks)."""
        req, writer = ws._req, ws._payload_writer
        transport = req.transport if req is not None else None
        if transport is None or writer is None or ws.closed:
            raise ConnectionResetError("websocket is not connected")
        if transport.get_write_buffer_limits()[1] != buffer_limit:
            transport.set_write_buffer_limits(high=buffer_limit)
        transport.write(data)
        await writer.drain()

    async def drop_websockets(self, code: int = 1001) -> None:
        for ws in list(self.websockets):
            await ws.close(code=code)
        self.websockets.clear()

    async def wait_ws_connects(self, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` websocket connections in total have been accepted."""
        async with asyncio.timeout(timeout), self._ws_changed:
            await self._ws_changed.wait_for(lambda: self.ws_connects >= n)

    async def wait_pings(self, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` websocket pings in total have been received."""
        async with asyncio.timeout(timeout), self._ws_changed:
            await self._ws_changed.wait_for(lambda: self.pings_received >= n)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == self._auth

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'})
        if not request.query.get("app"):
            return web.Response(status=400, text="Invalid application provided in query")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.websockets.append(ws)
        self.ws_queries.append(dict(request.query))
        async with self._ws_changed:
            self.ws_connects += 1
            self._ws_changed.notify_all()
        async for msg in ws:
            if msg.type == WSMsgType.PING:
                async with self._ws_changed:
                    self.pings_received += 1
                    self._ws_changed.notify_all()
                if self.answer_pings:
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.CLOSE:
                break
        if ws in self.websockets:
            self.websockets.remove(ws)
        return ws

    # --- REST ----------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = msgspec.json.decode(raw) if raw else None
        path = request.path[len("/ari"):]
        self.requests.append(RecordedRequest(request.method, path, dict(request.query), body,
                                             request.headers.get("Authorization", ""), request.query_string))
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        key = (request.method, path)
        if key in self.responses:
            status, payload = self.responses[key]
            return self._reply(status, payload)
        return self._builtin(request.method, path, body)

    @staticmethod
    def _reply(status: int, payload: Any) -> web.Response:
        if payload is None:
            return web.Response(status=status)
        if isinstance(payload, str):
            return web.Response(status=status, text=payload, content_type="text/html")
        return web.Response(status=status, body=msgspec.json.encode(payload), content_type="application/json")

    def _builtin(self, method: str, path: str, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["channels"]:
            return self._reply(200, list(self.channels.values()))
        if method == "GET" and parts == ["bridges"]:
            return self._reply(200, list(self.bridges.values()))
        if method == "GET" and len(parts) == 2 and parts[0] == "channels":
            ch = self.channels.get(parts[1])
            return self._reply(200, ch) if ch else self._reply(404, {"message": "Channel not found"})
        if method == "GET" and len(parts) == 2 and parts[0] == "bridges":
            br = self.bridges.get(parts[1])
            return self._reply(200, br) if br else self._reply(404, {"message": "Bridge not found"})
        if len(parts) >= 2 and parts[0] == "applications":
            if parts[1] != self.app or (not self.websockets and not self.app_channel_ids):
                return self._reply(404, {"message": "Application not found"})
            if method == "PUT" and parts[2:] == ["eventFilter"]:
                self.event_filter = body
            return self._reply(200, self._application())
        if method == "GET" and parts == ["asterisk", "ping"]:
            return self._reply(200, {"ping": "pong", "timestamp": "", "asterisk_id": "mock"})
        return self._reply(204, None)

    def _application(self) -> dict[str, Any]:
        allowed = (self.event_filter or {}).get("allowed", [])
        return {"name": self.app, "channel_ids": list(self.app_channel_ids),
                "bridge_ids": list(self.app_bridge_ids), "endpoint_ids": [], "device_names": [],
                "events_allowed": allowed, "events_disallowed": []}
