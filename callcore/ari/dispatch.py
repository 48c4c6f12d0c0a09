"""Fan-out of ARI events to named consumers, each with its own bounded queue.

``Dispatcher.publish`` never blocks and never waits for a consumer: when a consumer's queue is full the
event is dropped for that consumer only, counted in ``callcore_ari_events_dropped_total{consumer}``,
logged (at most once per ``log_interval`` seconds per consumer), and an ``Overflowed(dropped=n)``
marker is delivered to it before its next event. Events reach every consumer in publish order.
Synthetic events (Connected, Disconnected, Overflowed) bypass consumer filters.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from callcore.ari.events import AriEvent, Connected, Disconnected, Overflowed
from callcore.ari.metrics import ARI_EVENTS_DROPPED
from callcore.clock import Clock, SystemClock

log = structlog.get_logger(__name__)

EventFilter = Callable[[Any], bool]


class Subscription:
    """One consumer's queue: ``async for ev in sub`` (ends after ``close()``), or ``await sub.get()``."""

    def __init__(self, name: str, maxsize: int, event_filter: EventFilter | None, *,
                 dispatcher: Dispatcher | None = None, clock: Clock | None = None,
                 log_interval: float = 10.0) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.name = name
        self.maxsize = maxsize
        self.filter = event_filter
        self.dropped_total = 0
        self._buf: deque[AriEvent] = deque()
        self._pending_drops = 0
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._dispatcher = dispatcher
        self._clock = clock or SystemClock()
        self._log_interval = log_interval
        self._last_log = float("-inf")
        self._dropped_since_log = 0
        self._drop_counter = ARI_EVENTS_DROPPED.labels(consumer=name)

    # --- producer side -------------------------------------------------------------------------
    def offer(self, ev: AriEvent) -> bool:
        """Queue ``ev`` unless filtered out or the queue is full. Returns True when queued."""
        if self._closed:
            return False
        filt = self.filter
        if filt is not None and not isinstance(ev, Connected | Disconnected | Overflowed):
            try:
                if not filt(ev):
                    return False
            except Exception:
                log.exception("ari_consumer_filter_failed", consumer=self.name)
                return False
        buf = self._buf
        if len(buf) >= self.maxsize:
            self._drop()
            return False
        if self._pending_drops:
            buf.append(Overflowed(dropped=self._pending_drops))
            self._pending_drops = 0
        buf.append(ev)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def _drop(self) -> None:
        self._pending_drops += 1
        self.dropped_total += 1
        self._dropped_since_log += 1
        self._drop_counter.inc()
        now = self._clock.monotonic()
        if now - self._last_log >= self._log_interval:
            log.warning("ari_consumer_overflow", consumer=self.name, maxsize=self.maxsize,
                        dropped=self._dropped_since_log, dropped_total=self.dropped_total)
            self._last_log = now
            self._dropped_since_log = 0

    # --- consumer side -------------------------------------------------------------------------
    def qsize(self) -> int:
        return len(self._buf)

    @property
    def closed(self) -> bool:
        return self._closed

    def get_nowait(self) -> AriEvent:
        """Next event; raises ``asyncio.QueueEmpty`` when there is none."""
        if not self._buf:
            raise asyncio.QueueEmpty
        return self._buf.popleft()

    def drain(self) -> list[AriEvent]:
        """Everything queued right now (used by tests and batch consumers)."""
        out = list(self._buf)
        self._buf.clear()
        return out

    async def get(self) -> AriEvent:
        """Next event; raises ``StopAsyncIteration`` once closed and empty."""
        while not self._buf:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buf.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> AriEvent:
        return await self.get()

    def close(self) -> None:
        """Stop receiving; a pending ``async for`` ends after the queued events."""
        if self._closed:
            return
        self._closed = True
        if self._dispatcher is not None:
            self._dispatcher.unsubscribe(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Dispatcher:
    def __init__(self, clock: Clock | None = None, log_interval: float = 10.0) -> None:
        self._subs: list[Subscription] = []
        self._offers: tuple[Callable[[AriEvent], bool], ...] = ()
        self._clock = clock or SystemClock()
        self._log_interval = log_interval

    def subscribe(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        if any(s.name == name for s in self._subs):
            raise ValueError(f"a consumer named {name!r} is already subscribed")
        sub = Subscription(name, maxsize, filter, dispatcher=self, clock=self._clock,
                           log_interval=self._log_interval)
        self._subs.append(sub)
        self._offers = tuple(s.offer for s in self._subs)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._offers = tuple(s.offer for s in self._subs)
        if not sub.closed:
            sub.close()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    def publish(self, ev: AriEvent) -> None:
        for offer in self._offers:
            offer(ev)

    def close_all(self) -> None:
        for sub in list(self._subs):
            sub.close()
