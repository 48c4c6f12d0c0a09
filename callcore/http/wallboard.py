"""The wallboard's one event stream: figures every ``interval`` seconds (only operators whose tile changed),
merged with the supervisors' events (help requests, chat messages, flagged calls).

One feed per process computes the figures once for every connected wallboard, and only while one is
connected. Figures read from PostgreSQL (today's queue report, 30-day campaign abandonment, leads left,
memberships, help requests waiting) are refreshed every ``slow_every`` seconds; when PostgreSQL is away the
live figures keep flowing and the last read values stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from callcore.directory import store
from callcore.directory.report import queue_report
from callcore.http import context as ctx
from callcore.http.preview import DIALER
from callcore.http.sse import SUPERVISORS, stream
from callcore.service import looplag
from callcore.web import records
from callcore.web import wallboard as wb
from callcore.web.sqlload import sql

log = structlog.get_logger(__name__)
OVERLOADED_INTERVAL = 2.0


class WallboardFeed:
    def __init__(self, app: web.Application, *, interval: float = 0.25, slow_every: float = 5.0) -> None:
        self.app = app
        self.interval = interval
        self.slow_every = slow_every
        self._subs: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self.agents: dict[str, dict[str, Any]] = {}
        self.header: dict[str, Any] = {}
        self._memberships: dict[str, tuple[str, ...]] = {}
        self._today: dict[str, dict[str, Any]] = {}
        self._campaign_db: dict[str, dict[str, Any]] = {}
        self._help_waiting = 0
        self._slow_at = 0.0

    # --- subscribers ---------------------------------------------------------------------------------

    async def subscribe(self) -> AsyncGenerator[dict[str, Any], None]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        if self._task is None or self._task.done():
            await self._refresh_slow()
            self._tick()
            self._task = asyncio.create_task(self._run(), name="wallboard-feed")
        self._subs.add(q)
        try:
            yield {"event": "wallboard", "full": True, **self.header, "agents": dict(self.agents), "removed": []}
            while True:
                yield await q.get()
        finally:
            self._subs.discard(q)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while self._subs:
            # overloaded: figures every OVERLOADED_INTERVAL instead (``callcore_shed_total{what="wallboard"}``)
            await asyncio.sleep(OVERLOADED_INTERVAL if looplag.shedding("wallboard") else self.interval)
            try:
                if time.monotonic() - self._slow_at >= self.slow_every:
                    await self._refresh_slow()
                message = self._tick()
            except Exception as exc:  # an ACD or database hiccup must not end the wallboards' stream
                log.warning("wallboard_tick_failed", error=repr(exc))
                continue
            for q in list(self._subs):
                if q.full():  # a wallboard that falls behind gets a full picture instead of a gap
                    with contextlib.suppress(asyncio.QueueEmpty):
                        while True:
                            q.get_nowait()
                    q.put_nowait({"event": "wallboard", "full": True, **self.header, "agents": dict(self.agents),
                                  "removed": []})
                else:
                    q.put_nowait(message)

    # --- figures -------------------------------------------------------------------------------------

    def _tick(self) -> dict[str, Any]:
        now = time.time()
        port = self.app[ctx.ACD]
        snap: dict[str, Any] = port.snapshot() if port is not None else {"queues": {}, "agents": {}}  # type: ignore[attr-defined]
        queues = wb.queue_rows(snap, self._today)
        agents: dict[str, dict[str, Any]] = {}
        for aid, a in snap.get("agents", {}).items():
            call = port.current_call(aid) if a.get("state") == "on_call" and port is not None else None  # type: ignore[attr-defined]
            agents[aid] = wb.agent_row(a, self._memberships.get(aid, ()), call)
        changed = {aid: row for aid, row in agents.items() if self.agents.get(aid) != row}
        removed = [aid for aid in self.agents if aid not in agents]
        self.agents = agents
        campaigns = self._campaigns(port)
        self.header = {"now": now, "queues": queues, "campaigns": campaigns,
                       "by_state": snap.get("agents_by_state", {}), "help_waiting": self._help_waiting,
                       "alerts": wb.alerts(queues, campaigns, agents, self._help_waiting, now)}
        return {"event": "wallboard", "full": False, **self.header, "agents": changed, "removed": removed}

    def _campaigns(self, port: Any) -> dict[str, Any]:
        dialer: Any = self.app.get(DIALER)
        if dialer is None:
            return {}
        out: dict[str, Any] = {}
        snap_agents = port.snapshot()["agents"] if port is not None else {}
        for name, runner in dict(dialer.runners).items():
            s = runner.settings
            active = sum(1 for aid, a in snap_agents.items() if s.queue in self._memberships.get(aid, ())
                         and a["state"] in ("available", "reserved", "on_call", "wrap_up"))
            in_flight = len(runner.attempts)
            answered, abandoned = runner.abandon_24h
            db = self._campaign_db.get(name, {})
            out[name] = {"mode": s.mode.value, "queue": s.queue, "state": runner.campaign.state,
                         "in_flight": in_flight, "dial_level": in_flight / active if active else 0.0,
                         "abandon_24h": abandoned / answered if answered else 0.0,
                         "abandon_30d": db.get("abandon_30d"), "leads_left": db.get("leads_left"),
                         "limit": s.abandon_target}
        return out

    async def _refresh_slow(self) -> None:
        self._slow_at = time.monotonic()
        db = self.app[ctx.POOL]
        if db is None:
            return
        try:
            async with asyncio.timeout(2.0):
                self._memberships = {a.id: tuple(sorted(a.memberships)) for a in await store.list_agents(db)}
                midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                async with db.acquire() as conn:
                    reports = await queue_report(conn, midnight, datetime.now(UTC))
                self._today = {r.queue: r.to_json() for r in reports}
                threads = await records.open_threads(db)
                self._help_waiting = sum(1 for t in threads if t.get("last_role") != "supervisor")
                dialer: Any = self.app.get(DIALER)
                for name, runner in dict(dialer.runners).items() if dialer is not None else ():
                    cid = runner.campaign.id
                    answered, abandoned = await dialer.store.abandon_counts(cid, time.time() - 30 * 86400.0)
                    self._campaign_db[name] = {"abandon_30d": abandoned / answered if answered else 0.0,
                                               "leads_left": int(await db.fetchval(sql("leads_left"), cid))}
        except Exception as exc:
            log.warning("wallboard_refresh_failed", error=repr(exc))


FEED = web.AppKey("wallboard_feed", WallboardFeed)


def install(app: web.Application) -> None:
    app[FEED] = feed = WallboardFeed(app)

    async def close(_app: web.Application) -> None:
        await feed.close()

    app.on_cleanup.append(close)


async def wallboard(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    source = feed.subscribe()
    try:
        first = await anext(source)
    finally:
        await source.aclose()
    return ctx.reply(first)


async def wallboard_events(request: web.Request) -> web.StreamResponse:
    hub = ctx.hub(request)
    return await stream(request, [request.app[FEED].subscribe(), hub.subscribe(SUPERVISORS)],
                        name="wallboard", hub=hub)
