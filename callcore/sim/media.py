"""Playbacks, recordings, snoop channels and DTMF."""

from __future__ import annotations

from callcore.sim.bridges import BridgeOps
from callcore.sim.core import RestError
from callcore.sim.model import Bridge, Chan, LiveRecording, Playback, StoredRecording

# Durations (seconds) of the sounds the simulator knows, as Asterisk's core sounds play them.
SOUNDS: dict[str, float] = {
    "beep": 0.44,
    "custom/callcore-safe-harbour": 7.95,  # shipped by callcore (callcore.dialer.sounds), installed per README
    "hello-world": 1.42,
    "tt-monkeys": 9.0,
    "tt-weasels": 4.8,
    "demo-congrats": 10.5,
    "vm-goodbye": 0.8,
    "goodbye": 0.8,
    "queue-thankyou": 1.7,
    "queue-youarenext": 1.4,
    "queue-thereare": 1.1,
    "queue-callswaiting": 1.5,
    "queue-holdtime": 1.6,
    "queue-minutes": 0.7,
    "queue-seconds": 0.7,
    "queue-periodic-announce": 3.4,
    "pls-hold-while-try": 2.3,
    "please-try-again": 1.2,
    "agent-loginok": 1.0,
    "agent-newlocation": 2.0,
    "auth-thankyou": 0.9,
    "conf-onlyperson": 2.5,
    "silence/1": 1.0,
    "silence/2": 2.0,
    "silence/5": 5.0,
    "silence/10": 10.0,
    "pbx-transfer": 1.0,
    "pbx-invalid": 2.5,
    "custom/callback-offer": 4.0,
    "custom/welcome": 3.0,
}
for _d in range(10):
    SOUNDS[f"digits/{_d}"] = 0.6
FORMATS = {"wav", "wav16", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "ogg", "h264", "vp8"}
PLAYBACK_OPS = {"restart", "pause", "unpause", "reverse", "forward"}


def media_duration(uri: str, stored: dict[str, StoredRecording]) -> float | None:
    """Seconds a media URI plays; -1.0 for a missing sound (fails at once), None for never-ending."""
    scheme, _, rest = uri.partition(":")
    if scheme == "sound":
        return SOUNDS.get(rest, -1.0)
    if scheme == "recording":
        rec = stored.get(rest)
        return -1.0 if rec is None else max(rec.duration, 0.1)
    if scheme in ("digits", "characters"):
        return 0.6 * max(1, len(rest))
    if scheme == "number":
        return 0.8 * max(1, len(rest) // 2)
    return None


class MediaOps(BridgeOps):
    # --- playbacks ---------------------------------------------------------------------------

    def _pb_target(self, pb: Playback) -> tuple[Chan | None, Bridge | None]:
        kind, _, ident = pb.target_uri.partition(":")
        return (self.channels.get(ident), None) if kind == "channel" else (None, self.bridges.get(ident))

    def _pb_event(self, kind: str, pb: Playback) -> None:
        chan, bridge = self._pb_target(pb)
        self.emit(
            kind, {"playback": pb.json()}, chans=(chan,) if chan else (), bridges=(bridge,) if bridge else ()
        )

    def play(self, target_uri: str, media: list[str], playback_id: str | None, lang: str | None) -> Playback:
        if not media:
            raise RestError(400, "media parameter is required")
        pb = Playback(
            id=playback_id or self.new_uuid(), media=media, target_uri=target_uri, language=lang or "en"
        )
        self.playbacks[pb.id] = pb
        kind, _, ident = target_uri.partition(":")
        if kind == "channel" and ident in self.channels:
            self.progress(self.channels[ident])
        if kind == "bridge":
            b = self.bridges[ident]
            members = self._members(b)
            if len(members) == 1 and "BRIDGEPEER" not in members[0].bridgevars:
                self.varset(members[0], "BRIDGEPEER", f"Announcer/ARI-{self.new_seq('Announcer')};2")
                members[0].bridgevars.add("BRIDGEPEER")
        busy = any(
            p.state in ("playing", "paused") and p.target_uri == target_uri and not p.stuck
            for p in self.playbacks.values()
        )
        if not busy:
            self.later(0, lambda: self._pb_start(pb))
        return pb

    def _pb_start(self, pb: Playback) -> None:
        if self.playbacks.get(pb.id) is not pb or pb.state != "queued":
            return
        pb.state = "playing"
        self._pb_event("PlaybackStarted", pb)
        self._pb_schedule(pb, None)

    def _pb_schedule(self, pb: Playback, remaining: float | None) -> None:
        duration = remaining if remaining is not None else media_duration(pb.media_uri, self.stored)
        if duration is None:
            pb.remaining = None
            pb.stuck = True
            self._pb_next(pb.target_uri)
            return
        if duration < 0:
            pb.state = "failed"
            self._pb_end(pb)
            return
        pb.started_at = self.clock.monotonic()
        pb.remaining = duration
        pb.timer = self.later(duration, lambda: self._pb_item_done(pb))

    def _pb_item_done(self, pb: Playback) -> None:
        if self.playbacks.get(pb.id) is not pb or pb.state != "playing":
            return
        if pb.index + 1 < len(pb.media):
            pb.state = "continuing"
            self._pb_event("PlaybackContinuing", pb)
            pb.index += 1
            pb.state = "playing"
            self._pb_event("PlaybackStarted", pb)
            self._pb_schedule(pb, None)
            return
        pb.state = "done"
        self._pb_end(pb)

    def _pb_end(self, pb: Playback) -> None:
        if pb.timer is not None:
            pb.timer.cancel()
        self.playbacks.pop(pb.id, None)
        self._pb_event("PlaybackFinished", pb)
        self._pb_next(pb.target_uri)

    def _pb_next(self, target_uri: str) -> None:
        for nxt in self.playbacks.values():
            if nxt.target_uri == target_uri and nxt.state == "queued":
                self.later(0, lambda n=nxt: self._pb_start(n))  # type: ignore[misc]
                break

    def playback(self, playback_id: str) -> Playback:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise RestError(404, "Playback not found")
        return pb

    def stop_playback(self, pb: Playback) -> None:
        if pb.state == "queued":
            self.playbacks.pop(pb.id, None)
            return
        pb.state = "done"
        self._pb_end(pb)

    def control_playback(self, pb: Playback, operation: str) -> None:
        if operation not in PLAYBACK_OPS:
            raise RestError(400, f"Invalid operation {operation}")
        if pb.state not in ("playing", "paused"):
            raise RestError(409, "Playback not playing")
        if operation == "pause" and pb.state == "playing":
            if pb.timer is not None:
                pb.timer.cancel()
            if pb.remaining is not None:
                elapsed = (self.clock.monotonic() - pb.started_at) * self.time_scale
                pb.remaining = max(0.0, pb.remaining - elapsed)
            pb.state = "paused"
        elif operation == "unpause" and pb.state == "paused":
            pb.state = "playing"
            self._pb_event("PlaybackStarted", pb)
            self._pb_schedule(pb, pb.remaining)
        elif operation == "restart" and pb.state == "playing":
            if pb.timer is not None:
                pb.timer.cancel()
            self._pb_schedule(pb, None)

    # --- recordings --------------------------------------------------------------------------

    def record(
        self, target_uri: str, name: str | None, fmt: str | None, max_duration: float, if_exists: str
    ) -> LiveRecording:
        if not name:
            raise RestError(400, "Recording name is required")
        if not fmt:
            raise RestError(400, "Recording format is required")
        if if_exists not in ("fail", "overwrite", "append"):
            raise RestError(400, "ifExists invalid")
        if fmt not in FORMATS:
            raise RestError(422, "specified format is unknown on this system")
        if name in self.recordings or (name in self.stored and if_exists == "fail"):
            raise RestError(409, f"Recording '{name}' already exists and can not be overwritten")
        rec = LiveRecording(
            name=name,
            format=fmt,
            target_uri=target_uri,
            started_at=self.clock.monotonic(),
            max_duration=max_duration,
        )
        self.recordings[name] = rec
        kind, _, ident = target_uri.partition(":")
        if kind == "bridge":
            members = self._members(self.bridges[ident])
            if len(members) == 1:
                self.varset(members[0], "BRIDGEPEER", f"Recorder/ARI-{self.new_seq('Announcer')};2")
                members[0].bridgevars.add("BRIDGEPEER")
        self.later(0, lambda: self._rec_start(rec))
        return rec

    def _rec_event(self, kind: str, rec: LiveRecording) -> None:
        tkind, _, ident = rec.target_uri.partition(":")
        chan = self.channels.get(ident) if tkind == "channel" else None
        bridge = self.bridges.get(ident) if tkind == "bridge" else None
        self.emit(
            kind,
            {"recording": rec.json()},
            chans=(chan,) if chan else (),
            bridges=(bridge,) if bridge else (),
        )

    def _rec_start(self, rec: LiveRecording) -> None:
        if self.recordings.get(rec.name) is not rec:
            return
        rec.state = "recording"
        rec.started_at = self.clock.monotonic()
        self._rec_event("RecordingStarted", rec)
        if rec.max_duration > 0:
            rec.timer = self.later(rec.max_duration, lambda: self.finish_recording(rec))

    def live_recording(self, name: str) -> LiveRecording:
        rec = self.recordings.get(name)
        if rec is None:
            raise RestError(404, "Recording not found")
        return rec

    def finish_recording(self, rec: LiveRecording, *, cancel: bool = False) -> None:
        if self.recordings.get(rec.name) is not rec:
            return
        if rec.timer is not None:
            rec.timer.cancel()
        now = self.clock.monotonic()
        paused = rec.paused_total + ((now - rec.paused_at) if rec.paused_at is not None else 0.0)
        seconds = max(0.0, (now - rec.started_at - paused) * self.time_scale)
        if rec.max_duration > 0:
            seconds = min(seconds, rec.max_duration)
        del self.recordings[rec.name]
        if cancel:
            rec.state = "canceled"
        else:
            rec.state = "done"
            rec.duration = int(seconds)
            self.stored[rec.name] = StoredRecording(rec.name, rec.format, seconds)
        self._rec_event("RecordingFinished", rec)

    def pause_recording(self, rec: LiveRecording, pause: bool) -> None:
        if rec.state not in ("recording", "paused"):
            raise RestError(409, "Recording not in session")
        now = self.clock.monotonic()
        if pause and rec.paused_at is None:
            rec.paused_at, rec.state = now, "paused"
        elif not pause and rec.paused_at is not None:
            rec.paused_total += now - rec.paused_at
            rec.paused_at, rec.state = None, "recording"

    def stored_recording(self, name: str) -> StoredRecording:
        rec = self.stored.get(name)
        if rec is None:
            raise RestError(404, "Recording not found")
        return rec

    # --- cleanup hooks -----------------------------------------------------------------------

    def _media_of(self, target_uri: str) -> None:
        for pb in [p for p in self.playbacks.values() if p.target_uri == target_uri]:
            if pb.state == "queued" or pb.stuck:
                self.playbacks.pop(pb.id, None)
            else:
                pb.state = "done"
                self._pb_end(pb)
        for rec in [r for r in self.recordings.values() if r.target_uri == target_uri]:
            self.finish_recording(rec)

    def channel_media_gone(self, c: Chan) -> None:
        if self.playbacks or self.recordings:
            self._media_of(f"channel:{c.id}")

    def bridge_media_gone(self, b: Bridge) -> None:
        if self.playbacks or self.recordings:
            self._media_of(f"bridge:{b.id}")

    # --- snoop and DTMF ----------------------------------------------------------------------

    def snoop(
        self, channel_id: str, *, spy: str, whisper: str, app: str | None, app_args: str, snoop_id: str | None
    ) -> Chan:
        """Asterisk's order: directions, then the app, then the channel (404), then the snoop's id."""
        for direction, what in ((spy, "spy"), (whisper, "whisper")):
            if direction not in ("none", "both", "out", "in"):
                raise RestError(400, f"Invalid direction specified for {what}")
        if spy == "none" and whisper == "none":
            raise RestError(400, "Direction must be specified for at least spy or whisper")
        if not app:
            raise RestError(400, "Application name is required")
        target = self.chan(channel_id, message="Provided channel was not found", reason="Channel Not Found")
        if snoop_id and self.id_taken(snoop_id):  # the Snoop channel's allocation fails: no 409 here
            raise RestError(500, "Snoop channel could not be created", reason="Internal error")
        uid = self.new_uid()
        c = Chan(
            id=snoop_id or uid,
            name=f"Snoop/{target.id}-{self.new_seq('Snoop')}",
            tech="Snoop",
            resource=target.id,
            creationtime=self.now_str(),
            state="Up",
            kind="snoop",
            snoop_of=target.id,
        )
        self.channels[c.id] = c
        target.snoops.add(c.id)
        args = [a for a in app_args.split(",")] if app_args else []
        self.enter_stasis(c, app, args, via_dialplan=True)
        return c

    def dtmf_received(self, c: Chan, digits: str, gap: float = 0.25) -> None:
        """The far end presses keys: one ChannelDtmfReceived per digit, ``gap`` seconds apart."""
        for i, digit in enumerate(digits):
            self.later(gap * (i + 1), lambda d=digit: self._dtmf_one(c, d))  # type: ignore[misc]

    def _dtmf_one(self, c: Chan, digit: str) -> None:
        if not c.gone:
            self.chan_event("ChannelDtmfReceived", c, {"digit": digit, "duration_ms": 100})
