"""Mutable state of the simulated Asterisk (channels, bridges, media) and its ARI JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from callcore.sim.behaviour import Outcome


class Cancellable(Protocol):
    def cancel(self) -> None: ...


@dataclass(eq=False)
class Chan:
    id: str
    name: str
    tech: str
    resource: str
    creationtime: str
    protocol_id: str = ""
    state: str = "Down"
    caller_name: str = ""
    caller_number: str = ""
    connected_name: str = ""
    connected_number: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)
    # stasis
    stasis_app: str | None = None
    stasis_args: list[str] = field(default_factory=list)
    stasis_via_dialplan: bool = True
    subs: set[str] = field(default_factory=set)
    # call model
    kind: str = "outbound"  # inbound | outbound | snoop | created
    originated_app: str | None = None
    originated_args: list[str] = field(default_factory=list)
    dial_context: str | None = None
    dial_exten: str | None = None
    dial_priority: int = 1
    dialstring: str = ""
    outcome: Outcome | None = None
    talk_time: float | None = None
    ever_bridged: bool = False
    answered_by_app: bool = False
    bridge_id: str | None = None
    snoop_of: str | None = None
    snoops: set[str] = field(default_factory=set)
    moh: bool = False
    early_media: bool = False  # 183 Session Progress with SDP sent before answer: RTP is flowing
    muted: bool = False
    held: bool = False
    bridgevars: set[str] = field(default_factory=set)
    playback_queue: list[str] = field(default_factory=list)
    recording: str | None = None
    timers: dict[str, Cancellable] = field(default_factory=dict)
    gone: bool = False
    dtmf_busy_until: float = 0.0
    formats: str | None = None
    local_peer: str | None = None
    dialing: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": self.creationtime,
            "language": self.language,
        }

    def cancel_timers(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()


BRIDGE_TECH = {
    "mixing": "simple_bridge",
    "holding": "holding_bridge",
    "dtmf_events": "simple_bridge",
    "proxy_media": "simple_bridge",
    "video_sfu": "softmix",
    "video_single": "simple_bridge",
}


@dataclass(eq=False)
class Bridge:
    id: str
    bridge_type: str
    name: str
    creationtime: str
    channels: list[str] = field(default_factory=list)
    subs: set[str] = field(default_factory=set)
    moh: bool = False
    recording: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": BRIDGE_TECH.get(self.bridge_type.split(",")[0], "simple_bridge"),
            "bridge_type": "holding" if "holding" in self.bridge_type else "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }


@dataclass(eq=False)
class Playback:
    id: str
    media: list[str]
    target_uri: str
    language: str = "en"
    state: str = "queued"
    index: int = 0
    started_at: float = 0.0
    remaining: float | None = None
    stuck: bool = False
    timer: Cancellable | None = None

    @property
    def media_uri(self) -> str:
        return self.media[self.index]

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "media_uri": self.media_uri}
        if self.index + 1 < len(self.media):
            out["next_media_uri"] = self.media[self.index + 1]
        out.update({"target_uri": self.target_uri, "language": self.language, "state": self.state})
        return out


@dataclass(eq=False)
class LiveRecording:
    name: str
    format: str
    target_uri: str
    started_at: float
    max_duration: float = 0.0
    state: str = "queued"
    paused_total: float = 0.0
    paused_at: float | None = None
    muted: bool = False
    timer: Cancellable | None = None
    duration: int | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "state": self.state,
            "target_uri": self.target_uri,
        }
        if self.duration is not None:
            out["duration"] = self.duration
        return out


@dataclass(eq=False)
class StoredRecording:
    name: str
    format: str
    duration: float

    def json(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format}


@dataclass(eq=False)
class App:
    """A Stasis application: exists while it has a websocket or owns channels."""

    name: str
    allowed: list[dict[str, str]] = field(default_factory=list)
    disallowed: list[dict[str, str]] = field(default_factory=list)

    def wants(self, event_type: str) -> bool:
        if self.allowed and not any(f.get("type") == event_type for f in self.allowed):
            return False
        return not any(f.get("type") == event_type for f in self.disallowed)
