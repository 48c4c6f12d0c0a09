"""A brute-force reference router: what the indexed router must decide, computed the obvious way.

Every routing pass visits every waiting call in service order and, for each, scans every agent of the
center. ``ReferenceEngine`` is the core with this router in place of the index; the property tests feed
both the same events and require the same commands.
"""

from __future__ import annotations

from collections.abc import Sequence

from callcore.acd.core import calls as cf
from callcore.acd.core.engine import Engine
from callcore.acd.core.model import Agent, AgentConfig, AgentState, Call, QueueConfig
from callcore.acd.core.routing import offerable, qualified
from callcore.acd.core.state import AcdState


def candidates(st: AcdState, call: Call, queue: QueueConfig, now: float) -> list[tuple[int, Agent]]:
    return [(a.config.memberships[queue.name], a) for a in st.agents.values()
            if offerable(a) and qualified(a, call, queue, now)]


def choose(st: AcdState, call: Call, now: float) -> list[Agent]:
    queue = st.queues.get(call.queue)
    if queue is None:
        return []
    pool = candidates(st, call, queue, now)
    if not pool:
        return []
    best = min(pen for pen, _ in pool)
    tier = [a for pen, a in pool if pen == best]
    fresh = [a for a in tier if a.id not in call.tried]
    if fresh:
        tier = fresh
    else:
        call.tried.clear()
    sessions = [a for a in tier if a.session]
    if sessions:
        tier = sessions
    order = st.agent_order

    def conf(a: Agent) -> tuple[int, str]:
        return (order.get(a.id, 0), a.id)

    s = queue.strategy
    if s == "ring-all":
        if sessions:
            return [min(tier, key=lambda a: (a.idle_since, *conf(a)))]
        return sorted(tier, key=conf)
    if s == "longest-idle":
        return [min(tier, key=lambda a: (a.idle_since, *conf(a)))]
    if s == "fewest-calls":
        return [min(tier, key=lambda a: (a.answered.get(queue.name, 0), a.idle_since, *conf(a)))]
    if s == "linear":
        return [min(tier, key=conf)]
    if s == "random":
        ranked = sorted(tier, key=conf)
        return [ranked[st.rng.randrange(len(ranked))]]
    assert s == "round-robin", s
    ids = [a.id for a in sorted(st.members(queue.name), key=conf)]
    last = st.rr_last.get(queue.name)
    start = ids.index(last) + 1 if last in ids else 0
    eligible = {a.id: a for a in tier}
    return [eligible[aid] for aid in ids[start:] + ids[:start] if aid in eligible][:1]


def is_empty(st: AcdState, queue: str, policy: str) -> bool:
    if policy == "never":
        return False
    members = [a for a in st.members(queue) if a.state is not AgentState.LOGGED_OUT and a.reachable()]
    if policy == "no_members":
        return not members
    return not [a for a in members if a.state is not AgentState.PAUSED]


def waiting(st: AcdState) -> list[Call]:
    calls = [c for c in st.calls.values() if c.status == "waiting"]
    calls.sort(key=lambda c: (-st.queue_weight(c.queue), -c.priority, c.entered_at, c.seq))
    return calls


def route(st: AcdState, now: float, out: list[object]) -> None:
    for _ in range(len(st.calls) + len(st.agents) + 1):
        offered = False
        for call in waiting(st):
            q = st.queues.get(call.queue)
            if q is None or (call.legs and q.strategy != "ring-all") or call.status != "waiting":
                continue
            agents = choose(st, call, now)
            if agents:
                cf.offer(st, call, agents, now, out)  # type: ignore[arg-type]
                offered = True
        if not offered:
            break


def dispatch(st: AcdState, now: float, out: list[object]) -> None:
    """Route; then sweep every queue in order of name: one empty by its leave-empty policy sends its
    callers away (in service order). Callers sent to another queue are routed there after the sweep (or
    seen by it first, when that queue comes later in the order); sweeps repeat while callers leave, each
    queue sending callers away at most once per event."""
    emptied: set[str] = set()
    for _ in range(len(st.queues) + 1):
        route(st, now, out)
        left = False
        for q in sorted(st.queues.values(), key=lambda q: q.name):
            if q.name in emptied or q.leave_empty == "never" or not is_empty(st, q.name, q.leave_empty):
                continue
            leaving = [c for c in waiting(st) if c.queue == q.name and not c.legs]
            if leaving:
                emptied.add(q.name)
                left = True
            for call in leaving:
                cf.overflow(st, call, now, out, "leaveempty")  # type: ignore[arg-type]
        if not left:
            break


class ReferenceEngine(Engine):
    def __init__(self, queues: Sequence[QueueConfig] = (), agents: Sequence[AgentConfig] = (), *,
                 seed: int = 0) -> None:
        super().__init__(queues, agents, seed=seed)

    def route(self, now: float, out: list[object]) -> None:  # type: ignore[override]
        dispatch(self.state, now, out)
