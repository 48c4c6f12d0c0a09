"""The ARI events websocket that never dies.

``EventStream.run()`` connects to ``/ari/events?app=<app>&subscribeAll=false`` (basic auth header, no
``api_key`` in the URL), optionally installs an event filter, takes a REST snapshot and publishes
``Connected(snapshot)``, then reads frames in order and publishes every decoded event to the
dispatcher. When the socket is lost it publishes ``Disconnected(reason)`` and reconnects after a capped
exponential backoff with full jitter. While Asterisk cannot be reached the wait is cut short as soon as it
answers again (``GET /asterisk/ping`` every ``PROBE_INTERVAL``), so ``Stasis(app)`` is registered again
within a fraction of a second of Asterisk's return, not after a jittered wait of up to the cap. Asterisk
buffers nothing across an outage and sends no new StasisStart after a reconnect: consumers reconcile their
state with the snapshot.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import aiohttp
import msgspec
import structlog

from callcore.ari.client import AriClient
from callcore.ari.dispatch import Dispatcher
from callcore.ari.events import (
    WIRE_EVENT_TYPES,
    ApplicationReplaced,
    Connected,
    Disconnected,
    decode_event,
    event_type,
)
from callcore.ari.metrics import ARI_CONNECT_FAILURES, ARI_CONNECTED, ARI_EVENTS, ARI_RECONNECTS
from callcore.ari.resync import take_snapshot
from callcore.clock import Clock, SystemClock
from callcore.errors import AriError, AriUnavailable

log = structlog.get_logger(__name__)

PROBE_INTERVAL = 0.25  # while Asterisk is unreachable: how often its HTTP side is asked whether it is back
PROBE_TIMEOUT = 1.0

#: Event types a contact center acts on: everything modelled except the ChannelVarset / ChannelDialplan flood.
CONTACT_CENTER_EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(WIRE_EVENT_TYPES - {"ChannelVarset", "ChannelDialplan"})
)


class Backoff:
    """Capped exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        if base <= 0 or cap <= 0:
            raise ValueError("base and cap must be > 0")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """Upper bound of the next delay."""
        return min(self.cap, self.base * 2.0 ** min(self.attempt, 62))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class EventStream:
    def __init__(
        self, client: AriClient, dispatcher: Dispatcher, *, heartbeat: float = 10.0,
        reconnect_max: float = 2.0, reconnect_base: float = 0.5, stable_after: float = 5.0,
        event_types: Sequence[str] | None = None, clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.dispatcher = dispatcher
        self.heartbeat = heartbeat
        self.event_types = list(event_types) if event_types is not None else None
        self.backoff = Backoff(reconnect_base, reconnect_max, rng)
        self.stable_after = stable_after
        self.connections = 0
        self._clock = clock or SystemClock()
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._type_counters: dict[str, Any] = {}
        self._pending_counts: dict[str, int] = {}
        self._flush_scheduled = False
        self._unreachable = False  # the last attempt found no Asterisk (refused, timed out, 5xx/404 handshake)
        ARI_CONNECTED.set(0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until connected and resynced; ``AriUnavailable`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise AriUnavailable(f"ARI events websocket not connected after {timeout} s") from None

    def stop(self) -> None:
        self._stop.set()

    @property
    def events_url(self) -> str:
        return self.client.base_url + "/events"

    async def run(self) -> None:
        """Connect, read, reconnect until ``stop()`` or cancellation."""
        try:
            while not self._stop.is_set():
                started = self._clock.monotonic()
                was_up = await self._connect_once()
                if self._stop.is_set():
                    break
                if was_up and self._clock.monotonic() - started >= self.stable_after:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                log.info("ari_ws_reconnect_wait", delay=round(delay, 3), attempt=self.backoff.attempt,
                         probing=self._unreachable)
                await self._wait(delay, probe=self._unreachable)
        finally:
            self._set_disconnected()

    async def _wait(self, delay: float, *, probe: bool) -> None:
        """Wait ``delay`` seconds (or until ``stop()``); with ``probe``, return as soon as Asterisk answers."""
        deadline = self._clock.monotonic() + delay
        while not self._stop.is_set():
            left = deadline - self._clock.monotonic()
            if left <= 0:
                return
            step = min(left, PROBE_INTERVAL) if probe else left
            try:
                async with asyncio.timeout(step):
                    await self._stop.wait()
                return
            except TimeoutError:
                pass
            if probe and await self._answers():
                log.info("ari_asterisk_back", skipped_wait=round(max(0.0, deadline - self._clock.monotonic()), 3))
                return

    async def _answers(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self.client.ping()
        except (AriError, TimeoutError, OSError, aiohttp.ClientError):
            return False
        return True

    async def _connect_once(self) -> bool:
        """One connection: True when it got connected and resynced (whatever ended it)."""
        params = {"app": self.client.app, "subscribeAll": "false"}
        self._unreachable = False
        try:
            async with asyncio.timeout(self.client.timeout):
                ws = await self.client.session.ws_connect(
                    self.events_url, params=params, headers=self.client.auth_headers,
                    heartbeat=self.heartbeat, autoping=True, timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    compress=0,
                )
        except aiohttp.WSServerHandshakeError as exc:
            ARI_CONNECT_FAILURES.inc()
            hint = " (check ARI user/password)" if exc.status == 401 else ""
            log.error("ari_ws_handshake_failed", status=exc.status, error=exc.message + hint)
            self._unreachable = exc.status == 404 or exc.status >= 500  # starting up: ARI not loaded yet
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._unreachable = True
            ARI_CONNECT_FAILURES.inc()
            log.warning("ari_ws_connect_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        reason = "closed"
        try:
            if not await self._resync():
                reason = "resync failed"
                return False
            reason = await self._read(ws)
            return True
        finally:
            if not ws.closed:
                await ws.close()
            self._set_disconnected(reason)

    async def _resync(self) -> bool:
        try:
            if self.event_types is not None:
                try:
                    await self.client.set_event_filter(self.event_types)
                except AriError as exc:
                    if isinstance(exc, AriUnavailable):
                        raise
                    log.warning("ari_event_filter_failed", error=str(exc))
            snapshot = await take_snapshot(self.client)
        except AriError as exc:
            ARI_CONNECT_FAILURES.inc()
            log.warning("ari_resync_failed", error=str(exc))
            return False
        reconnect = self.connections > 0
        if reconnect:
            ARI_RECONNECTS.inc()
        self.connections += 1
        self._connected.set()
        ARI_CONNECTED.set(1)
        log.info("ari_ws_connected", app=self.client.app, reconnect=reconnect,
                 channels=len(snapshot.channels), bridges=len(snapshot.bridges))
        self.dispatcher.publish(Connected(snapshot=snapshot, reconnect=reconnect))
        return True

    def flush_counts(self) -> None:
        """Add the events counted since the last flush to ``callcore_ari_events_total``. ``_read``
        counts in a plain dict and schedules one flush per burst of frames (``call_soon``), so the
        Prometheus counters (a lock each) are not touched per event."""
        self._flush_scheduled = False
        pending = self._pending_counts
        if not pending:
            return
        counters = self._type_counters
        for type_name, n in pending.items():
            counter = counters.get(type_name)
            if counter is None:
                counter = counters[type_name] = ARI_EVENTS.labels(type=type_name)
            counter.inc(n)
        pending.clear()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        publish = self.dispatcher.publish
        receive = ws.receive
        text, binary, error = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.ERROR
        closing = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
        pending = self._pending_counts
        loop = asyncio.get_running_loop()
        try:
            while True:
                msg = await receive()
                kind = msg.type
                if kind is text or kind is binary:
                    try:
                        ev = decode_event(msg.data)
                    except msgspec.DecodeError as exc:
                        log.warning("ari_ws_bad_frame", error=str(exc), frame=str(msg.data)[:200])
                        continue
                    name = event_type(ev)
                    pending[name] = pending.get(name, 0) + 1
                    if not self._flush_scheduled:
                        self._flush_scheduled = True
                        loop.call_soon(self.flush_counts)
                    publish(ev)
                    if type(ev) is ApplicationReplaced:
                        log.warning("ari_application_replaced", app=self.client.app)
                        return "application replaced"
                elif kind is error:
                    return f"error: {ws.exception()!r}"
                elif kind in closing:
                    return f"closed (code {ws.close_code})"
        finally:
            self.flush_counts()

    def _set_disconnected(self, reason: str = "stopped") -> None:
        if not self._connected.is_set():
            return
        self._connected.clear()
        ARI_CONNECTED.set(0)
        log.warning("ari_ws_disconnected", reason=reason)
        self.dispatcher.publish(Disconnected(reason=reason))
