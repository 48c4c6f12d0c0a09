"""The dial loop of one running campaign (imperative shell around the pure dialer core).

Every ``tick`` (about a second) it asks the pacer how many calls to launch, claims that many leads
(``FOR UPDATE SKIP LOCKED``: several instances can share a campaign), runs the hard guards at dial time
(DNC re-check, attempt caps, abandon lockout, calling window in the lead's zones) and originates the rest
with the attempt id as our own channel id. AMD campaigns originate into dialplan ``dialer-amd,s,1``,
which enters ``Stasis(app, amd, STATUS, CAUSE)``; the others enter ``Stasis(app, outbound, campaign,
attempt)`` when answered. An answered human is offered to the ACD through ``connect_to_agent``; without
an operator within ``connect_grace`` (2 s) the call is abandoned: the channel continues to the
safe-harbour dialplan (message, hang-up). ``ChannelDestroyed`` ends the attempt: the outcome goes to
``dial_attempts``, the lead's next state (``campaign.apply_outcome``) to ``leads``, and an event to the
journal. Claims of calls in flight are refreshed so that other instances only recover those of a dead
instance (``recover_stale``). Preview campaigns dial nothing by themselves: ``next_lead`` and
``call_lead`` serve the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterable
from typing import Any

import structlog

from callcore.ari import events as E
from callcore.ari.api import AriApi
from callcore.clock import Clock, SystemClock
from callcore.dialer import campaign as core
from callcore.dialer import dnc, pacer
from callcore.dialer.attempt import (
    AMD_CONTEXT,
    ATTEMPTS,
    BLOCKED,
    SAFE_HARBOUR_CONTEXT,
    AgentConnector,
    Attempt,
    OperatorsFn,
    refusal_outcome,
)
from callcore.dialer.compliance import Refusal
from callcore.dialer.store import Campaign, ClaimedLead, DialerStore
from callcore.errors import AriError, AriNotFound, Conflict, NotFound
from callcore.store.api import JournalSink

log = structlog.get_logger(__name__)
KEYPRESS_WAIT = 5.0  # agentless campaigns recording a keypress: seconds to wait after the message


class CampaignRunner:
    def __init__(self, *, ari: AriApi, store: DialerStore, campaign: Campaign, journal: JournalSink,
                 connector: AgentConnector, operators: OperatorsFn, instance: str,
                 clock: Clock | None = None, endpoint_template: str = "PJSIP/{number}@trunk",
                 tick_interval: float = 1.0, claim_ttl: float = 300.0, housekeeping_every: int = 30,
                 drain_timeout: float = 120.0) -> None:
        self.ari = ari
        self.store = store
        self.campaign = campaign
        self.journal = journal
        self.connector = connector
        self.operators = operators
        self.instance = instance
        self.clock = clock or SystemClock()
        self.endpoint_template = endpoint_template
        self.tick_interval = tick_interval
        self.claim_ttl = claim_ttl
        self.housekeeping_every = housekeeping_every
        self.drain_timeout = drain_timeout
        self.attempts: dict[str, Attempt] = {}
        self.reserved: dict[int, tuple[str, ClaimedLead]] = {}   # preview: lead id -> (agent, lead)
        self.stats = pacer.PacingStats(give_up=campaign.settings.ring_timeout)
        self._ticks = 0
        self._abandon_24h = (0, 0)
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()   # set while no call is in flight (and its end is fully recorded)
        self._idle.set()

    @property
    def abandon_24h(self) -> tuple[int, int]:
        """(live answers, abandoned) over the last 24 h, as last read from PostgreSQL."""
        return self._abandon_24h

    @property
    def settings(self) -> core.CampaignSettings:
        return self.campaign.settings

    # --- loop ------------------------------------------------------------------------------------
    async def run(self, events: AsyncIterable[E.AriEvent]) -> None:
        """Dial until ``stop()``, then follow the calls in flight for up to ``drain_timeout`` seconds.
        ``events``: this app's ARI events (e.g. ``session.subscribe("dialer-<campaign>")``)."""
        async with asyncio.TaskGroup() as tg:
            consumer = tg.create_task(self._consume(events), name=f"dialer-events-{self.campaign.name}")
            while not self._stopping.is_set():
                try:
                    await self.tick()
                except Exception as exc:  # a database or ARI hiccup must not end the campaign: retry
                    log.warning("dialer_tick_failed", campaign=self.campaign.name, error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.tick_interval)
            if not self._idle.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), self.drain_timeout)
            consumer.cancel()

    def stop(self) -> None:
        """Launch nothing more; ``run`` returns once the calls in flight have ended."""
        self._stopping.set()

    async def _consume(self, events: AsyncIterable[E.AriEvent]) -> None:
        async for ev in events:
            await self.handle_event(ev)

    async def tick(self) -> int:
        """One pacing step; returns how many calls were originated."""
        now = self.clock.now()
        if self._ticks % self.housekeeping_every == 0:
            await self._housekeeping(now)
        self._ticks += 1
        fresh = await self.store.get_campaign(self.campaign.name)
        self.campaign = fresh
        if fresh.state != "running" or self.settings.mode is core.Mode.PREVIEW:
            return 0
        want = pacer.decide(self.pacer_state(now), self.settings)
        if want <= 0:
            return 0
        leads = await self.store.claim_leads(fresh.id, want, self.instance, now)
        return await self._dial_leads(leads, now)

    def pacer_state(self, now: float) -> pacer.PacerState:
        free, busy = self.operators(self.settings.queue)
        ringing = tuple(now - a.started_at for a in self.attempts.values() if a.answered_at is None)
        waiting = sum(1 for a in self.attempts.values() if a.answered_at is not None and not a.decided)
        answered, abandoned = self._abandon_24h
        lines = self.settings.agentless_lines if self.settings.mode is core.Mode.AGENTLESS else None
        return pacer.PacerState(free=free, busy=busy, ringing=ringing, answered_waiting=waiting,
                                talk=self.stats.talk_estimate(), answer=self.stats.answer_estimate(),
                                answered_24h=answered, abandoned_24h=abandoned, line_capacity=lines)

    async def _housekeeping(self, now: float) -> None:
        await self._sweep(now)
        ids = [a.lead.id for a in self.attempts.values()] + list(self.reserved)
        await self.store.touch_claims(self.instance, ids, now)
        await self.store.recover_stale(now - self.claim_ttl, self.campaign.id)
        self._abandon_24h = await self.store.abandon_counts(self.campaign.id, now - core.DAY)

    async def _sweep(self, now: float) -> None:
        """Attempts ringing far past their timeout whose channel is gone (an end event was lost)."""
        overdue = now - 2 * self.settings.ring_timeout - 30
        for attempt in [a for a in self.attempts.values() if a.answered_at is None and a.started_at < overdue]:
            try:
                await self.ari.get_channel(attempt.id)
            except AriNotFound:
                await self._ended(attempt, None)
            except AriError as exc:
                log.info("dialer_sweep_failed", attempt=attempt.id, error=str(exc))

    # --- dialling --------------------------------------------------------------------------------
    async def _dial_leads(self, leads: list[ClaimedLead], now: float) -> int:
        if not leads:
            return 0
        numbers = [lead.phone for lead in leads]
        on_dnc = await dnc.blocked(self.store.pool, numbers)
        times, abandoned = await self.store.number_history(numbers, now, self.settings.abandon_lockout)
        launched = 0
        for lead in leads:
            pure = lead.to_lead(times.get(lead.phone, ()), abandoned.get(lead.phone))
            refusal = core.dial_refusal(self.settings, pure, now, lead.phone in on_dnc)
            if refusal is not None:
                await self._refuse(lead, pure, refusal)
                continue
            launched += await self._originate(lead, pure, now)
        return launched

    async def _refuse(self, lead: ClaimedLead, pure: core.Lead, refusal: Refusal) -> None:
        """A guard said no: the lead is never dialled; its new state and the reason are recorded."""
        await self.store.release_lead(lead.id, core.apply_refusal(pure, refusal))
        BLOCKED.labels(self.campaign.name, refusal.code.value).inc()
        self.journal.append("dialer.blocked", {"lead_id": lead.id, "number": lead.phone,
                                               "outcome": refusal_outcome(refusal.code),
                                               "reason": refusal.code.value, "detail": refusal.detail,
                                               "retry_at": refusal.retry_at},
                            campaign_id=self.campaign.name, ts=self.clock.now())

    async def _originate(self, lead: ClaimedLead, pure: core.Lead, now: float,
                         agent_id: str | None = None) -> int:
        attempt_id = f"dial-{uuid.uuid4().hex[:20]}"
        started = core.start_dial(pure, now)
        attempt = Attempt(attempt_id, lead, started, now, agent_id=agent_id)
        self.attempts[attempt_id] = attempt
        self._idle.clear()
        await self.store.start_attempt(attempt_id, lead, self.instance, now)
        s = self.settings
        endpoint = self.endpoint_template.format(number=lead.phone, digits=lead.phone.lstrip("+"))
        variables = {"CALLCORE_APP": self.ari.app, "CALLCORE_CAMPAIGN": self.campaign.name,
                     "CALLCORE_ATTEMPT": attempt_id}
        try:
            if s.amd:
                await self.ari.originate(endpoint, channel_id=attempt_id, context=AMD_CONTEXT, extension="s",
                                         priority=1, caller_id=s.caller_id, timeout=int(s.ring_timeout),
                                         variables=variables)
                # originated into dialplan, the channel is ours only while in Stasis: subscribe to see its
                # busy / no-answer end and its ChannelDestroyed after the AMD Stasis() visit
                await self.ari.subscribe(f"channel:{attempt_id}")
            else:
                await self.ari.originate(endpoint, channel_id=attempt_id, app=self.ari.app,
                                         app_args=["outbound", self.campaign.name, attempt_id],
                                         caller_id=s.caller_id, timeout=int(s.ring_timeout),
                                         variables=variables)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("dialer_originate_failed", attempt=attempt_id, error=str(exc))
            await self._finish(attempt, core.Outcome.FAILED, cause=None, error=str(exc))
            return 0
        self.journal.append("dialer.attempt_started", {"lead_id": lead.id, "number": lead.phone,
                                                       "attempt": started.attempts, "amd": s.amd},
                            call_id=attempt_id, channel_id=attempt_id, campaign_id=self.campaign.name,
                            agent_id=agent_id, ts=now)
        return 1

    # --- events ----------------------------------------------------------------------------------
    async def handle_event(self, ev: E.AriEvent) -> None:
        if isinstance(ev, E.StasisStart):
            attempt = self.attempts.get(ev.channel.id)
            if attempt is not None and attempt.answered_at is None:
                await self._answered(attempt, ev.args)
        elif isinstance(ev, E.ChannelDestroyed):
            attempt = self.attempts.get(ev.channel.id)
            if attempt is not None:
                await self._ended(attempt, ev.cause)
        elif isinstance(ev, E.ChannelDtmfReceived):
            attempt = self.attempts.get(ev.channel.id)
            if attempt is not None and attempt.awaiting_key:
                await self._keypress(attempt, ev.digit)
        elif isinstance(ev, E.PlaybackFinished) and ev.playback.id.endswith("-msg"):
            attempt = self.attempts.get(ev.playback.id.removesuffix("-msg"))
            if attempt is not None and attempt.awaiting_key:
                attempt.tasks.append(asyncio.create_task(self._no_keypress(attempt),
                                                         name=f"dialer-keypress-{attempt.id}"))
        elif isinstance(ev, E.Connected) and ev.reconnect:
            alive = ev.snapshot.channel_ids()
            for attempt in [a for a in self.attempts.values() if a.id not in alive]:
                await self._ended(attempt, None)

    async def _answered(self, attempt: Attempt, args: list[str]) -> None:
        now = self.clock.now()
        attempt.answered_at = now
        if args[:1] == ["amd"]:
            attempt.amd_status = args[1] if len(args) > 1 else None
            attempt.amd_cause = args[2] if len(args) > 2 else None
        self.stats.observe_answer(now - attempt.started_at)
        action = core.answer_action(self.settings, attempt.amd_status, operator_free=True)
        self.journal.append("dialer.answered", {"amd": attempt.amd_status, "action": action.value},
                            call_id=attempt.id, channel_id=attempt.id, campaign_id=self.campaign.name, ts=now)
        if action is core.AnswerAction.CONNECT:
            task = asyncio.create_task(self._connect(attempt), name=f"dialer-connect-{attempt.id}")
            attempt.tasks.append(task)
            return
        attempt.decided = True
        if action is core.AnswerAction.HANG_UP:
            await self.ari.hangup(attempt.id, missing_ok=True)
        elif action is core.AnswerAction.LEAVE_MESSAGE:
            s = self.settings
            await self._to_dialplan(attempt, s.agentless_message or s.safe_harbour_message)
        elif action is core.AnswerAction.PLAY_AGENTLESS and self.settings.agentless_record_keypress:
            await self._play_for_keypress(attempt)
        elif action is core.AnswerAction.PLAY_AGENTLESS:
            await self._to_dialplan(attempt, self.settings.agentless_message)

    async def _play_for_keypress(self, attempt: Attempt) -> None:
        """Agentless with a keypress: the message plays in Stasis, the first digit is journaled, then the call
        ends; no digit within ``KEYPRESS_WAIT`` seconds after the message ends the call too."""
        attempt.awaiting_key = True
        try:
            await self.ari.play(attempt.id, [self.settings.agentless_message], playback_id=f"{attempt.id}-msg")
        except AriError as exc:
            log.info("dialer_agentless_play_failed", attempt=attempt.id, error=str(exc))
            await self.ari.hangup(attempt.id, missing_ok=True)

    async def _keypress(self, attempt: Attempt, digit: str) -> None:
        attempt.awaiting_key = False
        attempt.keypress = digit
        self.journal.append("dialer.keypress", {"digit": digit, "lead_id": attempt.lead.id},
                            call_id=attempt.id, channel_id=attempt.id, campaign_id=self.campaign.name)
        await self.ari.hangup(attempt.id, missing_ok=True)

    async def _no_keypress(self, attempt: Attempt) -> None:
        await asyncio.sleep(KEYPRESS_WAIT)
        if attempt.awaiting_key:
            attempt.awaiting_key = False
            await self.ari.hangup(attempt.id, missing_ok=True)

    async def _connect(self, attempt: Attempt) -> None:
        data = {"lead_id": attempt.lead.id, "name": attempt.lead.name, "phone": attempt.lead.phone,
                "campaign": self.campaign.name, "attempt_id": attempt.id, **attempt.lead.data}
        if attempt.agent_id:
            data["agent_id"] = attempt.agent_id
        ok = False
        try:
            offer = self.connector.connect_to_agent(attempt.id, self.settings.queue, data)
            ok = await asyncio.wait_for(offer, self.settings.connect_grace)
        except TimeoutError:
            ok = False
        except Exception as exc:  # the ACD failing must not lose the customer to silence
            log.error("dialer_connect_failed", attempt=attempt.id, error=str(exc))
        attempt.decided = True
        now = self.clock.now()
        if ok:
            attempt.connected_at = now
            self.journal.append("dialer.connected", {}, call_id=attempt.id, channel_id=attempt.id,
                                campaign_id=self.campaign.name, ts=now)
            return
        attempt.abandoned = True
        self.journal.append("dialer.abandoned", {"grace": self.settings.connect_grace}, call_id=attempt.id,
                            channel_id=attempt.id, campaign_id=self.campaign.name, ts=now)
        await self._to_dialplan(attempt, self.settings.safe_harbour_message)

    async def _to_dialplan(self, attempt: Attempt, message: str) -> None:
        try:
            if message:
                media = message.removeprefix("sound:")
                await self.ari.set_variable(attempt.id, "CALLCORE_SAFE_HARBOUR", media)
            await self.ari.continue_in_dialplan(attempt.id, context=SAFE_HARBOUR_CONTEXT, extension="s",
                                                priority=1)
        except AriError as exc:
            log.info("dialer_to_dialplan_failed", attempt=attempt.id, error=str(exc))
            await self.ari.hangup(attempt.id, missing_ok=True)

    async def _ended(self, attempt: Attempt, cause: int | None) -> None:
        for task in attempt.tasks:
            if not task.done():
                task.cancel()
        if attempt.answered_at is None:
            outcome = core.outcome_from_hangup(cause, answered=False)
            self.stats.observe_unanswered(self.clock.now() - attempt.started_at)
        elif attempt.amd_status is not None and attempt.amd_status.upper() == core.AmdStatus.MACHINE:
            outcome = core.Outcome.MACHINE
        elif attempt.connected_at is not None:
            outcome = core.Outcome.HUMAN
            self.stats.observe_talk(self.clock.now() - attempt.connected_at)
        elif self.settings.mode is core.Mode.AGENTLESS:
            outcome = core.Outcome.HUMAN
        else:
            # answered but no operator got it (abandoned by us, or the customer hung up first)
            attempt.abandoned = True
            outcome = core.Outcome.ABANDONED
        await self._finish(attempt, outcome, cause=cause)

    async def _finish(self, attempt: Attempt, outcome: core.Outcome, *, cause: int | None,
                      error: str | None = None) -> None:
        self.attempts.pop(attempt.id, None)
        now = self.clock.now()
        await self.store.finish_attempt(attempt.id, outcome=outcome.value, ended_at=now,
                                        answered_at=attempt.answered_at, cause=cause,
                                        amd_status=attempt.amd_status, amd_cause=attempt.amd_cause,
                                        abandoned=attempt.abandoned, agent_id=attempt.agent_id)
        new = core.apply_outcome(self.settings, attempt.pure, outcome, now)
        await self.store.release_lead(attempt.lead.id, new, attempted_at=attempt.started_at)
        ATTEMPTS.labels(self.campaign.name, outcome.value).inc()
        payload: dict[str, Any] = {"lead_id": attempt.lead.id, "number": attempt.lead.phone,
                                   "outcome": outcome.value, "cause": cause, "abandoned": attempt.abandoned,
                                   "lead_status": new.status.value, "next_attempt_at": new.next_attempt_at}
        if error:
            payload["error"] = error
        self.journal.append("dialer.attempt_ended", payload, call_id=attempt.id, channel_id=attempt.id,
                            campaign_id=self.campaign.name, agent_id=attempt.agent_id, ts=now)
        if not self.attempts:
            self._idle.set()

    # --- preview ---------------------------------------------------------------------------------
    async def next_lead(self, agent_id: str) -> ClaimedLead | None:
        """Reserve the next lead for ``agent_id`` to look at (their personal callbacks first)."""
        for owner, lead in self.reserved.values():
            if owner == agent_id:
                return lead
        got = await self.store.claim_leads(self.campaign.id, 1, self.instance, self.clock.now(),
                                           agent_id=agent_id)
        if not got:
            return None
        self.reserved[got[0].id] = (agent_id, got[0])
        return got[0]

    async def skip_lead(self, agent_id: str, lead_id: int) -> None:
        """The operator passes on a reserved lead: it goes back to the queue unchanged."""
        owner, lead = self.reserved.get(lead_id, (None, None))
        if lead is None or owner != agent_id:
            raise NotFound(f"lead {lead_id} is not reserved for {agent_id}")
        del self.reserved[lead_id]
        await self.store.release_lead(lead.id, lead.to_lead())

    async def call_lead(self, agent_id: str, lead_id: int) -> str:
        """Dial a lead the operator chose (guards apply); returns the attempt id."""
        owner, lead = self.reserved.pop(lead_id, (None, None))
        now = self.clock.now()
        if lead is None or owner != agent_id:
            if owner is not None and lead is not None:
                self.reserved[lead_id] = (owner, lead)
                raise Conflict(f"lead {lead_id} is reserved for another operator")
            lead = await self.store.claim_lead(lead_id, self.instance, now)
            if lead is None:
                raise NotFound(f"lead {lead_id} is not available to call")
        before = set(self.attempts)
        await self._dial_one(lead, now, agent_id)
        new = [a for a in self.attempts if a not in before]
        if not new:
            raise Conflict(f"lead {lead_id} may not be called now (see the journal for the reason)")
        return new[0]

    async def _dial_one(self, lead: ClaimedLead, now: float, agent_id: str) -> None:
        on_dnc = bool(await dnc.blocked(self.store.pool, [lead.phone]))
        times, abandoned = await self.store.number_history([lead.phone], now, self.settings.abandon_lockout)
        pure = lead.to_lead(times.get(lead.phone, ()), abandoned.get(lead.phone))
        refusal = core.dial_refusal(self.settings, pure, now, on_dnc)
        if refusal is not None:
            await self._refuse(lead, pure, refusal)
            return
        await self._originate(lead, pure, now, agent_id=agent_id)

