"""Bridge, playback, recording, endpoint and application operations of ``FakeAri``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from callcore.ari import events as E
from callcore.ari.fake_state import FakeState
from callcore.ari.models import (
    Application,
    AsteriskPing,
    Bridge,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    StoredRecording,
)
from callcore.errors import AriBadRequest, AriConflict, AriNotFound, AriUnprocessable


class FakeBridgesMixin(FakeState):
    # --- bridges -------------------------------------------------------------------------------
    async def create_bridge(self, bridge_id: str, *, type: str = "mixing", name: str = "") -> Bridge:
        self._enter("create_bridge", bridge_id=bridge_id, type=type, name=name)
        if bridge_id in self.bridges:
            raise AriConflict(f"Bridge with id '{bridge_id}' already exists", status=409)
        br = Bridge(id=bridge_id, technology="simple_bridge", bridge_type=type, bridge_class="stasis",
                    creator="Stasis", name=name, creationtime=self.ts())
        self.bridges[bridge_id] = br
        return br

    async def get_bridge(self, bridge_id: str) -> Bridge:
        self._enter("get_bridge", bridge_id=bridge_id)
        return self.bridge(bridge_id)

    async def list_bridges(self) -> list[Bridge]:
        self._enter("list_bridges")
        return list(self.bridges.values())

    async def add_channel(self, bridge_id: str, channel_ids: Sequence[str], *, role: str | None = None,
                          absorb_dtmf: bool = False, mute: bool = False) -> None:
        self._enter("add_channel", bridge_id=bridge_id, channel_ids=list(channel_ids), role=role,
                    absorb_dtmf=absorb_dtmf, mute=mute)
        self.bridge(bridge_id)
        if not channel_ids:
            raise AriBadRequest("Missing parameter channel", status=400)
        for cid in channel_ids:
            if cid not in self.channels:
                raise AriBadRequest("Channel not found", status=400)
            if cid not in self.in_stasis:
                raise AriUnprocessable("Channel not in Stasis application", status=422)
        for cid in channel_ids:
            for other in list(self.bridges.values()):
                if cid in other.channels:
                    left = self.bridge_without(other.id, cid)
                    self._publish(E.ChannelLeftBridge(bridge=left, channel=self.channels[cid], **self.base()))
            br = self.bridges[bridge_id]
            nb = msgspec.structs.replace(br, channels=[*br.channels, cid])
            self.bridges[bridge_id] = nb
            self._publish(E.ChannelEnteredBridge(bridge=nb, channel=self.channels[cid], **self.base()))

    async def remove_channel(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        self._enter("remove_channel", bridge_id=bridge_id, channel_ids=list(channel_ids))
        br = self.bridge(bridge_id)
        for cid in channel_ids:
            if cid not in self.channels:
                raise AriBadRequest("Channel not found", status=400, method="POST",
                                    path=f"/bridges/{bridge_id}/removeChannel")
            if cid not in self.in_stasis:
                raise AriUnprocessable("Channel not in Stasis application", status=422, method="POST",
                                       path=f"/bridges/{bridge_id}/removeChannel")
            if cid not in br.channels:
                raise AriUnprocessable("Channel not in this bridge", status=422, method="POST",
                                       path=f"/bridges/{bridge_id}/removeChannel")
        for cid in channel_ids:
            nb = self.bridge_without(bridge_id, cid)
            self._publish(E.ChannelLeftBridge(bridge=nb, channel=self.channels[cid], **self.base()))

    async def start_bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        self._enter("start_bridge_moh", bridge_id=bridge_id, moh_class=moh_class)
        self.bridge(bridge_id)
        self.bridge_moh[bridge_id] = moh_class or "default"

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        self._enter("stop_bridge_moh", bridge_id=bridge_id)
        self.bridge(bridge_id)
        self.bridge_moh.pop(bridge_id, None)

    async def play_bridge(self, bridge_id: str, media: Sequence[str], *,
                          playback_id: str | None = None) -> Playback:
        self._enter("play_bridge", bridge_id=bridge_id, media=list(media), playback_id=playback_id)
        self.bridge(bridge_id)
        return self._start_playback(f"bridge:{bridge_id}", media, playback_id, None)

    async def record_bridge(self, bridge_id: str, name: str, *, format: str = "wav", max_duration: int = 0,
                            if_exists: str = "fail", beep: bool = False) -> LiveRecording:
        self._enter("record_bridge", bridge_id=bridge_id, name=name, format=format, max_duration=max_duration,
                    if_exists=if_exists, beep=beep)
        self.bridge(bridge_id)
        return self._start_recording(f"bridge:{bridge_id}", name, format, if_exists)

    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = False) -> None:
        self._enter("destroy_bridge", bridge_id=bridge_id, missing_ok=missing_ok)
        if bridge_id not in self.bridges:
            if missing_ok:
                return
            raise AriNotFound("Bridge not found", status=404)
        for cid in list(self.bridges[bridge_id].channels):
            nb = self.bridge_without(bridge_id, cid)
            if cid in self.channels:
                self._publish(E.ChannelLeftBridge(bridge=nb, channel=self.channels[cid], **self.base()))
        br = self.bridges.pop(bridge_id)
        self.bridge_moh.pop(bridge_id, None)
        self._publish(E.BridgeDestroyed(bridge=br, **self.base()))

    # --- playbacks and recordings --------------------------------------------------------------
    def _playback(self, playback_id: str) -> Playback:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise AriNotFound("Playback not found", status=404)
        return pb

    async def get_playback(self, playback_id: str) -> Playback:
        self._enter("get_playback", playback_id=playback_id)
        return self._playback(playback_id)

    async def stop_playback(self, playback_id: str, *, missing_ok: bool = False) -> None:
        self._enter("stop_playback", playback_id=playback_id, missing_ok=missing_ok)
        if playback_id not in self.playbacks:
            if missing_ok:
                return
            raise AriNotFound("Playback not found", status=404)
        pb = self.playbacks.pop(playback_id)
        self._publish(E.PlaybackFinished(playback=msgspec.structs.replace(pb, state="done"), **self.base()))

    async def control_playback(self, playback_id: str, operation: str) -> None:
        self._enter("control_playback", playback_id=playback_id, operation=operation)
        self._playback(playback_id)
        if operation not in ("restart", "pause", "unpause", "reverse", "forward"):
            raise AriBadRequest(f"Invalid operation {operation}", status=400)

    async def get_live_recording(self, name: str) -> LiveRecording:
        self._enter("get_live_recording", name=name)
        rec = self.live_recordings.get(name)
        if rec is None:
            raise AriNotFound("Recording not found", status=404)
        return rec

    async def stop_recording(self, name: str) -> None:
        self._enter("stop_recording", name=name)
        rec = self.live_recordings.pop(name, None)
        if rec is None:
            raise AriNotFound("Recording not found", status=404)
        self.stored_recordings[name] = StoredRecording(name=name, format=rec.format)
        done = msgspec.structs.replace(rec, state="done", duration=0)
        self._publish(E.RecordingFinished(recording=done, **self.base()))

    async def list_stored_recordings(self) -> list[StoredRecording]:
        self._enter("list_stored_recordings")
        return list(self.stored_recordings.values())

    async def get_stored_recording(self, name: str) -> StoredRecording:
        self._enter("get_stored_recording", name=name)
        rec = self.stored_recordings.get(name)
        if rec is None:
            raise AriNotFound("Recording not found", status=404)
        return rec

    async def delete_stored_recording(self, name: str) -> None:
        self._enter("delete_stored_recording", name=name)
        if self.stored_recordings.pop(name, None) is None:
            raise AriNotFound("Recording not found", status=404)

    # --- endpoints, device states, applications, asterisk --------------------------------------
    async def list_endpoints(self, technology: str | None = None) -> list[Endpoint]:
        self._enter("list_endpoints", technology=technology)
        return [e for e in self.endpoints.values() if technology is None or e.technology == technology]

    async def get_endpoint(self, technology: str, resource: str) -> Endpoint:
        self._enter("get_endpoint", technology=technology, resource=resource)
        ep = self.endpoints.get((technology, resource))
        if ep is None:
            raise AriNotFound("Endpoint not found", status=404)
        return ep

    async def list_device_states(self) -> list[DeviceState]:
        self._enter("list_device_states")
        return list(self.device_states.values())

    async def get_device_state(self, name: str) -> DeviceState:
        self._enter("get_device_state", name=name)
        return self.device_states.get(name, DeviceState(name=name, state="UNKNOWN"))

    async def update_device_state(self, name: str, state: str) -> None:
        self._enter("update_device_state", name=name, state=state)
        self.device_states[name] = DeviceState(name=name, state=state)

    async def get_application(self, name: str | None = None) -> Application:
        self._enter("get_application", name=name)
        if name not in (None, self.app):
            raise AriNotFound("Application not found", status=404)
        return self._application()

    def _application(self) -> Application:
        allowed = [{"type": t} for t in self.event_filter.get("allowed", [])]
        return Application(name=self.app, channel_ids=self.app_channel_ids(), events_allowed=allowed)

    async def subscribe(self, event_source: str, *, app: str | None = None) -> Application:
        self._enter("subscribe", event_source=event_source, app=app)
        kind, _, ident = event_source.partition(":")
        if kind == "channel":
            if ident not in self.channels:
                raise AriUnprocessable("Event source does not exist", status=422)
            self.subscribed.add(ident)
        elif kind not in ("bridge", "endpoint", "deviceState"):
            raise AriBadRequest("Invalid event source URI scheme", status=400)
        return self._application()

    async def set_event_filter(
        self, allowed: Sequence[str] | None = None, disallowed: Sequence[str] | None = None,
        *, app: str | None = None,
    ) -> Application:
        self._enter("set_event_filter", allowed=list(allowed or []), disallowed=list(disallowed or []),
                    app=app)
        self.event_filter = {"allowed": list(allowed or []), "disallowed": list(disallowed or [])}
        return self._application()

    async def asterisk_info(self) -> dict[str, Any]:
        self._enter("asterisk_info")
        return {"system": {"version": "fake", "entity_id": self.asterisk_id}}

    async def ping(self) -> AsteriskPing:
        self._enter("ping")
        return AsteriskPing(ping="pong", timestamp=self.ts(), asterisk_id=self.asterisk_id)
