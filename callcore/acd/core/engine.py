"""The ACD core: ``Engine.handle(event, now) -> list[Command]``.

Pure and deterministic: no I/O, no clock, the random strategy uses a seeded generator. Operator requests
that the current state does not allow raise ``Conflict``/``NotFound``/``InputError``; events coming from
Asterisk never raise (unknown channels and stale timers are ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callcore.acd.core import agent as ag
from callcore.acd.core import callcontrol
from callcore.acd.core import calls as cf
from callcore.acd.core import requests as op
from callcore.acd.core.commands import Answer, CancelTimer, Command, Hangup, Journal, SetTimer, StartMoh
from callcore.acd.core.events import (
    ASTERISK_FAILED,
    ORIGINATE_FAILED,
    SHUTDOWN,
    AgentCallControl,
    AgentConsult,
    AgentDial,
    AgentDisposition,
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentSessionConnected,
    AgentSessionDisconnected,
    AgentTransfer,
    BridgeFailed,
    CallArrived,
    CallBridged,
    CallerHungUp,
    ConfigChanged,
    DtmfReceived,
    EndpointRegistration,
    Event,
    OutboundReleased,
    OutboundReserved,
    PlaybackFinished,
    RegistrationsKnown,
    Resync,
    SupervisorLegAnswered,
    SupervisorRequest,
    TimerFired,
)
from callcore.acd.core.model import AgentConfig, AgentState, Call, QueueConfig
from callcore.acd.core.resync import resync
from callcore.acd.core.state import AcdState

Out = list[Command]


class Engine:
    def __init__(self, queues: Sequence[QueueConfig] = (), agents: Sequence[AgentConfig] = (), *,
                 seed: int = 0, registrations_known: bool = True) -> None:
        """``registrations_known=False``: phone registrations are tracked (AMI) but not read yet; no ring-mode
        agent is offered a call until ``EndpointRegistration`` / ``RegistrationsKnown`` say it is reachable."""
        self.state = AcdState()
        self.state.registrations_known = registrations_known
        self.state.rng.seed(seed)
        self.state.set_config(list(queues), list(agents))

    def handle(self, event: Event, now: float) -> list[Command]:
        out: Out = []
        st = self.state
        match event:
            case CallArrived():
                callcontrol.dial_answered(st, event.channel_id)
                self._arrive(event, now, out)
            case CallerHungUp(channel_id=ch, why=why):
                call = st.calls.get(ch)
                if call is not None:
                    if call.status == "waiting" and why == SHUTDOWN:
                        cf.close_on_shutdown(st, call, now, out)
                    elif call.status == "waiting":
                        cf.abandon(st, call, now, out)
                    elif cf.unbridged(call):
                        cf.caller_left_unbridged(st, call, now, out)
                    else:
                        cf.end_connected(st, call, now, out, why=why or "caller-hangup", hang_caller=False,
                                         hang_agent=True)
            case CallBridged(call_id=cid):
                call = st.calls.get(cid)
                if call is not None:
                    cf.bridged(st, call, now, out)
            case BridgeFailed(call_id=cid, error=error):
                call = st.calls.get(cid)
                if call is not None and cf.unbridged(call):
                    # the party that left reports its StasisEnd (before or after this): wait for it, briefly
                    out.append(Journal("call.bridge_refused", {"error": error}, call_id=cid,
                                       agent_id=call.agent_id, queue=call.queue))
                    out.append(SetTimer(cf.bridge_timer(cid), now + cf.BRIDGE_GRACE))
            case AgentLegAnswered(leg_id=leg):
                self._leg_answered(leg, now, out)
            case AgentLegFailed(leg_id=leg, cause=cause):
                self._leg_gone(leg, now, out, cause=cause or "failed")
            case AgentLegHungUp(leg_id=leg, why=why):
                self._leg_gone(leg, now, out, cause=why or "hangup")
            case DtmfReceived(channel_id=ch, digit=digit):
                op.dtmf(st, ch, digit, now, out)
            case PlaybackFinished(playback_id=pid):
                call = st.calls.get(st.playbacks.get(pid, ""))
                if call is not None and call.announcing == pid:
                    cf.announcement_over(st, call, out)
            case TimerFired(key=key):
                self._timer(key, now, out)
            case AgentLogin(agent_id=aid, endpoint=endpoint):
                out += ag.login(op.agent(st, aid), now, endpoint)
            case AgentLogout(agent_id=aid):
                op.logout(st, op.agent(st, aid), now, out)
            case AgentPause(agent_id=aid, reason=reason):
                op.pause(st, op.agent(st, aid), reason, now, out)
            case AgentReady(agent_id=aid):
                out += ag.ready(op.agent(st, aid), now)
            case AgentDisposition():
                op.disposition(st, event, now, out)
            case AgentTransfer():
                op.transfer(st, event, now, out)
            case AgentCallControl(agent_id=aid, action=action):
                callcontrol.CONTROLS[action](st, aid, now, out)
            case AgentConsult():
                callcontrol.consult(st, event, now, out)
            case AgentDial():
                callcontrol.dial(st, event, now, out)
            case AgentSessionConnected(agent_id=aid, channel_id=ch):
                login = op.session_agent(st, aid)
                if login is None:  # a phone dialled the login code with an unknown id: never leave it in silence
                    out.append(Journal("agent.session_refused", {"login": aid}, channel_id=ch))
                    out.append(Hangup(ch, "unknown-agent"))
                else:
                    op.session_connected(st, login, ch, now, out)
            case AgentSessionDisconnected(channel_id=ch):
                op.session_disconnected(st, ch, now, out)
            case SupervisorRequest():
                op.supervise(st, event, out)
            case SupervisorLegAnswered(leg_id=leg):
                op.supervisor_answered(st, leg, out)
            case ConfigChanged(queues=queues, agents=agents):
                op.config_changed(st, queues, agents, now, out)
            case EndpointRegistration(endpoint=endpoint, registered=registered):
                for a in st.agents.values():
                    if a.endpoint == endpoint and a.registered != registered:
                        a.registered = registered
                        out.append(Journal("agent.registration", {"endpoint": endpoint,
                                                                  "registered": registered}, agent_id=a.id))
            case RegistrationsKnown():
                st.registrations_known = True
                for a in st.agents.values():
                    if a.registered is None:
                        a.registered = True
            case Resync():
                resync(st, event, now, out)
            case OutboundReserved(agent_id=aid, call_id=cid) if aid in st.agents:
                st.agents[aid].outbound_call = cid
                out.append(Journal("agent.outbound_reserved", {}, call_id=cid, agent_id=aid))
            case OutboundReleased(agent_id=aid, call_id=cid) if aid in st.agents:
                if st.agents[aid].outbound_call == cid:
                    st.agents[aid].outbound_call = None
                    out.append(Journal("agent.outbound_released", {}, call_id=cid, agent_id=aid))
        self.route(now, out)
        return out

    def route(self, now: float, out: Out) -> None:
        """Offer waiting callers to agents after an event (``callcore.acd.core.calls.dispatch``)."""
        cf.dispatch(self.state, now, out)

    # --- callers --------------------------------------------------------------------------------------

    def _arrive(self, ev: CallArrived, now: float, out: Out) -> None:
        st = self.state
        if ev.channel_id in st.calls:
            return
        reserved = st.agents.get(ev.agent_id or "")
        if reserved is not None and reserved.outbound_call == ev.channel_id:
            reserved.outbound_call = None  # the operator's own customer: theirs now
        q = st.queues.get(ev.queue)
        if not ev.answered:
            out.append(Answer(ev.channel_id))
        call = Call(ev.channel_id, ev.channel_id, ev.queue, ev.priority, ev.caller_number, ev.caller_name,
                    now, now, st.next_seq(), dict(ev.data), required_agent=ev.agent_id)
        if q is None:
            out.append(Journal("call.refused", {"reason": "unknown-queue"}, call_id=call.id,
                               channel_id=call.channel, queue=ev.queue))
            cf.leave_to_dialplan(call, None, "unknown", out)
            return
        reason = ""
        if cf.is_empty(st, q.name, q.join_empty):
            reason = "joinempty"
        elif q.max_len and st.waiting_count(q.name) >= q.max_len:
            reason = "full"
        if reason:
            cf.stats(st, q.name).refused += 1
            out.append(Journal("call.refused", {"reason": reason}, call_id=call.id, channel_id=call.channel,
                               queue=q.name))
            cf.leave_to_dialplan(call, q, reason, out)
            return
        st.calls[call.id] = call
        cf.stats(st, q.name).offered += 1
        if not ev.moh:
            out.append(StartMoh(call.channel, q.moh_class))
        out.append(Journal("call.queued", {"priority": call.priority, "caller_number": call.caller_number,
                                           "caller_name": call.caller_name, "data": dict(call.data)},
                           call_id=call.id, channel_id=call.channel, queue=q.name))
        cf.arm_call_timers(call, q, now, out)

    # --- agent legs -----------------------------------------------------------------------------------

    def _leg_answered(self, leg: str, now: float, out: Out) -> None:
        st = self.state
        if leg in st.supervisors:
            op.supervisor_answered(st, leg, out)
            return
        if leg in st.consults:
            callcontrol.consult_answered(st, leg, out)
            return
        call = st.calls.get(st.legs.get(leg, ""))
        if call is not None and call.agent_leg == leg:
            return  # repeated answer of the connected leg
        if call is None or leg not in call.legs:
            # The caller left, or another agent answered first: this leg is surplus.
            st.legs.pop(leg, None)
            out.append(Hangup(leg, "call-gone"))
            out.append(Journal("agent.leg_surplus", {"leg_id": leg}))
            self._release_leg_owner(leg, now, out)
            return
        owner = st.agents.get(call.legs[leg])
        if owner is None or owner.leg_id != leg:
            out.append(Hangup(leg, "agent-reassigned"))
            call.legs.pop(leg, None)
            st.legs.pop(leg, None)
            return
        cf.connect(st, call, owner, leg, now, out)

    def _release_leg_owner(self, leg: str, now: float, out: Out) -> None:
        for a in self.state.agents.values():
            if a.leg_id == leg and a.state is AgentState.RESERVED:
                out += ag.release(a, now, missed=False)

    def _leg_gone(self, leg: str, now: float, out: Out, *, cause: str) -> None:
        st = self.state
        if leg in st.supervisors:
            op.supervisor_gone(st, leg, cause, out)
            return
        if leg in st.consults:
            callcontrol.consult_gone(st, leg, now, out, cause)
            return
        if leg in st.dials:
            callcontrol.dial_failed(st, leg, cause, out)
            return
        call = st.calls.get(st.legs.get(leg, ""))
        if call is None:
            st.legs.pop(leg, None)
            self._release_leg_owner(leg, now, out)
            return
        if cf.unbridged(call) and call.agent_leg == leg:
            cf.bridge_lost(st, call, now, out, why="agent-gone-before-bridge", missed=True)
            return
        if call.status == "connected" and call.agent_leg == leg:
            why = SHUTDOWN if cause == SHUTDOWN else "agent-hangup"
            cf.end_connected(st, call, now, out, why=why, hang_caller=True, hang_agent=False)
            return
        aid = call.legs.pop(leg, None)
        st.legs.pop(leg, None)
        out.append(CancelTimer(f"ring:{leg}"))
        a = st.agents.get(aid or "")
        if a is not None and a.leg_id == leg:
            q = st.queues.get(call.queue)
            out.append(Journal("call.offer_failed", {"agent": a.id, "leg_id": leg, "cause": cause},
                               call_id=call.id, agent_id=a.id, queue=call.queue))
            # a device Asterisk cannot call at all (unknown or unregistered endpoint: "Allocation failed") is
            # unreachable, not an operator who did not answer
            reason = "unreachable" if cause == ORIGINATE_FAILED else "no-answer"
            out += ag.release(a, now, missed=cause not in (SHUTDOWN, ASTERISK_FAILED),
                              max_no_answer=q.max_no_answer if q else 0,
                              reason=reason)

    # --- timers ---------------------------------------------------------------------------------------

    def _timer(self, key: str, now: float, out: Out) -> None:
        st = self.state
        kind, _, ident = key.partition(":")
        if kind == "ring":
            if ident in st.legs and st.calls.get(st.legs[ident]) and ident in st.calls[st.legs[ident]].legs:
                out.append(Hangup(ident, "no-answer"))
                self._leg_gone(ident, now, out, cause="timeout")
            return
        if kind == "bridge":
            call = st.calls.get(ident)
            if call is not None and cf.unbridged(call):
                cf.bridge_lost(st, call, now, out, why="bridge-timeout", missed=False)
            return
        if kind == "wrapup":
            a = st.agents.get(ident)
            if a is not None and a.state is AgentState.WRAP_UP and a.wrapup_until <= now:
                out += ag.finish_wrapup(a, now)
            return
        call = st.calls.get(ident)
        if call is None or call.status != "waiting":
            return
        q = st.queues.get(call.queue)
        if kind == "maxwait" and q is not None and q.max_wait > 0 and call.waited(now) >= q.max_wait:
            cf.overflow(st, call, now, out, "timeout")
        elif kind == "announce":
            cf.announce(st, call, now, out)
        elif kind == "moh":
            cf.announcement_over(st, call, out)
        elif kind == "relax" and q is not None:
            cf.arm_relax(call, q, now, out)

    # --- views ----------------------------------------------------------------------------------------

    def snapshot(self, now: float) -> dict[str, Any]:
        return op.snapshot(self.state, now)

    def current_call(self, agent_id: str, now: float) -> dict[str, Any] | None:
        a = op.agent(self.state, agent_id)
        call = self.state.calls.get(a.call_id or "")
        if call is None or call.agent_id != a.id:
            return None
        return cf.call_info(self.state, call, now)

