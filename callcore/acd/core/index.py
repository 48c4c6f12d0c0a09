"""The routing index: what routing reads instead of scanning every agent and every call.

Per queue it keeps

- the waiting calls in service order (caller priority, then first entry, then arrival sequence), so a
  caller's position and the head of the line are a bisection away;
- the offerable agents (available and reachable) per penalty tier, split into agents on a persistent
  session and agents who are rung, each list sorted by the queue strategy's key
  (``callcore.acd.core.strategies``);
- counters of members present (logged in and reachable) and staffed (present and not paused), for the
  join/leave-empty policies and the hold-time estimate.

Agents and calls report their own changes (``model._AGENT_WATCH``/``_CALL_WATCH``) into ``touched_agents``
/ ``touched_calls``; the state's call and leg maps do the same when a call enters or leaves, or loses a
ringing leg. ``sync`` re-files only those records, and remembers which queues gained an offerable agent
(``dirty_queues``) and which waiting calls changed (``dirty_calls``): the only places where a new
caller-agent match can have appeared, because after every routing pass no waiting caller that can be
offered has a qualified offerable agent. The cost of an event is thereby proportional to what it changed.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callcore.acd.core import strategies
from callcore.acd.core.model import Agent, AgentState, Call

if TYPE_CHECKING:
    from callcore.acd.core.state import AcdState

Entry = tuple[Any, ...]  # strategy key ..., agent id
CallKey = tuple[int, float, int, str]  # -priority, entered_at, seq, call id


@dataclass(slots=True)
class Tier:
    sessions: list[Entry] = field(default_factory=list)
    ring: list[Entry] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sessions) + len(self.ring)


@dataclass(slots=True)
class QueueIndex:
    waiting: list[CallKey] = field(default_factory=list)
    tiers: dict[int, Tier] = field(default_factory=dict)
    offerable: int = 0
    present: int = 0
    staffed: int = 0
    by_state: dict[str, int] = field(default_factory=dict)  # members (logged out too) by state
    connected: int = 0  # calls of this queue talking to an agent

    def penalties(self) -> list[int]:
        return sorted(p for p, t in self.tiers.items() if len(t))


@dataclass(slots=True)
class _AgentFiling:
    entries: list[tuple[str, int, bool, Entry]]
    present: tuple[str, ...]
    staffed: tuple[str, ...]
    members: tuple[str, ...] = ()
    state: str = ""


def call_key(call: Call) -> CallKey:
    return (-call.priority, call.entered_at, call.seq, call.id)


class RoutingIndex:
    def __init__(self) -> None:
        self.queues: dict[str, QueueIndex] = {}
        self.touched_agents: set[str] = set()
        self.touched_calls: set[str] = set()
        self.dirty_queues: set[str] = set()
        self.dirty_calls: set[str] = set()
        self.check_empty: set[str] = set()  # queues whose staffing or line changed: leave-empty check
        self._agents: dict[str, _AgentFiling] = {}
        self._calls: dict[str, tuple[str, CallKey]] = {}
        self._connected: dict[str, str] = {}  # connected call id -> its queue
        self._relax: list[tuple[float, str]] = []  # (when a waiting call's skill needs relax next, call id)
        self._relax_at: dict[str, float] = {}  # what ``_relax`` holds for each call
        self.agents_by_state: dict[str, int] = {s.value: 0 for s in AgentState}

    def queue(self, name: str) -> QueueIndex:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = QueueIndex()
        return q

    # --- keeping it current ------------------------------------------------------------------------

    def rebuild(self, st: AcdState) -> None:
        """File everything again (configuration changed: strategies, memberships or order)."""
        self.queues = {}
        self._agents = {}
        self._calls = {}
        self._connected = {}
        self._relax = []
        self._relax_at = {}
        self.agents_by_state = {s.value: 0 for s in AgentState}
        self.touched_agents.update(st.agents)
        self.touched_calls.update(st.calls)
        self.check_empty.update(st.queues)
        self.sync(st)

    def sync(self, st: AcdState) -> None:
        while self.touched_agents or self.touched_calls:
            # the sets are shared with the records and maps that fill them: emptied, never replaced
            agents = list(self.touched_agents)
            self.touched_agents.clear()
            for aid in agents:
                self._file_agent(st, aid)
            calls = list(self.touched_calls)
            self.touched_calls.clear()
            for cid in calls:
                self._file_call(st, cid)

    def _file_agent(self, st: AcdState, aid: str) -> None:
        old = self._agents.pop(aid, None)
        if old is not None:
            for qname, pen, session, entry in old.entries:
                tier = self.queues[qname].tiers[pen]
                lst = tier.sessions if session else tier.ring
                i = bisect_left(lst, entry)
                if i < len(lst) and lst[i] == entry:
                    del lst[i]
                self.queues[qname].offerable -= 1
            for qname in old.present:
                self.queues[qname].present -= 1
                self.check_empty.add(qname)
            for qname in old.staffed:
                self.queues[qname].staffed -= 1
                self.check_empty.add(qname)
            for qname in old.members:
                counts = self.queues[qname].by_state
                counts[old.state] -= 1
            self.agents_by_state[old.state] -= 1
        a = st.agents.get(aid)
        if a is None:
            return
        members = a.config.memberships
        state = a.state.value
        self.agents_by_state[state] += 1
        for qname in members:
            counts = self.queue(qname).by_state
            counts[state] = counts.get(state, 0) + 1
        reachable = a.reachable()
        present = a.state is not AgentState.LOGGED_OUT and reachable
        staffed = present and a.state is not AgentState.PAUSED
        filing = _AgentFiling([], tuple(members) if present else (), tuple(members) if staffed else (),
                              tuple(members), state)
        for qname in filing.present:
            self.queue(qname).present += 1
            self.check_empty.add(qname)
        for qname in filing.staffed:
            self.queue(qname).staffed += 1
            self.check_empty.add(qname)
        if a.state is AgentState.AVAILABLE and reachable and a.outbound_call is None:
            order = st.agent_order.get(aid, 0)
            session = a.session_channel is not None
            for qname, pen in members.items():
                qc = st.queues.get(qname)
                strat = strategies.get(qc.strategy) if qc is not None else strategies.REGISTRY["linear"]
                key = strat.session_key if session else strat.ring_key
                entry = (*key(a, qname, order), aid)
                qi = self.queue(qname)
                tier = qi.tiers.get(pen) or qi.tiers.setdefault(pen, Tier())
                insort(tier.sessions if session else tier.ring, entry)
                qi.offerable += 1
                filing.entries.append((qname, pen, session, entry))
                self.dirty_queues.add(qname)
        self._agents[aid] = filing

    def _file_call(self, st: AcdState, cid: str) -> None:
        old = self._calls.pop(cid, None)
        if old is not None:
            lst = self.queues[old[0]].waiting
            i = bisect_left(lst, old[1])
            if i < len(lst) and lst[i] == old[1]:
                del lst[i]
        was = self._connected.pop(cid, None)
        if was is not None:
            self.queues[was].connected -= 1
        call = st.calls.get(cid)
        if call is not None and call.status == "connected":
            self._connected[cid] = call.queue
            self.queue(call.queue).connected += 1
        if call is None or call.status != "waiting":
            return
        key = call_key(call)
        if call.next_relax is not None and self._relax_at.get(cid) != call.next_relax:
            self._relax_at[cid] = call.next_relax
            heapq.heappush(self._relax, (call.next_relax, cid))
        insort(self.queue(call.queue).waiting, key)
        self._calls[cid] = (call.queue, key)
        self.dirty_calls.add(cid)
        self.check_empty.add(call.queue)

    def relaxed(self, st: AcdState, now: float) -> None:
        """Waiting calls whose skill requirements relaxed by ``now`` are changed calls, whichever event
        comes first (their own relax timer, or anything else at the same instant)."""
        heap = self._relax
        while heap and heap[0][0] <= now:
            at, cid = heapq.heappop(heap)
            if self._relax_at.get(cid) == at:
                del self._relax_at[cid]
            call = st.calls.get(cid)
            if call is not None and call.status == "waiting" and call.next_relax == at:
                self.dirty_calls.add(cid)

    # --- reading it --------------------------------------------------------------------------------

    def waiting_ids(self, queue: str) -> Iterator[str]:
        q = self.queues.get(queue)
        return iter([k[3] for k in q.waiting]) if q is not None else iter(())

    def position(self, call: Call) -> int:
        filed = self._calls.get(call.id)
        if filed is None or filed[0] != call.queue:
            return 0
        return bisect_left(self.queues[filed[0]].waiting, filed[1]) + 1

    def is_filed(self, call_id: str) -> bool:
        return call_id in self._calls

    def filed_key(self, call_id: str) -> CallKey | None:
        filed = self._calls.get(call_id)
        return filed[1] if filed is not None else None

    def offerable(self, agent: Agent, queue: str) -> bool:
        filing = self._agents.get(agent.id)
        return filing is not None and any(q == queue for q, _, _, _ in filing.entries)
