"""``Dialer.handle(event, now) -> list[Command]``: every outbound decision, for every campaign.

Pacing: each :class:`~events.Tick` asks the pacer how many calls each running campaign may launch and
emits one ``ClaimLeads`` per campaign (never a second before the first is answered). Claimed leads go
through the hard guards (DNC, attempt caps, abandon lockout, calling window); refused ones are released
with the reason, the others become attempts (``StartAttempt``: row first, then the originate).

An answered human is handed to the ACD at once (``QueueCustomer``) and held there for the connect grace
(2 s): an operator who frees up within it gets the customer (``CustomerConnected``); when the grace runs
out first the customer is withdrawn and hears the safe-harbour message, and the call is abandoned.
Machines are hung up or get the message; agentless campaigns play theirs. The channel's end
(``ChannelEnded``) closes the attempt with exactly one outcome, updates the lead (retry or final), the
pacing statistics and the abandonment ledger.

Faults are events: ``DatabaseDown`` stops new claims (calls in flight go on, their writes wait in the
executor), ``DatabaseUp`` resumes; ``Readopt`` takes back the attempts a previous run of this instance
left open, and resolves those whose call ended meanwhile from what is known (never as a fresh lead).
Preview operators reserve leads (``PreviewNext``) and may only dial one reserved for them in that
campaign, and only while not paused; their customer is connected to them alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcore.dialer import campaign as rules
from callcore.dialer import pacer
from callcore.dialer.campaign import AnswerAction, CampaignSettings, Mode, Outcome
from callcore.dialer.compliance import Refusal, RefusalCode
from callcore.dialer.core import commands as C
from callcore.dialer.core import events as E
from callcore.dialer.core.attempts import (
    ANSWERED_FACTS,
    AttemptState,
    Phase,
    adopted_outcome,
    final_outcome,
    grace_key,
    keypress_key,
)

OUTBOUND_PRIORITY = 1000  # answered customers go ahead of inbound callers waiting in the same queue
KEYPRESS_WAIT = 5.0       # agentless campaigns recording a keypress: seconds to wait after the message
HOUSEKEEPING_EVERY = 30   # ticks between claim refreshes, stale recovery, ledger reads and sweeps
CLAIM_TTL = 300.0
PAUSED_STATES = frozenset({"paused", "logged_out"})


def refusal_outcome(code: RefusalCode) -> str:
    if code is RefusalCode.DNC:
        return Outcome.DNC_BLOCKED.value
    if code in (RefusalCode.OUTSIDE_WINDOW, RefusalCode.NO_COMMON_WINDOW):
        return Outcome.OUTSIDE_WINDOW.value
    return code.value


@dataclass(slots=True)
class CampaignRun:
    info: E.CampaignInfo
    stats: pacer.PacingStats
    ledger: rules.AbandonLedger = field(default_factory=rules.AbandonLedger)
    db_counts: tuple[int, int] = (0, 0)
    claiming: bool = False

    @property
    def settings(self) -> CampaignSettings:
        return self.info.settings

    @property
    def running(self) -> bool:
        return self.info.state == "running"

    def abandon_24h(self, now: float) -> tuple[int, int]:
        """(live answers, abandoned) over 24 h: what PostgreSQL last said or what this instance counted
        itself, whichever is more (writes waiting for the database are not in the former)."""
        own = self.ledger.last_24h(now)
        return max(self.db_counts[0], own.answered), max(self.db_counts[1], own.abandoned)


@dataclass(frozen=True, slots=True)
class Reservation:
    campaign: str
    agent_id: str
    ticket: E.Ticket


class Dialer:
    def __init__(self, new_id: Callable[[], str], *, claim_ttl: float = CLAIM_TTL,
                 housekeeping_every: int = HOUSEKEEPING_EVERY) -> None:
        self.new_id = new_id
        self.claim_ttl = claim_ttl
        self.housekeeping_every = housekeeping_every
        self.campaigns: dict[str, CampaignRun] = {}
        self.attempts: dict[str, AttemptState] = {}
        self.reserved: dict[int, Reservation] = {}
        self.db_up = True
        self.ticks = 0

    # --- queries ---------------------------------------------------------------------------------------

    def in_flight(self, campaign: str) -> list[AttemptState]:
        return [a for a in self.attempts.values() if a.campaign == campaign]

    def leads_held(self) -> set[int]:
        return {a.ticket.id for a in self.attempts.values()} | set(self.reserved)

    def pacer_state(self, run: CampaignRun, operators: tuple[int, tuple[pacer.BusyOperator, ...]],
                    now: float) -> pacer.PacerState:
        free, busy = operators
        mine = self.in_flight(run.info.name)
        ringing = tuple(now - a.started_at for a in mine if a.phase is Phase.DIALING)
        waiting = sum(1 for a in mine if a.waiting)
        answered, abandoned = run.abandon_24h(now)
        s = run.settings
        lines = s.agentless_lines if s.mode is Mode.AGENTLESS else None
        return pacer.PacerState(free=free, busy=busy, ringing=ringing, answered_waiting=waiting,
                                talk=run.stats.talk_estimate(), answer=run.stats.answer_estimate(),
                                answered_24h=answered, abandoned_24h=abandoned, line_capacity=lines)

    # --- dispatch --------------------------------------------------------------------------------------

    def handle(self, ev: E.Event, now: float) -> list[C.Command]:
        out: list[C.Command] = []
        match ev:
            case E.CampaignUpdated(campaign=info):
                self._campaign(info, out)
            case E.CampaignRemoved(name=name):
                run = self.campaigns.get(name)
                if run is not None:
                    run.info = dataclasses.replace(run.info, state="stopped")
                    if not self.in_flight(name):
                        self._drop_reservations(name, out)
                        del self.campaigns[name]
            case E.Tick():
                self._tick(ev, now, out)
            case E.ClaimsGranted():
                self._granted(ev, now, out)
            case E.ClaimFailed(campaign=name, agent_id=agent):
                run = self.campaigns.get(name)
                if run is not None and agent is None:
                    run.claiming = False
                if agent is not None:
                    out.append(C.PreviewOffer(name, agent, None))
            case E.AbandonCounts(campaign=name, answered=answered, abandoned=abandoned):
                run = self.campaigns.get(name)
                if run is not None:
                    run.db_counts = (answered, abandoned)
            case E.StartFailed(attempt=aid):
                self._not_started(aid, out)
            case E.OriginateFailed(attempt=aid, error=error):
                a = self.attempts.get(aid)
                if a is not None:
                    self._finish(a, Outcome.FAILED, None, now, out, error=error)
            case E.AmdAnswered(attempt=aid):
                a = self.attempts.get(aid)
                if a is not None and a.answered_at is None:
                    a.answered_at, a.amd_pending = now, True
                    self.campaigns[a.campaign].stats.observe_answer(now - a.started_at)
                    out.append(C.Journal("dialer.amd_started", {"lead_id": a.ticket.id},
                                         campaign=a.campaign, call_id=a.id))
            case E.Answered():
                a = self.attempts.get(ev.attempt)
                if a is not None and (a.answered_at is None or a.amd_pending):
                    self._answered(a, ev, now, out)
            case E.ChannelEnded(attempt=aid, cause=cause):
                a = self.attempts.get(aid)
                if a is not None:
                    self._ended(a, cause, now, out)
            case E.Dtmf(attempt=aid, digit=digit):
                a = self.attempts.get(aid)
                if a is not None and a.awaiting_key:
                    a.awaiting_key, a.keypress = False, digit
                    out += [C.CancelTimer(keypress_key(aid)),
                            C.Journal("dialer.keypress", {"digit": digit, "lead_id": a.ticket.id},
                                      campaign=a.campaign, call_id=aid),
                            C.Hangup(aid)]
            case E.PlaybackDone(attempt=aid):
                a = self.attempts.get(aid)
                if a is not None and a.awaiting_key:
                    out.append(C.SetTimer(keypress_key(aid), now + KEYPRESS_WAIT))
            case E.TimerFired(key=key):
                self._timer(key, now, out)
            case E.CustomerQueued():
                pass  # the grace timer is already running since the answer
            case E.CustomerConnected(attempt=aid, agent_id=agent):
                a = self.attempts.get(aid)
                if a is not None and a.phase is Phase.QUEUED:
                    self._connected(a, agent, now, out)
            case E.CustomerAbandoned(attempt=aid):
                a = self.attempts.get(aid)
                if a is not None and a.phase is Phase.QUEUED:
                    self._abandon(a, now, out, withdraw=False)
            case E.DatabaseDown(error=error):
                if self.db_up:
                    self.db_up = False
                    out.append(C.Journal("dialer.paused", {"reason": "database-unavailable", "error": error}))
            case E.DatabaseUp():
                if not self.db_up:
                    self.db_up = True
                    out.append(C.Journal("dialer.resumed", {"reason": "database-available"}))
            case E.Readopt(attempts=adopted):
                for item in adopted:
                    self._adopt(item, now, out)
            case E.PreviewNext(campaign=name, agent_id=agent):
                self._preview_next(name, agent, out)
            case E.PreviewCall():
                self._preview_call(ev, now, out)
            case E.PreviewSkip(campaign=name, agent_id=agent, lead_id=lead_id):
                r = self.reserved.get(lead_id)
                if r is None or r.campaign != name or r.agent_id != agent:
                    out.append(C.PreviewRefused(name, agent, lead_id, "not-reserved",
                                                f"lead {lead_id} is not reserved for {agent}"))
                else:
                    del self.reserved[lead_id]
                    out.append(C.ReleaseLead(lead_id, r.ticket.lead))
        return out

    # --- campaigns and pacing --------------------------------------------------------------------------

    def _campaign(self, info: E.CampaignInfo, out: list[C.Command]) -> None:
        run = self.campaigns.get(info.name)
        if run is None:
            self.campaigns[info.name] = CampaignRun(info, pacer.PacingStats(give_up=info.settings.ring_timeout))
            out.append(C.ReadAbandonCounts(info.name, info.id, 0.0))
            return
        if run.info.settings.ring_timeout != info.settings.ring_timeout:
            run.stats.give_up = info.settings.ring_timeout
        run.info = info

    def _drop_reservations(self, name: str, out: list[C.Command]) -> None:
        for lead_id, r in [(k, r) for k, r in self.reserved.items() if r.campaign == name]:
            del self.reserved[lead_id]
            out.append(C.ReleaseLead(lead_id, r.ticket.lead))

    def _tick(self, ev: E.Tick, now: float, out: list[C.Command]) -> None:
        housekeeping = self.ticks % self.housekeeping_every == 0
        self.ticks += 1
        if housekeeping:
            self._housekeeping(now, out)
        if not self.db_up:
            for run in self.campaigns.values():  # doubles as the probe for the database coming back
                out.append(C.ReadAbandonCounts(run.info.name, run.info.id, now - rules.DAY))
            return
        for name, run in self.campaigns.items():
            s = run.settings
            if not run.running or run.claiming or s.mode is Mode.PREVIEW:
                continue
            operators = ev.operators.get(s.queue, (0, ()))
            want = pacer.decide(self.pacer_state(run, operators, now), s)
            if want > 0:
                run.claiming = True
                out.append(C.ClaimLeads(name, run.info.id, want))

    def _housekeeping(self, now: float, out: list[C.Command]) -> None:
        held = tuple(sorted(self.leads_held()))
        if self.db_up:
            if held:
                out.append(C.TouchClaims(held))
            for run in self.campaigns.values():
                out.append(C.RecoverStale(run.info.id, now - self.claim_ttl))
                out.append(C.ReadAbandonCounts(run.info.name, run.info.id, now - rules.DAY))
        for a in self.attempts.values():
            owner = self.campaigns.get(a.campaign)
            ring = owner.settings.ring_timeout if owner is not None else 60.0
            if a.phase is Phase.DIALING and now - a.started_at > 2 * ring + 30:
                out.append(C.CheckChannel(a.id))  # an end that never reached us (a lost event)

    def _granted(self, ev: E.ClaimsGranted, now: float, out: list[C.Command]) -> None:
        run = self.campaigns.get(ev.campaign)
        if ev.agent_id is None and run is not None:
            run.claiming = False
        held = self.leads_held()
        offered: E.Ticket | None = None
        for ticket in ev.tickets:
            if ticket.id in held:
                continue  # already ours: never a second attempt on one lead
            if run is None or not run.running:
                out.append(C.ReleaseLead(ticket.id, ticket.lead))
                continue
            if ev.agent_id is not None:
                self.reserved[ticket.id] = Reservation(ev.campaign, ev.agent_id, ticket)
                offered = offered or ticket
                continue
            self._dial(run, ticket, now, out)
        if ev.agent_id is not None:
            out.append(C.PreviewOffer(ev.campaign, ev.agent_id, offered))

    def _refusal(self, run: CampaignRun, ticket: E.Ticket, now: float) -> Refusal | None:
        return rules.dial_refusal(run.settings, ticket.lead, now, ticket.on_dnc)

    def _refuse(self, run: CampaignRun, ticket: E.Ticket, refusal: Refusal, out: list[C.Command]) -> None:
        out.append(C.ReleaseLead(ticket.id, rules.apply_refusal(ticket.lead, refusal)))
        out.append(C.Journal("dialer.blocked", {
            "lead_id": ticket.id, "number": ticket.phone, "outcome": refusal_outcome(refusal.code),
            "reason": refusal.code.value, "detail": refusal.detail, "retry_at": refusal.retry_at},
            campaign=run.info.name))

    def _dial(self, run: CampaignRun, ticket: E.Ticket, now: float, out: list[C.Command],
              agent_id: str | None = None) -> str | None:
        refusal = self._refusal(run, ticket, now)
        if refusal is not None:
            self._refuse(run, ticket, refusal, out)
            return None
        s = run.settings
        aid = self.new_id()
        lead = rules.start_dial(ticket.lead, now)
        self.attempts[aid] = AttemptState(aid, run.info.name, ticket, lead, now, agent_id=agent_id,
                                          preview=agent_id is not None)
        out.append(C.StartAttempt(aid, run.info.name, ticket, s.amd, s.caller_id, int(s.ring_timeout),
                                  agent_id))
        if agent_id is not None:
            out.append(C.ReserveAgent(agent_id, aid))
        out.append(C.Journal("dialer.attempt_started", {"lead_id": ticket.id, "number": ticket.phone,
                                                        "attempt": lead.attempts, "amd": s.amd},
                             campaign=run.info.name, call_id=aid, agent_id=agent_id))
        return aid

    # --- one attempt -----------------------------------------------------------------------------------

    def _not_started(self, aid: str, out: list[C.Command]) -> None:
        a = self.attempts.pop(aid, None)
        if a is None:
            return
        out.append(C.ReleaseLead(a.ticket.id, a.ticket.lead))  # as before the claim: nothing was dialled
        if a.agent_id is not None and a.preview:
            out.append(C.ReleaseAgent(a.agent_id, aid))
        out.append(C.Journal("dialer.not_started", {"lead_id": a.ticket.id, "reason": "database-unavailable"},
                             campaign=a.campaign, call_id=aid, agent_id=a.agent_id))

    def _answered(self, a: AttemptState, ev: E.Answered, now: float, out: list[C.Command]) -> None:
        run = self.campaigns[a.campaign]
        s = run.settings
        if not a.amd_pending:  # an AMD call's answer was counted when the customer picked up
            a.answered_at = now
            run.stats.observe_answer(now - a.started_at)
        a.amd_pending = False
        a.amd_status, a.amd_cause = ev.amd_status, ev.amd_cause
        action = rules.answer_action(s, a.amd_status, operator_free=True)
        out.append(C.Journal("dialer.answered", {"amd": a.amd_status, "action": action.value},
                             campaign=a.campaign, call_id=a.id))
        a.phase = Phase.LEFT
        if action is AnswerAction.CONNECT:
            a.phase = Phase.QUEUED
            t = a.ticket
            data: dict[str, Any] = {"lead_id": t.id, "name": t.name, "phone": t.phone, "campaign": a.campaign,
                                    "attempt_id": a.id, **t.data}
            if a.preview and a.agent_id:
                data["agent_id"] = a.agent_id
            out.append(C.QueueCustomer(a.id, s.queue, OUTBOUND_PRIORITY, t.phone, t.name, data,
                                       a.agent_id if a.preview else None))
            out.append(C.SetTimer(grace_key(a.id), now + s.connect_grace))
        elif action is AnswerAction.HANG_UP:
            out.append(C.Hangup(a.id))
        elif action is AnswerAction.LEAVE_MESSAGE:
            out.append(C.ToDialplan(a.id, s.agentless_message or s.safe_harbour_message))
        elif action is AnswerAction.PLAY_AGENTLESS and s.agentless_record_keypress:
            a.awaiting_key = True
            out.append(C.Play(a.id, s.agentless_message, f"{a.id}-msg"))
        else:
            out.append(C.ToDialplan(a.id, s.agentless_message))

    def _connected(self, a: AttemptState, agent: str | None, now: float, out: list[C.Command]) -> None:
        a.phase = Phase.CONNECTED
        a.connected_at = now
        if agent:
            a.agent_id = agent
        out.append(C.CancelTimer(grace_key(a.id)))
        out.append(C.Journal("dialer.connected", {"wait": now - (a.answered_at or now)}, campaign=a.campaign,
                             call_id=a.id, agent_id=a.agent_id))

    def _abandon(self, a: AttemptState, now: float, out: list[C.Command], *, withdraw: bool) -> None:
        s = self.campaigns[a.campaign].settings
        a.phase = Phase.LEFT
        a.abandoned = True
        out.append(C.CancelTimer(grace_key(a.id)))
        if withdraw:
            out.append(C.WithdrawCustomer(a.id))
        out.append(C.Journal("dialer.abandoned", {"grace": s.connect_grace}, campaign=a.campaign, call_id=a.id))
        out.append(C.ToDialplan(a.id, s.safe_harbour_message))

    def _timer(self, key: str, now: float, out: list[C.Command]) -> None:
        kind, _, aid = key.partition(":")
        a = self.attempts.get(aid)
        if a is None:
            return
        if kind == "grace" and a.phase is Phase.QUEUED:
            self._abandon(a, now, out, withdraw=True)
        elif kind == "keypress" and a.awaiting_key:
            a.awaiting_key = False
            out.append(C.Hangup(a.id))

    def _ended(self, a: AttemptState, cause: int | None, now: float, out: list[C.Command]) -> None:
        run = self.campaigns[a.campaign]
        if a.phase is Phase.QUEUED:
            out.append(C.WithdrawCustomer(a.id))  # the customer hung up while waiting
        if a.answered_at is None:
            run.stats.observe_unanswered(now - a.started_at)
        elif a.connected_at is not None:
            run.stats.observe_talk(now - a.connected_at)
        outcome = final_outcome(run.settings, a, cause)
        self._finish(a, outcome, cause, now, out)

    def _finish(self, a: AttemptState, outcome: Outcome, cause: int | None, now: float, out: list[C.Command],
                *, error: str | None = None) -> None:
        del self.attempts[a.id]
        run = self.campaigns[a.campaign]
        if outcome is Outcome.ABANDONED:
            a.abandoned = True
        run.ledger = run.ledger.record(outcome, now)
        out.append(C.CancelTimer(grace_key(a.id)))
        if a.awaiting_key:
            out.append(C.CancelTimer(keypress_key(a.id)))
        if a.preview and a.agent_id is not None:
            out.append(C.ReleaseAgent(a.agent_id, a.id))
        new = rules.apply_outcome(run.settings, a.lead, outcome, now)
        out.append(C.FinishAttempt(a.id, outcome, now, a.answered_at, cause, a.amd_status, a.amd_cause,
                                   a.abandoned, a.agent_id))
        out.append(C.ReleaseLead(a.ticket.id, new, attempted_at=a.started_at))
        payload: dict[str, Any] = {"lead_id": a.ticket.id, "number": a.ticket.phone, "outcome": outcome.value,
                                   "cause": cause, "abandoned": a.abandoned, "lead_status": new.status.value,
                                   "next_attempt_at": new.next_attempt_at}
        if error:
            payload["error"] = error
        out.append(C.Journal("dialer.attempt_ended", payload, campaign=a.campaign, call_id=a.id,
                             agent_id=a.agent_id))

    # --- restart ---------------------------------------------------------------------------------------

    def _adopt(self, item: E.Adopted, now: float, out: list[C.Command]) -> None:
        run = self.campaigns.get(item.campaign)
        if item.attempt in self.attempts or run is None:
            return
        before = item.ticket.lead
        if before.status in (rules.LeadStatus.DIALING, rules.LeadStatus.DONE):
            before = dataclasses.replace(before, status=rules.LeadStatus.SCHEDULED)
        lead = rules.start_dial(before, item.started_at)  # the call was placed: it counts
        a = AttemptState(item.attempt, item.campaign, item.ticket, lead, item.started_at,
                         agent_id=item.agent_id, answered_at=item.answered_at, amd_status=item.amd_status)
        connected = "dialer.connected" in item.facts or "call.answered" in item.facts
        answered = item.up or item.answered_at is not None or not ANSWERED_FACTS.isdisjoint(item.facts)
        if answered and a.answered_at is None:
            a.answered_at = item.started_at
        self.attempts[a.id] = a
        out.append(C.Journal("dialer.attempt_adopted", {"lead_id": item.ticket.id, "alive": item.alive},
                             campaign=a.campaign, call_id=a.id, agent_id=a.agent_id))
        if not item.alive:
            outcome = adopted_outcome(run.settings, item.facts, item.amd_status, answered)
            if outcome is Outcome.HUMAN:
                a.connected_at = a.connected_at or a.answered_at
            self._finish(a, outcome, None, now, out)
            return
        if connected:
            a.phase, a.connected_at = Phase.CONNECTED, a.answered_at
        elif answered:
            if "dialer.abandoned" in item.facts or run.settings.mode is Mode.AGENTLESS or \
                    (item.amd_status or "").upper() == rules.AmdStatus.MACHINE:
                a.phase = Phase.LEFT  # already sent to its message: wait for its end
                a.abandoned = "dialer.abandoned" in item.facts
            else:
                self._abandon(a, now, out, withdraw=False)  # the grace is long over
        elif run.settings.amd:
            out.append(C.Subscribe(a.id))

    # --- preview ---------------------------------------------------------------------------------------

    def _preview_next(self, name: str, agent: str, out: list[C.Command]) -> None:
        for r in self.reserved.values():
            if r.agent_id == agent and r.campaign == name:
                out.append(C.PreviewOffer(name, agent, r.ticket))
                return
        run = self.campaigns.get(name)
        if run is None or not run.running:
            out.append(C.PreviewOffer(name, agent, None))
            return
        out.append(C.ClaimLeads(name, run.info.id, 1, agent_id=agent))

    def _preview_call(self, ev: E.PreviewCall, now: float, out: list[C.Command]) -> None:
        name, agent, lead_id = ev.campaign, ev.agent_id, ev.lead_id
        r = self.reserved.get(lead_id)
        run = self.campaigns.get(name)
        if r is None or r.campaign != name or run is None:
            out.append(C.PreviewRefused(name, agent, lead_id, "not-reserved",
                                        f"lead {lead_id} is not reserved for {agent} in campaign {name}"))
            return
        if r.agent_id != agent:
            out.append(C.PreviewRefused(name, agent, lead_id, "reserved-for-another",
                                        f"lead {lead_id} is reserved for another operator"))
            return
        if ev.agent_state in PAUSED_STATES:
            out.append(C.PreviewRefused(name, agent, lead_id, "agent-paused",
                                        f"operator {agent} is {ev.agent_state}: be ready before calling"))
            return
        if not run.running:
            out.append(C.PreviewRefused(name, agent, lead_id, "campaign-not-running",
                                        f"campaign {name} is {run.info.state}"))
            return
        del self.reserved[lead_id]
        ticket = ev.fresh or r.ticket
        aid = self._dial(run, ticket, now, out, agent_id=agent)
        if aid is None:
            refusal = self._refusal(run, ticket, now)
            out.append(C.PreviewRefused(name, agent, lead_id, refusal.code.value if refusal else "refused",
                                        refusal.detail if refusal else "refused"))
            return
        out.append(C.PreviewDialled(name, agent, lead_id, aid))
