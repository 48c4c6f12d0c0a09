"""One outbound attempt as the core sees it, and the rules that end it with exactly one outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callcore.dialer import campaign as rules
from callcore.dialer.campaign import CampaignSettings, Lead, Mode, Outcome
from callcore.dialer.core.events import Ticket

# journal entries that show a customer picked up (an AMD call's answer comes before its verdict)
ANSWERED_FACTS = frozenset({"dialer.answered", "dialer.amd_started"})


class Phase(StrEnum):
    DIALING = "dialing"        # originated, not answered
    QUEUED = "queued"          # answered human, with the ACD for at most the connect grace
    CONNECTED = "connected"    # an operator has the customer
    LEFT = "left"              # message, safe harbour, hang-up asked, or waiting for a keypress


@dataclass(slots=True)
class AttemptState:
    id: str
    campaign: str
    ticket: Ticket
    lead: Lead                 # after ``start_dial``: the attempt is counted
    started_at: float
    agent_id: str | None = None   # preview: the operator who pressed Call; else who took the customer
    preview: bool = False
    phase: Phase = Phase.DIALING
    answered_at: float | None = None
    amd_status: str | None = None
    amd_cause: str | None = None
    connected_at: float | None = None
    abandoned: bool = False
    awaiting_key: bool = False
    keypress: str | None = None
    amd_pending: bool = False  # answered, AMD() still listening: the verdict decides what happens next

    @property
    def waiting(self) -> bool:
        """Answered and waiting for an operator (counts as demand for the pacer)."""
        return self.phase is Phase.QUEUED


def grace_key(attempt: str) -> str:
    return f"grace:{attempt}"


def keypress_key(attempt: str) -> str:
    return f"keypress:{attempt}"


def final_outcome(settings: CampaignSettings, a: AttemptState, cause: int | None) -> Outcome:
    """The one outcome of an attempt whose channel is gone."""
    if a.answered_at is None:
        return rules.outcome_from_hangup(cause, answered=False)
    if a.amd_status is not None and a.amd_status.upper() == rules.AmdStatus.MACHINE:
        return Outcome.MACHINE
    if a.connected_at is not None or settings.mode is Mode.AGENTLESS:
        return Outcome.HUMAN
    return Outcome.ABANDONED  # a live answer no operator got: abandoned by us, or hung up while waiting


def adopted_outcome(settings: CampaignSettings, facts: frozenset[str], amd_status: str | None,
                    answered: bool) -> Outcome:
    """An attempt whose call ended while no instance watched it, resolved from what the journal knows:
    connected is a contact, a machine verdict a machine, a live answer nobody took abandoned, and a call
    never seen answered rang out (no-answer)."""
    if "dialer.connected" in facts or "call.answered" in facts:
        return Outcome.HUMAN
    if amd_status is not None and amd_status.upper() == rules.AmdStatus.MACHINE:
        return Outcome.MACHINE
    if "dialer.abandoned" in facts:
        return Outcome.ABANDONED
    if answered or not ANSWERED_FACTS.isdisjoint(facts):
        return Outcome.HUMAN if settings.mode is Mode.AGENTLESS else Outcome.ABANDONED
    return Outcome.NO_ANSWER
