"""The outbound executor: ARI events, database results and ACD notifications in, the core's commands out.

One ``DialerService`` per callcore instance runs every campaign through one ``Dialer`` core
(``callcore.dialer.core``) and one filtered ARI subscription (our ``dial-`` channels and reconnects).
Calls are originated with the attempt id as our own channel id into the app (so that Asterisk subscribes
the app to the channel from its creation and the end of a channel that never reaches Stasis, busy or no
answer, is seen): ``Stasis(app, outbound, campaign, attempt)``, or, for AMD campaigns,
``Stasis(app, amd-dial, campaign, attempt)``, which continues the answered call into dialplan
``dialer-amd,s,1`` (``AMD()`` then ``Stasis(app, amd, STATUS, CAUSE)``; the subscription keeps the app
informed while the call is in dialplan). ARI requests of one attempt run in order; database writes go
through one ordered writer that retries while PostgreSQL is down.

Every database error is caught in one place (``_db``) and becomes the core event ``DatabaseDown``: new
claims stop (inbound routing never depends on this), calls in flight go on and their results wait in the
writer; the first query that succeeds again gives ``DatabaseUp``. On start (the first ARI snapshot) the
attempts this instance left open are adopted: alive channels are followed again, ended ones resolved from
the journal. The ACD and the dialer talk through events: ``QueueCustomer`` / ``WithdrawCustomer`` /
``ReserveAgent`` go to the ACD through :class:`AcdLink`, and the ACD's journal entries for our customers
(``call.answered``, ``call.abandoned``...) come back through :meth:`DialerService.on_acd_journal`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from callcore.ari import events as AE
from callcore.ari.api import AriApi
from callcore.clock import Clock, SystemClock
from callcore.dialer import dnc, pacer
from callcore.dialer.campaign import Outcome
from callcore.dialer.compliance import RefusalCode
from callcore.dialer.core import commands as C
from callcore.dialer.core import events as E
from callcore.dialer.core.attempts import AttemptState
from callcore.dialer.core.engine import Dialer
from callcore.dialer.store import Campaign, ClaimedLead, DialerStore, OpenAttempt
from callcore.errors import (
    AriError,
    AriNotFound,
    AriServerError,
    AriUnavailable,
    AriUnprocessable,
    Conflict,
    DatabaseUnavailable,
    InputError,
    NotFound,
    StoreError,
    Unavailable,
)
from callcore.metrics import REGISTRY, KnownLabels
from callcore.store.api import JournalSink
from callcore.store.db import translate

log = structlog.get_logger(__name__)

ATTEMPTS = Counter("callcore_dialer_attempts_total", "Dial attempts ended, by campaign and outcome",
                   ["campaign", "outcome"], registry=REGISTRY)
BLOCKED = Counter("callcore_dialer_blocked_total", "Leads refused by a guard at dial time",
                  ["campaign", "reason"], registry=REGISTRY)
# campaigns known here: every outcome and refusal reason exported at 0 from the start
CAMPAIGNS = KnownLabels(zero=(ATTEMPTS, BLOCKED), expand={0: [(o.value,) for o in Outcome],
                                                          1: [(r.value,) for r in RefusalCode]})

AMD_CONTEXT = "dialer-amd"
AMD_DIAL = "amd-dial"  # Stasis argument of an AMD call from its originate until it is answered
SAFE_HARBOUR_CONTEXT = "callcore-safe-harbour"
CHANNEL_PREFIX = "dial-"
WRITE_RETRY = 1.0
HANGUP_RETRY = 1.0   # first wait before a hang-up Asterisk failed is tried again (doubling, at most 10 s)
HANGUP_TRIES = 8     # about 45 s of retries
DRAIN_TIMEOUT = 120.0  # on stop: how long calls in flight are followed
ACD_EVENTS = {"call.answered": "connected", "call.abandoned": "abandoned", "call.refused": "abandoned",
              "call.queued": "queued"}

OperatorsFn = Callable[[str], tuple[int, tuple[pacer.BusyOperator, ...]]]


class AcdLink(Protocol):
    """What the dialer asks of the ACD (``callcore.service.outbound.AcdHandoff`` in the service)."""

    def queue_customer(self, cmd: C.QueueCustomer) -> None: ...
    def withdraw(self, attempt: str) -> None: ...
    def reserve_agent(self, agent_id: str, attempt: str) -> None: ...
    def release_agent(self, agent_id: str, attempt: str) -> None: ...
    def agent_state(self, agent_id: str) -> str: ...


class PermanentDbError(Exception):
    """PostgreSQL refused a statement for a reason retrying cannot fix (bad data, a constraint)."""


def transient(exc: BaseException) -> bool:
    """A database error that goes away with the database (``DatabaseUnavailable`` from the boundary:
    connection refused or lost, timeouts, server shutting down or overloaded), as opposed to a statement
    PostgreSQL will never accept (any other StoreError). A bug (ValueError, TypeError ...) is not
    transient; anything else unexpected is treated as the database being away."""
    if isinstance(exc, StoreError):
        return isinstance(exc, DatabaseUnavailable)
    mapped = translate(exc)
    if mapped is not None:
        return isinstance(mapped, DatabaseUnavailable)
    return not isinstance(exc, ValueError | TypeError | KeyError | AttributeError | AssertionError)


def wants(ev: Any) -> bool:
    """Subscription filter: our channels' events (and playbacks) and the (re)connect snapshots."""
    if isinstance(ev, AE.Connected):
        return True
    if isinstance(ev, AE.PlaybackFinished):
        return ev.playback.id.startswith(CHANNEL_PREFIX)
    ch = getattr(ev, "channel", None)
    return ch is not None and str(getattr(ch, "id", "")).startswith(CHANNEL_PREFIX)


def ticket_of(lead: ClaimedLead, times: Mapping[str, list[float]] | None = None,
              abandoned: Mapping[str, float] | None = None, on_dnc: bool = False) -> E.Ticket:
    pure = lead.to_lead((times or {}).get(lead.phone, ()), (abandoned or {}).get(lead.phone))
    return E.Ticket(lead.id, lead.campaign_id, lead.phone, lead.name, pure, dict(lead.data), on_dnc)


@dataclass
class CampaignView:
    """One running campaign as the API and the gauges see it (preview operators call its methods)."""

    service: DialerService
    name: str

    @property
    def campaign(self) -> Campaign:
        return self.service.campaign_rows[self.name]

    @property
    def settings(self) -> Any:
        return self.campaign.settings

    @property
    def attempts(self) -> dict[str, AttemptState]:
        return {a.id: a for a in self.service.core.in_flight(self.name)}

    @property
    def abandon_24h(self) -> tuple[int, int]:
        run = self.service.core.campaigns.get(self.name)
        return run.abandon_24h(self.service.clock.now()) if run is not None else (0, 0)

    async def next_lead(self, agent_id: str) -> ClaimedLead | None:
        return await self.service.preview_next(self.name, agent_id)

    async def call_lead(self, agent_id: str, lead_id: int) -> str:
        return await self.service.preview_call(self.name, agent_id, lead_id)

    async def skip_lead(self, agent_id: str, lead_id: int) -> None:
        self.service.preview_skip(self.name, agent_id, lead_id)


class DialerService:
    def __init__(self, *, ari: AriApi, events: AsyncIterable[Any] | None = None, store: DialerStore,
                 journal: JournalSink, acd: AcdLink, operators: OperatorsFn, instance: str,
                 clock: Clock | None = None, endpoint_template: str = "PJSIP/{number}@trunk",
                 tick_interval: float = 1.0, reload_every: int = 5, claim_ttl: float = 300.0,
                 housekeeping_every: int = 30, sounds: Callable[[], Awaitable[set[str]]] | None = None) -> None:
        """``sounds``: the sound ids Asterisk has (``GET /ari/sounds``); given, a campaign whose messages
        Asterisk cannot play is refused (paused) when it starts instead of playing silence."""
        self.ari, self.events, self.store, self.journal = ari, events, store, journal
        self.acd, self.operators, self.instance = acd, operators, instance
        self.clock = clock or SystemClock()
        self.endpoint_template = endpoint_template
        self.tick_interval = tick_interval
        self.reload_every = reload_every
        self.core = Dialer(lambda: f"{CHANNEL_PREFIX}{uuid.uuid4().hex[:20]}", claim_ttl=claim_ttl,
                           housekeeping_every=housekeeping_every)
        self.sounds = sounds
        self._media_ok: dict[str, object] = {}  # campaign -> settings whose messages Asterisk was found to have
        self.campaign_rows: dict[str, Campaign] = {}
        self.claimed: dict[int, ClaimedLead] = {}  # preview reservations: what the operator is shown
        self._pending: collections.deque[E.Event] = collections.deque()
        self._feeding = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writes: collections.deque[C.FinishAttempt | C.ReleaseLead] = collections.deque()
        self._write_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()  # no call in flight and every result written
        self._idle.set()
        self._adopted = False
        # the channels of the first snapshot still alive while the open attempts are read back (None: not
        # adopting): one that ends meanwhile is dropped, since its ChannelDestroyed came before the core knew
        # the attempt again
        self._adopting_alive: dict[str, Any] | None = None
        self._replies: list[C.Command] = []
        self._ticks = 0
        self._claiming: set[int] = set()   # lead ids claimed and not yet handed to the core or released
        self._claims_in_doubt = False      # a claim failed: it may have committed with its reply lost
        self._claims_running = 0

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def runners(self) -> dict[str, CampaignView]:
        return {name: CampaignView(self, name) for name, run in self.core.campaigns.items() if run.running}

    def runner(self, campaign: str) -> CampaignView:
        """A running campaign of this instance (NotFound otherwise)."""
        run = self.core.campaigns.get(campaign)
        if run is None or not run.running:
            raise NotFound(f"campaign {campaign!r} is not running on this instance")
        return CampaignView(self, campaign)

    async def start(self, tg: asyncio.TaskGroup) -> None:
        await self.reload()
        tg.create_task(self.run(), name="dialer")

    async def run(self) -> None:
        """Tick, consume ARI events and write results until ``stop()``; then the calls in flight end."""
        async with asyncio.TaskGroup() as tg:
            writer = tg.create_task(self._writer(), name="dialer-writer")
            consumer = tg.create_task(self._consume(), name="dialer-events") if self.events is not None else None
            while not self._stopping.is_set():
                self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.tick_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), DRAIN_TIMEOUT)
            if consumer is not None:
                consumer.cancel()
            writer.cancel()

    async def stop(self) -> None:
        """Launch nothing more; ``run`` returns once the calls in flight have ended."""
        self._stopping.set()

    async def _consume(self) -> None:
        assert self.events is not None
        async for ev in self.events:
            try:
                self.on_ari(ev)
            except Exception:  # an event must never stop the consumer
                log.exception("dialer_event_failed", event_type=type(ev).__name__)

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % self.reload_every == 0:
            self._spawn(self.reload(), "dialer-reload")
        queues = {run.settings.queue for run in self.core.campaigns.values() if run.settings.queue}
        self.feed(E.Tick({q: self.operators(q) for q in queues}))

    async def reload(self) -> None:
        """Campaigns from the database: started ones join the core, paused/stopped ones stop dialing."""
        ok, got = await self._db(self.store.running_campaigns)
        if not ok:
            return
        running = {c.name: c for c in got}
        for c in running.values():
            self._campaign(c)
        for name, run in list(self.core.campaigns.items()):
            if name not in running and run.running:
                try:
                    ok, row = await self._db(lambda n=name: self.store.get_campaign(n))  # type: ignore[misc]
                except NotFound:
                    self.feed(E.CampaignRemoved(name))
                    continue
                if ok:
                    self._campaign(row)

    def _campaign(self, c: Campaign) -> None:
        known = self.core.campaigns.get(c.name)
        self.campaign_rows[c.name] = c
        CAMPAIGNS.add([c.name])
        if c.state == "running" and self.sounds is not None and self._media_ok.get(c.name) != c.settings:
            if c.name not in self._media_ok:
                self._media_ok[c.name] = None  # a check is under way: dial nothing meanwhile
                self._spawn(self._check_media(c), f"dialer-media-{c.name}")
            c = dataclasses.replace(c, state="created")
        if known is None or known.info.state != c.state or known.info.settings != c.settings:
            self.feed(E.CampaignUpdated(E.CampaignInfo(c.id, c.name, c.state, c.settings)))
            if known is None or known.info.state != c.state:
                log.info("dialer_campaign", campaign=c.name, state=c.state, instance=self.instance)

    async def _check_media(self, c: Campaign) -> None:
        from callcore.dialer.sounds import missing

        assert self.sounds is not None
        try:
            have = await self.sounds()
        except (AriError, OSError, TimeoutError) as exc:  # Asterisk unreachable: not the campaign's fault
            log.warning("dialer_sounds_unknown", campaign=c.name, error=str(exc))
            have = None
        gone = missing(c.settings, have) if have is not None else []
        if gone:
            del self._media_ok[c.name]
            log.error("dialer_campaign_refused", campaign=c.name, missing=gone)
            self.journal.append("dialer.campaign_refused", {"reason": "message-missing", "missing": gone},
                                campaign_id=c.name, ts=self.clock.now())
            with contextlib.suppress(Exception):
                await self._db(lambda: self.store.change_state(c.name, "pause"))
            return
        self._media_ok[c.name] = c.settings
        self._campaign(c)

    # --- the core --------------------------------------------------------------------------------------

    def feed(self, ev: E.Event) -> list[C.Command]:
        """Run one core event and carry out its commands. Events raised meanwhile (the ACD answering
        synchronously) run after it, in order. Returns the commands of ``ev`` itself."""
        if self._feeding:
            self._pending.append(ev)
            return []
        self._feeding = True
        try:
            cmds = self.core.handle(ev, self.clock.now())
            for cmd in cmds:
                self._do(cmd)
            while self._pending:
                for cmd in self.core.handle(self._pending.popleft(), self.clock.now()):
                    self._do(cmd)
        finally:
            self._feeding = False
            self._check_idle()
        return cmds

    def _check_idle(self) -> None:
        if self.core.attempts or self._writes:
            self._idle.clear()
        else:
            self._idle.set()

    def _do(self, cmd: C.Command) -> None:
        match cmd:
            case C.Journal():
                self._journal(cmd)
            case C.SetTimer(key=key, at=at):
                self._cancel(key)
                loop = asyncio.get_running_loop()
                self._timers[key] = loop.call_later(max(0.0, at - self.clock.now()), self.fire, key)
            case C.CancelTimer(key=key):
                self._cancel(key)
            case C.QueueCustomer():
                try:
                    self.acd.queue_customer(cmd)
                except Exception as exc:  # e.g. the queue was removed: the customer must not wait in silence
                    log.warning("dialer_not_queued", attempt=cmd.attempt, error=repr(exc))
                    self._pending.append(E.CustomerAbandoned(cmd.attempt))
            case C.WithdrawCustomer(attempt=aid):
                self.acd.withdraw(aid)
            case C.ReserveAgent(agent_id=agent, attempt=aid):
                self.acd.reserve_agent(agent, aid)
            case C.ReleaseAgent(agent_id=agent, attempt=aid):
                self.acd.release_agent(agent, aid)
            case C.StartAttempt():
                self._lane(cmd.attempt, self._start(cmd))
            case C.Subscribe(attempt=aid):
                self._lane(aid, self._subscribe(aid))
            case C.Hangup(attempt=aid):
                self._lane(aid, self._hangup(aid))
            case C.ToDialplan(attempt=aid, media=media):
                self._lane(aid, self._to_dialplan(aid, media))
            case C.Play(attempt=aid, media=media, playback_id=pid):
                self._lane(aid, self._play(aid, media, pid))
            case C.CheckChannel(attempt=aid):
                self._lane(aid, self._check(aid))
            case C.FinishAttempt() | C.ReleaseLead():
                self._writes.append(cmd)
                self._write_wakeup.set()
                if isinstance(cmd, C.ReleaseLead):
                    self.claimed.pop(cmd.lead_id, None)
            case C.ClaimLeads():
                if cmd.agent_id is None:
                    self._spawn(self._claim(cmd), f"dialer-claim-{cmd.campaign}")
                else:
                    self._replies.append(cmd)
            case C.TouchClaims(lead_ids=ids):
                self._spawn(self._db(lambda: self.store.touch_claims(self.instance, ids, self.clock.now())),
                            "dialer-touch")
            case C.RecoverStale(campaign_id=cid, older_than=older):
                self._spawn(self._db(lambda: self.store.recover_stale(older, cid)), "dialer-recover")
            case C.ReadAbandonCounts():
                self._spawn(self._abandon_counts(cmd), "dialer-abandon-counts")
            case C.PreviewOffer() | C.PreviewDialled() | C.PreviewRefused():
                self._replies.append(cmd)

    def _journal(self, cmd: C.Journal) -> None:
        self.journal.append(cmd.type, cmd.payload, call_id=cmd.call_id, channel_id=cmd.call_id,
                            campaign_id=cmd.campaign, agent_id=cmd.agent_id, ts=self.clock.now())
        if cmd.type == "dialer.attempt_ended":
            ATTEMPTS.labels(cmd.campaign or "", str(cmd.payload.get("outcome"))).inc()
        elif cmd.type == "dialer.blocked":
            BLOCKED.labels(cmd.campaign or "", str(cmd.payload.get("reason"))).inc()
        elif cmd.type in ("dialer.paused", "dialer.resumed"):
            log.warning(cmd.type.replace(".", "_"), **{k: str(v) for k, v in cmd.payload.items()})

    def fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.feed(E.TimerFired(key))

    def _cancel(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lane(self, key: str, coro: Awaitable[None]) -> None:
        """ARI requests of one attempt, one after the other."""
        prev = self._lanes.get(key)

        async def step() -> None:
            if prev is not None:
                await asyncio.gather(prev, return_exceptions=True)
            try:
                await coro
            except Exception:
                log.exception("dialer_request_failed", attempt=key)
            finally:
                if self._lanes.get(key) is task:
                    del self._lanes[key]

        task = asyncio.ensure_future(step())
        self._lanes[key] = task

    # --- the database: every error becomes an event here -----------------------------------------------

    async def _db(self, op: Callable[[], Awaitable[Any]], *, permanent: bool = False) -> tuple[bool, Any]:
        """Run one database operation: ``(True, result)``, or ``(False, None)`` and ``DatabaseDown`` when
        it fails; ``DatabaseUp`` when it succeeds while the core thinks the database is down. The one
        place where the dialer meets database errors: none of them leaves a task."""
        try:
            result = await op()
        except (Conflict, NotFound, InputError) as exc:
            if not isinstance(exc, StoreError):
                raise  # a domain answer (no such campaign ...), not a database failure
            if permanent:
                raise PermanentDbError(exc) from exc
            log.error("dialer_database_refused", error=repr(exc))
            return False, None
        except Exception as exc:
            if not transient(exc):
                if permanent:
                    raise PermanentDbError(exc) from exc
                log.error("dialer_database_refused", error=repr(exc))
                return False, None
            log.warning("dialer_database_error", error=repr(exc))
            self.feed(E.DatabaseDown(type(exc).__name__))
            return False, None
        if not self.core.db_up:
            self.feed(E.DatabaseUp())
            if self._claims_in_doubt:
                self._claims_in_doubt = False
                self._spawn(self._release_orphans(), "dialer-orphan-claims")
        return True, result

    async def _release_orphans(self) -> None:
        """Leads a lost claim reply left ``dialing`` for this instance: back to the queue now. Only claims
        made before a moment when no claim was under way, so that none still waiting for its reply counts."""
        for _ in range(100):
            if not self._claims_running:
                break
            await asyncio.sleep(0.05)
        else:
            self._claims_in_doubt = True   # claims kept running: the claim TTL recovers them
            return
        before = self.clock.now()
        held = (self.core.leads_held() | self._claiming | set(self.claimed)
                | {c.lead_id for c in self._writes if isinstance(c, C.ReleaseLead)})
        for run in list(self.core.campaigns.values()):
            ok, _ = await self._db(functools.partial(self.store.release_orphan_claims, run.info.id, self.instance,
                                                     before, sorted(held)))
            if not ok:
                self._claims_in_doubt = True
                return

    async def _writer(self) -> None:
        """Attempt results and lead states in order; kept and retried while PostgreSQL is down."""
        while True:
            if not self._writes:
                self._write_wakeup.clear()
                await self._write_wakeup.wait()
                continue
            try:
                ok, _ = await self._db(functools.partial(self._write, self._writes[0]), permanent=True)
            except PermanentDbError as exc:  # PostgreSQL refuses this write for good: keep the rest moving
                cmd = self._writes.popleft()
                log.error("dialer_write_refused", command=type(cmd).__name__, error=repr(exc.__cause__))
                self.journal.append("dialer.write_failed", {"command": type(cmd).__name__,
                                                            "error": repr(exc.__cause__)}, ts=self.clock.now())
                continue
            if not ok:
                await asyncio.sleep(WRITE_RETRY)
                continue
            self._writes.popleft()
            self._check_idle()

    async def _write(self, cmd: C.FinishAttempt | C.ReleaseLead) -> None:
        if isinstance(cmd, C.FinishAttempt):
            await self._finish_write(cmd)
        else:
            await self._release_write(cmd)

    async def _finish_write(self, cmd: C.FinishAttempt) -> None:
        await self.store.finish_attempt(cmd.attempt, outcome=cmd.outcome.value, ended_at=cmd.ended_at,
                                        answered_at=cmd.answered_at, cause=cmd.cause, amd_status=cmd.amd_status,
                                        amd_cause=cmd.amd_cause, abandoned=cmd.abandoned, agent_id=cmd.agent_id)

    async def _release_write(self, cmd: C.ReleaseLead) -> None:
        await self.store.release_lead(cmd.lead_id, cmd.lead, attempted_at=cmd.attempted_at)

    @property
    def writes_pending(self) -> int:
        return len(self._writes)

    async def _tickets(self, leads: list[ClaimedLead]) -> list[E.Ticket] | None:
        numbers = [lead.phone for lead in leads]
        now = self.clock.now()

        async def facts() -> tuple[set[str], tuple[dict[str, list[float]], dict[str, float]]]:
            lockout = max((r.settings.abandon_lockout for r in self.core.campaigns.values()), default=0.0)
            return await dnc.blocked(self.store.pool, numbers), await self.store.number_history(numbers, now,
                                                                                                 lockout)
        ok, got = await self._db(facts)
        if not ok:
            return None
        on_dnc, (times, abandoned) = got
        return [ticket_of(lead, times, abandoned, lead.phone in on_dnc) for lead in leads]

    async def _claim(self, cmd: C.ClaimLeads) -> list[E.Ticket] | None:
        self._claims_running += 1
        try:
            ok, leads = await self._db(lambda: self.store.claim_leads(cmd.campaign_id, cmd.count, self.instance,
                                                                      self.clock.now(), agent_id=cmd.agent_id))
        finally:
            self._claims_running -= 1
        if not ok:
            self._claims_in_doubt = True
        ids = {lead.id for lead in leads} if ok else set()
        self._claiming |= ids
        try:
            return await self._claimed(cmd, ok, leads)
        finally:
            self._claiming -= ids

    async def _claimed(self, cmd: C.ClaimLeads, ok: bool, leads: list[ClaimedLead]) -> list[E.Ticket] | None:
        tickets = await self._tickets(leads) if ok else None
        if tickets is None:
            if ok:  # claimed but not checked: give them back as they were
                for lead in leads:
                    self._writes.append(C.ReleaseLead(lead.id, ticket_of(lead).lead))
                self._write_wakeup.set()
            self.feed(E.ClaimFailed(cmd.campaign, cmd.agent_id))
            return None
        if cmd.agent_id is not None:
            for lead in leads:
                self.claimed[lead.id] = lead
            return tickets
        self.feed(E.ClaimsGranted(cmd.campaign, tuple(tickets)))
        return tickets

    async def _abandon_counts(self, cmd: C.ReadAbandonCounts) -> None:
        ok, got = await self._db(lambda: self.store.abandon_counts(cmd.campaign_id, cmd.since or
                                                                   self.clock.now() - 86400.0))
        if ok:
            self.feed(E.AbandonCounts(cmd.campaign, got[0], got[1]))

    # --- ARI -------------------------------------------------------------------------------------------

    async def _ari(self, request: Awaitable[Any], attempt: str) -> None:
        try:
            await request
        except AriError as exc:
            log.info("dialer_ari_failed", attempt=attempt, error=str(exc))

    async def _hangup(self, aid: str) -> None:
        """Hang the customer's channel up, retrying while Asterisk fails (5xx, time-out): a channel left up
        would keep a customer in silence and its attempt open."""
        delay = HANGUP_RETRY
        for _ in range(HANGUP_TRIES):
            try:
                await self.ari.hangup(aid, missing_ok=True)
                return
            except (AriServerError, AriUnavailable) as exc:
                log.info("dialer_hangup_retry", attempt=aid, error=str(exc), retry_in=delay)
            except AriError as exc:
                log.info("dialer_ari_failed", attempt=aid, error=str(exc))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        log.warning("dialer_hangup_failed", attempt=aid)

    async def _start(self, cmd: C.StartAttempt) -> None:
        aid, t = cmd.attempt, cmd.ticket
        ok, _ = await self._db(lambda: self.store.start_attempt(aid, t.id, t.campaign_id, t.phone, self.instance,
                                                                self.clock.now()))
        if not ok:
            self.feed(E.StartFailed(aid))
            return
        endpoint = self.endpoint_template.format(number=t.phone, digits=t.phone.lstrip("+"))
        variables = {"CALLCORE_APP": self.ari.app, "CALLCORE_CAMPAIGN": cmd.campaign, "CALLCORE_ATTEMPT": aid}
        # Always originated into the app: Asterisk then subscribes the app to the channel from its creation.
        # An AMD call continues into dialer-amd once answered; subscribing to a channel originated into
        # dialplan after the originate lost every busy that came back before the subscription (a real
        # Asterisk 22 answers "Event source not found" and the attempt ended with no cause).
        try:
            await self.ari.originate(endpoint, channel_id=aid, app=self.ari.app,
                                     app_args=[AMD_DIAL if cmd.amd else "outbound", cmd.campaign, aid],
                                     caller_id=cmd.caller_id, timeout=cmd.timeout, variables=variables)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("dialer_originate_failed", attempt=aid, error=str(exc))
            self.feed(E.OriginateFailed(aid, str(exc)))

    async def _to_amd(self, aid: str) -> None:
        """An answered AMD call leaves Stasis for AMD() in dialer-amd, which hands it back with the verdict."""
        try:
            await self.ari.continue_in_dialplan(aid, context=AMD_CONTEXT, extension="s", priority=1)
        except AriError as exc:
            log.info("dialer_to_amd_failed", attempt=aid, error=str(exc))
            await self._ari(self.ari.hangup(aid, missing_ok=True), aid)

    async def _subscribe(self, aid: str) -> None:
        """A channel in dialplan is not ours until the app subscribes to it (Asterisk sends nothing)."""
        try:
            await self.ari.subscribe(f"channel:{aid}", app=self.ari.app)
        except (AriNotFound, AriUnprocessable):
            self.feed(E.ChannelEnded(aid, None))  # gone before we could follow it
        except AriError as exc:
            log.warning("dialer_subscribe_failed", attempt=aid, error=str(exc))  # the sweep will check it

    async def _to_dialplan(self, aid: str, media: str) -> None:
        try:
            if media:
                await self.ari.set_variable(aid, "CALLCORE_SAFE_HARBOUR", media.removeprefix("sound:"))
            await self.ari.continue_in_dialplan(aid, context=SAFE_HARBOUR_CONTEXT, extension="s", priority=1)
        except AriError as exc:
            log.info("dialer_to_dialplan_failed", attempt=aid, error=str(exc))
            await self._hangup(aid)

    async def _play(self, aid: str, media: str, pid: str) -> None:
        try:
            await self.ari.play(aid, [media], playback_id=pid)
        except AriError as exc:
            log.info("dialer_agentless_play_failed", attempt=aid, error=str(exc))
            await self._ari(self.ari.hangup(aid, missing_ok=True), aid)

    async def _check(self, aid: str) -> None:
        try:
            await self.ari.get_channel(aid)
        except AriNotFound:
            self.feed(E.ChannelEnded(aid, None))
        except AriError as exc:
            log.info("dialer_sweep_failed", attempt=aid, error=str(exc))

    def on_ari(self, ev: Any) -> None:
        match ev:
            case AE.StasisStart(channel=ch, args=args):
                if args[:1] == [AMD_DIAL]:
                    self.feed(E.AmdAnswered(ch.id))
                    self._lane(ch.id, self._to_amd(ch.id))
                elif args[:1] == ["amd"]:
                    self.feed(E.Answered(ch.id, args[1] if len(args) > 1 else None,
                                         args[2] if len(args) > 2 else None))
                elif args[:1] == ["outbound"]:
                    self.feed(E.Answered(ch.id))
            case AE.ChannelDestroyed(channel=ch, cause=cause):
                if self._adopting_alive is not None:
                    self._adopting_alive.pop(ch.id, None)
                self.feed(E.ChannelEnded(ch.id, cause))
            case AE.ChannelDtmfReceived(channel=ch, digit=digit):
                self.feed(E.Dtmf(ch.id, digit))
            case AE.PlaybackFinished(playback=pb) if pb.id.endswith("-msg"):
                self.feed(E.PlaybackDone(pb.id.removesuffix("-msg")))
            case AE.Connected(snapshot=snap):
                alive = {c.id: c for c in snap.channels}
                for aid in [a for a in self.core.attempts if a not in alive]:
                    self.feed(E.ChannelEnded(aid, None))
                if not self._adopted:
                    self._adopted = True
                    self._adopting_alive = alive
                    self._spawn(self.adopt(alive), "dialer-adopt")

    # --- restart ---------------------------------------------------------------------------------------

    async def adopt(self, alive: Mapping[str, Any]) -> int:
        """Take back the attempts a previous run of this instance left open; returns how many. ``alive``: the
        first snapshot's channels, the dict ``on_ari`` removes a channel from when it ends meanwhile."""
        try:
            return await self._adopt(alive)
        finally:
            self._adopting_alive = None

    async def _adopt(self, alive: Mapping[str, Any]) -> int:
        rows: list[OpenAttempt] = []
        while not self._stopping.is_set():
            ok, rows = await self._db(lambda: self.store.open_attempts(self.instance))
            if ok:
                break
            await asyncio.sleep(WRITE_RETRY)
        if not rows:
            return 0
        for name in {r.campaign for r in rows} - set(self.core.campaigns):
            with contextlib.suppress(NotFound):
                ok, row = await self._db(lambda n=name: self.store.get_campaign(n))  # type: ignore[misc]
                if ok:
                    self._campaign(row)
        items = []
        for r in rows:
            ch = alive.get(r.id)
            items.append(E.Adopted(r.id, r.campaign, ticket_of(r.lead), r.started_at, alive=ch is not None,
                                   up=ch is not None and getattr(ch, "state", "") == "Up", facts=r.facts,
                                   answered_at=r.answered_at, amd_status=r.amd_status, agent_id=r.agent_id))
        self.feed(E.Readopt(tuple(items)))
        log.info("dialer_attempts_adopted", count=len(items), alive=sum(1 for i in items if i.alive))
        return len(items)

    # --- the ACD's side --------------------------------------------------------------------------------

    def on_acd_journal(self, type_: str, call_id: str | None, agent_id: str | None) -> None:
        """The ACD journaled something about a call: our customer queued, connected or let go."""
        if call_id is None or call_id not in self.core.attempts or type_ not in ACD_EVENTS:
            return
        kind = ACD_EVENTS[type_]
        if kind == "connected":
            self.feed(E.CustomerConnected(call_id, agent_id))
        elif kind == "abandoned":
            self.feed(E.CustomerAbandoned(call_id))
        else:
            self.feed(E.CustomerQueued(call_id))

    # --- preview ---------------------------------------------------------------------------------------

    def _ask(self, ev: E.Event) -> list[C.Command]:
        self._replies = []
        self.feed(ev)
        out, self._replies = self._replies, []
        return out

    async def preview_next(self, campaign: str, agent_id: str) -> ClaimedLead | None:
        self.runner(campaign)
        for cmd in self._ask(E.PreviewNext(campaign, agent_id)):
            if isinstance(cmd, C.PreviewOffer):
                return self.claimed.get(cmd.ticket.id) if cmd.ticket is not None else None
            if isinstance(cmd, C.ClaimLeads):
                tickets = await self._claim(cmd)
                if tickets is None:
                    raise Unavailable("the database is unavailable: no lead can be reserved now")
                for reply in self._ask(E.ClaimsGranted(campaign, tuple(tickets), agent_id)):
                    if isinstance(reply, C.PreviewOffer) and reply.ticket is not None:
                        return self.claimed.get(reply.ticket.id)
        return None

    async def preview_call(self, campaign: str, agent_id: str, lead_id: int) -> str:
        """Dial the lead reserved for this operator in this campaign (guards checked again now)."""
        self.runner(campaign)
        r = self.core.reserved.get(lead_id)
        fresh = None
        lead = self.claimed.get(lead_id)
        if r is not None and r.agent_id == agent_id and r.campaign == campaign and lead is not None:
            got = await self._tickets([lead])
            if got is None:
                raise Unavailable("the database is unavailable: the lead's guards cannot be checked")
            fresh = got[0]
        state = self.acd.agent_state(agent_id)
        for cmd in self._ask(E.PreviewCall(campaign, agent_id, lead_id, state, fresh)):
            if isinstance(cmd, C.PreviewDialled):
                return cmd.attempt
            if isinstance(cmd, C.PreviewRefused):
                if cmd.code == "not-reserved":
                    raise NotFound(cmd.detail)
                raise Conflict(cmd.detail)
        raise Conflict(f"lead {lead_id} may not be called now")

    def preview_skip(self, campaign: str, agent_id: str, lead_id: int) -> None:
        for cmd in self._ask(E.PreviewSkip(campaign, agent_id, lead_id)):
            if isinstance(cmd, C.PreviewRefused):
                raise NotFound(cmd.detail)
