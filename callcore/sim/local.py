"""Local channels: the ``;1`` half the app sees and the ``;2`` half that runs the target dialplan."""

from __future__ import annotations

from callcore.sim.behaviour import Outcome
from callcore.sim.channels import ChannelOps
from callcore.sim.model import Chan


class LocalOps(ChannelOps):
    def make_local_peer(self, c: Chan, other_id: str | None) -> Chan:
        half = Chan(id=other_id or f"{c.id};2", name=c.name[:-1] + "2", tech="Local", resource=c.resource,
                    creationtime=c.creationtime, state="Ring", context=c.context, exten=c.exten, kind="local2")
        half.subs = set(c.subs)
        half.local_peer, c.local_peer = c.id, half.id
        self.channels[half.id] = half
        return half

    def _half(self, c: Chan) -> Chan | None:
        half = self.channels.get(c.local_peer or "")
        return None if half is None or half.gone else half

    def _start_dial(self, c: Chan, timeout: float, *, created: bool) -> None:
        half = self._half(c) if c.tech == "Local" else None
        if half is None:
            super()._start_dial(c, timeout, created=created)
            return
        if c.gone:
            return
        c.dialing = True
        c.timers.pop("start", None)
        outcome = c.outcome or Outcome("answer", 0.0)
        self._dial_event(c, "")
        if outcome.kind in ("busy", "congestion", "rejected"):
            self._local_busy(c, half)
        elif outcome.answers:
            step = 1
            if half.context == "agents-local":
                self._dialplan_step(half, 1, "NoOp", f"Simulated agent {half.exten}")
                step = 2
            c.timers["answer"] = self.later(outcome.delay, lambda: self._local_answer(c, half, step))
        else:
            self._dialplan_step(half, 1, "Ringing", "")
            c.state = "Ringing"
            self.chan_event("ChannelStateChange", c)
            self._dialplan_step(half, 2, "Wait", "600")
            self._dial_event(c, "RINGING")
            if timeout > 0:
                c.timers["timeout"] = self.later(timeout, lambda: self._local_timeout(c, half))

    def _local_answer(self, c: Chan, half: Chan, step: int) -> None:
        if c.gone or half.gone:
            return
        self._dialplan_step(half, step, "Answer", "")
        half.state = "Up"
        self.chan_event("ChannelStateChange", half)
        half.timers["wait"] = self.later(0.5, lambda: self._dialplan_step(half, step + 1, "Wait", "600"))
        self._far_answers(c)

    def _unlink(self, c: Chan, half: Chan) -> None:
        c.local_peer = half.local_peer = None

    def _local_busy(self, c: Chan, half: Chan) -> None:
        self._unlink(c, half)
        self._dialplan_step(half, 1, "Busy", "10")
        half.state = "Busy"
        self.chan_event("ChannelStateChange", half)
        self._dial_event(c, "BUSY")
        self.chan_event("ChannelHangupRequest", half, pre={"cause": 0})
        self.hangup(c, 0, request=None)
        self.hangup(half, 17, request={"cause": 16, "soft": True})

    def _local_timeout(self, c: Chan, half: Chan) -> None:
        if c.gone or c.state == "Up":
            return
        self._unlink(c, half)
        self.chan_event("ChannelHangupRequest", half, pre={"cause": 19})
        self.hangup(half, 19, request={"cause": 16, "soft": True})
        self.hangup(c, 19, request=None)

    def before_destroyed(self, c: Chan) -> None:
        half = self._half(c) if c.kind != "local2" else None
        if half is not None:
            self.chan_event("ChannelHangupRequest", half, pre={"cause": 16})

    def after_destroyed(self, c: Chan) -> None:
        other = self._half(c)
        if other is None:
            return
        self._unlink(c, other)
        if c.kind == "local2":
            self.hangup(other, 16, request={"cause": 16})
        else:
            self.hangup(other, 16, request={"cause": 16, "soft": True})

    def send_dtmf_from_app(self, c: Chan, digits: str, gap: float = 0.15) -> None:
        """The app sends DTMF on ``c``: the channel's control queue is busy meanwhile; on a Local ``;1``
        the digits arrive on its ``;2`` half."""
        if c.gone:
            return
        c.dtmf_busy_until = self.clock.monotonic() + gap * (len(digits) + 1) / self.time_scale
        half = self._half(c)
        if half is not None:
            self.dtmf_received(half, digits, gap=gap)

    def channel_busy(self, c: Chan) -> bool:
        if c.dtmf_busy_until > self.clock.monotonic():
            return True
        target = f"channel:{c.id}"
        return any(p.target_uri == target and p.state == "playing" and not p.stuck for p in self.playbacks.values())

    def dtmf_received(self, c: Chan, digits: str, gap: float = 0.25) -> None:
        raise NotImplementedError
