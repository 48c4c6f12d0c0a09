"""Call controls an operator uses during a connected call: hold and resume (music to the caller) and hang up.

Pure core functions, called by ``Engine.handle``; they raise ``Conflict`` when the agent is not on a call.
"""

from __future__ import annotations

from callcore.acd.core import calls as cf
from callcore.acd.core.commands import AddToBridge, Command, Journal, Notify, RemoveFromBridge, StartMoh, StopMoh
from callcore.acd.core.model import AgentState, Call
from callcore.acd.core.requests import agent
from callcore.acd.core.state import AcdState
from callcore.errors import Conflict

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


CONTROLS = {"hold": hold, "resume": resume, "hangup": hangup}
