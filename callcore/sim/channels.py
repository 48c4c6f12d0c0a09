"""Channel life cycle: originate, dial, answer, Stasis, hangup with Asterisk's event order."""

from __future__ import annotations

from typing import Any

from callcore.sim.behaviour import EndpointBehaviour, Outcome, decide, split_dial_string
from callcore.sim.core import CoreState, RestError
from callcore.sim.model import Chan
from callcore.sim.wire import CAUSE_TEXT, DIALSTATUS, QOS_VARS, TECH_CAUSE, qos_values

NOT_IN_STASIS = "Channel not in Stasis application"
MAX_CALLS = 10_000  # inbound call records kept for the control API
MAX_PUBLIC_UNIQUEID = 149  # Asterisk's AST_MAX_PUBLIC_UNIQUEID


class ChannelOps(CoreState):
    # --- lookups --------------------------------------------------------------------------------

    def find_channel(self, ident: str) -> Chan | None:
        """Asterisk's channel lookup: the uniqueid, or else the channel name, compared without case."""
        c = self.channels.get(ident)
        if c is None:
            low = ident.lower()
            c = next((x for x in self.channels.values() if x.id.lower() == low or x.name.lower() == low), None)
        return None if c is None or c.gone else c

    def chan(self, channel_id: str, *, message: str = "Channel not found", reason: str | None = None) -> Chan:
        c = self.find_channel(channel_id)
        if c is None:
            raise RestError(404, message, reason=reason)
        return c

    def stasis_chan(self, channel_id: str) -> Chan:
        """A channel the app controls: its Stasis control is found by the exact uniqueid only (a name, or
        an id in other case, finds the channel but not the control: 409)."""
        c = self.chan(channel_id)
        if c.stasis_app is None or c.id != channel_id:
            raise RestError(409, NOT_IN_STASIS)
        return c

    def add_endpoint(self, name: str, *, state: str = "online") -> None:
        tech, resource, _ = split_dial_string(name)
        digits = "".join(ch for ch in resource if ch.isdigit())
        self.endpoints[f"{tech}/{resource}"] = {
            "technology": tech,
            "resource": resource,
            "state": state,
            "caller": (f"Agent {digits}", digits) if digits and resource != "trunk" else ("", ""),
            "context": "inbound" if resource == "trunk" else "agents",
        }

    def endpoint_json(self, key: str) -> dict[str, Any]:
        ep = self.endpoints[key]
        behaviour = self.book.exact.get(key)
        state = ep["state"] if behaviour is None or behaviour.registered else "offline"
        ids = [c.id for c in self.channels.values() if f"{c.tech}/{c.resource}" == key and not c.gone]
        return {
            "technology": ep["technology"],
            "resource": ep["resource"],
            "state": state,
            "channel_ids": ids,
        }

    # --- creation -----------------------------------------------------------------------------

    def id_taken(self, requested: str) -> bool:
        """Asterisk 22's channel storage (ao2_legacy, the default) looks a requested unique id up as a
        case-insensitive *prefix*: it is taken when a live channel's uniqueid begins with it."""
        low = requested.lower()
        return any(cid.lower().startswith(low) for cid, c in self.channels.items() if not c.gone)

    def check_new_ids(self, *requested: str | None) -> None:
        for cid in requested:
            if cid and len(cid) > MAX_PUBLIC_UNIQUEID:
                raise RestError(400, f"Uniqueid length exceeds maximum of {MAX_PUBLIC_UNIQUEID}")

    def _new_chan(
        self, endpoint: str, channel_id: str | None, other_id: str | None
    ) -> tuple[Chan, EndpointBehaviour]:
        self.check_new_ids(channel_id, other_id)
        try:
            tech, resource, user = split_dial_string(endpoint)
        except ValueError:
            raise RestError(400, "Invalid endpoint specified") from None
        behaviour = self.book.lookup(endpoint)
        if tech == "Local":
            ep: dict[str, Any] = {"caller": ("", ""), "context": resource}
        else:
            ep_found = self.endpoints.get(f"{tech}/{resource}")
            if ep_found is None or ep_found["state"] != "online" or not behaviour.registered:
                raise RestError(500, "Allocation failed", key="error")
            ep = ep_found
        # the channel driver found its endpoint; allocating the channel then checks the ids
        if any(cid and self.id_taken(cid) for cid in (channel_id, other_id)):
            raise RestError(409, "Channel with given unique ID already exists")
        if tech == "Local":
            name = f"Local/{resource if not user else user + '@' + resource}-{self.new_seq('Local')};1"
        else:
            name = f"{tech}/{resource}-{self.new_seq(tech)}"
        uid = self.new_uid()
        c = Chan(
            id=channel_id or uid,
            name=name,
            tech=tech,
            resource=resource,
            creationtime=self.now_str(),
            protocol_id=self.new_uuid() if tech == "PJSIP" else "",
            context=ep["context"],
            exten=user if tech == "Local" and user else "s",
        )
        c.caller_name, c.caller_number = ep["caller"]
        c.dialstring = endpoint.partition("/")[2]
        if behaviour.caller_name is not None:
            c.caller_name = behaviour.caller_name
        if behaviour.caller_number is not None:
            c.caller_number = behaviour.caller_number
        return c, behaviour

    def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: list[str] | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int = 1,
        caller_id: tuple[str, str] | None = None,
        timeout: float = 30.0,
        variables: dict[str, str] | None = None,
        channel_id: str | None = None,
        other_id: str | None = None,
        formats: str | None = None,
    ) -> Chan:
        c, behaviour = self._new_chan(endpoint, channel_id, other_id)
        c.app_name, c.app_data = "AppDial2", "(Outgoing Line)"
        c.kind = "outbound"
        c.formats = formats
        if caller_id is not None:
            c.caller_name, c.caller_number = caller_id
            c.connected_name, c.connected_number = caller_id
        if variables:
            c.variables.update(variables)
        if app:
            c.originated_app = app
            c.originated_args = list(app_args or [])
            if self.app_exists(app):
                c.subs.add(app)
        else:
            c.dial_context, c.dial_exten, c.dial_priority = context, extension or "s", priority
        self.channels[c.id] = c
        self.counters["channels_originated"] += 1
        c.outcome = decide(behaviour, self.rng)
        c.talk_time = c.outcome.talk_time
        delay = self.dial_start_delay
        if c.tech == "Local":
            self.make_local_peer(c, other_id)
            delay = 0.0
        c.timers["start"] = self.later(delay, lambda: self._start_dial(c, timeout, created=False))
        return c

    def create(
        self,
        endpoint: str,
        *,
        app: str,
        app_args: list[str] | None = None,
        channel_id: str | None = None,
        other_id: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Chan:
        c, behaviour = self._new_chan(endpoint, channel_id, other_id)
        c.kind = "created"
        c.subs.add(app)
        if variables:
            c.variables.update(variables)
        self.channels[c.id] = c
        c.outcome = decide(behaviour, self.rng)
        c.talk_time = c.outcome.talk_time
        data = ",".join([app, *(app_args or [])])
        c.app_name, c.app_data = "Stasis", data
        self.chan_event("ChannelDialplan", c, {"dialplan_app": "Stasis", "dialplan_app_data": data})
        self.enter_stasis(c, app, list(app_args or []), via_dialplan=False, set_dialplan=False)
        return c

    def dial(self, c: Chan, timeout: float) -> None:
        if c.stasis_app is None:
            raise RestError(409, NOT_IN_STASIS)
        if c.kind != "created" or c.dialing or c.state != "Down":
            raise RestError(409, "Channel cannot be dialed.")
        self._start_dial(c, timeout if timeout > 0 else 0.0, created=True)

    def _dial_event(self, c: Chan, status: str, dialstring: str | None = None) -> None:
        self.emit(
            "Dial",
            {
                "dialstatus": status,
                "forward": "",
                "dialstring": c.dialstring if dialstring is None else dialstring,
                "peer": c.json(),
            },
            chans=(c,),
        )

    def _start_dial(self, c: Chan, timeout: float, *, created: bool) -> None:
        if c.gone:
            return
        c.dialing = True
        c.timers.pop("start", None)
        outcome = c.outcome or Outcome("noanswer", 0.0)
        self._dial_event(c, "")
        if outcome.kind in ("busy", "congestion", "rejected"):
            cause = {"busy": 17, "congestion": 34, "rejected": 21}[outcome.kind]
            c.timers["reject"] = self.later(outcome.delay, lambda: self._far_rejects(c, cause))
            return
        if outcome.ring:
            c.timers["ring"] = self.later(min(0.01, outcome.delay / 2), lambda: self._far_rings(c, created))
        if outcome.answers:
            c.timers["answer"] = self.later(outcome.delay, lambda: self._far_answers(c))
        if timeout > 0:
            c.timers["timeout"] = self.later(timeout, lambda: self._dial_timeout(c))

    def _far_rings(self, c: Chan, created: bool) -> None:
        if c.gone or c.state != "Down":
            return
        c.state = "Ringing"
        if created:
            self._dial_event(c, "RINGING", dialstring="")
            self.chan_event("ChannelStateChange", c)
        else:
            self.chan_event("ChannelStateChange", c)
            self._dial_event(c, "RINGING")

    def _far_rejects(self, c: Chan, cause: int) -> None:
        if c.gone:
            return
        tech_cause = TECH_CAUSE.get(cause)
        pre: dict[str, Any] = {"cause": cause}
        if tech_cause:
            pre["tech_cause"] = tech_cause
        self.hangup(
            c, cause, request=pre, tech_cause=tech_cause, dial_status=DIALSTATUS.get(cause, "CONGESTION")
        )

    def _dial_timeout(self, c: Chan) -> None:
        if c.gone or c.state == "Up":
            return
        request = {"cause": 32, "soft": True} if c.stasis_app else None
        self.hangup(c, 19, request=request, tech_cause=480)

    def _far_answers(self, c: Chan) -> None:
        if c.gone:
            return
        for key in ("timeout", "ring"):
            handle = c.timers.pop(key, None)
            if handle is not None:
                handle.cancel()
        c.state = "Up"
        self.chan_event("ChannelStateChange", c)
        self._dial_event(c, "ANSWER")
        if c.originated_app:
            app = c.originated_app
            if not self.app_exists(app):
                self.hangup(c, 16, request={"cause": 16})
                return
            self.enter_stasis(c, app, c.originated_args, via_dialplan=False)
        elif c.dial_context == "dialer-amd":
            self._run_amd(c)
        elif c.dial_context is not None:
            c.context, c.exten = c.dial_context, c.dial_exten or "s"
            self._dialplan_step(c, c.dial_priority, "Wait", "600")
            c.timers["wait"] = self.later(600.0, lambda: self.hangup(c, 16, request={"cause": 16}))

    # --- dialplan: AMD ---------------------------------------------------------------------------

    def _dialplan_step(self, c: Chan, priority: int, app: str, data: str) -> None:
        c.priority, c.app_name, c.app_data = priority, app, data
        self.chan_event("ChannelDialplan", c, {"dialplan_app": app, "dialplan_app_data": data})

    def _run_amd(self, c: Chan) -> None:
        c.context, c.exten = "dialer-amd", c.dial_exten or "s"
        self._dialplan_step(c, 1, "NoOp", f"AMD for {c.name}")
        self._dialplan_step(c, 2, "AMD", "")
        outcome = c.outcome or Outcome("answer", 0.0, amd_status="HUMAN", amd_cause="HUMAN-800-800")
        if c.tech == "Local" and not c.formats:
            outcome = Outcome("answer", 0.0, amd_status="", amd_cause="")
        c.timers["amd"] = self.later(outcome.amd_delay, lambda: self._amd_done(c, outcome))

    def _amd_done(self, c: Chan, outcome: Outcome) -> None:
        if c.gone:
            return
        status, cause = outcome.amd_status, outcome.amd_cause
        self.varset(c, "AMDSTATUS", status)
        self.varset(c, "AMDCAUSE", cause)
        self._dialplan_step(c, 3, "NoOp", f"AMDSTATUS={status} AMDCAUSE={cause}")
        app = self.default_app
        self._dialplan_step(c, 4, "Stasis", f"{app},amd,{status},{cause}")
        if not self.app_exists(app):
            self.hangup(c, 16, request={"cause": 16})
            return
        self.enter_stasis(c, app, ["amd", status, cause], via_dialplan=True, set_dialplan=False)

    # --- Stasis --------------------------------------------------------------------------------

    def enter_stasis(
        self, c: Chan, app: str, args: list[str], *, via_dialplan: bool, set_dialplan: bool = True
    ) -> None:
        if set_dialplan:
            c.app_name, c.app_data = "Stasis", ",".join([app, *args])
        self.varset(c, "STASISSTATUS", "")
        c.stasis_app, c.stasis_args, c.stasis_via_dialplan = app, list(args), via_dialplan
        self.get_app(app)
        self.emit("StasisStart", {"args": list(args), "channel": c.json()}, chans=(c,))

    def leave_stasis(self, c: Chan) -> None:
        app = c.stasis_app
        if app is None:
            return
        self.chan_event("StasisEnd", c)
        c.stasis_app = None
        self.varset(c, "STASISSTATUS", "SUCCESS")
        self.forget_app_if_idle(app)

    def progress(self, c: Chan) -> None:
        """Early media: Asterisk indicates progress (183 with SDP) before it plays MOH, silence, DTMF or
        a playback to a channel that is not answered, or when the app asks for it (``/progress``); a
        ring indication after that is in-band ringing on the same media."""
        if c.state != "Up":
            c.early_media = True

    def answer(self, c: Chan) -> None:
        if c.state == "Up":
            return
        c.state = "Up"
        if c.kind == "inbound" and not c.answered_by_app:
            c.answered_by_app = True
            self.counters["calls_answered"] += 1
            self._call_update(c, state="answered")
        self.chan_event("ChannelStateChange", c)

    # --- hangup --------------------------------------------------------------------------------

    def remote_hangup(self, c: Chan) -> None:
        """The far end hangs up: BYE when answered, CANCEL before."""
        if c.gone:
            return
        if c.kind == "inbound" and not c.ever_bridged:
            self.counters["calls_abandoned"] += 1
            self._call_update(c, abandoned=True)
        if c.state == "Up":
            self.hangup(c, 16, request={}, how="remote")
        else:
            self.hangup(c, 127, request={"cause": 127, "tech_cause": 487}, tech_cause=487, how="remote")

    def hangup(
        self,
        c: Chan,
        cause: int,
        *,
        request: dict[str, Any] | None,
        tech_cause: int | None = None,
        dial_status: str | None = None,
        how: str = "app",
    ) -> None:
        if c.gone:
            return
        c.gone = True
        c.cancel_timers()
        shutdown = how == "shutdown"
        peer = self._bridge_peer(c)
        # chan_pjsip saves the RTP statistics of the call's audio as it ends: an answered call, or an
        # unanswered one that had early media (ringing, MOH before answer)
        has_rtp = c.state == "Up" or c.early_media
        if has_rtp and c.tech == "PJSIP" and not shutdown and c.id in self.channels:
            qos = qos_values(self.rng)
            for var, value in zip(QOS_VARS, qos, strict=True):
                self.varset(c, var, value)
                if peer is not None:
                    self.varset(peer, var + "BRIDGED", value)
        if request is not None:
            self.chan_event("ChannelHangupRequest", c, pre=request)
        if dial_status:
            self._dial_event(c, dial_status)
        for var in ("BRIDGEPEER", "BRIDGEPVTCALLID"):
            if var in c.bridgevars:
                self.varset(c, var, "")
        c.bridgevars.clear()
        if c.bridge_id is not None:
            self.leave_bridge(c)
        self.channel_media_gone(c)
        for snoop_id in list(c.snoops):
            snoop = self.channels.get(snoop_id)
            if snoop is not None:
                self.hangup(snoop, 16, request={"cause": 16, "soft": True}, how=how)
        if c.stasis_app is not None:
            app = c.stasis_app
            self.chan_event("StasisEnd", c)
            c.stasis_app = None
            if not shutdown:
                self.varset(c, "STASISSTATUS", "SUCCESS")
                if c.stasis_via_dialplan and c.kind != "snoop":
                    # the dialplan ends: the PBX's own soft hang-up (AST_SOFTHANGUP_APPUNLOAD = 16), with
                    # the channel's technology cause when it has one (487 for a caller's CANCEL)
                    soft: dict[str, Any] = {"cause": 16, "soft": True}
                    if tech_cause:
                        soft["tech_cause"] = tech_cause
                    self.chan_event("ChannelHangupRequest", c, pre=soft)
            self.forget_app_if_idle(app)
        if not shutdown:
            if c.kind == "outbound":
                c.app_name, c.app_data = "AppDial2", "(Outgoing Line)"
            elif c.kind in ("created", "local2", "inbound", "phone"):
                # the PBX restored the application it saved before Stasis(): none
                c.app_name, c.app_data = "", ""
            self.before_destroyed(c)
            body: dict[str, Any] = {"cause": cause, "cause_txt": CAUSE_TEXT.get(cause, "Unknown")}
            if tech_cause:
                body["tech_cause"] = tech_cause
            body["channel"] = c.json()
            self.emit("ChannelDestroyed", body, chans=(c,))
        self.channels.pop(c.id, None)
        if not shutdown:
            self.after_destroyed(c)
        if c.snoop_of is not None:
            target = self.channels.get(c.snoop_of)
            if target is not None:
                target.snoops.discard(c.id)
        if c.kind == "inbound":
            self._call_update(c, state="ended", cause=cause)
        for app in list(c.subs):
            self.forget_app_if_idle(app)

    # --- hooks the bridge/media mixins provide ------------------------------------------------

    def _bridge_peer(self, c: Chan) -> Chan | None:
        raise NotImplementedError

    def leave_bridge(self, c: Chan) -> None:
        raise NotImplementedError

    def make_local_peer(self, c: Chan, other_id: str | None) -> Chan:
        raise NotImplementedError

    def before_destroyed(self, c: Chan) -> None:
        """Called just before a channel's ChannelDestroyed (Local channels hang up their other half)."""

    def after_destroyed(self, c: Chan) -> None:
        """Called once a channel is gone."""

    def channel_media_gone(self, c: Chan) -> None:
        raise NotImplementedError

    def _call_update(self, c: Chan, **fields: Any) -> None:
        call = self.calls.get(c.id)
        if call is not None:
            call.update(fields)
        if fields.get("state") == "ended" and len(self.calls) > MAX_CALLS + 1000:
            for cid in [k for k, v in self.calls.items() if v["state"] == "ended"][: len(self.calls) - MAX_CALLS]:
                del self.calls[cid]
