"""The simulated Asterisk core: everything but the network. Drive it directly in unit tests with a
``VirtualScheduler`` and a ``ManualClock``; ``SimAsterisk`` serves it over ARI HTTP/websocket."""

from __future__ import annotations

from typing import Any

from callcore.sim.core import RestError
from callcore.sim.media import MediaOps
from callcore.sim.model import Chan


class Engine(MediaOps):
    def inject_call(
        self,
        *,
        queue: str,
        caller_number: str = "",
        caller_name: str = "",
        priority: int | None = None,
        patience: float | None = None,
        talk_time: float | None = None,
        exten: str = "100",
        answered: bool = False,
        app: str | None = None,
    ) -> str:
        """One inbound SIP call from the trunk into ``Stasis(app, inbound, queue[, priority])``.

        ``answered`` models an extension whose dialplan answers before Stasis (state ``Up``)."""
        app = app or self.default_app
        uid = self.new_uid()
        seq = next(self.uid_counter)
        c = Chan(
            id=uid,
            name=f"PJSIP/trunk-{self.new_seq('PJSIP')}",
            tech="PJSIP",
            resource="trunk",
            creationtime=self.now_str(),
            protocol_id=f"{seq + 1}-{20000 + seq}@127.0.0.1",
            state="Up" if answered else "Ring",
            caller_name=caller_name,
            caller_number=caller_number,
            context="inbound",
            exten=exten,
            priority=3 if answered else 2,
            kind="inbound",
        )
        c.talk_time = talk_time
        self.channels[c.id] = c
        self.counters["calls_injected"] += 1
        args = ["inbound", queue] + ([str(priority)] if priority is not None else [])
        self.calls[c.id] = {
            "channel_id": c.id,
            "queue": queue,
            "caller_number": caller_number,
            "caller_name": caller_name,
            "priority": priority,
            "state": "waiting",
            "created": self.clock.now(),
            "cause": None,
            "answered": False,
            "bridged": False,
            "abandoned": False,
        }
        if not self.app_exists(app):
            c.app_name, c.app_data = "Stasis", ",".join([app, *args])
            self.varset(c, "STASISSTATUS", "FAILED")
            self.hangup(c, 16, request={"cause": 16})
            self._call_update(c, state="failed")
            self.counters["calls_failed"] += 1
            return c.id
        self.enter_stasis(c, app, args, via_dialplan=True)
        if patience is not None:
            c.timers["patience"] = self.later(patience, lambda: self.remote_hangup(c))
        return c.id

    def far_hangup(self, channel_id: str) -> None:
        c = self.channels.get(channel_id)
        if c is None or c.gone:
            raise RestError(404, "Channel not found")
        self.remote_hangup(c)

    def far_dtmf(self, channel_id: str, digits: str) -> None:
        c = self.channels.get(channel_id)
        if c is None or c.gone:
            raise RestError(404, "Channel not found")
        self.dtmf_received(c, digits)

    def shutdown(self) -> None:
        """``core stop now``: what a client sees before the connection drops, then a clean slate."""
        for c in list(self.channels.values()):
            if c.stasis_app is not None:
                self.hangup(c, 4, request={"cause": 4, "soft": True}, how="shutdown")
        for c in list(self.channels.values()):
            c.cancel_timers()
        for pb in self.playbacks.values():
            if pb.timer is not None:
                pb.timer.cancel()
        for rec in self.recordings.values():
            if rec.timer is not None:
                rec.timer.cancel()
        self.apps.clear()
        self.subscribe_all.clear()
        self.reset()

    def list_calls(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self.calls.values()]

    def redirect_or_continue(self, c: Chan) -> None:
        """The channel leaves Stasis into dialplan that the simulator does not model: it ends."""
        if c.bridge_id is not None:
            for var in ("BRIDGEPEER", "BRIDGEPVTCALLID"):
                if var in c.bridgevars:
                    self.varset(c, var, "")
            c.bridgevars.clear()
            self.leave_bridge(c)
        self.leave_stasis(c)
        c.stasis_via_dialplan = False
        if c.tech == "Local":
            self.hangup(c, 16, request=None)
        else:
            self.later(0.1, lambda: self.hangup(c, 16, request={"cause": 16, "soft": True}))

    def move(self, c: Chan, app: str, args: list[str]) -> None:
        old = c.stasis_app
        self.chan_event("StasisEnd", c)
        c.stasis_app = None
        if old:
            self.forget_app_if_idle(old)
        self.enter_stasis(c, app, args, via_dialplan=c.stasis_via_dialplan)
