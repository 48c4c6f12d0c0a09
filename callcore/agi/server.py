"""The FastAGI server: one asyncio task per connection, bounded, timed, never taken down by a session.

Scripts are looked up by the path of the AGI URL (``agi://host:port/route`` -> ``route``). A script that
fails gets its ``error_vars`` set on the channel so the dialplan can fall back; a connection beyond
``agi_max_sessions`` is closed at once (Asterisk then sets ``AGISTATUS=FAILURE``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter, Gauge, Histogram

from callcore.agi.protocol import MAX_LINE
from callcore.agi.session import AgiProtocolError, AgiSession, AgiTimeout, LineReader, read_env
from callcore.config import Settings
from callcore.errors import AgiError, AgiHangup
from callcore.metrics import REGISTRY

log = structlog.get_logger(__name__)

SESSIONS = Counter("callcore_agi_sessions", "FastAGI sessions by script and result.",
                   ["script", "result"], registry=REGISTRY)
ACTIVE = Gauge("callcore_agi_active_sessions", "FastAGI sessions in progress.", registry=REGISTRY)
DURATION = Histogram("callcore_agi_session_seconds", "FastAGI session duration.", registry=REGISTRY,
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

Handler = Callable[[AgiSession], Awaitable[None]]
ENV_TIMEOUT = 5.0
ERROR_VARS_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    handler: Handler
    error_vars: Mapping[str, str] = field(default_factory=dict)


class AgiServer:
    """``async with AgiServer(settings, scripts) as srv: srv.port``."""

    def __init__(self, settings: Settings, scripts: Mapping[str, Script] | list[Script]) -> None:
        self._settings = settings
        items = scripts.values() if isinstance(scripts, Mapping) else scripts
        self._scripts = {s.name: s for s in items}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.active = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise AgiError("FastAGI server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self._settings.agi_host, self._settings.agi_port, limit=MAX_LINE)
        log.info("agi.listening", host=self._settings.agi_host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name(f"agi-session-{next(self._ids)}")
        self._tasks.add(task)
        try:
            if self.active >= self._settings.agi_max_sessions:
                SESSIONS.labels(script="none", result="rejected").inc()
                log.warning("agi.rejected", reason="too many sessions", limit=self._settings.agi_max_sessions)
                return
            self.active += 1
            ACTIVE.inc()
            started = time.monotonic()
            try:
                await self._session(reader, writer)
            except asyncio.CancelledError:
                log.info("agi.session_cancelled")
            finally:
                self.active -= 1
                ACTIVE.dec()
                DURATION.observe(time.monotonic() - started)
        finally:
            self._tasks.discard(task)
            await _close(writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        timeout = self._settings.agi_session_timeout
        lines = LineReader(reader, min(ENV_TIMEOUT, timeout))
        script_label = "none"
        session: AgiSession | None = None
        script: Script | None = None
        result = "ok"
        try:
            async with asyncio.timeout(timeout):
                env = await read_env(lines)
                script = self._scripts.get(env.script)
                script_label = script.name if script else "unknown"
                session = AgiSession(env, lines, writer)
                if script is None:
                    result = "unknown_script"
                    log.warning("agi.unknown_script", script=env.script[:80], channel=env.get("channel"))
                    return
                lines.timeout = timeout
                await script.handler(session)
        except AgiHangup:
            result = "hangup" if session is not None else "closed"
        except (AgiTimeout, TimeoutError):
            result = "timeout"
            await self._error_vars(script, session)
        except AgiProtocolError as exc:
            result = "protocol_error"
            log.warning("agi.protocol_error", script=script_label, error=str(exc))
        except Exception as exc:
            result = "error"
            log.error("agi.script_failed", script=script_label, error=repr(exc),
                      channel=session.env.get("channel") if session else None)
            await self._error_vars(script, session)
        finally:
            SESSIONS.labels(script=script_label, result=result).inc()

    @staticmethod
    async def _error_vars(script: Script | None, session: AgiSession | None) -> None:
        if script is None or session is None or session.hung_up or not script.error_vars:
            return
        try:
            async with asyncio.timeout(ERROR_VARS_TIMEOUT):
                await session.set_variables(dict(script.error_vars))
        except (AgiError, TimeoutError):
            pass


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError):
        pass
