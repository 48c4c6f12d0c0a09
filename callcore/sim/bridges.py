"""Bridges: create/destroy, channels entering and leaving, BRIDGEPEER and connected line updates."""

from __future__ import annotations

from callcore.sim.channels import NOT_IN_STASIS
from callcore.sim.core import RestError
from callcore.sim.local import LocalOps
from callcore.sim.model import Bridge, Chan

BRIDGE_TYPES = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single"}


class BridgeOps(LocalOps):
    def bridge(self, bridge_id: str, *, reason: str | None = None) -> Bridge:
        b = self.bridges.get(bridge_id)
        if b is None:
            raise RestError(404, "Bridge not found", reason=reason)
        return b

    def create_bridge(self, bridge_type: str | None, bridge_id: str | None, name: str | None) -> Bridge:
        kinds = [k.strip() for k in (bridge_type or "mixing").split(",") if k.strip()]
        if bridge_id and bridge_id in self.bridges:
            raise RestError(409, f"Bridge with id '{bridge_id}' already exists")
        if not kinds or any(k not in BRIDGE_TYPES for k in kinds):
            raise RestError(
                500,
                f"Unable to create bridge. Possible duplicate bridge id '{bridge_id or '(null)'}'",
                reason="Internal Error",
            )
        b = Bridge(
            id=bridge_id or self.new_uuid(),
            bridge_type=",".join(kinds),
            name=name or "",
            creationtime=self.now_str(),
        )
        self.bridges[b.id] = b
        return b

    def _members(self, b: Bridge) -> list[Chan]:
        return [self.channels[i] for i in b.channels if i in self.channels]

    def _bridge_peer(self, c: Chan) -> Chan | None:
        if c.bridge_id is None or "BRIDGEPEER" not in c.bridgevars:
            return None
        b = self.bridges.get(c.bridge_id)
        if b is None:
            return None
        others = [m for m in self._members(b) if m is not c]
        return others[0] if len(others) == 1 else None

    def _resolve_members(self, b: Bridge, channel_ids: list[str]) -> list[Chan]:
        if not channel_ids:
            raise RestError(400, "Missing parameter channel")
        chans: list[Chan] = []
        for cid in channel_ids:
            c = self.channels.get(cid)
            if c is None or c.gone:
                raise RestError(400, "Channel not found")
            chans.append(c)
        for c in chans:
            if c.stasis_app is None:
                raise RestError(422, NOT_IN_STASIS)
        return chans

    def add_to_bridge(self, b: Bridge, channel_ids: list[str]) -> None:
        for c in self._resolve_members(b, channel_ids):
            if c.bridge_id is not None:
                self.leave_bridge(c)
            c.bridge_id = b.id
            b.channels.insert(0, c.id)
            if c.stasis_app:
                b.subs.add(c.stasis_app)
            self.emit(
                "ChannelEnteredBridge", {"bridge": b.json(), "channel": c.json()}, chans=(c,), bridges=(b,)
            )
            self._after_join(b, c)

    def _after_join(self, b: Bridge, joined: Chan) -> None:
        members = self._members(b)
        if len(members) < 2 or "holding" in b.bridge_type:
            return
        first = [m for m in reversed(members) if m is not joined]
        pairs = [(m, joined) for m in first[:1]] + [(joined, m) for m in first[:1]]
        if len(members) == 2:
            for me, other in pairs:
                me.bridgevars.update(("BRIDGEPEER", "BRIDGEPVTCALLID"))
                self.varset(me, "BRIDGEPEER", other.name)
                self.varset(me, "BRIDGEPVTCALLID", other.protocol_id)
            for me, other in pairs:
                if (me.connected_name, me.connected_number) != (other.caller_name, other.caller_number):
                    me.connected_name, me.connected_number = other.caller_name, other.caller_number
                    self.chan_event("ChannelConnectedLine", me)
        for m in members:
            self._now_bridged(m)

    def _now_bridged(self, c: Chan) -> None:
        if c.ever_bridged:
            return
        c.ever_bridged = True
        patience = c.timers.pop("patience", None)
        if patience is not None:
            patience.cancel()
        if c.kind == "inbound":
            self.counters["calls_bridged"] += 1
            self._call_update(c, state="bridged", bridged=True)
        if c.talk_time is not None and "talk" not in c.timers:
            c.timers["talk"] = self.later(c.talk_time, lambda: self.remote_hangup(c))

    def remove_from_bridge(self, b: Bridge, channel_ids: list[str]) -> None:
        chans = self._resolve_members(b, channel_ids)
        for c in chans:
            if c.bridge_id != b.id:
                raise RestError(422, "Channel not in this bridge")
        for c in chans:
            for var in ("BRIDGEPEER", "BRIDGEPVTCALLID"):
                if var in c.bridgevars:
                    self.varset(c, var, "")
            c.bridgevars.clear()
            self.leave_bridge(c)

    def leave_bridge(self, c: Chan) -> None:
        b = self.bridges.get(c.bridge_id or "")
        c.bridge_id = None
        if b is None:
            return
        if c.id in b.channels:
            b.channels.remove(c.id)
        self.emit("ChannelLeftBridge", {"bridge": b.json(), "channel": c.json()}, chans=(c,), bridges=(b,))

    def destroy_bridge(self, b: Bridge) -> None:
        for c in self._members(b):
            for var in ("BRIDGEPEER", "BRIDGEPVTCALLID"):
                if var in c.bridgevars:
                    self.varset(c, var, "")
            c.bridgevars.clear()
            self.leave_bridge(c)
        self.bridge_media_gone(b)
        self.bridges.pop(b.id, None)
        self.emit("BridgeDestroyed", {"bridge": b.json()}, bridges=(b,))

    def bridge_media_gone(self, b: Bridge) -> None:
        raise NotImplementedError
