"""The aiohttp application: health, readiness, metrics, and the operator/supervisor/admin API."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from aiohttp import web

from callcore.acd.ports import AcdPort
from callcore.config import Settings
from callcore.errors import CallcoreError, Unavailable
from callcore.http import context as ctx
from callcore.http import credentials
from callcore.http.auth import AGENT_TOKENS, SESSIONS, authenticate, authorize, parse_static_tokens
from callcore.http.credentials import AgentTokens
from callcore.http.errors import error_response, http_error_response, internal_error
from callcore.http.metrics import REQUEST_SECONDS, REQUESTS
from callcore.http.preview import DIALER
from callcore.http.routes import API, ROUTES, Handler, Route, openapi
from callcore.http.sse import EventHub
from callcore.http.wallboard import install as install_wallboard
from callcore.metrics import CONTENT_TYPE
from callcore.store.db import Database
from callcore.store.dberrors import translate as translate_db_error
from callcore.web.accounts import Sessions
from callcore.web.pages import add_pages

log = structlog.get_logger(__name__)

Health = Callable[[], dict[str, Any]]


def readiness(checks: dict[str, Any]) -> tuple[bool, list[str]]:
    """Ready when ARI is connected and the database is reachable or the journal holds events locally
    (buffering in memory or spilling to disk) until it is back.

    ``checks`` comes from the service's health function: ``ari_connected``, ``database_reachable``,
    ``journal_spilling``, ``journal_buffering`` (booleans) and any other details.
    """
    problems = []
    if not checks.get("ari_connected"):
        problems.append("ARI websocket is not connected")
    if not (checks.get("database_reachable") or checks.get("journal_spilling") or checks.get("journal_buffering")):
        problems.append("database is unreachable and the journal is neither buffering nor spilling")
    return not problems, problems


def degraded(checks: dict[str, Any]) -> list[str]:
    """What makes a ready instance work below par: overload (``checks["load"]``, see
    ``callcore.service.looplag``). It stays ready: it still routes every call, and leaving a load balancer
    would also cut its operators off."""
    load = checks.get("load")
    if isinstance(load, dict) and load.get("overloaded"):
        return [f"overloaded for {load.get('overloaded_for_s', 0)} s (event-loop lag "
                f"{load.get('loop_lag_recent_max_s', 0)} s): wallboard, gauges and table projections shed"]
    return []


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    resp = await _answer(request, handler)
    REQUESTS.labels(request.method, route, str(resp.status)).inc()
    if resp.content_type != "text/event-stream":
        REQUEST_SECONDS.labels(route).observe(time.perf_counter() - started)
    return resp


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CallcoreError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_error_response(exc)
    except Exception as exc:
        translated = _dependency_error(exc)
        if translated is None:
            log.exception("http_handler_failed", method=request.method, path=request.path)
            return internal_error()
        if not isinstance(translated, Unavailable):
            log.exception("http_handler_store_error", method=request.method, path=request.path)
        else:
            log.warning("http_dependency_unavailable", method=request.method, path=request.path,
                        error=str(translated))
        return error_response(translated)


def _dependency_error(exc: Exception) -> CallcoreError | None:
    """A driver failure that escaped a store module, as the project's error (None: a bug, answered 500).
    A bare timeout names no dependency: it is a 503 of its own."""
    if isinstance(exc, TimeoutError):
        return Unavailable("timed out waiting for a dependency (database or Asterisk)")
    return translate_db_error(exc)


def _guarded(route: Route) -> Handler:
    @functools.wraps(route.handler)
    async def handler(request: web.Request) -> web.StreamResponse:
        request = ctx.without_empty_query(request)
        ctx.check_request_text(request)
        request[ctx.BODY_REQUIRED] = route.body is not None and route.body_required
        if route.role is not None:
            who = await authenticate(request, allow_query=route.sse)
            authorize(who, route.role)
            request[ctx.PRINCIPAL] = who
        return await route.handler(request)

    return handler


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    try:
        checks = dict(ctx.health_fn(request)())
    except Exception as exc:
        log.warning("health_check_failed", error=str(exc))
        checks = {"error": str(exc)}
    ready, problems = readiness(checks)
    warn = degraded(checks)
    return web.json_response({"ready": ready, "overloaded": bool(warn), "degraded": warn, "checks": checks,
                              "problems": problems},
                             status=200 if ready else 503, dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    render: Callable[[], bytes] = request.app[ctx.METRICS]  # type: ignore[assignment]
    return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE})


async def openapi_doc(_request: web.Request) -> web.Response:
    return web.json_response(openapi())


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


def create_app(*, acd: AcdPort | None, pool: Database | None, settings: Settings, health: Health,
               metrics: Callable[[], bytes], hub: EventHub | None = None, dialer: Any = None) -> web.Application:
    """The HTTP application. ``acd`` or ``pool`` may be None: their endpoints then answer 503."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=1 << 20)
    app[ctx.ACD] = acd
    app[ctx.POOL] = pool
    app[ctx.SETTINGS] = settings
    app[ctx.HUB] = event_hub = hub or EventHub()
    app[ctx.HEALTH] = health
    app[ctx.METRICS] = metrics
    app[ctx.STATIC_TOKENS] = parse_static_tokens(settings.api_tokens)
    app[DIALER] = dialer
    app[SESSIONS] = sessions = Sessions(settings.web_session_hours * 3600.0)
    app[AGENT_TOKENS] = tokens = AgentTokens()

    async def credential_cache(_app: web.Application) -> AsyncIterator[None]:
        # the sign-in's stand-in hash is made in the background: the listener (and /readyz) does not wait
        prepared = asyncio.create_task(sessions.prepare(), name="sign-in-prepare")
        async with credentials.running(pool, tokens, sessions):
            yield
        await prepared

    app.cleanup_ctx.append(credential_cache)
    install_wallboard(app)
    add_pages(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", globals()["metrics"])
    app.router.add_get(f"{API}/openapi.json", openapi_doc)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _guarded(route))

    async def close_streams(_app: web.Application) -> None:
        event_hub.close_streams()

    app.on_shutdown.append(close_streams)
    return app
