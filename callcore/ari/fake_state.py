"""State and plumbing shared by the parts of ``FakeAri`` (see ``callcore.ari.fake``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypedDict

import msgspec

from callcore.ari import events as E
from callcore.ari.dispatch import Dispatcher, EventFilter, Subscription
from callcore.ari.models import (
    Bridge,
    Channel,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    StoredRecording,
)
from callcore.clock import Clock, SystemClock
from callcore.errors import AriConflict, AriNotFound


class EventBase(TypedDict):
    timestamp: str
    application: str
    asterisk_id: str


class FakeState:
    def __init__(self, app: str, *, asterisk_id: str, clock: Clock | None) -> None:
        self.app = app
        self.asterisk_id = asterisk_id
        self.clock = clock or SystemClock()
        self.dispatcher = Dispatcher(clock=clock)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.emitted: list[E.AriEvent] = []
        self.withheld: list[E.AriEvent] = []  # what Asterisk would not send this app (not subscribed)
        self.connected = True
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}
        self.live_recordings: dict[str, LiveRecording] = {}
        self.stored_recordings: dict[str, StoredRecording] = {}
        self.variables: dict[str, dict[str, str]] = {}
        self.moh: dict[str, str] = {}
        self.bridge_moh: dict[str, str] = {}
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self.device_states: dict[str, DeviceState] = {}
        self.in_stasis: set[str] = set()
        self.subscribed: set[str] = set()
        self.pending_stasis: dict[str, list[str]] = {}
        self.dialstrings: dict[str, str] = {}
        self.event_filter: dict[str, list[str]] = {}
        self._failures: dict[str, list[BaseException]] = {}
        self._seq = 0

    # --- scripting -----------------------------------------------------------------------------
    def fail_next(self, method_name: str, exc: BaseException) -> None:
        """The next call of ``method_name`` raises ``exc`` (queued: several calls fail in order)."""
        self._failures.setdefault(method_name, []).append(exc)

    def calls_to(self, method_name: str) -> list[dict[str, Any]]:
        return [kw for name, kw in self.calls if name == method_name]

    def _enter(self, method_name: str, /, **kwargs: Any) -> None:
        self.calls.append((method_name, kwargs))
        queued = self._failures.get(method_name)
        if queued:
            raise queued.pop(0)

    def events(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        """Subscribe a consumer to the events this fake emits."""
        return self.dispatcher.subscribe(name, maxsize=maxsize, filter=filter)

    def _publish(self, ev: E.AriEvent) -> None:
        """Deliver ``ev`` as Asterisk would to this app: a channel's own events only while the channel is
        in the app's Stasis or the app is subscribed to it (originated with ``app``, snooped, or
        ``POST /applications/{app}/subscription``). Bridge events come through the app's bridges."""
        if not self.delivered(ev):
            self.withheld.append(ev)
            return
        self.emitted.append(ev)
        self.dispatcher.publish(ev)

    def delivered(self, ev: E.AriEvent) -> bool:
        if getattr(ev, "bridge", None) is not None:
            return True
        ch = getattr(ev, "channel", None) or getattr(ev, "peer", None)
        if not isinstance(ch, Channel):
            return True
        return ch.id in self.in_stasis or ch.id in self.subscribed

    def check_new_id(self, requested: str, path: str) -> None:
        if requested and self.id_taken(requested):
            raise AriConflict("Channel with given unique ID already exists", status=409, method="POST",
                              path=path)

    def id_taken(self, requested: str) -> bool:
        """Asterisk 22's channel storage matches a requested unique id as a case-insensitive *prefix*:
        the id is taken when any live channel's uniqueid begins with it."""
        low = requested.lower()
        return any(cid.lower().startswith(low) for cid in self.channels)

    def new_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq}"

    # --- helpers -------------------------------------------------------------------------------
    def ts(self) -> str:
        t = self.clock.now()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"

    def base(self) -> EventBase:
        return {"timestamp": self.ts(), "application": self.app, "asterisk_id": self.asterisk_id}

    def channel(self, channel_id: str) -> Channel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise AriNotFound("Channel not found", status=404, path=f"/channels/{channel_id}")
        return ch

    def stasis_channel(self, channel_id: str) -> Channel:
        ch = self.channel(channel_id)
        if channel_id not in self.in_stasis:
            raise AriConflict("Channel not in Stasis application", status=409, path=f"/channels/{channel_id}")
        return ch

    def bridge(self, bridge_id: str) -> Bridge:
        br = self.bridges.get(bridge_id)
        if br is None:
            raise AriNotFound("Bridge not found", status=404, path=f"/bridges/{bridge_id}")
        return br

    def set_state(self, channel_id: str, state: str) -> Channel:
        ch = msgspec.structs.replace(self.channel(channel_id), state=state)
        self.channels[channel_id] = ch
        return ch

    def bridge_without(self, bridge_id: str, channel_id: str) -> Bridge:
        br = self.bridges[bridge_id]
        nb = msgspec.structs.replace(br, channels=[c for c in br.channels if c != channel_id])
        self.bridges[bridge_id] = nb
        return nb

    def forget_channel(self, channel_id: str) -> None:
        self.channels.pop(channel_id, None)
        self.in_stasis.discard(channel_id)
        self.subscribed.discard(channel_id)
        self.pending_stasis.pop(channel_id, None)
        self.variables.pop(channel_id, None)
        self.moh.pop(channel_id, None)

    def app_channel_ids(self) -> list[str]:
        return sorted(c for c in self.channels if c in self.in_stasis or c in self.subscribed)

    def snapshot(self) -> E.Snapshot:
        from callcore.ari.models import Application

        ids = set(self.app_channel_ids())
        app = Application(name=self.app, channel_ids=sorted(ids))
        bridges = [b for b in self.bridges.values() if any(c in ids for c in b.channels)]
        others = [b for b in self.bridges.values() if b not in bridges]
        return E.Snapshot(application=app, channels=[self.channels[c] for c in sorted(ids)], bridges=bridges,
                          stasis_bridges=others)

    def check_recording_name(self, name: str, if_exists: str) -> None:
        if name in self.live_recordings or (name in self.stored_recordings and if_exists == "fail"):
            raise AriConflict(f"Recording '{name}' already exists and can not be overwritten", status=409)

    def _start_playback(self, target: str, media: Sequence[str], playback_id: str | None,
                        lang: str | None) -> Playback:
        pb = Playback(id=playback_id or self.new_id("pb"), media_uri=media[0] if media else "",
                      target_uri=target, language=lang or "en", state="playing")
        self.playbacks[pb.id] = pb
        self._publish(E.PlaybackStarted(playback=pb, **self.base()))
        return msgspec.structs.replace(pb, state="queued")

    def _start_recording(self, target: str, name: str, format: str, if_exists: str) -> LiveRecording:
        self.check_recording_name(name, if_exists)
        rec = LiveRecording(name=name, format=format, state="recording", target_uri=target)
        self.live_recordings[name] = rec
        self._publish(E.RecordingStarted(recording=rec, **self.base()))
        return msgspec.structs.replace(rec, state="queued")
