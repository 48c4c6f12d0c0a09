"""LISTEN for directory changes (``NOTIFY callcore_config``) with automatic reconnect.

Payloads are ``queue:<name>``, ``agent:<id>`` or ``membership:<agent_id>:<queue>``. After every
(re)connection the callback also receives ``*``: changes made while the connection was down were
missed, so the listener should reload everything.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from callcore.errors import StoreError
from callcore.store.db import connect

CHANNEL = "callcore_config"
RELOAD_ALL = "*"

log = structlog.get_logger(__name__)

Callback = Callable[[str], Awaitable[None] | None]


async def _deliver(callback: Callback, what: str) -> None:
    try:
        result = callback(what)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("config_change_callback_failed", what=what)


async def _session(dsn: str, callback: Callback, channel: str, keepalive: float) -> None:
    conn = await connect(dsn, codecs=False)
    inbox: asyncio.Queue[str | None] = asyncio.Queue()

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        inbox.put_nowait(payload)

    def on_terminate(_conn: Any) -> None:
        inbox.put_nowait(None)

    try:
        conn.on_terminate(on_terminate)
        await conn.listen(channel, on_notify)
        log.info("config_listener_connected", channel=channel)
        await _deliver(callback, RELOAD_ALL)
        while True:
            try:
                what = await asyncio.wait_for(inbox.get(), timeout=keepalive)
            except TimeoutError:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=keepalive)
                continue
            if what is None:
                return
            await _deliver(callback, what)
    finally:
        if not conn.is_closed():
            conn.terminate()


async def listen_config_changes(dsn: str, callback: Callback, *, channel: str = CHANNEL,
                                keepalive: float = 30.0, backoff_max: float = 30.0) -> None:
    """Call ``callback(what)`` for every change notification; runs until cancelled, reconnecting
    with jittered exponential backoff when PostgreSQL goes away."""
    delay = 0.5
    while True:
        try:
            await _session(dsn, callback, channel, keepalive)
            delay = 0.5
        except (StoreError, TimeoutError) as exc:
            log.warning("config_listener_disconnected", error=str(exc), retry_in=round(delay, 2))
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(backoff_max, delay * 2)
