"""Commands the ACD core emits; the adapter executes them in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    channel: str


@dataclass(frozen=True, slots=True)
class StartMoh:
    channel: str
    moh_class: str = "default"


@dataclass(frozen=True, slots=True)
class StopMoh:
    channel: str


@dataclass(frozen=True, slots=True)
class Play:
    channel: str
    media: tuple[str, ...]
    playback_id: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True, slots=True)
class OriginateAgent:
    leg_id: str
    endpoint: str
    caller_id: str
    timeout: float
    app_args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str
    reason: str = "normal"


@dataclass(frozen=True, slots=True)
class CreateBridge:
    bridge_id: str
    type: str = "mixing"


@dataclass(frozen=True, slots=True)
class AddToBridge:
    bridge_id: str
    channels: tuple[str, ...]
    role: str | None = None
    # connecting this call: the executor reports Asterisk's answer (CallBridged / BridgeFailed)
    confirm: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RemoveFromBridge:
    bridge_id: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class StartRecording:
    bridge_id: str
    name: str


@dataclass(frozen=True, slots=True)
class StopRecording:
    name: str


@dataclass(frozen=True, slots=True)
class ContinueInDialplan:
    """Leave Stasis; all of context/exten/priority ``None`` continues after the Stasis() line."""

    channel: str
    context: str | None = None
    exten: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class SetVariable:
    channel: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Snoop:
    channel: str
    snoop_id: str
    spy: str
    whisper: str
    app_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


@dataclass(frozen=True, slots=True)
class Journal:
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    call_id: str | None = None
    channel_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    call_id: str
    queue: str
    caller_number: str
    caller_name: str
    position: int
    priority: int
    entered_at: float
    data: Mapping[str, Any] = field(default_factory=dict)
    callback_at: float | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notify:
    agent_id: str
    payload: Mapping[str, Any]


Command = (
    Answer | StartMoh | StopMoh | Play | StopPlayback | OriginateAgent | Hangup | CreateBridge | AddToBridge
    | RemoveFromBridge | DestroyBridge | StartRecording | StopRecording | ContinueInDialplan | SetVariable
    | Snoop | SetTimer | CancelTimer | Journal | CallbackRequested | Notify
)
