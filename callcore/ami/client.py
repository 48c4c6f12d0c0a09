"""AMI client: checked login, reconnect with backoff, checked Ping, action timeouts, PJSIP registrations.

``AmiClient(settings)``; ``await client.start()`` (raises AmiAuthError on a refused login, keeps retrying
in the background while Asterisk is unreachable); ``await client.action("CoreShowChannels")``;
``client.registered("agent1001")``; ``async for change in client.registration_changes(): ...``;
``client.health()`` for /readyz; ``await client.stop()``.

Nothing is ever re-sent: an action pending when the connection drops fails with AmiUnavailable, and
an action attempted while disconnected fails at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from panoramisk.actions import Action
from panoramisk.message import Message
from prometheus_client import Counter, Gauge

from callcore.ami.protocol import AmiTimeout, AmiUnavailable, CallcoreAmiProtocol
from callcore.ami.registry import RegistrationChange, Registrations, nothing_listed
from callcore.ami.wire import fields_of
from callcore.config import Settings
from callcore.errors import AmiAuthError, AmiError
from callcore.metrics import REGISTRY

log = structlog.get_logger(__name__)

CONNECTED = Gauge("callcore_ami_connected", "1 while logged in to AMI.", registry=REGISTRY)
RECONNECTS = Counter("callcore_ami_reconnects", "AMI reconnections after a lost connection.",
                     registry=REGISTRY)
ACTIONS = Counter("callcore_ami_actions", "AMI actions by name and result.", ["action", "result"],
                  registry=REGISTRY)

EventCallback = Callable[[str, dict[str, str]], None]
BACKOFF_START = 1.0   # a peer that is not AMI (or is restarting) is tried again after >= 1 s
FAILURE_LOG_EVERY = 30.0   # one log line per this many seconds while connecting keeps failing


class AmiClient:
    def __init__(self, settings: Settings, *, backoff_max: float = 30.0) -> None:
        self._s = settings
        self._backoff_max = backoff_max
        self._protocol: CallcoreAmiProtocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._banner: asyncio.Future[str] | None = None
        self._callbacks: list[tuple[str, EventCallback]] = []
        self._stopping = False
        self._background: set[asyncio.Task[None]] = set()
        self.registrations = Registrations()
        self.logged_in = False
        self.fully_booted = False
        self.version: str | None = None
        self.last_ping_rtt: float | None = None
        self.last_error: str | None = None
        self.reconnects = 0
        self.auth_failed = False
        self._failures_unlogged = 0
        self._last_failure_log = -FAILURE_LOG_EVERY

    # --- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """First connection attempt, then the background loop. AmiAuthError if the login is refused."""
        self._stopping = False
        try:
            await self._connect()
        except AmiAuthError:
            raise
        except AmiError as exc:
            self.last_error = str(exc)
            log.warning("ami.unreachable", error=str(exc))
        self._task = asyncio.create_task(self._run(), name="ami-connection")

    async def stop(self) -> None:
        self._stopping = True
        for task in [self._task, *self._background]:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = None
        if self._protocol is not None and self.logged_in:
            try:
                await self.action("Logoff", within=1.0)
            except AmiError:
                pass
        self._drop()

    async def __aenter__(self) -> AmiClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _drop(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None
        self._set_logged_out()

    def _set_logged_out(self) -> None:
        self.logged_in = False
        self.fully_booted = False
        CONNECTED.set(0)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._banner = loop.create_future()
        banner = self._banner
        lost = self._lost

        def on_banner(version: str) -> None:
            if not banner.done():
                banner.set_result(version)

        def on_lost(exc: Exception | None) -> None:
            lost.set()
            if not banner.done():
                what = f": {exc}" if exc is not None else " (nothing was received)"
                banner.set_exception(AmiUnavailable(
                    f"AMI at {self._s.ami_host}:{self._s.ami_port} closed the connection before the banner{what}"))

        try:
            async with asyncio.timeout(self._s.ami_timeout):
                _, protocol = await loop.create_connection(
                    lambda: CallcoreAmiProtocol(self._on_event, on_lost, on_banner),
                    self._s.ami_host, self._s.ami_port)
                self._protocol = protocol
                self.version = await banner
        except (OSError, TimeoutError) as exc:
            self._drop()
            raise AmiUnavailable(f"cannot connect to AMI at {self._s.ami_host}:{self._s.ami_port}: "
                                 f"{exc or 'timeout'}") from exc
        except AmiError:
            self._drop()
            raise
        await self._login()

    async def _login(self) -> None:
        try:
            reply = await self.action("Login", Username=self._s.ami_user, Secret=self._s.ami_secret.reveal(),
                                      Events="on", _logged_in=False)
        except AmiError:
            self._drop()
            raise
        if not bool(reply.success):
            self._drop()
            self.auth_failed = True
            self.last_error = f"AMI login refused for user {self._s.ami_user!r}: {reply.get('Message', '')}"
            raise AmiAuthError(self.last_error + " (check ami_user/ami_secret and manager.conf)")
        self.auth_failed = False
        self.logged_in = True
        self.last_error = None
        CONNECTED.set(1)
        log.info("ami.logged_in", version=self.version)
        try:
            await self.refresh_registrations()
        except AmiError as exc:
            log.warning("ami.registrations_unavailable", error=str(exc))

    async def _run(self) -> None:
        backoff = BACKOFF_START
        while not self._stopping:
            if self.logged_in:
                await self._supervise()
                if self._stopping:
                    return
                RECONNECTS.inc()
                self.reconnects += 1
                self._drop()
                log.warning("ami.connection_lost")
                backoff = BACKOFF_START
            await asyncio.sleep(backoff * random.uniform(1.0, 1.25))
            try:
                await self._connect()
                backoff = BACKOFF_START
                self._failures_unlogged = 0
            except AmiAuthError as exc:
                log.error("ami.login_refused", error=str(exc))
                return  # a wrong secret does not fix itself: no endless login loop
            except AmiError as exc:
                self.last_error = str(exc)
                self._log_failure(exc)
                backoff = min(self._backoff_max, backoff * 2)

    def _log_failure(self, exc: AmiError) -> None:
        """Every failed attempt is counted; one line per FAILURE_LOG_EVERY seconds says why (timeout or
        what the peer sent) and how many attempts failed since the last line."""
        self._failures_unlogged += 1
        now = time.monotonic()
        if now - self._last_failure_log < FAILURE_LOG_EVERY:
            return
        reason = "timeout" if isinstance(exc, AmiTimeout) or "timeout" in str(exc) else "not-ami-or-closed"
        log.warning("ami.connect_failed", reason=reason, error=str(exc), attempts=self._failures_unlogged)
        self._last_failure_log = now
        self._failures_unlogged = 0

    async def _supervise(self) -> None:
        """Ping on the interval until the connection is lost or a Ping goes unanswered."""
        lost = self._lost
        while not lost.is_set():
            try:
                async with asyncio.timeout(self._s.ami_ping_interval):
                    await lost.wait()
                return
            except TimeoutError:
                pass
            if not await self.ping():
                if self._protocol is not None:
                    self._protocol.transport.abort()
                return

    async def ping(self) -> bool:
        """One checked Ping: True when ``Response: Success`` (``Ping: Pong``) came back in time."""
        started = time.monotonic()
        try:
            reply = await self.action("Ping")
        except AmiError as exc:
            self.last_error = f"Ping failed: {exc}"
            log.warning("ami.ping_failed", error=str(exc))
            return False
        if not bool(reply.success):
            self.last_error = f"Ping answered {reply.get('Response', '')!r}"
            return False
        self.last_ping_rtt = time.monotonic() - started
        return True

    # --- actions -----------------------------------------------------------------------------------
    async def action(self, name: str, *, within: float | None = None, as_list: bool | None = None,
                     _logged_in: bool = True, **fields: Any) -> Any:
        """Send one action and wait for its answer (a Message, or a list for event-list actions)."""
        label = name.lower()
        protocol = self._protocol
        if protocol is None or protocol.closed or (_logged_in and not self.logged_in):
            ACTIONS.labels(action=label, result="unavailable").inc()
            raise AmiUnavailable(f"AMI is not connected; {name} not sent")
        act = Action({"Action": name, **fields}, as_list=as_list)
        try:
            future = protocol.send(act, as_list=as_list)
        except AmiError:
            ACTIONS.labels(action=label, result="refused").inc()
            raise
        try:
            async with asyncio.timeout(within or self._s.ami_timeout):
                result = await future
        except TimeoutError:
            protocol.forget(act.id)
            ACTIONS.labels(action=label, result="timeout").inc()
            limit = within or self._s.ami_timeout
            raise AmiTimeout(f"AMI {name}: timeout (no answer within {limit:g} s)") from None
        except AmiError:
            ACTIONS.labels(action=label, result="unavailable").inc()
            raise
        first = result[0] if isinstance(result, list) else result
        ACTIONS.labels(action=label, result="success" if first.success else "error").inc()
        return result

    async def list_action(self, name: str, **fields: Any) -> list[dict[str, str]]:
        """An event-list action (PJSIPShowContacts, CoreShowChannels ...): the listed events' fields.
        An error that only says there is nothing to list (Asterisk's ``No Contacts found``) is an empty
        list; AmiError when Asterisk answers with any other error."""
        result = await self.action(name, **fields)
        messages = result if isinstance(result, list) else [result]
        if not messages[0].success:
            message = str(messages[0].get("Message", "error")).strip()
            if nothing_listed(name, message):
                return []
            raise AmiError(f"AMI {name}: {message}")
        return [fields_of(m) for m in messages[1:] if not str(m.get("Event", "")).endswith("Complete")]

    # --- events ------------------------------------------------------------------------------------
    def on_event(self, name: str, callback: EventCallback) -> None:
        """Call ``callback(event_name, fields)`` for events named ``name`` (``*`` for all)."""
        self._callbacks.append((name.lower(), callback))

    def _on_event(self, message: Message) -> None:
        name = str(message.get("Event", ""))
        fields = fields_of(message)
        low = name.lower()
        if low == "fullybooted":
            self.fully_booted = True
        elif low == "shutdown":
            self.fully_booted = False
            log.warning("ami.asterisk_shutdown", restart=fields.get("Restart", ""))
        elif low == "reload":
            task = asyncio.get_running_loop().create_task(self._refresh_quietly(), name="ami-refresh")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif low == "contactstatus":
            self.registrations.apply_contact_status(fields)
        for pattern, callback in self._callbacks:
            if pattern in ("*", low):
                try:
                    callback(name, fields)
                except Exception as exc:
                    log.error("ami.callback_failed", ami_event=name, error=repr(exc))

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_registrations()
        except AmiError as exc:
            log.warning("ami.registrations_unavailable", error=str(exc))

    # --- registrations -----------------------------------------------------------------------------
    async def refresh_registrations(self) -> None:
        endpoints = await self.list_action("PJSIPShowEndpoints")
        contacts = await self.list_action("PJSIPShowContacts")
        self.registrations.replace(endpoints, contacts)

    def registered(self, endpoint: str) -> bool | None:
        """True/False for a known endpoint, None when AMI never reported it."""
        return self.registrations.registered(endpoint)

    def on_registration_change(self, callback: Callable[[RegistrationChange], None]) -> None:
        self.registrations.callbacks.append(callback)

    def registration_changes(self) -> AsyncIterator[RegistrationChange]:
        return self.registrations.changes()

    def health(self) -> dict[str, Any]:
        return {"connected": self._protocol is not None and not self._protocol.closed,
                "logged_in": self.logged_in, "fully_booted": self.fully_booted, "version": self.version,
                "last_ping_rtt": self.last_ping_rtt, "reconnects": self.reconnects,
                "auth_failed": self.auth_failed, "last_error": self.last_error}
