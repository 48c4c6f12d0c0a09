"""ARI websocket events as typed msgspec structs, plus the synthetic events the client emits itself.

``decode_event`` never raises for well-formed JSON objects: an event type we do not model, or a
modelled type whose body does not fit our struct, becomes an ``UnknownEvent`` carrying the raw dict.
Unknown fields are ignored. Timestamps stay strings as Asterisk sends them
(``2026-11-29T01:52:18.156+0000``); ``parse_ari_time`` turns one into an aware datetime.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import msgspec

from callcore.ari.models import Application, Bridge, Channel, DeviceState, Endpoint, LiveRecording, Playback


class AriEventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every ARI event carries."""

    timestamp: str = ""
    application: str = ""
    asterisk_id: str = ""


class StasisStart(AriEventBase, frozen=True, tag=True):
    channel: Channel
    args: list[str] = []
    replace_channel: Channel | None = None


class StasisEnd(AriEventBase, frozen=True, tag=True):
    channel: Channel


class ChannelStateChange(AriEventBase, frozen=True, tag=True):
    channel: Channel


class ChannelDestroyed(AriEventBase, frozen=True, tag=True):
    channel: Channel
    cause: int = 0
    cause_txt: str = ""
    tech_cause: int | None = None


class ChannelHangupRequest(AriEventBase, frozen=True, tag=True):
    channel: Channel
    cause: int | None = None
    tech_cause: int | None = None
    soft: bool | None = None


class ChannelDtmfReceived(AriEventBase, frozen=True, tag=True):
    channel: Channel
    digit: str
    duration_ms: int = 0


class ChannelEnteredBridge(AriEventBase, frozen=True, tag=True):
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(AriEventBase, frozen=True, tag=True):
    bridge: Bridge
    channel: Channel


class BridgeDestroyed(AriEventBase, frozen=True, tag=True):
    bridge: Bridge


class Dial(AriEventBase, frozen=True, tag=True):
    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""
    dialstring: str = ""
    forward: str = ""


class PlaybackStarted(AriEventBase, frozen=True, tag=True):
    playback: Playback


class PlaybackContinuing(AriEventBase, frozen=True, tag=True):
    playback: Playback


class PlaybackFinished(AriEventBase, frozen=True, tag=True):
    playback: Playback


class RecordingStarted(AriEventBase, frozen=True, tag=True):
    recording: LiveRecording


class RecordingFinished(AriEventBase, frozen=True, tag=True):
    recording: LiveRecording


class RecordingFailed(AriEventBase, frozen=True, tag=True):
    recording: LiveRecording


class ChannelVarset(AriEventBase, frozen=True, tag=True):
    variable: str
    value: str = ""
    channel: Channel | None = None


class ChannelTalkingStarted(AriEventBase, frozen=True, tag=True):
    channel: Channel


class ChannelTalkingFinished(AriEventBase, frozen=True, tag=True):
    channel: Channel
    duration: int = 0


class ApplicationReplaced(AriEventBase, frozen=True, tag=True):
    pass


class DeviceStateChanged(AriEventBase, frozen=True, tag=True):
    device_state: DeviceState


class EndpointStateChange(AriEventBase, frozen=True, tag=True):
    endpoint: Endpoint


class ChannelConnectedLine(AriEventBase, frozen=True, tag=True):
    channel: Channel


class ChannelDialplan(AriEventBase, frozen=True, tag=True):
    channel: Channel
    dialplan_app: str = ""
    dialplan_app_data: str = ""


WireEvent: TypeAlias = (
    StasisStart | StasisEnd | ChannelStateChange | ChannelDestroyed | ChannelHangupRequest
    | ChannelDtmfReceived | ChannelEnteredBridge | ChannelLeftBridge | BridgeDestroyed | Dial
    | PlaybackStarted | PlaybackContinuing | PlaybackFinished | RecordingStarted | RecordingFinished
    | RecordingFailed | ChannelVarset | ChannelTalkingStarted | ChannelTalkingFinished
    | ApplicationReplaced | DeviceStateChanged | EndpointStateChange | ChannelConnectedLine | ChannelDialplan
)

WIRE_EVENT_TYPES: frozenset[str] = frozenset(
    cls.__name__ for cls in WireEvent.__args__
)


class UnknownEvent(msgspec.Struct, frozen=True):
    """An event type callcore does not model (or one whose body did not fit): kept raw."""

    type: str
    raw: dict[str, Any]
    timestamp: str = ""
    application: str = ""
    asterisk_id: str = ""


# --- synthetic events produced by the client ---------------------------------------------------------


class Snapshot(msgspec.Struct, frozen=True):
    """What the app owns right after a (re)connect, read over REST.

    ``channels``: channels currently subscribed to the app (in Stasis or originated by it).
    ``bridges``: bridges listed by the application or holding one of those channels.
    ``stasis_bridges``: every other Stasis-created bridge (e.g. empty ones left behind by a crash).
    """

    application: Application | None = None
    channels: list[Channel] = []
    bridges: list[Bridge] = []
    stasis_bridges: list[Bridge] = []

    def channel_ids(self) -> set[str]:
        return {c.id for c in self.channels}

    def bridge_ids(self) -> set[str]:
        return {b.id for b in self.bridges}


class Connected(msgspec.Struct, frozen=True):
    """Emitted after every successful (re)connect and resync. Events in an outage are lost: reconcile."""

    snapshot: Snapshot
    reconnect: bool = False
    type: str = "Connected"


class Disconnected(msgspec.Struct, frozen=True):
    """Emitted when an established websocket is lost; nothing will be replayed."""

    reason: str
    type: str = "Disconnected"


class Overflowed(msgspec.Struct, frozen=True):
    """Delivered to one consumer before its next event after its queue overflowed: resync needed."""

    dropped: int
    type: str = "Overflowed"


SyntheticEvent: TypeAlias = Connected | Disconnected | Overflowed
AriEvent: TypeAlias = WireEvent | UnknownEvent | SyntheticEvent

_decoder: msgspec.json.Decoder[WireEvent] = msgspec.json.Decoder(WireEvent)
_raw_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def decode_event(data: bytes | str) -> WireEvent | UnknownEvent:
    """Decode one websocket frame. Raises ``msgspec.DecodeError`` only for invalid JSON / non-objects."""
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError:
        pass
    raw = _raw_decoder.decode(data)
    if not isinstance(raw, dict):
        raise msgspec.DecodeError("an ARI event must be a JSON object")
    return unknown_from_dict(raw)


def unknown_from_dict(raw: dict[str, Any]) -> UnknownEvent:
    def s(key: str) -> str:
        v = raw.get(key)
        return v if isinstance(v, str) else ""

    return UnknownEvent(type=s("type"), raw=raw, timestamp=s("timestamp"), application=s("application"),
                        asterisk_id=s("asterisk_id"))


def encode_event(ev: AriEvent) -> bytes:
    """JSON of an event (wire events round-trip through ``decode_event``)."""
    if isinstance(ev, UnknownEvent):
        return msgspec.json.encode(ev.raw)
    return msgspec.json.encode(ev)


_WIRE_NAMES: dict[type[Any], str] = {cls: cls.__name__ for cls in WireEvent.__args__}


def event_type(ev: AriEvent) -> str:
    name = _WIRE_NAMES.get(type(ev))
    if name is not None:
        return name
    if isinstance(ev, UnknownEvent | Connected | Disconnected | Overflowed):
        return ev.type
    return type(ev).__name__


def _target_channel(uri: str) -> str | None:
    return uri[8:] if uri.startswith("channel:") else None


def event_channel_id(ev: AriEvent) -> str | None:
    """The channel an event is about: ``peer`` for Dial, the target channel of channel playbacks and
    recordings, ``None`` for bridge-only, device, endpoint and synthetic events."""
    if isinstance(ev, Dial):
        return ev.peer.id
    ch = getattr(ev, "channel", None)
    if isinstance(ch, Channel):
        return ch.id
    if isinstance(ev, PlaybackStarted | PlaybackContinuing | PlaybackFinished):
        return _target_channel(ev.playback.target_uri)
    if isinstance(ev, RecordingStarted | RecordingFinished | RecordingFailed):
        return _target_channel(ev.recording.target_uri)
    if isinstance(ev, UnknownEvent):
        raw_ch = ev.raw.get("channel")
        if isinstance(raw_ch, dict) and isinstance(raw_ch.get("id"), str):
            return str(raw_ch["id"])
    return None


def parse_ari_time(ts: str) -> datetime:
    """``2026-11-29T01:52:18.156+0000`` (or with ``+00:00``) -> aware datetime."""
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return datetime.fromisoformat(ts)
