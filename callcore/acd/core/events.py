"""Events the ACD core consumes. The adapter builds them from ARI events, timers and operator requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcore.acd.core.model import AgentConfig, QueueConfig


@dataclass(frozen=True, slots=True)
class CallArrived:
    channel_id: str
    queue: str
    priority: int = 0
    caller_number: str = ""
    caller_name: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    agent_id: str | None = None  # only this agent may take the call (a preview call the agent placed)
    answered: bool = False  # the dialplan already answered (channel Up at StasisStart): no Answer request
    moh: bool = False  # the dialplan already started music on hold: no StartMoh request at entry


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    channel_id: str
    why: str = ""  # SHUTDOWN: Asterisk hung the channel up because it is shutting down


SHUTDOWN = "asterisk-shutdown"


@dataclass(frozen=True, slots=True)
class AgentLegAnswered:
    leg_id: str


@dataclass(frozen=True, slots=True)
class AgentLegFailed:
    leg_id: str
    cause: str = ""   # ORIGINATE_FAILED: Asterisk refused to create the channel (the device is unreachable)


ORIGINATE_FAILED = "originate-failed"
# Asterisk itself failed the originate (5xx other than "Allocation failed", timeout, no connection): not the
# operator's device, so the failed offer does not count towards the operator's auto-pause
ASTERISK_FAILED = "asterisk-failed"


@dataclass(frozen=True, slots=True)
class CallBridged:
    """Asterisk accepted the connecting ``AddToBridge`` of ``call_id``: caller and agent are bridged."""

    call_id: str


@dataclass(frozen=True, slots=True)
class BridgeFailed:
    """Asterisk refused the connecting ``AddToBridge`` of ``call_id`` (400 Channel not found, 422 Channel not
    in Stasis application: one party left); the StasisEnd of the party that left follows or came first."""

    call_id: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class AgentLegHungUp:
    leg_id: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    channel_id: str
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    playback_id: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    key: str


@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent_id: str
    endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class AgentLogout:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentPause:
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentReady:
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentDisposition:
    agent_id: str
    code: str
    notes: str = ""
    callback_at: float | None = None


@dataclass(frozen=True, slots=True)
class AgentTransfer:
    agent_id: str
    queue: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True)
class AgentCallControl:
    """The operator's call controls: ``action`` hold | resume | hangup, and for an attended transfer
    complete (the caller goes to the consulted party) | return (back to the caller)."""

    agent_id: str
    action: str


@dataclass(frozen=True, slots=True)
class AgentConsult:
    """Attended transfer, first step: the caller on hold, ring ``number`` (through the queue's transfer
    context) or colleague ``agent``; ``leg_id`` names the new channel."""

    agent_id: str
    leg_id: str
    number: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class AgentDial:
    """Manual dial: originate ``endpoint`` (the customer, through the trunk); when the customer answers the
    call enters ``queue`` reserved for this agent. Compliance guards are checked before this event."""

    agent_id: str
    leg_id: str
    number: str
    queue: str
    endpoint: str
    caller_id: str


@dataclass(frozen=True, slots=True)
class AgentSessionConnected:
    agent_id: str
    channel_id: str


@dataclass(frozen=True, slots=True)
class AgentSessionDisconnected:
    channel_id: str


@dataclass(frozen=True, slots=True)
class SupervisorRequest:
    """listen | whisper | barge on the agent's current call; ``leg_id`` names the supervisor's channel."""

    agent_id: str
    mode: str
    supervisor_endpoint: str
    leg_id: str


@dataclass(frozen=True, slots=True)
class SupervisorLegAnswered:
    leg_id: str


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]


@dataclass(frozen=True, slots=True)
class EndpointRegistration:
    endpoint: str
    registered: bool


@dataclass(frozen=True, slots=True)
class RegistrationsKnown:
    """The phones' registrations have been read (or could not be): agents whose phone was not reported are
    taken as reachable, as without registration tracking."""


@dataclass(frozen=True, slots=True)
class LiveChannel:
    """A channel found in Stasis after a (re)connect.

    ``args`` are the Stasis arguments (``["inbound", queue, priority]``, ``["agent", call_id, agent_id]``,
    ``["agent-login", agent_id]``); ``created_at`` comes from the channel's creationtime.
    """

    channel_id: str
    args: tuple[str, ...]
    created_at: float
    caller_number: str = ""
    caller_name: str = ""


@dataclass(frozen=True, slots=True)
class PersistedAgent:
    """An agent's last known state (from the journal / store) used to restore it after a restart."""

    agent_id: str
    state: str
    pause_reason: str = ""
    endpoint: str = ""


@dataclass(frozen=True, slots=True)
class Resync:
    channels: tuple[LiveChannel, ...]
    bridges: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    agents: tuple[PersistedAgent, ...] = ()
    entered_at: Mapping[str, float] = field(default_factory=dict)  # call id -> journaled entry time
    lost_at: float | None = None  # when the connection was lost: calls found gone ended then, not now


@dataclass(frozen=True, slots=True)
class OutboundReserved:
    """The operator placed an outbound call (preview) that is ringing: offer them nothing else until
    their customer arrives (``CallArrived`` with ``agent_id``) or ``OutboundReleased``."""

    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class OutboundReleased:
    agent_id: str
    call_id: str


Event = (
    CallArrived | CallerHungUp | AgentLegAnswered | AgentLegFailed | AgentLegHungUp | DtmfReceived
    | PlaybackFinished | TimerFired | AgentLogin | AgentLogout | AgentPause | AgentReady | AgentDisposition
    | AgentTransfer | AgentCallControl | AgentConsult | AgentDial | AgentSessionConnected | AgentSessionDisconnected
    | SupervisorRequest
    | SupervisorLegAnswered | ConfigChanged | EndpointRegistration | Resync | OutboundReserved | OutboundReleased
    | CallBridged | BridgeFailed | RegistrationsKnown
)
