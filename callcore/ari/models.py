"""ARI resource shapes (as Asterisk 22 returns them), decoded with msgspec.

Unknown fields are ignored, so newer Asterisk versions decode too.
"""

from __future__ import annotations

import msgspec


class CallerId(msgspec.Struct, frozen=True):
    name: str = ""
    number: str = ""


class DialplanCEP(msgspec.Struct, frozen=True):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(msgspec.Struct, frozen=True):
    id: str
    name: str = ""
    state: str = "Down"
    protocol_id: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    accountcode: str = ""
    dialplan: DialplanCEP = DialplanCEP()
    creationtime: str = ""
    language: str = "en"
    channelvars: dict[str, str] | None = None


class Bridge(msgspec.Struct, frozen=True):
    id: str
    technology: str = ""
    bridge_type: str = "mixing"
    bridge_class: str = "stasis"
    creator: str = ""
    name: str = ""
    channels: list[str] = []
    creationtime: str = ""
    video_mode: str = ""


class Playback(msgspec.Struct, frozen=True):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    language: str = "en"
    state: str = "queued"
    next_media_uri: str | None = None


class LiveRecording(msgspec.Struct, frozen=True):
    name: str
    format: str = "wav"
    state: str = "queued"
    target_uri: str = ""
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None


class StoredRecording(msgspec.Struct, frozen=True):
    name: str
    format: str = "wav"


class Endpoint(msgspec.Struct, frozen=True):
    technology: str
    resource: str
    state: str = "unknown"
    channel_ids: list[str] = []


class DeviceState(msgspec.Struct, frozen=True):
    name: str
    state: str


class Application(msgspec.Struct, frozen=True):
    name: str
    channel_ids: list[str] = []
    bridge_ids: list[str] = []
    endpoint_ids: list[str] = []
    device_names: list[str] = []
    events_allowed: list[dict[str, str]] = []
    events_disallowed: list[dict[str, str]] = []


class AsteriskPing(msgspec.Struct, frozen=True):
    ping: str = "pong"
    timestamp: str = ""
    asterisk_id: str = ""
