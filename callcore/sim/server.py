"""``SimAsterisk``: the simulated Asterisk served over real ARI HTTP + websocket (aiohttp)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from aiohttp import web

from callcore.agi.names import CONTEXT_INBOUND
from callcore.clock import Clock
from callcore.sim.ari_channels import add_channel_routes
from callcore.sim.ari_resources import add_bridge_routes, add_media_routes, add_system_routes
from callcore.sim.behaviour import Duration, EndpointBehaviour, draw
from callcore.sim.control import add_control_routes
from callcore.sim.core import LoopScheduler, RestError
from callcore.sim.engine import Engine
from callcore.sim.httputil import SERVER_HEADERS, Handler, error_reply
from callcore.sim.wire import http_date

log = structlog.get_logger(__name__)
MISSING_APP_HTML = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n'
    "</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n"
    "<address>Asterisk</address>\r\n</body></html>\r\n"
)


class WsSink:
    """One websocket: events are queued synchronously and written by a named task.

    ``counters`` count what reached the socket: an event still queued when the connection is dropped was
    never sent (``events_sent`` and its ``event:<type>`` are taken back, ``events_unsent`` counts it), and
    events written in the last ``UNCONFIRMED`` seconds before the connection broke may never have been read
    by the peer (a killed client, an aborted connection): ``events_unconfirmed`` counts them. ARI has no
    acknowledgement, so a real Asterisk loses those too.
    """

    UNCONFIRMED = 0.2

    def __init__(self, ws: web.WebSocketResponse, request: web.Request,
                 counters: dict[str, int] | None = None) -> None:
        self.ws = ws
        self.request = request
        self.counters = counters
        self.queue: deque[str] = deque()
        self.recent: deque[float] = deque(maxlen=256)   # monotonic times of the last writes
        self.ready = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._writer(), name="sim-ws-writer")

    def send(self, text: str) -> None:
        self.queue.append(text)
        self.ready.set()

    async def _writer(self) -> None:
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                while self.queue:
                    await self.ws.send_str(self.queue[0])
                    self.queue.popleft()
                    self.recent.append(time.monotonic())
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            self._unsent()

    def _unsent(self) -> None:
        if self.counters is not None:
            for text in self.queue:
                kind = str(msgspec.json.decode(text).get("type", ""))
                self.counters["events_sent"] -= 1
                self.counters["event:" + kind] -= 1
                self.counters["events_unsent"] += 1
        self.queue.clear()

    def closed(self) -> None:
        """The connection ended: count the events written just before as unconfirmed."""
        if self.counters is not None:
            edge = time.monotonic() - self.UNCONFIRMED
            self.counters["events_unconfirmed"] += sum(1 for t in self.recent if t >= edge)
        self.recent.clear()

    async def drained(self, wait: float = 1.0) -> None:
        for _ in range(int(wait / 0.005)):
            if not self.queue:
                return
            await asyncio.sleep(0.005)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
        self.task.cancel()
        self.closed()


@dataclass
class RestFault:
    prefix: str
    delay: float = 0.0
    status: int = 0
    remaining: int | None = None


class SimAsterisk:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "callcore",
        password: str = "callcore-secret",
        app: str = "callcore",
        seed: int = 1,
        time_scale: float = 1.0,
        *,
        sysname: str = "callcore-sim",
        agents: Iterable[str] = (),
        trunk: str = "trunk",
        clock: Clock | None = None,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.app_name = app
        self.time_scale = time_scale
        self._scheduler = LoopScheduler(time_scale)
        self.engine = Engine(
            app=app,
            seed=seed,
            sysname=sysname,
            clock=clock,
            scheduler=self._scheduler,
            time_scale=time_scale,
        )
        self.engine.add_endpoint(f"PJSIP/{trunk}")
        for agent in agents:
            self.engine.add_endpoint(agent if "/" in agent else f"PJSIP/{agent}")
        self.faults: list[RestFault] = []
        self.sinks: list[WsSink] = []
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._arrivals: asyncio.Task[None] | None = None
        self._arrival_rng = random.Random(seed + 7919)
        self._bg: set[asyncio.Task[Any]] = set()
        self.down = False

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.engine.counters)

    async def __aenter__(self) -> SimAsterisk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        add_channel_routes(app, self.engine)
        add_bridge_routes(app, self.engine)
        add_media_routes(app, self.engine)
        add_system_routes(app, self.engine)
        add_control_routes(app, self)
        app.router.add_get("/ari/events", self._websocket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._site = site
        if self.port == 0:
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        self.down = False
        log.info("sim.started", url=self.ari_url)

    async def close(self) -> None:
        await self.stop_arrivals()
        for task in list(self._bg):
            task.cancel()
        for sink in list(self.sinks):
            sink.abort()
        self.sinks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None
        self.engine.shutdown()

    # --- behaviour and calls ---------------------------------------------------------------------

    def set_endpoint(self, name: str, behaviour: EndpointBehaviour) -> None:
        """Behaviour of an endpoint (``PJSIP/1001``, created if new) or a pattern (``PJSIP/*@trunk``)."""
        if not any(ch in name for ch in "*?[") and name.split("/", 1)[0] != "Local":
            key = "/".join(name.split("/")[:2]).split("@")[0] if "@" not in name else None
            if key and key not in self.engine.endpoints:
                self.engine.add_endpoint(key)
        self.engine.book.set(name, behaviour)

    def set_default_behaviour(self, behaviour: EndpointBehaviour) -> None:
        self.engine.book.default = behaviour

    async def inject_call(
        self,
        queue: str | None = None,
        caller_number: str = "",
        caller_name: str = "",
        priority: int | None = None,
        patience: float | None = None,
        talk_time: float | None = None,
        *,
        exten: str = "100",
        answered: bool = False,
        args: Sequence[str] | None = None,
        context: str = CONTEXT_INBOUND,
        endpoint: str | None = None,
    ) -> str:
        """An inbound call into ``Stasis(app, inbound, queue[, priority])``, or with ``args`` any Stasis
        arguments (see ``Engine.inject_call``). Raises ``RestError(503)`` while the simulator is down."""
        self._refuse_while_down()
        return self.engine.inject_call(
            queue=queue,
            caller_number=caller_number,
            caller_name=caller_name,
            priority=priority,
            patience=patience,
            talk_time=talk_time,
            exten=exten,
            answered=answered,
            args=args,
            context=context,
            endpoint=endpoint,
        )

    async def inject_agent_login(self, endpoint: str, agent_id: str | None = None) -> str:
        """The phone ``endpoint`` dials ``*55`` (or ``*55<agent_id>``): ``Stasis(app, agent-login, <agent>)``."""
        self._refuse_while_down()
        return self.engine.inject_agent_login(endpoint, agent_id)

    def _refuse_while_down(self) -> None:
        if self.down:
            raise RestError(503, "Asterisk is not running")

    async def send_dtmf(self, channel_id: str, digits: str) -> None:
        self.engine.far_dtmf(channel_id, digits)

    async def hangup(self, channel_id: str) -> None:
        self.engine.far_hangup(channel_id)

    def list_calls(self) -> list[dict[str, Any]]:
        return self.engine.list_calls()

    def start_arrivals(
        self,
        rate_per_s: float,
        queues: Sequence[str] = ("sales",),
        patience: Duration | None = 60.0,
        talk_time: Duration | None = (30.0, 120.0),
    ) -> None:
        """Poisson arrivals (``rate_per_s`` in simulated time) spread uniformly over ``queues``."""
        if rate_per_s <= 0 or not queues:
            raise ValueError("rate_per_s must be positive and queues non-empty")
        if self._arrivals is not None:
            self._arrivals.cancel()
        self._arrivals = asyncio.get_running_loop().create_task(
            self._arrive(rate_per_s, list(queues), patience, talk_time), name="sim-arrivals"
        )

    async def _arrive(
        self, rate: float, queues: list[str], patience: Duration | None, talk_time: Duration | None
    ) -> None:
        rng = self._arrival_rng
        while True:
            await asyncio.sleep(rng.expovariate(rate) / self.time_scale)
            if self.down:
                continue
            number = f"+1555{rng.randrange(10**7):07d}"
            self.engine.inject_call(
                queue=rng.choice(queues),
                caller_number=number,
                caller_name="",
                patience=draw(rng, patience) if patience is not None else None,
                talk_time=draw(rng, talk_time) if talk_time is not None else None,
            )

    async def run_script(self, calls: Sequence[dict[str, Any]]) -> list[str]:
        """Scripted arrivals: each item has ``at`` (simulated seconds from now) and inject_call fields."""
        ids: list[str] = []
        start = 0.0
        for item in sorted(calls, key=lambda c: float(c.get("at", 0.0))):
            at = float(item.get("at", 0.0))
            await asyncio.sleep(max(0.0, at - start) / self.time_scale)
            start = at
            fields = {k: v for k, v in item.items() if k != "at"}
            ids.append(await self.inject_call(**fields))
        return ids

    async def stop_arrivals(self) -> None:
        task, self._arrivals = self._arrivals, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    # --- simulated time ------------------------------------------------------------------------

    def hold_time(self) -> None:
        """Stop simulated time for what is scheduled from now on (dial progress, answers, AMD...):
        it moves only by ``advance_time`` until ``release_time``. Requests and websockets keep being
        served, so a test can place a request at an exact simulated instant on a loaded machine."""
        self._scheduler.hold()

    def advance_time(self, seconds: float) -> None:
        self._scheduler.advance(seconds)

    def release_time(self) -> None:
        self._scheduler.release()

    # --- faults --------------------------------------------------------------------------------

    async def drop_websockets(self) -> None:
        for sink in list(self.sinks):
            sink.abort()
        self.sinks.clear()

    async def restart(self, down_for: float = 1.0) -> None:
        """``core stop now`` then start again after ``down_for`` wall-clock seconds. From the first
        moment new connections are refused and requests on open connections get 503, so nothing is
        created while "down"; channels, bridges and media are gone afterwards."""
        self.down = True
        if self._site is not None and self._site._server is not None:
            self._site._server.close()
        self.engine.shutdown()
        for sink in list(self.sinks):
            await sink.drained()
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None
        self.engine.sockets.clear()
        self.engine.counters["restarts"] += 1
        await asyncio.sleep(down_for)
        await self.start()

    def restart_soon(self, down_for: float) -> None:
        task = asyncio.get_running_loop().create_task(self.restart(down_for), name="sim-restart")
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def add_rest_fault(
        self, prefix: str, *, delay: float = 0.0, status: int = 0, count: int | None = None
    ) -> None:
        """Slow (``delay`` seconds) or failing (``status``) REST on paths starting with ``prefix``."""
        self.faults.append(RestFault(prefix, delay, status, count))

    def clear_rest_faults(self) -> None:
        self.faults.clear()

    # --- HTTP plumbing -------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        key = request.query.get("api_key")
        if key is not None:
            return key == f"{self.user}:{self.password}"
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.user}:{self.password}"
        return False

    @staticmethod
    def _unauthorized() -> web.Response:
        return web.json_response(
            {"message": "Authentication required"},
            status=401,
            headers={**SERVER_HEADERS, "WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
        )

    @staticmethod
    def _shutting_down() -> web.Response:
        return web.json_response(
            {"message": "Asterisk is shutting down"}, status=503, headers=SERVER_HEADERS
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith("/ari"):
            return await handler(request)
        if self.down:
            return self._shutting_down()
        for fault in list(self.faults):
            if path.startswith(fault.prefix):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status:
                    return web.json_response(
                        {"message": "Simulated failure"}, status=fault.status, headers=SERVER_HEADERS
                    )
        if self.down:
            return self._shutting_down()
        if not self._authorized(request):
            return self._unauthorized()
        counters = self.engine.counters
        counters["rest_requests"] += 1
        route = request.match_info.route.resource
        counters[f"rest:{request.method} {route.canonical if route else '(unmatched)'}"] += 1
        try:
            return await handler(request)
        except RestError as err:
            return error_reply(err)
        except web.HTTPMethodNotAllowed:
            return error_reply(RestError(405, "Invalid method"))
        except web.HTTPNotFound:
            return error_reply(RestError(404, "Resource not found"))

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        apps = [a for a in request.query.get("app", "").split(",") if a]
        if not apps:
            return web.Response(
                status=400,
                text=MISSING_APP_HTML,
                content_type="text/html",
                headers={**SERVER_HEADERS, "Date": http_date(self.engine.clock.now())},
            )
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        sink = WsSink(ws, request, self.engine.counters)
        self.sinks.append(sink)
        subscribe_all = request.query.get("subscribeAll", "false").lower() == "true"
        self.engine.attach_socket(apps, sink, subscribe_all=subscribe_all)
        try:
            async for _msg in ws:
                pass
        finally:
            sink.closed()
            self.engine.detach_socket(sink)
            if sink in self.sinks:
                self.sinks.remove(sink)
            sink.task.cancel()
        return ws
