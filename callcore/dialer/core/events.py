"""Events the dialer core consumes (built by the executor from ARI, the database and the ACD)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcore.dialer.campaign import CampaignSettings, Lead
from callcore.dialer.pacer import BusyOperator


@dataclass(frozen=True, slots=True)
class Ticket:
    """A claimed lead with the facts its guards need (``lead`` carries the number's attempt history and
    last abandonment across campaigns; ``on_dnc``: found on the do-not-call list when claimed)."""

    id: int
    campaign_id: int
    phone: str
    name: str
    lead: Lead
    data: Mapping[str, Any] = field(default_factory=dict)
    on_dnc: bool = False


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    state: str  # created | running | paused | stopped
    settings: CampaignSettings


# --- campaigns and pacing ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CampaignUpdated:
    campaign: CampaignInfo


@dataclass(frozen=True, slots=True)
class CampaignRemoved:
    name: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Pacing step; ``operators``: queue -> (free operators, busy ones) as the ACD reports them."""

    operators: Mapping[str, tuple[int, tuple[BusyOperator, ...]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaimsGranted:
    campaign: str
    tickets: tuple[Ticket, ...]
    agent_id: str | None = None  # a preview reservation for this operator


@dataclass(frozen=True, slots=True)
class ClaimFailed:
    campaign: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class AbandonCounts:
    campaign: str
    answered: int
    abandoned: int


# --- one attempt ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StartFailed:
    """The attempt's row could not be written (database down): nothing was dialled."""

    attempt: str


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    attempt: str
    error: str


@dataclass(frozen=True, slots=True)
class Answered:
    """The customer's channel entered Stasis answered; AMD campaigns carry the verdict."""

    attempt: str
    amd_status: str | None = None
    amd_cause: str | None = None


@dataclass(frozen=True, slots=True)
class AmdAnswered:
    """The customer answered an AMD call (it entered Stasis from its originate); the verdict follows as
    :class:`Answered` once AMD() in dialplan is done. A hang-up before that is an answered call."""

    attempt: str


@dataclass(frozen=True, slots=True)
class ChannelEnded:
    """The customer's channel is gone (ChannelDestroyed, or found missing); ``cause``: Q.850."""

    attempt: str
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    attempt: str
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    attempt: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    key: str


# --- from the ACD ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CustomerQueued:
    attempt: str


@dataclass(frozen=True, slots=True)
class CustomerConnected:
    attempt: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerAbandoned:
    """The ACD let the customer go without an operator (refused, withdrawn, hung up)."""

    attempt: str


# --- faults and restarts ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DatabaseDown:
    error: str = ""


@dataclass(frozen=True, slots=True)
class DatabaseUp:
    pass


@dataclass(frozen=True, slots=True)
class Adopted:
    """An attempt of this instance left open by a previous run. ``alive``: its channel is in the ARI
    snapshot (``up``: answered); ``facts``: journal types recorded for it (``dialer.answered``,
    ``dialer.connected``, ``dialer.abandoned``, ``call.answered``...), ``amd_status`` if known."""

    attempt: str
    campaign: str
    ticket: Ticket
    started_at: float
    alive: bool
    up: bool = False
    facts: frozenset[str] = frozenset()
    answered_at: float | None = None
    amd_status: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Readopt:
    attempts: tuple[Adopted, ...]


# --- preview ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PreviewNext:
    campaign: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class PreviewCall:
    """The operator pressed Call. ``agent_state``: the operator's ACD state right now; ``fresh``: the
    reserved lead with its guard facts read again (DNC, number history), when the executor has them."""

    campaign: str
    agent_id: str
    lead_id: int
    agent_state: str = "available"
    fresh: Ticket | None = None


@dataclass(frozen=True, slots=True)
class PreviewSkip:
    campaign: str
    agent_id: str
    lead_id: int


Event = (
    CampaignUpdated | CampaignRemoved | Tick | ClaimsGranted | ClaimFailed | AbandonCounts | StartFailed
    | OriginateFailed | AmdAnswered | Answered | ChannelEnded | Dtmf | PlaybackDone | TimerFired | CustomerQueued
    | CustomerConnected | CustomerAbandoned | DatabaseDown | DatabaseUp | Readopt | PreviewNext | PreviewCall
    | PreviewSkip
)
