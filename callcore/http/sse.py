"""Server-sent events: an in-process publish/subscribe hub and the streaming response."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from callcore.http.metrics import EVENT_STREAMS

log = structlog.get_logger(__name__)

SUPERVISORS = "supervisors"


class EventHub:
    """Topics (an agent id, or ``supervisors``) fan out events to every live subscriber.

    A subscriber that falls ``maxsize`` events behind loses its oldest events, never blocks publishers.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self._subs: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._maxsize = maxsize
        self.streams: set[asyncio.Queue[dict[str, Any] | None]] = set()  # inboxes of open event streams
        # called for every event published here, to hand it to the other instances (see service.hubrelay)
        self.relay: Callable[[str, Mapping[str, Any]], None] | None = None

    def close_streams(self) -> None:
        """End every open event stream (at shutdown: they would otherwise hold the server open)."""
        for inbox in list(self.streams):
            inbox.put_nowait(None)

    def publish(self, topic: str, event: Mapping[str, Any]) -> int:
        """Deliver to the current subscribers of ``topic`` here and, through the relay, on every other
        instance; returns how many got it here."""
        if self.relay is not None:
            self.relay(topic, event)
        return self.deliver(topic, event)

    def deliver(self, topic: str, event: Mapping[str, Any]) -> int:
        """Deliver to this instance's subscribers only (events relayed from another instance)."""
        subs = self._subs.get(topic, set())
        for q in subs:
            if q.full():
                q.get_nowait()
            q.put_nowait(dict(event))
        return len(subs)

    def subscribers(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    async def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=self._maxsize)
        self._subs[topic].add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._subs[topic].discard(q)
            if not self._subs[topic]:
                del self._subs[topic]


def format_event(event: Mapping[str, Any], seq: int) -> bytes:
    kind = str(event.get("event", "message")).replace("\n", " ")
    data = json.dumps(event, default=str, separators=(",", ":"))
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


async def stream(request: web.Request, sources: list[AsyncIterator[dict[str, Any]]], *, name: str,
                 hub: EventHub, keepalive: float = 15.0) -> web.StreamResponse:
    """Answer with ``text/event-stream`` merging ``sources`` until the client goes away or the hub closes
    its streams (shutdown), in which case the response ends cleanly."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def pump(source: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async for event in source:
                inbox.put_nowait(event)
        except Exception:
            log.exception("event_source_failed", stream=name)

    seq = 0
    hub.streams.add(inbox)
    EVENT_STREAMS.inc()
    try:
        async with asyncio.TaskGroup() as tg:
            pumps = [tg.create_task(pump(source), name=f"sse-{name}-{i}") for i, source in enumerate(sources)]
            await resp.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(inbox.get(), timeout=keepalive)
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
                    continue
                if event is None:
                    break
                seq += 1
                await resp.write(format_event(event, seq))
            for task in pumps:
                task.cancel()
        await resp.write_eof()
    except* ConnectionError:
        log.debug("event_stream_closed", stream=name)
    finally:
        hub.streams.discard(inbox)
        EVENT_STREAMS.dec()
    return resp
