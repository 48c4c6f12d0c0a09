"""Caller-side flow: joining, offering, connecting, ending, overflow and dispatch."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from typing import Any

from callcore.acd.core import agent as ag
from callcore.acd.core import policy, routing
from callcore.acd.core.commands import (
    AddToBridge,
    CancelTimer,
    Command,
    ContinueInDialplan,
    CreateBridge,
    DestroyBridge,
    Hangup,
    Journal,
    Notify,
    OriginateAgent,
    Play,
    RemoveFromBridge,
    SetTimer,
    SetVariable,
    StartMoh,
    StartRecording,
    StopMoh,
    StopPlayback,
    StopRecording,
)
from callcore.acd.core.events import SHUTDOWN
from callcore.acd.core.index import CallKey
from callcore.acd.core.model import Agent, Call, QueueConfig
from callcore.acd.core.state import AcdState, QueueStats

Out = list[Command]
MOH_GUARD = 30.0  # an announcement that never reports its end gives MOH back after this long


BRIDGE_GRACE = 1.0  # a refused connecting bridge whose leaving party does not report itself: given up after


def bridge_timer(call_id: str) -> str:
    return f"bridge:{call_id}"


def call_bridge(call_id: str) -> str:
    return f"callcore-{call_id}"


def agent_bridge(agent_id: str) -> str:
    return f"callcore-agent-{agent_id}"


def _j(out: Out, type_: str, call: Call, **payload: Any) -> None:
    out.append(Journal(type_, payload, call_id=call.id, channel_id=call.channel, agent_id=call.agent_id,
                       queue=call.queue))


def stats(st: AcdState, queue: str) -> QueueStats:
    return st.stats.setdefault(queue, QueueStats())


def is_empty(st: AcdState, queue: str, policy_: str) -> bool:
    if policy_ == "never":
        return False
    if policy_ == "no_members":
        return not st.present(queue)
    return not st.staffed(queue)


def arm_call_timers(call: Call, q: QueueConfig, now: float, out: Out) -> None:
    if q.max_wait > 0:
        out.append(SetTimer(f"maxwait:{call.id}", call.queue_entered_at + q.max_wait))
    if q.announce_position_every > 0:
        out.append(SetTimer(f"announce:{call.id}", now + q.announce_position_every))
    arm_relax(call, q, now, out)


def arm_relax(call: Call, q: QueueConfig, now: float, out: Out) -> None:
    at = routing.next_relax_time(call, q, now)
    call.next_relax = at
    if at is not None:
        out.append(SetTimer(f"relax:{call.id}", at))


def cancel_call_timers(call: Call, out: Out) -> None:
    for k in ("maxwait", "announce", "relax", "moh"):
        out.append(CancelTimer(f"{k}:{call.id}"))


def stop_announcement(st: AcdState, call: Call, out: Out) -> None:
    if call.announcing is not None:
        out.append(StopPlayback(call.announcing))
        st.playbacks.pop(call.announcing, None)
        call.announcing = None
        out.append(CancelTimer(f"moh:{call.id}"))


def withdraw_offers(st: AcdState, call: Call, now: float, out: Out, *, keep: str | None = None) -> None:
    """Cancel every ringing agent leg of ``call`` (except ``keep``); those agents become available again."""
    for leg, aid in list(call.legs.items()):
        if leg == keep:
            continue
        del call.legs[leg]
        st.legs.pop(leg, None)
        out.append(CancelTimer(f"ring:{leg}"))
        out.append(Hangup(leg, "offer-withdrawn"))
        a = st.agents.get(aid)
        if a is not None and a.leg_id == leg:
            out += ag.release(a, now, missed=False)


def remove_call(st: AcdState, call: Call, now: float, out: Out) -> None:
    """Forget a waiting call: timers, offers and announcement go with it."""
    cancel_call_timers(call, out)
    withdraw_offers(st, call, now, out)
    stop_announcement(st, call, out)
    call.status = "ended"
    st.calls.pop(call.id, None)


def abandon(st: AcdState, call: Call, now: float, out: Out, why: str = "hangup",
            ended_at: float | None = None) -> None:
    """``ended_at``: when the caller was last known alive, for a caller found gone after an outage."""
    s = stats(st, call.queue)
    s.abandoned += 1
    q = st.queues.get(call.queue)
    waited = max(0.0, (now if ended_at is None else ended_at) - call.queue_entered_at)
    if q is None or waited > q.service_level_threshold:
        s.abandoned_after_sl += 1
    extra = {} if ended_at is None else {"ended_at": ended_at}
    _j(out, "call.abandoned", call, wait=waited, position=st.position(call), why=why, **extra)
    remove_call(st, call, now, out)


def close_on_shutdown(st: AcdState, call: Call, now: float, out: Out) -> None:
    """Asterisk hung the waiting caller up because it is shutting down: neither an abandon nor an answer."""
    _j(out, "call.closed", call, outcome=SHUTDOWN, wait=now - call.queue_entered_at, why=SHUTDOWN)
    remove_call(st, call, now, out)


def overflow(st: AcdState, call: Call, now: float, out: Out, reason: str) -> None:
    """Send the caller to the queue's overflow destination, or back to the dialplan after Stasis()."""
    q = st.queues.get(call.queue)
    dest = q.overflow if q else None
    stats(st, call.queue).overflowed += 1
    _j(out, "call.overflowed", call, reason=reason, wait=now - call.queue_entered_at,
       destination=f"{dest.kind}:{dest.target or dest.context}" if dest else "dialplan")
    if dest is not None and dest.kind == "queue" and dest.target in st.queues and dest.target != call.queue:
        move_to_queue(st, call, dest.target, now, out, why=f"overflow:{reason}")
        return
    remove_call(st, call, now, out)
    leave_to_dialplan(call, q, reason, out)


def leave_to_dialplan(call: Call, q: QueueConfig | None, reason: str, out: Out) -> None:
    out.append(SetVariable(call.channel, "CALLCORE_QUEUE_STATUS", reason.upper()))
    out.append(StopMoh(call.channel))
    dest = q.overflow if q else None
    if dest is not None and dest.kind == "dialplan":
        out.append(ContinueInDialplan(call.channel, dest.context, dest.exten, dest.priority))
    elif dest is not None and dest.kind == "voicemail" and q is not None:
        out.append(ContinueInDialplan(call.channel, q.voicemail_context, dest.target, 1))
    else:
        out.append(ContinueInDialplan(call.channel))


def move_to_queue(st: AcdState, call: Call, target: str, now: float, out: Out, *, why: str) -> None:
    """Re-enter ``target`` keeping the original entry time (its place among equal priorities);
    max wait and skill relaxation restart from now."""
    cancel_call_timers(call, out)
    withdraw_offers(st, call, now, out)
    old = call.queue
    call.queue = target
    call.queue_entered_at = now
    call.status = "waiting"
    call.tried.clear()
    call.agent_id = call.agent_leg = call.bridge_id = None
    q = st.queues[target]
    stats(st, target).offered += 1
    out.append(StartMoh(call.channel, q.moh_class))
    _j(out, "call.queued", call, from_queue=old, why=why, priority=call.priority)
    arm_call_timers(call, q, now, out)


def offer(st: AcdState, call: Call, agents: list[Agent], now: float, out: Out) -> None:
    q = st.queues[call.queue]
    for a in agents:
        call.tried.add(a.id)
        st.rr_last[q.name] = a.id
        if a.session:
            connect(st, call, a, a.session_channel or "", now, out)
            return
        leg = f"{call.id}-{a.id}-{st.next_seq()}"
        out += ag.reserve(a, now, call.id, leg, q.name)
        call.legs[leg] = a.id
        st.legs[leg] = call.id
        caller_id = f'"{call.caller_name}" <{call.caller_number}>' if call.caller_name else call.caller_number
        out.append(OriginateAgent(leg, a.endpoint, caller_id, q.ring_timeout, ("agent", call.id, a.id)))
        out.append(SetTimer(f"ring:{leg}", now + q.ring_timeout))
        _j(out, "call.offered", call, agent=a.id, leg_id=leg)


def call_info(st: AcdState, call: Call, now: float) -> dict[str, Any]:
    q = st.queues.get(call.queue)
    values: dict[str, Any] = {**call.data, "caller_number": call.caller_number,
                              "caller_name": call.caller_name, "queue": call.queue, "call_id": call.id}
    a = st.agents.get(call.agent_id or "")
    if a is not None:
        values.setdefault("agent_name", a.config.name)
    return {
        "call_id": call.id, "queue": call.queue, "caller_number": call.caller_number,
        "caller_name": call.caller_name, "priority": call.priority, "data": dict(call.data),
        "wait": (call.answered_at or now) - call.queue_entered_at, "entered_at": call.entered_at,
        # an outbound campaign's own script (passed with the call's data) wins over the queue's
        "script": policy.render_script(str(call.data.get("campaign_script") or (q.script if q else "")), values),
        "dispositions": list(q.dispositions) if q else [],
        "answered_at": call.answered_at or None, "held": call.held,
    }


def connect(st: AcdState, call: Call, a: Agent, leg: str, now: float, out: Out) -> None:
    """Bridge the caller with the agent (a freshly answered leg, or the agent's session channel)."""
    q = st.queues[call.queue]
    cancel_call_timers(call, out)
    stop_announcement(st, call, out)
    withdraw_offers(st, call, now, out, keep=leg)
    call.legs.pop(leg, None)
    out.append(CancelTimer(f"ring:{leg}"))
    call.status = "connected"
    call.bridged = False
    call.agent_id, call.agent_leg, call.answered_at = a.id, leg, now
    # the caller joins first and MOH stops right after (the same caller lane keeps them in order): the
    # operator hears the caller one round trip sooner
    if a.session:
        call.bridge_id = agent_bridge(a.id)
        out.append(AddToBridge(call.bridge_id, (call.channel,), confirm=call.id))
        out.append(StopMoh(call.channel))
        out.append(Play(leg, ("sound:beep",), f"{call.id}-beep"))
    else:
        st.legs[leg] = call.id
        call.bridge_id = call_bridge(call.id)
        out.append(CreateBridge(call.bridge_id, "mixing"))
        out.append(AddToBridge(call.bridge_id, (call.channel, leg), confirm=call.id))
        out.append(StopMoh(call.channel))
    out += ag.connect(a, now, call.id, leg, q.name)


def bridged(st: AcdState, call: Call, now: float, out: Out) -> None:
    """Asterisk confirmed the bridge holds caller and agent: only now is the call answered (journal, service
    level, recording, the operator's call card)."""
    if call.status != "connected" or call.bridged:
        return
    call.bridged = True
    out.append(CancelTimer(bridge_timer(call.id)))
    q = st.queues.get(call.queue)
    wait = call.answered_at - call.queue_entered_at
    s = stats(st, call.queue)
    s.answered += 1
    s.waits.append(wait)
    if q is not None and wait <= q.service_level_threshold:
        s.answered_in_sl += 1
    if q is not None and call.bridge_id and policy.should_record(q.recording, call.id):
        call.recording = f"{q.name}-{call.id}"
        out.append(StartRecording(call.bridge_id, call.recording))
    _j(out, "call.answered", call, wait=wait, leg_id=call.agent_leg, recording=call.recording)
    if call.agent_id:
        out.append(Notify(call.agent_id, {"event": "call", **call_info(st, call, now)}))


def unbridged(call: Call) -> bool:
    return call.status == "connected" and not call.bridged


def bridge_lost(st: AcdState, call: Call, now: float, out: Out, *, why: str, missed: bool) -> None:
    """The agent side went away between the agent's answer and the bridge: the call was never answered. The
    caller goes back to its place in line (original entry time; other agents are tried first), the agent
    counts a miss when ``missed``."""
    a = st.agents.get(call.agent_id or "")
    leg = call.agent_leg
    session = a is not None and a.session and leg == a.session_channel
    _j(out, "call.bridge_failed", call, agent=call.agent_id, leg_id=leg, why=why)
    out.append(CancelTimer(bridge_timer(call.id)))
    if not session:
        if leg:
            out.append(Hangup(leg, why))
        if call.bridge_id:
            out.append(DestroyBridge(call.bridge_id))
    elif call.bridge_id and leg in st.sessions:
        out.append(RemoveFromBridge(call.bridge_id, (call.channel,)))
    if leg:
        st.legs.pop(leg, None)
    end_supervision(st, call, out)
    q = st.queues.get(call.queue)
    if a is not None and a.call_id == call.id:
        out += ag.abort_call(a, now, missed=missed, max_no_answer=q.max_no_answer if q else 0)
    call.status = "waiting"
    call.agent_id = call.agent_leg = call.bridge_id = None
    call.answered_at = 0.0
    if q is None:
        call.status = "ended"
        st.calls.pop(call.id, None)
        leave_to_dialplan(call, None, "removed", out)
        return
    out.append(StartMoh(call.channel, q.moh_class))
    # back in line, not a new entry into the queue (no call.queued: reports and queue_log count entries)
    _j(out, "call.requeued", call, why=why, priority=call.priority, entered_at=call.entered_at)
    arm_call_timers(call, q, now, out)


def caller_left_unbridged(st: AcdState, call: Call, now: float, out: Out) -> None:
    """The caller hung up between the agent's answer and the bridge: an abandon, not an answered call; the
    agent is free again at once (no wrap-up, no miss)."""
    a = st.agents.get(call.agent_id or "")
    leg = call.agent_leg
    session = a is not None and a.session and leg == a.session_channel
    out.append(CancelTimer(bridge_timer(call.id)))
    if not session:
        if leg:
            out.append(Hangup(leg, "caller-gone"))
        if call.bridge_id:
            out.append(DestroyBridge(call.bridge_id))
    if leg:
        st.legs.pop(leg, None)
    end_supervision(st, call, out)
    if a is not None and a.call_id == call.id:
        out += ag.abort_call(a, now, missed=False)
        out.append(Notify(a.id, {"event": "call_ended", "call_id": call.id, "why": "caller-hangup"}))
    call.agent_id = call.agent_leg = call.bridge_id = None
    call.status = "waiting"
    abandon(st, call, now, out, why="hangup-before-bridge")


def end_connected(st: AcdState, call: Call, now: float, out: Out, *, why: str,
                  hang_caller: bool, hang_agent: bool, ended_at: float | None = None) -> None:
    """The conversation is over: tear down, talk-time stats, agent into the queue's wrap-up. ``ended_at``:
    when the conversation was last known alive, for one found gone after an outage (talk ends there)."""
    talk = max(0.0, (now if ended_at is None else ended_at) - call.answered_at)
    if call.status != "transferred":  # an attended transfer counted the operator's talk when she left
        stats(st, call.queue).talks.append(talk)
    if call.consult_leg:
        st.consults.pop(call.consult_leg, None)
        out.append(Hangup(call.consult_leg, why))
        call.consult_leg = None
    if call.recording:
        out.append(StopRecording(call.recording))
    a = st.agents.get(call.agent_id or "")
    session = a is not None and a.session and call.agent_leg == a.session_channel
    if hang_caller:
        out.append(Hangup(call.channel, why))
    # a caller who hung up has left the session bridge already (Asterisk would answer 400 to removing it)
    if not session:
        if hang_agent and call.agent_leg:
            out.append(Hangup(call.agent_leg, why))
        if call.bridge_id:
            out.append(DestroyBridge(call.bridge_id))
    if call.agent_leg:
        st.legs.pop(call.agent_leg, None)
    end_supervision(st, call, out)
    _j(out, "call.ended", call, talk=talk, why=why, **({} if ended_at is None else {"ended_at": ended_at}))
    call.status = "ended"
    st.calls.pop(call.id, None)
    if a is not None and a.call_id == call.id:
        q = st.queues.get(call.queue)
        out += ag.end_call(a, now, q.wrapup_time if q else 0.0)
        out.append(Notify(a.id, {"event": "call_ended", "call_id": call.id, "why": why}))


def end_supervision(st: AcdState, call: Call, out: Out) -> None:
    for leg, sup in list(st.supervisors.items()):
        if sup.call_id == call.id:
            drop_supervisor(st, leg, out)


def drop_supervisor(st: AcdState, leg: str, out: Out) -> None:
    sup = st.supervisors.pop(leg, None)
    if sup is None:
        return
    out.append(Hangup(leg, "supervision-ended"))
    if sup.snoop_id:
        out.append(Hangup(sup.snoop_id, "supervision-ended"))
        out.append(DestroyBridge(sup.bridge_id))


def announce(st: AcdState, call: Call, now: float, out: Out) -> None:
    q = st.queues.get(call.queue)
    if q is None or call.status != "waiting" or q.announce_position_every <= 0:
        return
    out.append(SetTimer(f"announce:{call.id}", now + q.announce_position_every))
    if call.announcing is not None:
        return
    pos = st.position(call)
    ewt = None
    if q.announce_holdtime:
        ewt = policy.estimated_wait(pos, st.staffed(q.name), stats(st, q.name).avg_handle(q.wrapup_time))
    pid = f"{call.id}-ann-{st.next_seq()}"
    call.announcing = pid
    st.playbacks[pid] = call.id
    out.append(StopMoh(call.channel))
    out.append(Play(call.channel, policy.announcement(pos, ewt), pid))
    out.append(SetTimer(f"moh:{call.id}", now + MOH_GUARD))
    _j(out, "call.announced", call, position=pos, estimated_wait=ewt)


def announcement_over(st: AcdState, call: Call, out: Out) -> None:
    if call.announcing is None:
        return
    st.playbacks.pop(call.announcing, None)
    call.announcing = None
    out.append(CancelTimer(f"moh:{call.id}"))
    if call.status == "waiting":
        q = st.queues.get(call.queue)
        out.append(StartMoh(call.channel, q.moh_class if q else "default"))


def _global_key(st: AcdState, queue: str, key: CallKey) -> tuple[int, int, float, int, str]:
    return (-st.queue_weight(queue), *key)


def dispatch(st: AcdState, now: float, out: Out) -> None:
    """Offer waiting calls to available agents, then apply leave-empty policies.

    Only what changed is looked at (``callcore.acd.core.index``): the queues that gained an offerable agent
    and the waiting calls that changed. Within a pass those calls are visited in service order (queue
    weight, priority, arrival), each taking its best agent, as if every waiting call had been visited; a
    queue is left as soon as it has no offerable agent. A pass can free agents (a session agent taking a
    ring-all call cancels the other legs): calls after the current one see them in the same pass, the
    others in the next one.

    Leave-empty: the queues whose staffing or line changed are checked in order of name, each
    emptied queue's callers (without a ringing leg) in service order. Callers it sends to another queue
    are offered there in the same event, and that queue is checked in turn; a queue that already sent its
    callers away in this event is checked again at the next one (an overflow cycle of empty queues moves
    a caller one round per event instead of looping)."""
    ix = st.index
    st.sync()
    ix.relaxed(st, now)
    emptied: set[str] = set()
    for _ in range(len(st.queues) + 1):
        _route(st, now, out)
        if not _leave_empty(st, emptied, now, out):
            break
    # left in ix.check_empty: queues that already sent callers away and changed again, for the next event


def _leave_empty(st: AcdState, emptied: set[str], now: float, out: Out) -> bool:
    """One sweep, by queue name, of the queues marked for a leave-empty check (a set: its own order depends
    on the hash seed, the core's output must not): an empty queue's callers leave it in service order. A
    caller sent to a queue later in the sweep is seen there in the same sweep, to an earlier one in the
    next. Returns whether any caller left."""
    ix = st.index
    heap: list[str] = []

    def take(after: str) -> None:
        due = [n for n in ix.check_empty if n not in emptied and n > after]
        ix.check_empty.difference_update(due)
        for n in due:
            if n in st.queues:  # (a queue no longer configured is dropped)
                heapq.heappush(heap, n)

    take("")
    left = False
    while heap:
        name = heapq.heappop(heap)
        q = st.queues[name]
        if q.leave_empty != "never" and ix.queues.get(name) is not None and ix.queues[name].waiting \
                and is_empty(st, name, q.leave_empty):
            leaving = [call for call in st.waiting(name) if not call.legs]
            if leaving:
                emptied.add(name)
                left = True
            for call in leaving:
                overflow(st, call, now, out, "leaveempty")
            st.sync()
            take(name)
    return left


def _route(st: AcdState, now: float, out: Out) -> None:
    """Routing passes until no queue or waiting call is left marked as changed."""
    ix = st.index
    for _ in range(len(st.calls) + len(st.agents) + 2):
        st.sync()
        queues, ix.dirty_queues = ix.dirty_queues, set()
        singles, ix.dirty_calls = ix.dirty_calls, set()
        if not queues and not singles:
            break
        _pass(st, queues, singles, now, out)
    st.sync()
    ix.dirty_queues.clear()
    ix.dirty_calls.clear()


def _pass(st: AcdState, queues: set[str], singles: set[str], now: float, out: Out) -> None:
    ix = st.index
    # heap items: (global key, kind, queue): kind 0 = a queue's cursor (the rest of its line follows),
    # kind 1 = one changed call
    heap: list[tuple[tuple[int, int, float, int, str], int, str]] = []
    cursors: set[str] = set()

    def push_queue(name: str, after: tuple[int, int, float, int, str] | None) -> None:
        qi = ix.queues.get(name)
        if qi is None or not qi.offerable or not qi.waiting or name in cursors or name not in st.queues:
            return
        i = 0 if after is None else bisect_right(qi.waiting, after[1:])
        if i < len(qi.waiting):
            cursors.add(name)
            heapq.heappush(heap, (_global_key(st, name, qi.waiting[i]), 0, name))

    for name in queues:
        push_queue(name, None)
    for cid in singles:
        key = ix.filed_key(cid)
        call = st.calls.get(cid)
        if key is not None and call is not None and call.queue not in cursors:
            heapq.heappush(heap, (_global_key(st, call.queue, key), 1, call.queue))
    done: set[str] = set()
    while heap:
        gkey, kind, name = heapq.heappop(heap)
        cid = gkey[-1]
        if kind == 0:
            cursors.discard(name)
        call = st.calls.get(cid)
        if cid not in done and call is not None and call.status == "waiting" and call.queue == name:
            done.add(cid)
            q = st.queues.get(name)
            if q is not None and not (call.legs and q.strategy != "ring-all"):
                agents = routing.choose(st, call, now)
                if agents:
                    offer(st, call, agents, now, out)
                    st.sync()
                    for freed in ix.dirty_queues:  # agents freed by the offer: later calls see them now
                        push_queue(freed, gkey)
        if kind == 0:
            push_queue(name, gkey)
