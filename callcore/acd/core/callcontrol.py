"""Call controls an operator uses during a connected call: hold and resume (music to the caller), hang up,
and attended transfer: consult a number or a colleague while the caller hears music, then complete (the
caller and the consulted party talk, the operator leaves to wrap-up) or return to the caller.

Pure core functions, called by ``Engine.handle``; they raise ``Conflict`` when the agent is not on a call.
"""

from __future__ import annotations

from callcore.acd.core import agent as ag
from callcore.acd.core import calls as cf
from callcore.acd.core.commands import (
    AddToBridge,
    Command,
    CreateBridge,
    Hangup,
    Journal,
    Notify,
    OriginateAgent,
    RemoveFromBridge,
    StartMoh,
    StopMoh,
)
from callcore.acd.core.events import AgentConsult, AgentDial
from callcore.acd.core.model import AgentState, Call
from callcore.acd.core.requests import agent
from callcore.acd.core.state import AcdState
from callcore.errors import Conflict, InputError, NotFound

Out = list[Command]


def _connected(st: AcdState, agent_id: str) -> Call:
    a = agent(st, agent_id)
    call = st.calls.get(a.call_id or "")
    if a.state is not AgentState.ON_CALL or call is None or call.status != "connected" or call.bridge_id is None:
        raise Conflict(f"agent {a.id} is not on a call")
    return call


def hold(st: AcdState, agent_id: str, now: float, out: Out) -> None:
    """Take the caller out of the conversation and play the queue's music on hold to them."""
    call = _connected(st, agent_id)
    _hold(st, call, agent_id, out)


def _hold(st: AcdState, call: Call, agent_id: str, out: Out) -> None:
    if call.held:
        raise Conflict(f"the call of agent {agent_id} is already on hold")
    q = st.queues.get(call.queue)
    call.held = True
    assert call.bridge_id is not None
    out.append(RemoveFromBridge(call.bridge_id, (call.channel,)))
    out.append(StartMoh(call.channel, q.moh_class if q else "default"))
    out.append(Journal("call.held", {}, call_id=call.id, agent_id=agent_id, queue=call.queue))
    out.append(Notify(agent_id, {"event": "call_held", "call_id": call.id, "held": True}))


def resume(st: AcdState, agent_id: str, now: float, out: Out) -> None:
    """Stop the music and put the caller back into the conversation."""
    call = _connected(st, agent_id)
    if call.consult_leg:
        raise Conflict(f"agent {agent_id} is consulting: complete the transfer or return to the caller")
    if not call.held:
        raise Conflict(f"the call of agent {agent_id} is not on hold")
    call.held = False
    assert call.bridge_id is not None
    out.append(StopMoh(call.channel))
    out.append(AddToBridge(call.bridge_id, (call.channel,)))
    out.append(Journal("call.resumed", {}, call_id=call.id, agent_id=agent_id, queue=call.queue))
    out.append(Notify(agent_id, {"event": "call_held", "call_id": call.id, "held": False}))


def hangup(st: AcdState, agent_id: str, now: float, out: Out) -> None:
    """The operator ends the call: the caller is hung up, a session channel stays up for the next call."""
    call = _connected(st, agent_id)
    if call.held:
        out.append(StopMoh(call.channel))
    a = st.agents[agent_id]
    session = a.session and call.agent_leg == a.session_channel
    cf.end_connected(st, call, now, out, why="agent-hangup", hang_caller=True, hang_agent=not session)


# --- attended transfer -------------------------------------------------------------------------------


def consult(st: AcdState, ev: AgentConsult, now: float, out: Out) -> None:
    call = _connected(st, ev.agent_id)
    if call.consult_leg:
        raise Conflict(f"agent {ev.agent_id} is already consulting")
    if (ev.number is None) == (ev.agent is None):
        raise InputError("give exactly one of 'number' or 'agent'", field="number")
    if ev.agent is not None:
        other = st.agents.get(ev.agent)
        if other is None:
            raise NotFound(f"unknown agent {ev.agent!r}")
        if other.id == ev.agent_id or not other.config.endpoint:
            raise InputError("must be another agent with a phone", field="agent")
        if other.state is AgentState.ON_CALL:
            raise Conflict(f"agent {other.id} is on a call")
        endpoint, target = other.config.endpoint, f"agent:{other.id}"
    else:
        number = (ev.number or "").strip()
        if not number or any(c in number for c in "@/,;&| "):
            raise InputError("must be a dialable number", field="number")
        q = st.queues.get(call.queue)
        endpoint, target = f"Local/{number}@{q.transfer_context if q else 'callcore-transfer'}", f"number:{number}"
    if not call.held:
        _hold(st, call, ev.agent_id, out)
    call.consult_leg, call.consult_answered, call.consult_target = ev.leg_id, False, target
    st.consults[ev.leg_id] = call.id
    out.append(OriginateAgent(ev.leg_id, endpoint, call.caller_number or "callcore", 30, ("consult", ev.leg_id)))
    out.append(Journal("call.consult", {"leg_id": ev.leg_id, "target": target}, call_id=call.id,
                       agent_id=ev.agent_id, queue=call.queue))
    out.append(Notify(ev.agent_id, {"event": "consult", "call_id": call.id, "state": "ringing", "target": target}))


def consult_answered(st: AcdState, leg: str, out: Out) -> None:
    """The consulted party answered: the operator talks to them (the caller still hears music)."""
    call = st.calls.get(st.consults.get(leg, ""))
    if call is None or call.consult_leg != leg or call.bridge_id is None:
        st.consults.pop(leg, None)
        out.append(Hangup(leg, "call-gone"))
        return
    call.consult_answered = True
    out.append(AddToBridge(call.bridge_id, (leg,)))
    out.append(Notify(call.agent_id or "", {"event": "consult", "call_id": call.id, "state": "talking",
                                            "target": call.consult_target}))


def consult_gone(st: AcdState, leg: str, now: float, out: Out, cause: str) -> None:
    """The consulted party hung up or never answered. After a completed transfer the caller's call ends;
    during the consultation the caller stays on hold until the operator returns."""
    call = st.calls.get(st.consults.pop(leg, ""))
    if call is None or call.consult_leg != leg:
        return
    call.consult_leg, call.consult_answered = None, False
    if call.status == "transferred":
        cf.end_connected(st, call, now, out, why="transfer-target-hangup", hang_caller=True, hang_agent=False)
        return
    out.append(Journal("call.consult_ended", {"leg_id": leg, "cause": cause}, call_id=call.id,
                       agent_id=call.agent_id, queue=call.queue))
    out.append(Notify(call.agent_id or "", {"event": "consult", "call_id": call.id, "state": "ended",
                                            "cause": cause}))


def complete(st: AcdState, agent_id: str, now: float, out: Out) -> None:
    """Hand the caller to the consulted party; the operator goes to wrap-up."""
    call = _connected(st, agent_id)
    if not call.consult_leg or not call.consult_answered:
        raise Conflict(f"agent {agent_id} has no answered consultation to complete")
    a = st.agents[agent_id]
    session = a.session and call.agent_leg == a.session_channel
    assert call.bridge_id is not None
    out.append(StopMoh(call.channel))
    call.held = False
    if session:  # the session's bridge stays the operator's: caller and consulted party move to their own
        bridge = f"callcore-xfer-{call.id}"
        out.append(RemoveFromBridge(call.bridge_id, (call.consult_leg,)))
        out.append(CreateBridge(bridge, "mixing"))
        out.append(AddToBridge(bridge, (call.channel, call.consult_leg)))
        call.bridge_id = bridge
    else:
        out.append(AddToBridge(call.bridge_id, (call.channel,)))
        if call.agent_leg:
            out.append(Hangup(call.agent_leg, "transferred"))
    if call.agent_leg:
        st.legs.pop(call.agent_leg, None)
    if call.recording:
        from callcore.acd.core.commands import StopRecording

        out.append(StopRecording(call.recording))
        call.recording = None
    cf.end_supervision(st, call, out)
    s = cf.stats(st, call.queue)
    s.transferred += 1
    s.talks.append(now - call.answered_at)
    out.append(Journal("call.transferred", {"attended": True, "to": call.consult_target},
                       call_id=call.id, agent_id=agent_id, queue=call.queue))
    call.status, call.agent_leg = "transferred", None
    q = st.queues.get(call.queue)
    out += ag.end_call(a, now, q.wrapup_time if q else 0.0)
    out.append(Notify(agent_id, {"event": "call_ended", "call_id": call.id, "why": "transferred"}))


def return_to_caller(st: AcdState, agent_id: str, now: float, out: Out) -> None:
    """End the consultation and talk to the caller again."""
    call = _connected(st, agent_id)
    if not call.consult_leg:
        raise Conflict(f"agent {agent_id} is not consulting")
    leg = call.consult_leg
    st.consults.pop(leg, None)
    call.consult_leg, call.consult_answered = None, False
    out.append(Hangup(leg, "consult-ended"))
    out.append(Journal("call.consult_ended", {"leg_id": leg, "cause": "returned"}, call_id=call.id,
                       agent_id=agent_id, queue=call.queue))
    resume(st, agent_id, now, out)


# --- manual dial ---------------------------------------------------------------------------------------


def dial(st: AcdState, ev: AgentDial, now: float, out: Out) -> None:
    a = agent(st, ev.agent_id)
    if a.state not in (AgentState.AVAILABLE, AgentState.PAUSED):
        raise Conflict(f"agent {a.id} is {a.state.value}: dial from ready or a pause")
    if ev.queue not in st.queues:
        raise NotFound(f"unknown queue {ev.queue!r}")
    if ev.queue not in a.config.memberships:
        raise InputError(f"agent {a.id} does not work on queue {ev.queue}", field="campaign")
    if a.id in st.dials.values():
        raise Conflict(f"agent {a.id} is already dialling")
    st.dials[ev.leg_id] = a.id
    out.append(OriginateAgent(ev.leg_id, ev.endpoint, ev.caller_id, 45, ("manual", ev.queue, a.id, ev.number)))
    out.append(Journal("call.manual_dial", {"number": ev.number, "leg_id": ev.leg_id}, agent_id=a.id,
                       queue=ev.queue, channel_id=ev.leg_id))
    out.append(Notify(a.id, {"event": "dial", "state": "ringing", "number": ev.number, "leg_id": ev.leg_id}))


def dial_answered(st: AcdState, channel: str) -> None:
    """The customer answered (the call then arrives in the queue for the agent)."""
    st.dials.pop(channel, None)


def dial_failed(st: AcdState, leg: str, cause: str, out: Out) -> None:
    aid = st.dials.pop(leg, None)
    if aid is not None:
        out.append(Journal("call.manual_dial_failed", {"leg_id": leg, "cause": cause}, agent_id=aid,
                           channel_id=leg))
        out.append(Notify(aid, {"event": "dial", "state": "failed", "cause": cause, "leg_id": leg}))


CONTROLS = {"hold": hold, "resume": resume, "hangup": hangup, "complete": complete, "return": return_to_caller}
