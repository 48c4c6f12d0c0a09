"""Operator, supervisor and configuration requests handled by the core, and the snapshot view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callcore.acd.core import agent as ag
from callcore.acd.core import calls as cf
from callcore.acd.core.commands import (
    AddToBridge,
    Answer,
    CallbackRequested,
    CancelTimer,
    Command,
    ContinueInDialplan,
    CreateBridge,
    DestroyBridge,
    Hangup,
    Journal,
    OriginateAgent,
    RemoveFromBridge,
    Snoop,
    StopMoh,
    StopRecording,
)
from callcore.acd.core.events import AgentDisposition, AgentTransfer, SupervisorRequest
from callcore.acd.core.model import Agent, AgentConfig, AgentState, QueueConfig
from callcore.acd.core.state import AcdState, SupervisorLeg
from callcore.errors import Conflict, InputError, NotFound

Out = list[Command]
S = AgentState


def agent(st: AcdState, agent_id: str) -> Agent:
    a = st.agents.get(agent_id)
    if a is None:
        raise NotFound(f"unknown agent {agent_id!r}")
    return a


def session_agent(st: AcdState, login: str) -> Agent | None:
    """The agent a persistent session's ``Stasis(callcore, agent-login, <login>)`` names: an agent id, or the
    calling phone's endpoint (``agent1001`` or ``PJSIP/agent1001``) as the shipped ``*55`` dialplan passes it.
    The live path and the resync path both resolve it here."""
    a = st.agents.get(login)
    if a is not None:
        return a
    for a in st.agents.values():
        endpoint = a.config.endpoint
        if endpoint and (endpoint == login or endpoint.split("/", 1)[-1] == login):
            return a
    return None


def _withdraw_reservation(st: AcdState, a: Agent, now: float, out: Out) -> None:
    if a.state is not S.RESERVED or a.leg_id is None:
        return
    leg = a.leg_id
    call = st.calls.get(st.legs.get(leg, ""))
    st.legs.pop(leg, None)
    if call is not None:
        call.legs.pop(leg, None)
    out.append(CancelTimer(f"ring:{leg}"))
    out.append(Hangup(leg, "offer-withdrawn"))
    out += ag.release(a, now, missed=False)


def logout(st: AcdState, a: Agent, now: float, out: Out) -> None:
    if a.state is S.ON_CALL:
        a.pending = "logout"
        out.append(Journal("agent.logout_pending", {}, agent_id=a.id))
        return
    _withdraw_reservation(st, a, now, out)
    out += ag.logout(a, now)
    if a.session_channel is not None:
        ch = a.session_channel
        st.sessions.pop(ch, None)
        a.session_channel = None
        out.append(Hangup(ch, "logout"))
        out.append(DestroyBridge(cf.agent_bridge(a.id)))


def pause(st: AcdState, a: Agent, reason: str, now: float, out: Out) -> None:
    if not reason:
        raise InputError("a pause needs a reason", field="reason")
    _withdraw_reservation(st, a, now, out)
    out += ag.pause(a, now, reason)


def disposition(st: AcdState, ev: AgentDisposition, now: float, out: Out) -> None:
    a = agent(st, ev.agent_id)
    if a.last_call_id is None or a.last_disposition_done:
        raise Conflict(f"agent {a.id} has no call waiting for a disposition")
    if a.state is S.ON_CALL and a.call_id == a.last_call_id:
        raise Conflict(f"agent {a.id} is still on the call")
    q = st.queues.get(a.last_queue or "")
    if q is not None and q.dispositions and ev.code not in q.dispositions:
        raise InputError(f"unknown disposition {ev.code!r} for queue {q.name}", field="code")
    a.last_disposition_done = True
    out.append(Journal("call.disposition",
                       {"code": ev.code, "notes": ev.notes, "callback_at": ev.callback_at},
                       call_id=a.last_call_id, agent_id=a.id, queue=a.last_queue))
    if ev.callback_at is not None:
        out.append(CallbackRequested(a.last_call_id, a.last_queue or "", "", "", 0, 0, now,
                                     callback_at=ev.callback_at, agent_id=a.id))
    if a.state is S.WRAP_UP:
        out += ag.finish_wrapup(a, now, "disposition")


def transfer(st: AcdState, ev: AgentTransfer, now: float, out: Out) -> None:
    a = agent(st, ev.agent_id)
    call = st.calls.get(a.call_id or "")
    if a.state is not S.ON_CALL or call is None or call.status != "connected":
        raise Conflict(f"agent {a.id} is not on a call")
    if (ev.queue is None) == (ev.number is None):
        raise InputError("give exactly one of queue or number", field="queue")
    if ev.queue is not None and ev.queue not in st.queues:
        raise NotFound(f"unknown queue {ev.queue!r}")
    if ev.number is not None and not ev.number.strip():
        raise InputError("empty number", field="number")
    q = st.queues.get(call.queue)
    cf.stats(st, call.queue).transferred += 1
    out.append(Journal("call.transferred", {"to_queue": ev.queue, "to_number": ev.number},
                       call_id=call.id, agent_id=a.id, queue=call.queue))
    session = a.session and call.agent_leg == a.session_channel
    talk = now - call.answered_at
    cf.stats(st, call.queue).talks.append(talk)
    if call.recording:
        out.append(StopRecording(call.recording))
        call.recording = None
    if call.held:
        out.append(StopMoh(call.channel))
        call.held = False
    if session and call.bridge_id:
        out.append(RemoveFromBridge(call.bridge_id, (call.channel,)))
    elif call.agent_leg:
        out.append(Hangup(call.agent_leg, "transferred"))
        if call.bridge_id:
            out.append(DestroyBridge(call.bridge_id))
    if call.agent_leg:
        st.legs.pop(call.agent_leg, None)
    cf.end_supervision(st, call, out)
    out += ag.end_call(a, now, q.wrapup_time if q else 0.0)
    if ev.queue is not None:
        cf.move_to_queue(st, call, ev.queue, now, out, why=f"transfer:{a.id}")
        return
    call.status = "ended"
    st.calls.pop(call.id, None)
    ctx = q.transfer_context if q else "callcore-transfer"
    out.append(ContinueInDialplan(call.channel, ctx, (ev.number or "").strip(), 1))


def session_connected(st: AcdState, a: Agent, channel: str, now: float, out: Out) -> None:
    if a.session_channel is not None and a.session_channel != channel:
        old = a.session_channel
        if a.state is S.ON_CALL and a.call_id and a.call_id in st.calls:
            raise Conflict(f"agent {a.id} is on a call in the other session")
        st.sessions.pop(old, None)
        out.append(Hangup(old, "session-replaced"))
    _withdraw_reservation(st, a, now, out)
    st.sessions[channel] = a.id
    a.session_channel = channel
    bridge = cf.agent_bridge(a.id)
    out += [Answer(channel), CreateBridge(bridge, "mixing"), AddToBridge(bridge, (channel,))]
    out.append(Journal("agent.session", {"channel": channel, "connected": True}, agent_id=a.id,
                       channel_id=channel))
    out += ag.login(a, now)


def session_disconnected(st: AcdState, channel: str, now: float, out: Out) -> None:
    aid = st.sessions.pop(channel, None)
    a = st.agents.get(aid or "")
    if a is None or a.session_channel != channel:
        return
    call = st.calls.get(a.call_id or "")
    if call is not None and cf.unbridged(call) and call.agent_leg == channel:
        cf.bridge_lost(st, call, now, out, why="agent-gone-before-bridge", missed=True)
    elif call is not None and call.status == "connected" and call.agent_leg == channel:
        cf.end_connected(st, call, now, out, why="agent-hangup", hang_caller=True, hang_agent=False)
    a.session_channel = None
    out.append(DestroyBridge(cf.agent_bridge(a.id)))
    out.append(Journal("agent.session", {"channel": channel, "connected": False}, agent_id=a.id,
                       channel_id=channel))
    if a.state is S.WRAP_UP:
        a.pending = "logout"
    elif a.state is not S.LOGGED_OUT:
        out += ag.logout(a, now, "session-ended")


def snoop_id(leg: str) -> str:
    """The Snoop channel's id for supervisor leg ``leg``. Asterisk refuses a requested channel id that is a
    prefix of a live channel's uniqueid, so neither id may begin with the other: ``<leg>-snoop`` would make
    the later originate of ``<leg>`` fail."""
    return f"snoop-{leg}"


def supervise(st: AcdState, ev: SupervisorRequest, out: Out) -> None:
    a = agent(st, ev.agent_id)
    call = st.calls.get(a.call_id or "")
    if a.state is not S.ON_CALL or call is None or call.agent_leg is None or call.bridge_id is None:
        raise Conflict(f"agent {a.id} is not on a call")
    if ev.mode not in ("listen", "whisper", "barge"):
        raise InputError(f"unknown mode {ev.mode!r}", field="mode")
    if not ev.supervisor_endpoint:
        raise InputError("missing supervisor endpoint", field="supervisor_endpoint")
    tech, _, resource = ev.supervisor_endpoint.partition("/")
    if not tech or not resource:  # Asterisk would refuse the originate after the request was answered
        raise InputError(f"must be TECH/resource (e.g. PJSIP/sup1), got {ev.supervisor_endpoint!r}",
                         field="supervisor_endpoint")
    leg = ev.leg_id
    if ev.mode == "barge":
        sup = SupervisorLeg(leg, a.id, ev.mode, call.id, None, call.bridge_id)
    else:
        sup = SupervisorLeg(leg, a.id, ev.mode, call.id, snoop_id(leg), f"callcore-sup-{leg}")
        out.append(Snoop(call.agent_leg, snoop_id(leg), "both", "out" if ev.mode == "whisper" else "none",
                         ("snoop", leg)))
        out.append(CreateBridge(sup.bridge_id, "mixing"))
    st.supervisors[leg] = sup
    out.append(OriginateAgent(leg, ev.supervisor_endpoint, "Supervisor", 30, ("supervisor", leg)))
    out.append(Journal("call.supervised", {"mode": ev.mode, "leg_id": leg,
                                           "endpoint": ev.supervisor_endpoint},
                       call_id=call.id, agent_id=a.id, queue=call.queue))


def supervisor_answered(st: AcdState, leg: str, out: Out) -> None:
    sup = st.supervisors.get(leg)
    if sup is None:
        out.append(Hangup(leg, "call-gone"))
        return
    sup.answered = True
    members = (sup.snoop_id, leg) if sup.snoop_id else (leg,)
    out.append(AddToBridge(sup.bridge_id, members))


def supervisor_gone(st: AcdState, leg: str, cause: str, out: Out) -> None:
    """The supervisor's leg ended or could not be set up (not answered, refused by Asterisk, or its Snoop
    failed): the Snoop channel and the supervision bridge go with it; a leg that never answered is
    journaled as a failed supervision."""
    sup = st.supervisors.get(leg)
    if sup is None:
        return
    if not sup.answered:
        call = st.calls.get(sup.call_id)
        out.append(Journal("call.supervision_failed", {"mode": sup.mode, "leg_id": leg, "cause": cause},
                           call_id=sup.call_id, agent_id=sup.agent_id, queue=call.queue if call else None))
    cf.drop_supervisor(st, leg, out)


def dtmf(st: AcdState, channel: str, digit: str, now: float, out: Out) -> None:
    call = st.calls.get(channel)
    if call is None or call.status != "waiting":
        return
    q = st.queues.get(call.queue)
    if q is None or not q.callback_digit or digit != q.callback_digit:
        return
    pos = st.position(call)
    cf.stats(st, call.queue).callbacks += 1
    out.append(CallbackRequested(call.id, call.queue, call.caller_number, call.caller_name, pos,
                                 call.priority, call.entered_at, dict(call.data)))
    out.append(Journal("call.callback", {"position": pos, "wait": now - call.queue_entered_at,
                                         "caller_number": call.caller_number, "caller_name": call.caller_name},
                       call_id=call.id, channel_id=call.channel, queue=call.queue))
    cf.remove_call(st, call, now, out)
    out.append(StopMoh(call.channel))
    out.append(Hangup(call.channel, "callback"))


def config_changed(st: AcdState, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], now: float,
                   out: Out) -> None:
    gone = st.set_config(list(queues), list(agents))
    for aid in gone:
        a = st.agents[aid]
        a.config = AgentConfig(a.id, a.config.name, a.config.endpoint, {}, {})
        if a.state is S.ON_CALL:
            a.pending = "logout"
        elif a.state is not S.LOGGED_OUT:
            logout(st, a, now, out)
    for call in list(st.calls.values()):
        if call.status == "waiting" and call.queue not in st.queues:
            cf.remove_call(st, call, now, out)
            cf.leave_to_dialplan(call, None, "removed", out)
    out.append(Journal("acd.config", {"queues": sorted(st.queues), "agents": [c.id for c in agents]}))


def snapshot(st: AcdState, now: float) -> dict[str, Any]:
    """Queues (their waiting callers in service order), agents and counts, read from the routing index
    (``callcore.acd.core.index``): the cost is the size of the answer, the counts are maintained."""
    queues: dict[str, Any] = {}
    index = st.index
    for name, q in st.queues.items():
        waiting = st.waiting(name)
        qi = index.queues.get(name)
        queues[name] = {
            "strategy": q.strategy,
            "waiting": len(waiting),
            "longest_wait": max((now - c.queue_entered_at for c in waiting), default=0.0),
            "calls": [{"call_id": c.id, "caller_number": c.caller_number, "priority": c.priority,
                       "wait": now - c.queue_entered_at,
                       "ringing": sorted(c.legs.values()) if c.legs else []}
                      for c in waiting],
            "connected": qi.connected if qi is not None else 0,
            "agents": {k: v for k, v in qi.by_state.items() if v} if qi is not None else {},
            **cf.stats(st, name).as_dict(),
        }
    agents = {aid: ag.describe(a, now) for aid, a in st.agents.items()}
    return {"queues": queues, "agents": agents, "agents_by_state": dict(index.agents_by_state)}
