"""The service: every component in one asyncio TaskGroup, started in order and stopped in reverse.

Start-up: database (found, migrated) -> journal -> ARI session -> ACD (queues and agents from PostgreSQL,
persisted agent states restored) -> dialer -> FastAGI -> AMI -> HTTP. Shutdown on ``stop``: HTTP stops
accepting, the dialer launches nothing new, the ACD drains its ARI commands, the ARI session closes, and the
journal writes out everything it accepted (to PostgreSQL, or to its spill file).

PostgreSQL is never on the call-routing hot path: routing state lives in memory, the journal buffers and
spills, table projections wait for the database, and the last loaded queue/agent configuration is cached on
disk so that a restart while PostgreSQL is down still routes calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from callcore import __version__, metrics
from callcore.acd.core.events import EndpointRegistration, PersistedAgent
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime import metrics as acd_metrics
from callcore.acd.runtime.service import AcdService
from callcore.ari.session import AriSession
from callcore.clock import Clock, SystemClock
from callcore.config import Settings
from callcore.errors import AmiAuthError, MigrationError, StoreError
from callcore.http.sse import EventHub
from callcore.service.ari_journal import journal_ari_events, journal_tap
from callcore.service.configcache import ConfigCache
from callcore.service.looplag import WATCH
from callcore.service.projector import ProjectingJournal
from callcore.store.db import Database
from callcore.store.journal import PgJournal

log = structlog.get_logger(__name__)


class Service:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, dsn: str | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._dsn = dsn
        self._resolved_stop: Callable[[], Awaitable[None]] | None = None  # stops a private cluster we started
        self.pool: Database | None = None
        self.journal: PgJournal | None = None
        self.sink: ProjectingJournal | None = None
        self.ari: AriSession | None = None
        self.acd: AcdService | None = None
        self.dialer: Any = None
        self.callbacks: Any = None  # callcore.service.callbacks.CallbackDialer
        self.callback_requests: Any = None  # callcore.service.callbacks.CallbackRequests
        self.agi: Any = None
        self.ami: Any = None
        self.http_port: int | None = None
        self.started = asyncio.Event()
        self.hub = EventHub()  # operator/supervisor notifications, relayed to the other instances
        self._cache = ConfigCache(settings.config_cache_path)

    # --- health ---------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        j = self.journal.health() if self.journal else {}
        out: dict[str, Any] = {
            "ari_connected": bool(self.ari and self.ari.connected),
            "database_reachable": bool(j.get("db_ok")),
            "journal_spilling": bool(j.get("spilling")),
            "journal_buffering": bool(self.journal is not None and not j.get("db_ok") and not j.get("spilling")),
            "journal": j,
            "instance": self.settings.instance_id,
        }
        if self.ami is not None:
            out["ami"] = self.ami.health()
        if self.sink is not None:
            out["projection_pending"] = self.sink.pending
        out["load"] = WATCH.report()
        return out

    # --- run ------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        dsn = await self._database()
        try:
            await self._run_with(dsn, stop, s)
        finally:
            if self._resolved_stop is not None:
                await self._resolved_stop()

    async def _database(self) -> str:
        from callcore.store.migrate import migrate
        from callcore.store.pg import resolve_database

        if self._dsn:
            dsn = self._dsn
        else:
            resolved = await resolve_database(self.settings.database_url.reveal(), purpose="service")
            self._resolved_stop = resolved.stop
            log.info("database", detail=resolved.detail)
            dsn = resolved.dsn
        try:
            applied = await migrate(dsn)
            if applied:
                log.info("migrations_applied", migrations=applied)
        except MigrationError:
            raise
        except Exception as exc:
            if self._cache.exists():
                log.warning("database_unreachable_starting_from_cache", error=str(exc))
            else:
                raise StoreError(f"database unreachable at start-up and no cached configuration: {exc}") from exc
        return dsn

    async def _run_with(self, dsn: str, stop: asyncio.Event, s: Settings) -> None:
        from callcore.store.db import open_pool

        try:
            self.pool = await open_pool(dsn, s.db_pool_size)
        except Exception as exc:
            # PostgreSQL down at start-up: a pool that connects when it is back (every user of the pool
            # handles its absence: retries in the background, 503 on the API)
            log.warning("database_pool_unavailable", error=str(exc))
            self.pool = await open_pool(dsn, s.db_pool_size, lazy=True)
        self.journal = PgJournal(dsn, s, clock=self.clock)
        await self.journal.start()
        self.sink = ProjectingJournal(self.journal, self.pool, instance=s.instance_id)
        await self.sink.start()
        self.ari = AriSession.from_settings(s)
        queues, agents, states = await self._load_directory()
        if self.pool is not None:
            from callcore.service.callbacks import CallbackRequests

            self.callback_requests = CallbackRequests(self.pool, self.sink, self.clock)
        from callcore.service.outbound import AcdJournalTap

        self.acd_tap = AcdJournalTap(self.sink)  # the dialer hears about its customers as the ACD journals
        self.acd = AcdService(self.ari.client, self.acd_tap, self.clock, queues, agents, app=s.ari_app,
                              loader=self._loader,
                              on_callback=self.callback_requests.on_callback if self.callback_requests else None,
                              registrations_known=not s.ami_enabled, dialplan_moh=s.acd_dialplan_moh)
        self.acd.restore(states)
        runner: web.AppRunner | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                # first subscription: every event is journaled before any consumer sees it
                journal_sub = self.ari.subscribe("journal", maxsize=10_000, filter=journal_tap(self.sink))
                acd_sub = self.ari.subscribe("acd", maxsize=50_000, filter=self.acd.runtime.stamp)
                await self.ari.start()

                def backlog() -> int:
                    n = acd_sub.qsize()
                    acd_metrics.EVENTS_BACKLOG.set(n)
                    return n

                WATCH.backlog = backlog
                tg.create_task(WATCH.run(), name="load-watch")
                tg.create_task(self.acd.run(acd_sub), name="acd")
                tg.create_task(journal_ari_events(journal_sub, self.sink), name="ari-journal")
                tg.create_task(self._listen_config(dsn), name="config-listener")
                await self._start_dialer(tg, dsn)
                self._start_callbacks(tg)
                await self._start_agi()
                await self._start_ami(tg)
                if self.pool is not None:
                    from callcore.service.hubrelay import HubRelay

                    tg.create_task(HubRelay(self.hub, self.pool, dsn).run(), name="hub-relay")
                if self.pool is not None:
                    tg.create_task(self._close_ended_calls(), name="close-ended-calls")
                runner = await self._start_http()
                self.started.set()
                self.sink.append("service.started", {"version": __version__})   # queue_log QUEUESTART
                log.info("service_started", instance=s.instance_id, http_port=self.http_port)
                await stop.wait()
                log.info("service_stopping")
                await self._quiesce(runner)
                runner = None
                raise _Stop
        except* _Stop:
            pass
        finally:
            await self._shutdown(runner)

    async def _quiesce(self, runner: web.AppRunner | None) -> None:
        """Graceful part of a shutdown, while the event consumers still run: stop taking requests and
        launching calls, then let the ACD finish the ARI commands it already decided on."""
        if runner is not None:
            await runner.cleanup()
        if self.dialer is not None:
            with contextlib.suppress(Exception):
                await self.dialer.stop()
            self.dialer = None
        if self.callbacks is not None:
            await self.callbacks.stop()
        if self.agi is not None:
            with contextlib.suppress(Exception):
                await self.agi.stop()
            self.agi = None
        if self.acd is not None:
            try:
                # what was decided before the stop, not the work that keeps arriving under load
                await asyncio.wait_for(self.acd.settle(), 5.0)
            except Exception as exc:
                log.warning("acd_drain_incomplete", error=repr(exc))

    async def _shutdown(self, runner: web.AppRunner | None) -> None:
        if runner is not None:
            await runner.cleanup()
        if self.dialer is not None:
            with contextlib.suppress(Exception):
                await self.dialer.stop()
        if self.agi is not None:
            with contextlib.suppress(Exception):
                await self.agi.stop()
        if self.ami is not None:
            with contextlib.suppress(Exception):
                await self.ami.stop()
        if self.ari is not None:
            await self.ari.close()
        if self.sink is not None:
            await self.sink.close()
        if self.journal is not None:
            await self.journal.close()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5.0)
        log.info("service_stopped")

    async def _close_ended_calls(self) -> None:
        """Close this instance's call records that ended while it was not running (see service.reconcile)."""
        from callcore.service.reconcile import close_calls_ended_while_down

        connected_since: list[float] = []

        def ready() -> bool:
            j = self.journal.health() if self.journal is not None else {}
            if not (self.ari is not None and self.ari.connected):
                connected_since.clear()
                return False
            if not connected_since:
                connected_since.append(self.clock.monotonic())
            # the ACD re-adopts from the first snapshot; the journal has replayed what a killed run left
            return (self.clock.monotonic() - connected_since[0] >= 1.0 and not j.get("spilling")
                    and not j.get("spilled_pending"))

        def live() -> set[str]:
            return set(self.acd.engine.state.calls) if self.acd is not None else set()

        assert self.sink is not None
        if self.pool is None:
            return  # no database at start-up: nothing to reconcile against
        await close_calls_ended_while_down(self.pool, self.sink, self.settings.instance_id, self.clock, ready,
                                           live)

    # --- configuration ----------------------------------------------------------------------------------

    async def _load_directory(self) -> tuple[list[QueueConfig], list[AgentConfig], list[PersistedAgent]]:
        from callcore.directory.store import load_agent_states

        try:
            if self.pool is None:
                raise StoreError("no database pool")
            queues, agents = await self._loader()
            saved = await load_agent_states(self.pool, self.settings.instance_id)  # only this node's agents
            states = [PersistedAgent(a, st.state, st.pause_reason or "") for a, st in saved.items()]
            self._cache.save(queues, agents, states)
            return list(queues), list(agents), states
        except Exception as exc:
            cached = self._cache.load()
            if cached is None:
                log.warning("no_queue_configuration", error=str(exc))
                return [], [], []
            log.warning("using_cached_configuration", error=str(exc), path=str(self._cache.path))
            return cached

    async def _loader(self) -> tuple[list[QueueConfig], list[AgentConfig]]:
        from callcore.directory.store import load_directory

        if self.pool is None:
            raise StoreError("no database pool")
        d = await load_directory(self.pool)
        return list(d.queues), list(d.agents)

    async def _listen_config(self, dsn: str) -> None:
        from callcore.directory.notify import listen_config_changes

        async def changed(what: str) -> None:
            log.info("configuration_changed", what=what)
            if self.acd is not None and self.pool is not None and not what.startswith("campaign:"):
                try:
                    queues, agents = await self._loader()
                    self.acd.apply_config(queues, agents)
                    self._cache.save(queues, agents)
                except Exception as exc:
                    log.warning("configuration_reload_failed", error=str(exc))
            if self.dialer is not None:
                with contextlib.suppress(Exception):
                    await self.dialer.reload()

        await listen_config_changes(dsn, changed)

    # --- optional components ----------------------------------------------------------------------------

    async def _start_dialer(self, tg: asyncio.TaskGroup, dsn: str) -> None:
        if self.pool is None or self.ari is None or self.acd is None or self.sink is None:
            log.warning("dialer_not_started", why="no database pool at start-up")
            return
        from callcore.dialer.runtime import DialerService, wants
        from callcore.dialer.sounds import available
        from callcore.dialer.store import DialerStore
        from callcore.service.outbound import AcdHandoff, operators_of, publish_dialer_gauges

        operators = operators_of(self.acd, self.clock)
        client = self.ari.client
        self.dialer = DialerService(
            ari=self.ari.client, events=self.ari.subscribe("dialer", maxsize=50_000, filter=wants),
            store=DialerStore(self.pool), journal=self.sink, acd=AcdHandoff(self.acd, scripts=self._campaign_script),
            operators=operators, instance=self.settings.instance_id, clock=self.clock,
            sounds=lambda: available(client))
        self.acd_tap.listeners.append(self.dialer.on_acd_journal)
        try:
            await self.dialer.start(tg)
        except Exception as exc:  # campaigns start on the next configuration change or restart
            log.warning("dialer_start_failed", error=str(exc))
        tg.create_task(publish_dialer_gauges(self.dialer, operators, self.clock), name="dialer-gauges")

    def _start_callbacks(self, tg: asyncio.TaskGroup) -> None:
        """Inbound callbacks dialled back, operators' callback dispositions stored (needs the database)."""
        if self.pool is None or self.ari is None or self.acd is None or self.sink is None:
            return
        from callcore.service.callbacks import CallbackDialer

        self.callbacks = CallbackDialer(ari=self.ari.client, acd=self.acd, pool=self.pool, journal=self.sink,
                                        clock=self.clock, instance=self.settings.instance_id,
                                        caller_id=self.settings.callback_caller_id,
                                        region=self.settings.phone_region)
        self.acd_tap.listeners.append(self.callbacks.on_acd_journal)
        events = self.ari.subscribe("callbacks", maxsize=50_000, filter=self.callbacks.wants)
        tg.create_task(self.callbacks.run(events), name="callback-dialer")
        if self.callback_requests is not None:
            tg.create_task(self.callback_requests.run(), name="callback-requests")

    def _campaign_script(self, campaign: str) -> str:
        runner = self.dialer.runners.get(campaign) if self.dialer is not None else None
        return str(runner.settings.script) if runner is not None else ""

    async def _start_agi(self) -> None:
        if not self.settings.agi_enabled or self.pool is None:
            return
        from callcore.agi.scripts import AgiScripts
        from callcore.agi.server import AgiServer
        from callcore.agi.store import PgAgiStore

        scripts = AgiScripts(PgAgiStore(self.pool), self.clock, region=self.settings.phone_region)
        self.agi = AgiServer(self.settings, scripts.scripts())
        await self.agi.start()

    async def _start_ami(self, tg: asyncio.TaskGroup) -> None:
        if not self.settings.ami_enabled:
            return
        from callcore.ami.client import AmiClient

        self.ami = AmiClient(self.settings)
        try:
            await self.ami.start()
        except AmiAuthError:
            log.error("ami_login_refused", user=self.settings.ami_user)
            raise
        acd = self.acd

        def on_change(change: Any) -> None:
            # AMI names PJSIP endpoints without the technology ("agent1001"); agents' endpoints carry it
            if acd is not None and change.registered is not None:
                endpoint = change.endpoint if "/" in change.endpoint else f"PJSIP/{change.endpoint}"
                acd.runtime.handle(EndpointRegistration(endpoint, change.registered))

        self.ami.on_registration_change(on_change)
        from callcore.ami.registry import RegistrationChange

        for endpoint, registered in self.ami.registrations.snapshot().items():  # what start() already read
            on_change(RegistrationChange(endpoint, registered))
        if acd is not None:  # until now no ring-mode operator was offered a call: her phone may be offline
            acd.registrations_read()

    async def _start_http(self) -> web.AppRunner:
        from callcore.http.app import create_app

        app = create_app(acd=self.acd, pool=self.pool, settings=self.settings, health=self.health,
                         metrics=metrics.render, dialer=self.dialer, hub=self.hub)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.http_port = server.sockets[0].getsockname()[1]
        return runner


class _Stop(Exception):
    pass

