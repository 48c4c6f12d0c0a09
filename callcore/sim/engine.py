"""The simulated Asterisk core: everything but the network. Drive it directly in unit tests with a
``VirtualScheduler`` and a ``ManualClock``; ``SimAsterisk`` serves it over ARI HTTP/websocket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callcore.agi.names import CONTEXT_AGENTS, CONTEXT_INBOUND, STASIS_AGENT_LOGIN, STASIS_INBOUND
from callcore.sim.core import RestError
from callcore.sim.media import MediaOps
from callcore.sim.model import Chan


class Engine(MediaOps):
    def inject_call(
        self,
        *,
        queue: str | None = None,
        caller_number: str = "",
        caller_name: str = "",
        priority: int | None = None,
        patience: float | None = None,
        talk_time: float | None = None,
        exten: str = "100",
        answered: bool = False,
        app: str | None = None,
        args: Sequence[str] | None = None,
        context: str = CONTEXT_INBOUND,
        endpoint: str | None = None,
        stasis_priority: int | None = None,
    ) -> str:
        """One call dialled into ``Stasis(app, *args)`` from ``context``/``exten``.

        Without ``args`` it is an inbound SIP call from the trunk into ``Stasis(app, inbound, queue[,
        priority])``; with ``args`` (e.g. ``["agent-login", "1001"]``) the Stasis arguments are given
        as they are. ``endpoint`` is the calling endpoint (``PJSIP/agent1001``; the trunk by default).
        ``answered`` models dialplan that answers before Stasis (state ``Up``); ``stasis_priority`` is
        the priority of the Stasis step (2, or 3 after an answer, by default). Calls whose first
        argument is ``inbound`` are call records (``list_calls``) and count as calls in ``counters``.
        """
        if args is None:
            if not queue:
                raise ValueError("queue is required when no Stasis args are given")
            stasis_args = [STASIS_INBOUND, queue] + ([str(priority)] if priority is not None else [])
        else:
            stasis_args = [str(a) for a in args]
            if not stasis_args:
                raise ValueError("args must not be empty")
        inbound = stasis_args[0] == STASIS_INBOUND
        app = app or self.default_app
        tech, _, resource = (endpoint or "PJSIP/trunk").partition("/")
        if not tech or not resource:
            raise ValueError(f"endpoint must look like TECH/resource, not {endpoint!r}")
        uid = self.new_uid()
        seq = next(self.uid_counter)
        c = Chan(
            id=uid,
            name=f"{tech}/{resource}-{self.new_seq(tech)}",
            tech=tech,
            resource=resource,
            creationtime=self.now_str(),
            protocol_id=f"{seq + 1}-{20000 + seq}@127.0.0.1",
            state="Up" if answered else "Ring",
            caller_name=caller_name,
            caller_number=caller_number,
            context=context,
            exten=exten,
            priority=stasis_priority or (3 if answered else 2),
            kind="inbound" if inbound else "phone",
        )
        c.talk_time = talk_time
        self.channels[c.id] = c
        if inbound:
            self.counters["calls_injected"] += 1
            self.calls[c.id] = {
                "channel_id": c.id,
                "queue": stasis_args[1] if len(stasis_args) > 1 else None,
                "caller_number": caller_number,
                "caller_name": caller_name,
                "priority": int(stasis_args[2]) if len(stasis_args) > 2 and stasis_args[2].isdigit() else None,
                "state": "waiting",
                "created": self.clock.now(),
                "cause": None,
                "answered": False,
                "bridged": False,
                "abandoned": False,
            }
        else:
            self.counters["dialplan_calls_injected"] += 1
        if not self.app_exists(app):
            c.app_name, c.app_data = "Stasis", ",".join([app, *stasis_args])
            self.varset(c, "STASISSTATUS", "FAILED")
            self.hangup(c, 16, request={"cause": 16})
            if inbound:
                self._call_update(c, state="failed")
                self.counters["calls_failed"] += 1
            return c.id
        self.enter_stasis(c, app, stasis_args, via_dialplan=True)
        if patience is not None:
            c.timers["patience"] = self.later(patience, lambda: self.remote_hangup(c))
        return c.id

    def inject_agent_login(
        self, endpoint: str, agent_id: str | None = None, *, app: str | None = None
    ) -> str:
        """An agent's phone dials the agent-login extension of context ``agents``: ``*55`` logs in as
        the phone's own endpoint name, ``*55<agent_id>`` as ``agent_id``; the dialplan answers, then
        ``Stasis(app, agent-login, <agent>)``. The channel stays until the phone or the app hangs up."""
        if "/" not in endpoint:
            endpoint = f"PJSIP/{endpoint}"
        resource = endpoint.partition("/")[2]
        agent = agent_id or resource
        known = self.endpoints.get(endpoint)
        name, number = known["caller"] if known is not None else ("", resource)
        return self.inject_call(
            args=[STASIS_AGENT_LOGIN, agent],
            context=CONTEXT_AGENTS,
            exten="*55" if agent_id is None else f"*55{agent_id}",
            endpoint=endpoint,
            caller_name=name,
            caller_number=number,
            answered=True,
            stasis_priority=2,
            app=app,
        )

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

    def continue_to_amd(self, c: Chan) -> None:
        """The app continues an answered call into ``dialer-amd``: AMD() then Stasis(app, amd, ...)."""
        if c.bridge_id is not None:
            self.leave_bridge(c)
        self.leave_stasis(c)
        c.stasis_via_dialplan = False
        self._run_amd(c)

    def move(self, c: Chan, app: str, args: list[str]) -> None:
        old = c.stasis_app
        self.chan_event("StasisEnd", c)
        c.stasis_app = None
        if old:
            self.forget_app_if_idle(old)
        self.enter_stasis(c, app, args, via_dialplan=c.stasis_via_dialplan)
