"""The agent state machine.

States: logged_out, available, reserved (a call is being offered), on_call, wrap_up, paused(reason).
Every transition returns the journal entry and the operator notification it causes. A pause or logout
asked for while reserved/on a call is kept pending and applied after the call's wrap-up, so wrap-up is
never skipped and the pause reason is never lost.
"""

from __future__ import annotations

from typing import Any

from callcore.acd.core.commands import CancelTimer, Command, Journal, Notify, SetTimer
from callcore.acd.core.model import Agent, AgentState
from callcore.errors import Conflict

S = AgentState


def wrapup_timer(agent_id: str) -> str:
    return f"wrapup:{agent_id}"


def describe(agent: Agent, now: float | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "agent_id": agent.id,
        "name": agent.config.name,
        "state": agent.state.value,
        "pause_reason": agent.pause_reason if agent.state is S.PAUSED else "",
        "since": agent.since,
        "mode": "session" if agent.session else "ring",
        "endpoint": agent.endpoint,
        "registered": agent.registered is True,
        "call_id": agent.call_id,
        "queue": agent.call_queue,
        "pending": agent.pending,
        "misses": agent.misses,
    }
    if agent.state is S.WRAP_UP:
        d["wrapup_until"] = agent.wrapup_until
    if now is not None:
        d["in_state_seconds"] = max(0.0, now - agent.since)
    return d


def _go(agent: Agent, state: AgentState, now: float, why: str, **extra: Any) -> list[Command]:
    old = agent.state
    agent.state = state
    agent.since = now
    if state is S.AVAILABLE:
        agent.idle_since = now
    if state is not S.PAUSED:
        agent.pause_reason = ""
    payload: dict[str, Any] = {"from": old.value, "to": state.value, "why": why, **extra}
    if state is S.PAUSED:
        payload["reason"] = agent.pause_reason
    return [
        Journal("agent.state", payload, call_id=agent.call_id, agent_id=agent.id, queue=agent.call_queue),
        Notify(agent.id, {"event": "state", **describe(agent)}),
    ]


def login(agent: Agent, now: float, endpoint: str | None = None) -> list[Command]:
    if endpoint:
        agent.endpoint = endpoint
    elif agent.state is S.LOGGED_OUT or not agent.endpoint:
        # a new session rings the configured device (an endpoint given at an earlier login was for that one)
        agent.endpoint = agent.config.endpoint or agent.endpoint
    if agent.state is not S.LOGGED_OUT:
        return []
    agent.misses = 0
    agent.pending = None
    return _go(agent, S.AVAILABLE, now, "login", endpoint=agent.endpoint)


def logout(agent: Agent, now: float, why: str = "logout") -> list[Command]:
    if agent.state is S.LOGGED_OUT:
        return []
    if agent.state in (S.ON_CALL, S.RESERVED):
        raise Conflict(f"agent {agent.id} is {agent.state.value}; log out after the call")
    out: list[Command] = [CancelTimer(wrapup_timer(agent.id))] if agent.state is S.WRAP_UP else []
    agent.pending = None
    agent.call_id = agent.call_queue = agent.leg_id = None
    return out + _go(agent, S.LOGGED_OUT, now, why)


def pause(agent: Agent, now: float, reason: str) -> list[Command]:
    """From available/wrap_up/paused: paused now. From on_call: pending until the wrap-up is over."""
    if agent.state is S.LOGGED_OUT:
        raise Conflict(f"agent {agent.id} is not logged in")
    if agent.state in (S.ON_CALL, S.RESERVED):
        agent.pending = "pause"
        agent.pending_reason = reason
        return [Journal("agent.pause_pending", {"reason": reason}, agent_id=agent.id),
                Notify(agent.id, {"event": "state", **describe(agent)})]
    out: list[Command] = []
    if agent.state is S.WRAP_UP:
        out.append(CancelTimer(wrapup_timer(agent.id)))
        agent.call_id = agent.call_queue = None
    agent.pause_reason = reason
    return out + _go(agent, S.PAUSED, now, "pause")


def ready(agent: Agent, now: float) -> list[Command]:
    if agent.state is S.LOGGED_OUT:
        raise Conflict(f"agent {agent.id} is not logged in")
    if agent.state in (S.ON_CALL, S.RESERVED):
        agent.pending = None
        return [Notify(agent.id, {"event": "state", **describe(agent)})]
    if agent.pending == "pause":
        agent.pending = None  # an explicit "ready" supersedes a pause asked for during the call
    if agent.state is S.AVAILABLE:
        return []
    out: list[Command] = []
    if agent.state is S.WRAP_UP:
        out.append(CancelTimer(wrapup_timer(agent.id)))
    agent.call_id = agent.call_queue = None
    agent.misses = 0
    return out + _go(agent, S.AVAILABLE, now, "ready")


def reserve(agent: Agent, now: float, call_id: str, leg_id: str, queue: str) -> list[Command]:
    if agent.state is not S.AVAILABLE:
        raise Conflict(f"agent {agent.id} is {agent.state.value}, not available")
    agent.call_id, agent.leg_id, agent.call_queue = call_id, leg_id, queue
    return _go(agent, S.RESERVED, now, "offer", leg_id=leg_id)


def _after_call(agent: Agent, now: float, why: str) -> list[Command]:
    """Leave a call or reservation: apply a pending pause/logout or become available."""
    pending, reason = agent.pending, agent.pending_reason
    agent.pending = None
    agent.leg_id = None
    agent.call_id = agent.call_queue = None
    if pending == "logout":
        return _go(agent, S.LOGGED_OUT, now, why)
    if pending == "pause":
        agent.pause_reason = reason
        return _go(agent, S.PAUSED, now, why)
    return _go(agent, S.AVAILABLE, now, why)


def release(agent: Agent, now: float, *, missed: bool, max_no_answer: int = 0,
            reason: str = "no-answer") -> list[Command]:
    """The offer ended without a connection; ``missed`` counts towards the auto-pause, whose reason is
    ``reason`` (``no-answer``, or ``unreachable`` when the device could not even be called)."""
    if agent.state is not S.RESERVED:
        return []
    if missed:
        agent.misses += 1
        if max_no_answer and agent.misses >= max_no_answer:
            agent.pending = "pause"
            agent.pending_reason = reason
    return _after_call(agent, now, reason if missed else "offer-withdrawn")


def connect(agent: Agent, now: float, call_id: str, leg_id: str, queue: str) -> list[Command]:
    if agent.state not in (S.RESERVED, S.AVAILABLE):
        raise Conflict(f"agent {agent.id} is {agent.state.value}")
    agent.call_id, agent.leg_id, agent.call_queue = call_id, leg_id, queue
    agent.misses = 0
    agent.answered[queue] = agent.answered.get(queue, 0) + 1
    agent.last_call_id = call_id
    agent.last_queue = queue
    agent.last_disposition_done = False
    return _go(agent, S.ON_CALL, now, "connected", leg_id=leg_id)


def abort_call(agent: Agent, now: float, *, missed: bool, max_no_answer: int = 0) -> list[Command]:
    """on_call -> available (or the pending pause/logout) for a call that was never bridged: no wrap-up, no
    disposition, not counted as answered; ``missed`` counts towards the auto-pause like an unanswered offer."""
    if agent.state is not S.ON_CALL:
        return []
    queue = agent.call_queue or ""
    if agent.answered.get(queue):
        agent.answered[queue] -= 1
    agent.last_disposition_done = True
    if missed:
        agent.misses += 1
        if max_no_answer and agent.misses >= max_no_answer:
            agent.pending = "pause"
            agent.pending_reason = "no-answer"
    return _after_call(agent, now, "bridge-failed")


def end_call(agent: Agent, now: float, wrapup_time: float) -> list[Command]:
    """on_call -> wrap_up for the queue's wrap-up time (available at once when it is 0)."""
    if agent.state is not S.ON_CALL:
        return []
    agent.leg_id = None
    if wrapup_time <= 0:
        return _after_call(agent, now, "call-ended")
    agent.wrapup_until = now + wrapup_time
    return [*_go(agent, S.WRAP_UP, now, "call-ended"), SetTimer(wrapup_timer(agent.id), agent.wrapup_until)]


def finish_wrapup(agent: Agent, now: float, why: str = "wrapup-done") -> list[Command]:
    if agent.state is not S.WRAP_UP:
        return []
    return [CancelTimer(wrapup_timer(agent.id)), *_after_call(agent, now, why)]


def restore(agent: Agent, now: float, state: str, pause_reason: str) -> list[Command]:
    """Put a freshly started agent back into its persisted state (reserved/on_call become wrap-up)."""
    if state == S.PAUSED.value:
        agent.pause_reason = pause_reason
        return _go(agent, S.PAUSED, now, "restored")
    if state in (S.AVAILABLE.value, S.WRAP_UP.value, S.RESERVED.value, S.ON_CALL.value):
        return _go(agent, S.AVAILABLE, now, "restored")
    return []
