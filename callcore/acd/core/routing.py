"""Which agent gets which call: skills with relaxation, penalties and the queue strategies."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from callcore.acd.core import strategies
from callcore.acd.core.index import Entry
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
    return agent.state is AgentState.AVAILABLE and agent.reachable() and agent.outbound_call is None


def next_relax_time(call: Call, queue: QueueConfig, now: float) -> float | None:
    """When the caller's skill requirements next relax, if ever."""
    waited = call.waited(now)
    times = sorted(t for req in queue.skills for t in req.change_times() if t > waited)
    return call.queue_entered_at + times[0] if times else None


def requirements(call: Call, queue: QueueConfig, now: float) -> tuple[tuple[str, int], ...]:
    """The skill minimums in force for ``call`` now (relaxed by its wait so far)."""
    if not queue.skills:
        return ()
    waited = call.waited(now)
    return tuple((r.skill, lvl) for r in queue.skills if (lvl := r.level_at(waited)) is not None)


def _scan(lst: list[Entry], start: int, ok: Callable[[str], bool]) -> int:
    """Index of the first entry from ``start`` on (wrapping round) whose agent passes ``ok``; -1 if none."""
    n = len(lst)
    for k in range(n):
        i = (start + k) % n if start else k
        if ok(lst[i][-1]):
            return i
    return -1


def choose(st: AcdState, call: Call, now: float) -> list[Agent]:
    """Agents to offer ``call`` to, best first: one agent, or every tied agent for ring-all.

    Lowest penalty tier that holds a qualified offerable agent first; within it agents who already missed
    this caller go last (when all did, the caller starts over with them); an agent on a persistent session
    is preferred (no ringing needed); then the queue strategy decides. Reads ``st.index`` (kept current by
    ``st.sync()``), never the whole center."""
    queue = st.queues.get(call.queue)
    if queue is None:
        return []
    qi = st.index.queues.get(queue.name)
    if qi is None or not qi.offerable:
        return []
    strat = strategies.get(queue.strategy)
    reqs = requirements(call, queue, now)
    agents = st.agents
    only = call.required_agent
    tried = call.tried

    def qual(aid: str) -> bool:
        if only is not None and aid != only:
            return False
        if reqs:
            skills = agents[aid].config.skills
            return all(skills.get(skill, 0) >= lvl for skill, lvl in reqs)
        return True

    def fresh(aid: str) -> bool:
        return aid not in tried and qual(aid)

    if only is not None:
        a = agents.get(only)
        if a is None or not st.index.offerable(a, queue.name) or not qual(only):
            return []
        if only in tried:
            tried.clear()
        if strat.pick == "random":
            st.rng.randrange(1)  # the draw among one keeps the generator in step
        return [a]
    start_key: tuple[Any, ...] | None = None
    if strat.pick == "next":
        last = st.rr_last.get(queue.name)
        la = agents.get(last or "")
        if last is not None and la is not None and queue.name in la.config.memberships:
            start_key = (st.agent_order.get(last, 0), last)
    for pen in qi.penalties():
        tier = qi.tiers[pen]
        chosen: list[Entry] | None = None
        ok = fresh
        for lst, pred in ((tier.sessions, fresh), (tier.ring, fresh), (tier.sessions, qual), (tier.ring, qual)):
            if lst and _scan(lst, 0, pred) >= 0:
                chosen, ok = lst, pred
                break
        if chosen is None:
            continue
        if ok is qual and tried:
            tried.clear()
        if strat.pick == "first" or (strat.pick == "all" and chosen is tier.sessions):
            return [agents[chosen[_scan(chosen, 0, ok)][-1]]]
        if strat.pick == "all":
            return [agents[e[-1]] for e in chosen if ok(e[-1])]
        if strat.pick == "random":
            ranked = [e[-1] for e in chosen if ok(e[-1])]
            return [agents[ranked[st.rng.randrange(len(ranked))]]]
        start = bisect_right(chosen, start_key) if start_key is not None else 0
        return [agents[chosen[_scan(chosen, start % len(chosen), ok)][-1]]]
    return []
