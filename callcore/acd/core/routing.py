"""Which agent gets which call: skills with relaxation, penalties and the queue strategies."""

from __future__ import annotations

from callcore.acd.core.model import Agent, AgentState, Call, QueueConfig
from callcore.acd.core.state import AcdState


def qualified(agent: Agent, call: Call, queue: QueueConfig, now: float) -> bool:
    """Member of the queue and meets every skill minimum in force after the caller's wait so far."""
    if queue.name not in agent.config.memberships:
        return False
    if call.required_agent is not None and agent.id != call.required_agent:
        return False
    waited = call.waited(now)
    for req in queue.skills:
        level = req.level_at(waited)
        if level is not None and agent.config.skills.get(req.skill, 0) < level:
            return False
    return True


def offerable(agent: Agent) -> bool:
    return agent.state is AgentState.AVAILABLE and agent.reachable()


def next_relax_time(call: Call, queue: QueueConfig, now: float) -> float | None:
    """When the caller's skill requirements next relax, if ever."""
    waited = call.waited(now)
    times = sorted(t for req in queue.skills for t in req.change_times() if t > waited)
    return call.queue_entered_at + times[0] if times else None


def _candidates(st: AcdState, call: Call, queue: QueueConfig, now: float) -> list[tuple[int, Agent]]:
    """(penalty, agent) of every offerable, qualified member: ``offerable`` and ``qualified`` inlined,
    as this runs for every routing decision over every agent."""
    name = queue.name
    waited = call.waited(now)
    reqs = [(r.skill, lvl) for r in queue.skills if (lvl := r.level_at(waited)) is not None]
    available = AgentState.AVAILABLE
    only = call.required_agent
    out: list[tuple[int, Agent]] = []
    for a in st.agents.values():
        if a.state is not available or (only is not None and a.id != only):
            continue
        pen = a.config.memberships.get(name)
        if pen is None or not (a.session_channel is not None or (a.registered and a.endpoint)):
            continue
        if reqs:
            skills = a.config.skills
            if any(skills.get(skill, 0) < lvl for skill, lvl in reqs):
                continue
        out.append((pen, a))
    return out


def choose(st: AcdState, call: Call, now: float) -> list[Agent]:
    """Agents to offer ``call`` to, best first: one agent, or every tied agent for ring-all."""
    queue = st.queues.get(call.queue)
    if queue is None:
        return []
    pool = _candidates(st, call, queue, now)
    if not pool:
        return []
    # Lowest penalty tier first; agents who already missed this caller go last.
    best_penalty = min(pen for pen, _ in pool)
    tier = [a for pen, a in pool if pen == best_penalty]
    fresh = [a for a in tier if a.id not in call.tried]
    if fresh:
        tier = fresh
    else:
        call.tried.clear()
    sessions = [a for a in tier if a.session]
    if sessions:
        # An agent already on the line takes the call at once; no ringing needed.
        tier = sessions
    order = st.agent_order
    s = queue.strategy
    if s == "ring-all":
        if sessions:
            return [min(tier, key=lambda a: (a.idle_since, order.get(a.id, 0), a.id))]
        return sorted(tier, key=lambda a: (order.get(a.id, 0), a.id))
    if s == "longest-idle":
        oldest = min(a.idle_since for a in tier)
        tied = [a for a in tier if a.idle_since == oldest]
        return [min(tied, key=lambda a: (order.get(a.id, 0), a.id))]
    if s == "fewest-calls":
        return [min(tier, key=lambda a: (a.answered.get(queue.name, 0), a.idle_since,
                                         order.get(a.id, 0), a.id))]
    if s == "linear":
        return [min(tier, key=lambda a: (order.get(a.id, 0), a.id))]
    if s == "random":
        ranked = sorted(tier, key=lambda a: (order.get(a.id, 0), a.id))
        return [ranked[st.rng.randrange(len(ranked))]]
    # round-robin with memory: the member after the one offered last, in configuration order.
    members = sorted(st.members(queue.name), key=lambda a: (order.get(a.id, 0), a.id))
    ids = [a.id for a in members]
    last = st.rr_last.get(queue.name)
    start = ids.index(last) + 1 if last in ids else 0
    rotated = ids[start:] + ids[:start]
    eligible = {a.id: a for a in tier}
    for aid in rotated:
        if aid in eligible:
            return [eligible[aid]]
    return []
