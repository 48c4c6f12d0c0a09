"""Operator/supervisor notifications (help requests, their answers) reach every instance.

An event published on one instance's ``EventHub`` is sent with ``pg_notify('callcore_hub', ...)``; every
instance LISTENs and delivers events that came from another instance to its own subscribers. Sending runs in
a background task (the publisher never waits for PostgreSQL); an event too large for a notification
(PostgreSQL's 8000-byte limit) is delivered locally only, and logged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import Any

import structlog

from callcore.errors import DatabaseUnavailable
from callcore.http.sse import EventHub
from callcore.store.db import Database

log = structlog.get_logger(__name__)

CHANNEL = "callcore_hub"
MAX_PAYLOAD = 7900


class HubRelay:
    def __init__(self, hub: EventHub, pool: Database | None, dsn: str, *, maxlen: int = 1000) -> None:
        self.hub = hub
        self.pool = pool
        self.dsn = dsn
        self.origin = uuid.uuid4().hex
        self._out: asyncio.Queue[str] = asyncio.Queue(maxlen)
        hub.relay = self.send

    def send(self, topic: str, event: Mapping[str, Any]) -> None:
        payload = json.dumps({"origin": self.origin, "topic": topic, "event": dict(event)}, default=str)
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("hub_event_too_large_to_relay", topic=topic, size=len(payload))
            return
        if self._out.full():
            self._out.get_nowait()
            log.warning("hub_relay_backlog_full")
        self._out.put_nowait(payload)

    def receive(self, payload: str) -> None:
        try:
            msg = json.loads(payload)
            if msg.get("origin") == self.origin:
                return
            self.hub.deliver(str(msg["topic"]), msg["event"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("hub_relay_bad_notification", error=str(exc))

    async def run(self) -> None:
        from callcore.directory.notify import RELOAD_ALL, listen_config_changes

        def on_notify(payload: str) -> None:
            if payload != RELOAD_ALL:
                self.receive(payload)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(listen_config_changes(self.dsn, on_notify, channel=CHANNEL), name="hub-relay-listen")
            tg.create_task(self._sender(), name="hub-relay-send")

    async def _sender(self) -> None:
        while True:
            payload = await self._out.get()
            while True:
                try:
                    if self.pool is None:
                        raise DatabaseUnavailable("no database pool")
                    await self.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                    break
                except Exception as exc:  # PostgreSQL away: keep the event, try again
                    log.warning("hub_relay_send_failed", error=str(exc))
                    await asyncio.sleep(1.0)
