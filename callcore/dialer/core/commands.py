"""Commands the dialer core emits; the executor carries them out in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcore.dialer.campaign import Lead, Outcome
from callcore.dialer.core.events import Ticket


@dataclass(frozen=True, slots=True)
class ClaimLeads:
    campaign: str
    campaign_id: int
    count: int
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class StartAttempt:
    """Write the attempt's row, then originate (into ``dialer-amd`` and subscribe the app to the channel
    when ``amd``; with the Stasis app otherwise). A row that cannot be written dials nothing."""

    attempt: str
    campaign: str
    ticket: Ticket
    amd: bool
    caller_id: str
    timeout: int
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe the app to a channel it would not otherwise hear about (an adopted AMD attempt)."""

    attempt: str


@dataclass(frozen=True, slots=True)
class Hangup:
    attempt: str


@dataclass(frozen=True, slots=True)
class ToDialplan:
    """Leave Stasis to the safe-harbour / message context, the message named by ``media``."""

    attempt: str
    media: str


@dataclass(frozen=True, slots=True)
class Play:
    attempt: str
    media: str
    playback_id: str


@dataclass(frozen=True, slots=True)
class QueueCustomer:
    """Hand the answered customer to the ACD (high priority), for ``agent_id`` only when set."""

    attempt: str
    queue: str
    priority: int
    caller_number: str
    caller_name: str
    data: Mapping[str, Any] = field(default_factory=dict)
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class WithdrawCustomer:
    attempt: str


@dataclass(frozen=True, slots=True)
class ReserveAgent:
    """The operator's own preview call is ringing: offer them no other call meanwhile."""

    agent_id: str
    attempt: str


@dataclass(frozen=True, slots=True)
class ReleaseAgent:
    agent_id: str
    attempt: str


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


@dataclass(frozen=True, slots=True)
class CheckChannel:
    """Ask ARI whether the attempt's channel still exists (its end may have been missed)."""

    attempt: str


@dataclass(frozen=True, slots=True)
class FinishAttempt:
    attempt: str
    outcome: Outcome
    ended_at: float
    answered_at: float | None
    cause: int | None
    amd_status: str | None
    amd_cause: str | None
    abandoned: bool
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class ReleaseLead:
    lead_id: int
    lead: Lead
    attempted_at: float | None = None


@dataclass(frozen=True, slots=True)
class TouchClaims:
    lead_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RecoverStale:
    campaign_id: int
    older_than: float


@dataclass(frozen=True, slots=True)
class ReadAbandonCounts:
    campaign: str
    campaign_id: int
    since: float


@dataclass(frozen=True, slots=True)
class Journal:
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    campaign: str | None = None
    call_id: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class PreviewOffer:
    campaign: str
    agent_id: str
    ticket: Ticket | None


@dataclass(frozen=True, slots=True)
class PreviewDialled:
    campaign: str
    agent_id: str
    lead_id: int
    attempt: str


@dataclass(frozen=True, slots=True)
class PreviewRefused:
    """``code``: ``not-reserved`` (404), ``reserved-for-another`` / ``agent-paused`` / a guard (409)."""

    campaign: str
    agent_id: str
    lead_id: int
    code: str
    detail: str


Command = (
    ClaimLeads | StartAttempt | Subscribe | Hangup | ToDialplan | Play | QueueCustomer | WithdrawCustomer
    | ReserveAgent | ReleaseAgent | SetTimer | CancelTimer | CheckChannel | FinishAttempt | ReleaseLead
    | TouchClaims | RecoverStale | ReadAbandonCounts | Journal | PreviewOffer | PreviewDialled | PreviewRefused
)
