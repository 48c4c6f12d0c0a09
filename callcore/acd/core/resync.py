"""Re-adoption after a websocket reconnect or a restart.

``Resync.channels`` lists every channel Asterisk reports (with its Stasis arguments when known). Callers
still in Stasis get their place back (entry time from the journal, else the channel's creation time),
conversations still bridged are adopted, agents left reserved/on a call without a live channel are
released, and every waiting caller gets music on hold again.
"""

from __future__ import annotations

from callcore.acd.core import agent as ag
from callcore.acd.core import calls as cf
from callcore.acd.core.commands import (
    AddToBridge,
    Command,
    CreateBridge,
    DestroyBridge,
    Hangup,
    Journal,
    RemoveFromBridge,
    StartMoh,
    StopRecording,
)
from callcore.acd.core.events import LiveChannel, Resync
from callcore.acd.core.model import Agent, AgentState, Call
from callcore.acd.core.requests import session_agent, session_disconnected
from callcore.acd.core.state import AcdState

Out = list[Command]
S = AgentState
SUP_BRIDGE = "callcore-sup-"


def _priority(args: tuple[str, ...]) -> int:
    try:
        return int(args[2]) if len(args) > 2 else 0
    except ValueError:
        return 0


def resync(st: AcdState, ev: Resync, now: float, out: Out) -> None:
    live = {c.channel_id: c for c in ev.channels}
    in_bridge = {ch: b for b, chans in ev.bridges.items() for ch in chans}
    out.append(Journal("acd.resync", {"channels": len(live), "bridges": len(ev.bridges)}))

    for p in ev.agents:
        a = st.agents.get(p.agent_id)
        if a is not None and a.state is S.LOGGED_OUT:
            a.endpoint = p.endpoint or a.endpoint or a.config.endpoint
            out += ag.restore(a, now, p.state, p.pause_reason)

    for ch in list(st.sessions):
        if ch not in live:
            session_disconnected(st, ch, now, out)
    for c in live.values():
        if len(c.args) >= 2 and c.args[0] == "agent-login":
            _adopt_session(st, c, in_bridge, now, out)

    for call in list(st.calls.values()):
        _check_known(st, call, live, in_bridge, now, out, ev.lost_at)

    for c in live.values():
        if len(c.args) >= 2 and c.args[0] == "inbound" and c.channel_id not in st.calls:
            _adopt_caller(st, ev, c, live, in_bridge, now, out)

    adopted_legs = {c.agent_leg for c in st.calls.values()} | set(st.legs) | set(st.supervisors)
    for c in live.values():
        if c.args[:1] in (("agent",), ("supervisor",)) and c.channel_id not in adopted_legs:
            out.append(Hangup(c.channel_id, "orphaned"))
        elif c.args[:1] == ("snoop",) and (c.args[1:2] or ("",))[0] not in st.supervisors:
            out.append(Hangup(c.channel_id, "orphaned"))  # a snoop whose supervisor's leg is gone

    for a in st.agents.values():
        _release_if_stuck(st, a, now, out)
    _destroy_stale_bridges(st, ev, out)


def _destroy_stale_bridges(st: AcdState, ev: Resync, out: Out) -> None:
    """Session bridges whose operator has no live session any more, and supervision bridges of no live
    supervision, are left over from before the outage: Asterisk keeps an application's bridges until the
    application destroys them."""
    sessions = {cf.agent_bridge(a.id) for a in st.agents.values() if a.session_channel is not None}
    supervisions = {s.bridge_id for s in st.supervisors.values()}
    for bridge in ev.bridges:
        if bridge.startswith(cf.agent_bridge("")) and bridge not in sessions:
            out.append(DestroyBridge(bridge))
        elif bridge.startswith(SUP_BRIDGE) and bridge not in supervisions:
            out.append(DestroyBridge(bridge))


def _adopt_session(st: AcdState, c: LiveChannel, in_bridge: dict[str, str], now: float, out: Out) -> None:
    a = session_agent(st, c.args[1])
    if a is None:
        out.append(Journal("agent.session_refused", {"login": c.args[1]}, channel_id=c.channel_id))
        out.append(Hangup(c.channel_id, "unknown-agent"))
        return
    if a.session_channel == c.channel_id:
        return
    bridge = cf.agent_bridge(a.id)
    st.sessions[c.channel_id] = a.id
    a.session_channel = c.channel_id
    if in_bridge.get(c.channel_id) != bridge:
        out += [CreateBridge(bridge, "mixing"), AddToBridge(bridge, (c.channel_id,))]
    if a.state is S.LOGGED_OUT:
        out += ag.login(a, now)


def _check_known(st: AcdState, call: Call, live: dict[str, LiveChannel], in_bridge: dict[str, str], now: float,
                 out: Out, lost_at: float | None = None) -> None:
    if call.channel not in live:
        if call.status == "waiting":
            cf.abandon(st, call, now, out, why="gone-during-outage", ended_at=lost_at)
        elif cf.unbridged(call):
            cf.caller_left_unbridged(st, call, now, out)
        else:
            cf.end_connected(st, call, now, out, why="caller-gone", hang_caller=False, hang_agent=True,
                             ended_at=lost_at)
        return
    if call.status == "connected":
        if call.agent_leg not in live:
            if call.bridged:
                _requeue_after_agent_loss(st, call, now, out)
            else:
                cf.bridge_lost(st, call, now, out, why="agent-gone-before-bridge", missed=True)
        elif not call.bridged and call.bridge_id is not None:
            # the connecting bridge's answer was lost with the connection: Asterisk's bridges tell
            members = in_bridge.get(call.channel), in_bridge.get(call.agent_leg or "")
            if members[0] == call.bridge_id and (members[1] == call.bridge_id or call.agent_leg in st.sessions):
                cf.bridged(st, call, now, out)
            else:
                cf.bridge_lost(st, call, now, out, why="bridge-lost-in-outage", missed=False)
        return
    for leg, aid in list(call.legs.items()):
        if leg not in live:
            del call.legs[leg]
            st.legs.pop(leg, None)
            a = st.agents.get(aid)
            if a is not None and a.leg_id == leg:
                out += ag.release(a, now, missed=False)
    if call.announcing is not None:
        st.playbacks.pop(call.announcing, None)
        call.announcing = None
    q = st.queues.get(call.queue)
    out.append(StartMoh(call.channel, q.moh_class if q else "default"))


def _requeue_after_agent_loss(st: AcdState, call: Call, now: float, out: Out) -> None:
    """The agent side vanished: the agent goes to wrap-up, the caller back to its place in line."""
    a = st.agents.get(call.agent_id or "")
    session = a is not None and call.agent_leg == a.session_channel
    if call.recording:
        out.append(StopRecording(call.recording))
        call.recording = None
    if call.bridge_id:
        if session:
            out.append(RemoveFromBridge(call.bridge_id, (call.channel,)))
        else:
            out.append(DestroyBridge(call.bridge_id))
    if call.agent_leg:
        st.legs.pop(call.agent_leg, None)
    cf.end_supervision(st, call, out)
    if a is not None and a.call_id == call.id:
        q = st.queues.get(call.queue)
        out += ag.end_call(a, now, q.wrapup_time if q else 0.0)
    entered = call.entered_at
    queue_entered = call.queue_entered_at
    out.append(Journal("call.requeued", {"why": "agent-gone"}, call_id=call.id, queue=call.queue))
    if call.queue in st.queues:
        cf.move_to_queue(st, call, call.queue, now, out, why="agent-gone")
        call.entered_at, call.queue_entered_at = entered, queue_entered
    else:
        st.calls.pop(call.id, None)
        cf.leave_to_dialplan(call, None, "removed", out)


def _adopt_caller(st: AcdState, ev: Resync, c: LiveChannel, live: dict[str, LiveChannel],
                  in_bridge: dict[str, str], now: float, out: Out) -> None:
    queue = c.args[1]
    entered = ev.entered_at.get(c.channel_id, c.created_at or now)
    call = Call(c.channel_id, c.channel_id, queue, _priority(c.args), c.caller_number, c.caller_name,
                entered, entered, st.next_seq())
    q = st.queues.get(queue)
    if q is None:
        cf.leave_to_dialplan(call, None, "unknown", out)
        return
    bridge = in_bridge.get(c.channel_id)
    if bridge is not None:
        partner = _bridged_agent(st, bridge, c.channel_id, live, ev)
        if partner is not None:
            a, leg = partner
            st.calls[call.id] = call
            st.legs[leg] = call.id
            call.status = "connected"
            call.bridged = True  # found in one bridge with its agent
            call.agent_id, call.agent_leg, call.bridge_id, call.answered_at = a.id, leg, bridge, now
            if a.state is S.LOGGED_OUT:
                out += ag.login(a, now)
            if a.state is S.PAUSED:
                a.pending, a.pending_reason, a.state = "pause", a.pause_reason, S.AVAILABLE
            out += ag.connect(a, now, call.id, leg, queue)
            out.append(Journal("call.readopted", {"connected": True, "agent": a.id}, call_id=call.id,
                               channel_id=call.channel, agent_id=a.id, queue=queue))
            return
        out.append(RemoveFromBridge(bridge, (c.channel_id,)))
    st.calls[call.id] = call
    out.append(StartMoh(call.channel, q.moh_class))
    out.append(Journal("call.readopted", {"connected": False, "entered_at": entered}, call_id=call.id,
                       channel_id=call.channel, queue=queue))
    cf.arm_call_timers(call, q, now, out)


def _bridged_agent(st: AcdState, bridge: str, caller: str, live: dict[str, LiveChannel],
                   ev: Resync) -> tuple[Agent, str] | None:
    for other in ev.bridges.get(bridge, ()):
        if other == caller or other not in live:
            continue
        args = live[other].args
        aid = st.sessions.get(other)
        if aid is None and len(args) >= 3 and args[0] == "agent" and args[1] == caller:
            aid = args[2]
        a = st.agents.get(aid or "")
        if a is not None and a.state in (S.AVAILABLE, S.LOGGED_OUT, S.PAUSED):
            return a, other
    return None


def _release_if_stuck(st: AcdState, a: Agent, now: float, out: Out) -> None:
    if a.state is S.RESERVED and (a.leg_id is None or a.leg_id not in st.legs):
        out += ag.release(a, now, missed=False)
    elif a.state is S.ON_CALL:
        call = st.calls.get(a.call_id or "")
        if call is None or call.agent_id != a.id or call.status != "connected":
            q = st.queues.get(a.call_queue or "")
            out += ag.end_call(a, now, q.wrapup_time if q else 0.0)
