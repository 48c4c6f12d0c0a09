"""The dialer core as plain functions: events in, commands out, no I/O, no clock."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any, TypeVar

import pytest

from callcore.dialer.campaign import CampaignSettings, Lead, LeadStatus, Mode, Outcome
from callcore.dialer.compliance import CallingWindow
from callcore.dialer.core import commands as C
from callcore.dialer.core import events as E
from callcore.dialer.core.engine import Dialer

T = TypeVar("T")
MORNING = 1_800_000_000.0  # 2027-01-15 08:00 UTC
SETTINGS = CampaignSettings(caller_id="+74950000000", queue="sales", mode=Mode.PROGRESSIVE,
                            window=CallingWindow.parse("00:00-23:59"))


def only(cmds: Sequence[C.Command], kind: type[T]) -> list[T]:
    return [c for c in cmds if isinstance(c, kind)]


def one(cmds: Sequence[C.Command], kind: type[T]) -> T:
    found = only(cmds, kind)
    assert len(found) == 1, (kind.__name__, cmds)
    return found[0]


def ticket(lead_id: int, **kw: Any) -> E.Ticket:
    lead = Lead(str(lead_id), f"+7916000{lead_id:04d}", ("UTC",), **kw)
    return E.Ticket(lead_id, 1, lead.phone, f"Customer {lead_id}", lead, {"vip": "yes"})


class Rig:
    def __init__(self, settings: CampaignSettings = SETTINGS, now: float = MORNING) -> None:
        counter = itertools.count(1)
        self.core = Dialer(lambda: f"dial-{next(counter)}")
        self.now = now
        self.settings = settings
        self.feed(E.CampaignUpdated(E.CampaignInfo(1, "spring", "running", settings)))

    def feed(self, ev: E.Event, advance: float = 0.0) -> list[C.Command]:
        self.now += advance
        return self.core.handle(ev, self.now)

    def tick(self, free: int = 1) -> list[C.Command]:
        return self.feed(E.Tick({self.settings.queue: (free, ())}))

    def dial(self, lead_id: int = 1, **kw: Any) -> str:
        claim = one(self.tick(), C.ClaimLeads)
        assert claim.count >= 1
        out = self.feed(E.ClaimsGranted("spring", (ticket(lead_id, **kw),)))
        return one(out, C.StartAttempt).attempt


def test_progressive_answer_connect_and_hang_up_is_a_contact_with_the_operator() -> None:
    rig = Rig()
    claim = one(rig.tick(free=1), C.ClaimLeads)
    assert (claim.campaign, claim.count) == ("spring", 1)
    assert only(rig.tick(free=1), C.ClaimLeads) == []           # one claim at a time
    out = rig.feed(E.ClaimsGranted("spring", (ticket(7),)))
    start = one(out, C.StartAttempt)
    assert (start.amd, start.timeout, start.caller_id) == (False, 25, "+74950000000")
    assert only(rig.tick(free=1), C.ClaimLeads) == []           # the operator is covered by the call
    out = rig.feed(E.Answered(start.attempt), advance=6)
    queued = one(out, C.QueueCustomer)
    assert (queued.queue, queued.priority, queued.data["vip"], queued.agent_id) == ("sales", 1000, "yes", None)
    assert one(out, C.SetTimer).at == pytest.approx(rig.now + 2.0)
    out = rig.feed(E.CustomerConnected(start.attempt, "a1"), advance=0.1)
    assert one(out, C.CancelTimer).key == f"grace:{start.attempt}"
    out = rig.feed(E.ChannelEnded(start.attempt, 16), advance=60)
    fin = one(out, C.FinishAttempt)
    assert (fin.outcome, fin.abandoned, fin.cause, fin.agent_id) == (Outcome.HUMAN, False, 16, "a1")
    rel = one(out, C.ReleaseLead)
    assert (rel.lead.status, rel.lead.attempts, rel.lead.final_reason) == (LeadStatus.DONE, 1, "contacted")
    assert [j.type for j in only(out, C.Journal)] == ["dialer.attempt_ended"]
    assert rig.core.attempts == {}


def test_operator_freeing_within_the_grace_gets_the_customer() -> None:
    """Field: a customer answered with no operator free was abandoned 0.2 ms after the answer although
    an operator freed up 0.97 s later. The customer is held for the grace instead."""
    rig = Rig(dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE))
    aid = rig.dial()
    out = rig.feed(E.Answered(aid))
    assert only(out, C.ToDialplan) == [] and len(only(out, C.QueueCustomer)) == 1
    out = rig.feed(E.CustomerConnected(aid, "a2"), advance=0.97)
    assert only(out, C.ToDialplan) == [] and only(out, C.WithdrawCustomer) == []
    assert rig.feed(E.TimerFired(f"grace:{aid}"), advance=1.03) == []   # a late timer changes nothing
    fin = one(rig.feed(E.ChannelEnded(aid, 16), advance=30), C.FinishAttempt)
    assert (fin.outcome, fin.abandoned, fin.agent_id) == (Outcome.HUMAN, False, "a2")


def test_grace_running_out_withdraws_the_customer_to_the_safe_harbour_message() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE))
    aid = rig.dial()
    rig.feed(E.Answered(aid))
    out = rig.feed(E.TimerFired(f"grace:{aid}"), advance=2.0)
    assert one(out, C.WithdrawCustomer).attempt == aid
    assert one(out, C.ToDialplan).media == "sound:custom/callcore-safe-harbour"
    assert "dialer.abandoned" in [j.type for j in only(out, C.Journal)]
    assert rig.feed(E.CustomerConnected(aid, "a1"), advance=0.1) == []  # too late: stays abandoned
    out = rig.feed(E.ChannelEnded(aid, 16), advance=8)
    fin = one(out, C.FinishAttempt)
    assert (fin.outcome, fin.abandoned) == (Outcome.ABANDONED, True)
    lead = one(out, C.ReleaseLead).lead
    assert lead.status is LeadStatus.SCHEDULED and lead.last_abandoned_at == rig.now
    assert lead.next_attempt_at == pytest.approx(rig.now + 72 * 3600)
    assert rig.core.campaigns["spring"].abandon_24h(rig.now) == (1, 1)


@pytest.mark.parametrize(("cause", "outcome", "delay"), [(17, Outcome.BUSY, 600.0), (19, Outcome.NO_ANSWER, 3600.0),
                                                         (34, Outcome.CONGESTION, 300.0), (1, Outcome.FAILED, 3600.0)])
def test_unanswered_ends_are_classified_by_q850_cause_and_retried(cause: int, outcome: Outcome,
                                                                   delay: float) -> None:
    rig = Rig()
    aid = rig.dial()
    out = rig.feed(E.ChannelEnded(aid, cause), advance=10)
    assert one(out, C.FinishAttempt).outcome is outcome
    lead = one(out, C.ReleaseLead).lead
    assert (lead.status, lead.attempts) == (LeadStatus.SCHEDULED, 1)
    assert lead.next_attempt_at == pytest.approx(rig.now + delay)


def test_amd_machine_is_hung_up_and_retried_later() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, amd=True))
    aid = rig.dial()
    out = rig.feed(E.Answered(aid, "MACHINE", "LONGGREETING"), advance=4)
    assert one(out, C.Hangup).attempt == aid and only(out, C.QueueCustomer) == []
    fin = one(rig.feed(E.ChannelEnded(aid, 16), advance=0.1), C.FinishAttempt)
    assert (fin.outcome, fin.amd_status) == (Outcome.MACHINE, "MACHINE")


def test_amd_notsure_goes_to_an_operator() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, amd=True))
    aid = rig.dial()
    start = rig.core.attempts[aid]
    assert start.phase.value == "dialing"
    assert len(only(rig.feed(E.Answered(aid, "NOTSURE", "TOOLONG-4900")), C.QueueCustomer)) == 1


def test_hang_up_during_amd_is_an_answered_call_counted_as_abandoned() -> None:
    """A customer who picks up and hangs up while AMD() still listens was answered: the attempt records the
    answer time, counts against the abandonment ledger (no operator reached them), never reads as failed."""
    rig = Rig(dataclasses.replace(SETTINGS, amd=True))
    aid = rig.dial()
    out = rig.feed(E.AmdAnswered(aid), advance=3)
    assert [j.type for j in only(out, C.Journal)] == ["dialer.amd_started"]
    fin = one(rig.feed(E.ChannelEnded(aid, 16), advance=1.5), C.FinishAttempt)
    assert fin.outcome is Outcome.ABANDONED and fin.abandoned
    assert fin.answered_at == pytest.approx(MORNING + 3) and fin.amd_status is None
    assert aid not in rig.core.attempts


def test_amd_verdict_after_the_answer_keeps_the_answer_time() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, amd=True))
    aid = rig.dial()
    rig.feed(E.AmdAnswered(aid), advance=3)
    out = rig.feed(E.Answered(aid, "HUMAN", "HUMAN-500-500"), advance=2.5)
    assert len(only(out, C.QueueCustomer)) == 1
    assert rig.core.attempts[aid].answered_at == pytest.approx(MORNING + 3)
    assert not rig.core.attempts[aid].amd_pending


def test_guard_refusal_releases_the_lead_with_the_reason_and_dials_nothing() -> None:
    rig = Rig()
    rig.tick()
    dnc = dataclasses.replace(ticket(3), on_dnc=True)
    out = rig.feed(E.ClaimsGranted("spring", (dnc,)))
    assert only(out, C.StartAttempt) == []
    assert one(out, C.ReleaseLead).lead.final_reason == "dnc"
    assert one(out, C.Journal).type == "dialer.blocked"


def test_attempt_cap_is_never_exceeded() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, max_attempts=2))
    rig.tick()
    out = rig.feed(E.ClaimsGranted("spring", (ticket(4, status=LeadStatus.SCHEDULED, attempts=2),)))
    assert only(out, C.StartAttempt) == []
    assert one(out, C.ReleaseLead).lead.final_reason == "attempts-exhausted"


def test_a_lead_already_in_flight_is_never_dialled_again() -> None:
    rig = Rig()
    rig.dial(5)
    rig.tick(free=3)
    assert only(rig.feed(E.ClaimsGranted("spring", (ticket(5),))), C.StartAttempt) == []


def test_database_down_pauses_dialing_keeps_calls_and_resumes() -> None:
    rig = Rig()
    aid = rig.dial()
    out = rig.feed(E.DatabaseDown("connection refused"))
    assert one(out, C.Journal).type == "dialer.paused"
    out = rig.tick(free=5)
    assert only(out, C.ClaimLeads) == [] and len(only(out, C.ReadAbandonCounts)) == 1  # the probe
    out = rig.feed(E.ChannelEnded(aid, 16), advance=20)   # the call in flight still ends properly
    assert one(out, C.FinishAttempt).outcome is Outcome.NO_ANSWER
    assert one(rig.feed(E.DatabaseUp()), C.Journal).type == "dialer.resumed"
    assert one(rig.tick(free=5), C.ClaimLeads).count == 5


def test_row_not_written_means_nothing_dialled_and_the_lead_back_unchanged() -> None:
    rig = Rig()
    aid = rig.dial(lead_id=9)
    out = rig.feed(E.StartFailed(aid))
    rel = one(out, C.ReleaseLead)
    assert (rel.lead_id, rel.lead.status, rel.lead.attempts) == (9, LeadStatus.NEW, 0)
    assert only(out, C.FinishAttempt) == [] and rig.core.attempts == {}


def test_originate_failure_is_a_failed_attempt() -> None:
    rig = Rig()
    aid = rig.dial()
    out = rig.feed(E.OriginateFailed(aid, "500 Allocation failed"))
    assert one(out, C.FinishAttempt).outcome is Outcome.FAILED
    assert one(out, C.Journal).payload["error"] == "500 Allocation failed"


def test_predictive_without_history_starts_progressive_and_earns_its_level() -> None:
    """Field: 2 operators, no history: 1 of the first 6 answers abandoned in 40 s."""
    rig = Rig(dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE))
    run = rig.core.campaigns["spring"]
    for _ in range(200):  # few answers: a predictive level would be far above one call per operator
        run.stats.observe_unanswered(25.0)
    assert one(rig.tick(free=2), C.ClaimLeads).count == 2
    run.claiming = False
    rig.feed(E.AbandonCounts("spring", answered=500, abandoned=0))
    assert one(rig.tick(free=2), C.ClaimLeads).count > 2


def test_restart_adoption_resolves_ended_calls_from_what_is_known() -> None:
    """Field: attempts open at a kill -9 were reset to fresh leads (attempts=0) although answered."""
    rig = Rig()
    before = Lead("1", "+79160000001", ("UTC",), LeadStatus.NEW, attempts=0)
    t = E.Ticket(1, 1, before.phone, "", before)
    out = rig.feed(E.Readopt((
        E.Adopted("dial-a", "spring", t, MORNING - 60, alive=False,
                  facts=frozenset({"dialer.answered", "dialer.connected"}), agent_id="a1"),
        E.Adopted("dial-b", "spring", dataclasses.replace(t, id=2), MORNING - 60, alive=False),
        E.Adopted("dial-c", "spring", dataclasses.replace(t, id=3), MORNING - 60, alive=False,
                  facts=frozenset({"dialer.answered", "dialer.abandoned"})),
    )))
    fins = {f.attempt: f for f in only(out, C.FinishAttempt)}
    assert {k: f.outcome for k, f in fins.items()} == {"dial-a": Outcome.HUMAN, "dial-b": Outcome.NO_ANSWER,
                                                       "dial-c": Outcome.ABANDONED}
    assert fins["dial-a"].agent_id == "a1"
    leads = {r.lead_id: r.lead for r in only(out, C.ReleaseLead)}
    assert leads[1].status is LeadStatus.DONE
    assert (leads[2].status, leads[2].attempts) == (LeadStatus.SCHEDULED, 1)   # counted, not fresh
    assert leads[3].last_abandoned_at is not None
    assert rig.core.campaigns["spring"].abandon_24h(rig.now) == (2, 1)
    assert rig.core.attempts == {}


def test_restart_adoption_keeps_live_calls_and_resubscribes_amd() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, amd=True))
    t = ticket(1)
    out = rig.feed(E.Readopt((E.Adopted("dial-x", "spring", t, MORNING - 5, alive=True),
                              E.Adopted("dial-y", "spring", dataclasses.replace(t, id=2), MORNING - 50,
                                        alive=True, up=True, facts=frozenset({"dialer.connected"})))))
    assert [s.attempt for s in only(out, C.Subscribe)] == ["dial-x"]
    assert set(rig.core.attempts) == {"dial-x", "dial-y"}
    fin = one(rig.feed(E.ChannelEnded("dial-y", 16), advance=10), C.FinishAttempt)
    assert fin.outcome is Outcome.HUMAN
    assert one(rig.feed(E.ChannelEnded("dial-x", 17)), C.FinishAttempt).outcome is Outcome.BUSY


def preview_rig() -> tuple[Rig, E.Ticket]:
    rig = Rig(dataclasses.replace(SETTINGS, mode=Mode.PREVIEW))
    rig.feed(E.CampaignUpdated(E.CampaignInfo(2, "autumn", "running", dataclasses.replace(SETTINGS,
                                                                                         mode=Mode.PREVIEW))))
    assert only(rig.tick(free=3), C.ClaimLeads) == []          # preview dials nothing by itself
    claim = one(rig.feed(E.PreviewNext("spring", "a1")), C.ClaimLeads)
    assert claim.agent_id == "a1"
    t = ticket(11)
    offer = one(rig.feed(E.ClaimsGranted("spring", (t,), agent_id="a1")), C.PreviewOffer)
    assert offer.ticket == t
    assert one(rig.feed(E.PreviewNext("spring", "a1")), C.PreviewOffer).ticket == t  # same reservation
    return rig, t


def test_preview_call_only_for_the_lead_reserved_to_that_agent_in_that_campaign() -> None:
    rig, t = preview_rig()
    assert one(rig.feed(E.PreviewCall("autumn", "a1", t.id)), C.PreviewRefused).code == "not-reserved"
    assert one(rig.feed(E.PreviewCall("spring", "a2", t.id)), C.PreviewRefused).code == "reserved-for-another"
    assert one(rig.feed(E.PreviewCall("spring", "a1", 999)), C.PreviewRefused).code == "not-reserved"
    out = rig.feed(E.PreviewCall("spring", "a1", t.id))
    aid = one(out, C.PreviewDialled).attempt
    assert one(out, C.StartAttempt).agent_id == "a1"
    assert one(out, C.ReserveAgent) == C.ReserveAgent("a1", aid)
    queued = one(rig.feed(E.Answered(aid), advance=5), C.QueueCustomer)
    assert queued.agent_id == "a1"
    rig.feed(E.CustomerConnected(aid, "a1"), advance=0.2)
    out = rig.feed(E.ChannelEnded(aid, 16), advance=40)
    assert one(out, C.ReleaseAgent) == C.ReleaseAgent("a1", aid)
    assert one(out, C.FinishAttempt).agent_id == "a1"


def test_preview_call_from_a_paused_agent_is_refused_and_the_lead_stays_reserved() -> None:
    """Field: a paused operator's preview call was dialled and its customer abandoned."""
    rig, t = preview_rig()
    refused = one(rig.feed(E.PreviewCall("spring", "a1", t.id, agent_state="paused")), C.PreviewRefused)
    assert refused.code == "agent-paused"
    assert only(rig.feed(E.PreviewCall("spring", "a1", t.id, agent_state="paused")), C.StartAttempt) == []
    assert len(only(rig.feed(E.PreviewCall("spring", "a1", t.id)), C.StartAttempt)) == 1


def test_preview_skip_puts_the_lead_back_unchanged() -> None:
    rig, t = preview_rig()
    assert one(rig.feed(E.PreviewSkip("spring", "a2", t.id)), C.PreviewRefused).code == "not-reserved"
    assert one(rig.feed(E.PreviewSkip("spring", "a1", t.id)), C.ReleaseLead).lead == t.lead
    assert rig.core.reserved == {}


def test_agentless_keypress_is_journaled_then_hung_up() -> None:
    s = dataclasses.replace(SETTINGS, mode=Mode.AGENTLESS, queue="", agentless_message="sound:promo",
                            agentless_record_keypress=True, agentless_lines=2)
    rig = Rig(s)
    assert one(rig.tick(free=0), C.ClaimLeads).count == 2
    aid = one(rig.feed(E.ClaimsGranted("spring", (ticket(1),))), C.StartAttempt).attempt
    assert one(rig.feed(E.Answered(aid)), C.Play).playback_id == f"{aid}-msg"
    assert one(rig.feed(E.PlaybackDone(aid), advance=3), C.SetTimer).at == pytest.approx(rig.now + 5)
    out = rig.feed(E.Dtmf(aid, "1"))
    assert one(out, C.Hangup).attempt == aid
    assert any(j.type == "dialer.keypress" and j.payload["digit"] == "1" for j in only(out, C.Journal))
    assert one(rig.feed(E.ChannelEnded(aid, 16)), C.FinishAttempt).outcome is Outcome.HUMAN


def test_customer_hanging_up_in_the_grace_is_withdrawn_and_abandoned() -> None:
    rig = Rig(dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE))
    aid = rig.dial()
    rig.feed(E.Answered(aid))
    out = rig.feed(E.ChannelEnded(aid, 16), advance=1.0)
    assert one(out, C.WithdrawCustomer).attempt == aid
    assert one(out, C.FinishAttempt).outcome is Outcome.ABANDONED


def test_a_stopped_campaign_releases_fresh_claims_and_launches_nothing() -> None:
    rig = Rig()
    rig.tick()
    rig.feed(E.CampaignUpdated(E.CampaignInfo(1, "spring", "paused", SETTINGS)))
    out = rig.feed(E.ClaimsGranted("spring", (ticket(1),)))
    assert only(out, C.StartAttempt) == [] and one(out, C.ReleaseLead).lead.status is LeadStatus.NEW
    assert only(rig.tick(free=4), C.ClaimLeads) == []


def test_housekeeping_refreshes_claims_and_sweeps_lost_ends() -> None:
    rig = Rig()
    aid = rig.dial(3)
    rig.core.ticks = 30
    out = rig.tick()
    assert one(out, C.TouchClaims).lead_ids == (3,)
    assert len(only(out, C.RecoverStale)) == 1 and only(out, C.CheckChannel) == []
    rig.core.ticks = 60
    rig.now += 200
    assert one(rig.tick(), C.CheckChannel).attempt == aid
