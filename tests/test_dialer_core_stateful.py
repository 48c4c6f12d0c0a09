"""Stateful property test of the dialer core against a model of the database, ARI and the ACD.

Whatever the order of ticks, claims, answers, verdicts, connects, timers, hang-ups, database outages and
restarts: every attempt ends with exactly one outcome, a lead is never in two attempts (nor claimed twice:
the core holds only leads the database granted it and has at most one claim per campaign outstanding), the
attempt cap per lead, the cap per number per 24 h and the calling window are never exceeded, and once every
channel is gone and every timer has fired no attempt is left open.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from callcore.dialer.campaign import CampaignSettings, Lead, LeadStatus, Mode, Outcome
from callcore.dialer.compliance import CallingWindow, window_open
from callcore.dialer.core import commands as C
from callcore.dialer.core import events as E
from callcore.dialer.core.engine import Dialer

START = 1_800_000_000.0 + 2 * 3600  # 10:00 UTC: the 09:00-21:00 window closes after some hours
WINDOW = CallingWindow.parse("09:00-21:00")
MAX_ATTEMPTS = 3
PER_NUMBER_PER_DAY = 2
DAY = 24 * 3600.0


@dataclass
class Row:
    lead: Lead
    claimed: bool = False


@dataclass
class Model:
    rows: dict[int, Row] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)       # live channels (originated, not ended)
    answered: set[str] = field(default_factory=set)
    queued: set[str] = field(default_factory=set)         # customers with the ACD
    timers: dict[str, float] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)  # attempt -> lead id (originated)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    claims: list[C.ClaimLeads] = field(default_factory=list)
    attempts_per_lead: dict[int, int] = field(default_factory=dict)
    not_started: set[str] = field(default_factory=set)
    reserved_agents: dict[str, str] = field(default_factory=dict)
    dialled_at: dict[str, list[float]] = field(default_factory=dict)  # phone -> originate times


class DialerMachine(RuleBasedStateMachine):
    @initialize(mode=st.sampled_from([Mode.PROGRESSIVE, Mode.PREDICTIVE]), amd=st.booleans(),
                leads=st.integers(1, 8))
    def setup(self, mode: Mode, amd: bool, leads: int) -> None:
        counter = itertools.count(1)
        self.ids = lambda: f"dial-{next(counter)}"
        self.core = Dialer(self.ids)
        self.now = START
        self.settings = CampaignSettings(caller_id="+100", queue="q", mode=mode, amd=amd, window=WINDOW,
                                         max_attempts=MAX_ATTEMPTS, max_attempts_per_number_per_day=PER_NUMBER_PER_DAY,
                                         retry=dataclasses.replace(CampaignSettings("+1", "q").retry,
                                                                   busy=60, no_answer=60, failed=60,
                                                                   congestion=60, machine=60))
        self.info = E.CampaignInfo(1, "c", "running", self.settings)
        self.m = Model()
        for i in range(1, leads + 1):
            self.m.rows[i] = Row(Lead(str(i), f"+1555000{i:04d}", ("UTC",)))
        self.db_up = True
        self.feed(E.CampaignUpdated(self.info))

    # --- the executor's part --------------------------------------------------------------------------

    def feed(self, ev: E.Event) -> None:
        for cmd in self.core.handle(ev, self.now):
            self.apply(cmd)

    def apply(self, cmd: C.Command) -> None:
        m = self.m
        match cmd:
            case C.ClaimLeads():
                m.claims.append(cmd)
            case C.StartAttempt(attempt=aid, ticket=t):
                assert window_open(WINDOW, t.lead.zones, self.now), "dialled outside the window"
                row = m.rows[t.id]
                assert row.claimed, "dialled a lead that was not claimed"
                assert not [a for a, lid in m.started.items() if lid == t.id and a not in m.outcomes], \
                    "lead in two attempts"
                if not self.db_up:
                    m.not_started.add(aid)
                    self.feed(E.StartFailed(aid))
                    return
                times = [at for at in m.dialled_at.get(t.phone, []) if at > self.now - DAY]
                assert len(times) < PER_NUMBER_PER_DAY, f"{t.phone} dialled a third time within 24 h"
                m.dialled_at.setdefault(t.phone, []).append(self.now)
                m.started[aid] = t.id
                m.channels.add(aid)
                m.attempts_per_lead[t.id] = m.attempts_per_lead.get(t.id, 0) + 1
            case C.QueueCustomer(attempt=aid):
                m.queued.add(aid)
            case C.WithdrawCustomer(attempt=aid):
                m.queued.discard(aid)
            case C.SetTimer(key=key, at=at):
                m.timers[key] = at
            case C.CancelTimer(key=key):
                m.timers.pop(key, None)
            case C.Hangup(attempt=aid) | C.ToDialplan(attempt=aid):
                pass  # the channel ends later (a rule)
            case C.FinishAttempt(attempt=aid, outcome=outcome):
                m.outcomes.setdefault(aid, []).append(outcome)
            case C.ReleaseLead(lead_id=lid, lead=lead):
                row = m.rows[lid]
                assert row.claimed, "released a lead it did not hold"
                row.lead = dataclasses.replace(lead, status=lead.status if lead.status is not LeadStatus.DIALING
                                               else LeadStatus.SCHEDULED)
                row.claimed = False
            case C.ReserveAgent(agent_id=agent, attempt=aid):
                m.reserved_agents[aid] = agent
            case C.ReleaseAgent(attempt=aid):
                m.reserved_agents.pop(aid, None)
            case _:
                pass

    def due(self) -> list[Row]:
        return [r for r in self.m.rows.values() if not r.claimed and r.lead.status in
                (LeadStatus.NEW, LeadStatus.SCHEDULED, LeadStatus.CALLBACK)
                and (r.lead.next_attempt_at or 0.0) <= self.now]

    # --- rules ------------------------------------------------------------------------------------------

    @rule(free=st.integers(1, 4), busy=st.integers(0, 3), db_back=st.booleans())
    def tick(self, free: int, busy: int, db_back: bool) -> None:
        from callcore.dialer.pacer import BusyOperator
        if db_back and not self.db_up:  # the probe of a tick finds the database back
            self.database_comes_back()
        self.feed(E.Tick({"q": (free, tuple(BusyOperator(30.0) for _ in range(busy)))}))

    @precondition(lambda self: bool(self.m.claims))
    @rule(fail=st.sampled_from([False, False, False, True]))
    def grant_claim(self, fail: bool) -> None:
        claim = self.m.claims.pop(0)
        if fail or not self.db_up:
            self.feed(E.ClaimFailed(claim.campaign, claim.agent_id))
            return
        tickets = []
        for row in self.due()[: claim.count]:
            row.claimed = True
            times = tuple(t for t in row.lead.attempt_times)
            tickets.append(E.Ticket(int(row.lead.id), 1, row.lead.phone, "", dataclasses.replace(
                row.lead, attempt_times=times)))
        self.feed(E.ClaimsGranted(claim.campaign, tuple(tickets), claim.agent_id))

    def live(self) -> list[str]:
        return sorted(self.m.channels)

    @precondition(lambda self: bool(self.m.channels))
    @rule(data=st.data(), verdict=st.sampled_from([None, "HUMAN", "MACHINE", "NOTSURE"]))
    def answer(self, data: st.DataObject, verdict: str | None) -> None:
        aid = data.draw(st.sampled_from(self.live()))
        if aid in self.m.answered:
            return
        self.m.answered.add(aid)
        self.feed(E.Answered(aid, verdict if self.settings.amd else None, "x" if verdict else None))

    @precondition(lambda self: bool(self.m.channels) and self.settings.amd)
    @rule(data=st.data())
    def amd_listening(self, data: st.DataObject) -> None:
        """An AMD call picked up: its verdict may follow, or the customer hangs up first."""
        aid = data.draw(st.sampled_from(self.live()))
        if aid not in self.m.answered:
            self.feed(E.AmdAnswered(aid))

    @precondition(lambda self: bool(self.m.queued))
    @rule(data=st.data())
    def operator_takes(self, data: st.DataObject) -> None:
        aid = data.draw(st.sampled_from(sorted(self.m.queued)))
        self.m.queued.discard(aid)
        self.feed(E.CustomerConnected(aid, "a1"))

    @precondition(lambda self: bool(self.m.channels))
    @rule(data=st.data(), cause=st.sampled_from([None, 16, 17, 19, 21, 34, 1, 127]))
    def channel_ends(self, data: st.DataObject, cause: int | None) -> None:
        aid = data.draw(st.sampled_from(self.live()))
        self.m.channels.discard(aid)
        self.m.queued.discard(aid)
        self.feed(E.ChannelEnded(aid, cause))

    @precondition(lambda self: bool(self.m.channels))
    @rule(data=st.data())
    def originate_fails(self, data: st.DataObject) -> None:
        aid = data.draw(st.sampled_from(self.live()))
        if aid in self.m.answered:
            return
        self.m.channels.discard(aid)
        self.feed(E.OriginateFailed(aid, "boom"))

    @precondition(lambda self: bool(self.m.timers))
    @rule(data=st.data())
    def timer_fires(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.m.timers)))
        self.now = max(self.now, self.m.timers.pop(key))
        self.feed(E.TimerFired(key))

    @rule(seconds=st.sampled_from([0.5, 2.0, 30.0, 600.0, 3 * 3600.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @precondition(lambda self: self.db_up)
    @rule(roll=st.integers(0, 3))
    def database_goes_down(self, roll: int) -> None:
        if roll:
            return
        self.db_up = False
        self.feed(E.DatabaseDown("refused"))

    def database_comes_back(self) -> None:
        self.db_up = True
        self.feed(E.DatabaseUp())

    @rule(roll=st.integers(0, 5))
    def instance_restarts(self, roll: int) -> None:
        """A new core adopts what the previous one left open (channels alive or not)."""
        if roll:
            return
        old = self.core
        self.core = Dialer(self.ids)
        self.feed(E.CampaignUpdated(self.info))
        self.m.claims.clear()
        self.m.timers.clear()
        self.m.queued.clear()
        for r in [r for r in self.m.rows.values() if r.claimed and
                  not any(a.ticket.id == int(r.lead.id) for a in old.attempts.values())]:
            r.claimed = False  # unanswered claims of the old run (a reservation) return to the queue
        adopted = []
        for a in old.attempts.values():
            alive = a.id in self.m.channels
            facts = frozenset({"dialer.answered"} if a.answered_at is not None else set()) | frozenset(
                {"dialer.connected"} if a.connected_at is not None else set())
            adopted.append(E.Adopted(a.id, "c", a.ticket, a.started_at, alive=alive,
                                     up=alive and a.id in self.m.answered, facts=facts,
                                     answered_at=a.answered_at, amd_status=a.amd_status, agent_id=a.agent_id))
        self.feed(E.Readopt(tuple(adopted)))

    # --- invariants -------------------------------------------------------------------------------------

    @invariant()
    def one_outcome_per_attempt(self) -> None:
        for aid, outs in self.m.outcomes.items():
            assert len(outs) == 1, (aid, outs)
            assert aid in self.m.started

    @invariant()
    def no_lead_in_two_open_attempts(self) -> None:
        open_leads = [a.ticket.id for a in self.core.attempts.values()]
        assert len(open_leads) == len(set(open_leads))

    @invariant()
    def held_leads_are_claimed_and_claims_are_one_at_a_time(self) -> None:
        """The core holds (dials or reserves) only leads the database handed to it, and asks for the next
        batch of a campaign only after the previous one was answered: a lead is never claimed twice."""
        for lid in self.core.leads_held():
            assert self.m.rows[lid].claimed, f"lead {lid} held but not claimed"
        per_campaign = [c.campaign for c in self.m.claims if c.agent_id is None]
        assert len(per_campaign) == len(set(per_campaign)), per_campaign

    @invariant()
    def caps_hold(self) -> None:
        for lid, n in self.m.attempts_per_lead.items():
            assert n <= MAX_ATTEMPTS, (lid, n)

    def teardown(self) -> None:
        if not hasattr(self, "core"):
            return
        for aid in self.live():  # every channel ends, every timer fires
            self.m.channels.discard(aid)
            self.feed(E.ChannelEnded(aid, 16))
        while self.m.timers:
            key = sorted(self.m.timers)[0]
            self.m.timers.pop(key)
            self.feed(E.TimerFired(key))
        assert self.core.attempts == {}, "attempts left open"
        assert set(self.m.outcomes) == set(self.m.started), "attempts without an outcome"
        assert all(len(o) == 1 for o in self.m.outcomes.values())
        assert not self.m.reserved_agents


DialerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None, derandomize=True)
TestDialerCore = DialerMachine.TestCase
