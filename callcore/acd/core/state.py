"""The mutable state the engine works on, and per-queue statistics."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from callcore.acd.core.index import RoutingIndex
from callcore.acd.core.model import Agent, AgentConfig, Call, QueueConfig

RECENT = 50  # calls kept for the averages


@dataclass(slots=True)
class QueueStats:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    callbacks: int = 0
    refused: int = 0
    transferred: int = 0
    answered_in_sl: int = 0
    abandoned_after_sl: int = 0
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    talks: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))

    def service_level(self) -> float | None:
        """Answered within the threshold / (answered + abandoned after the threshold)."""
        denom = self.answered + self.abandoned_after_sl
        return self.answered_in_sl / denom if denom else None

    def avg_handle(self, wrapup: float, default: float = 180.0) -> float:
        return (sum(self.talks) / len(self.talks) + wrapup) if self.talks else default

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "overflowed": self.overflowed, "callbacks": self.callbacks, "refused": self.refused,
            "transferred": self.transferred, "service_level": self.service_level(),
            "avg_wait": sum(self.waits) / len(self.waits) if self.waits else None,
            "avg_talk": sum(self.talks) / len(self.talks) if self.talks else None,
        }


@dataclass(slots=True)
class SupervisorLeg:
    leg_id: str
    agent_id: str
    mode: str
    call_id: str
    snoop_id: str | None
    bridge_id: str
    answered: bool = False


class _Watched(dict[str, Any]):
    """A map that reports keys entering or leaving it (and, for the leg map, the call losing a leg)."""

    __slots__ = ("_touched", "_values")

    def __init__(self, touched: set[str], values: bool = False) -> None:
        super().__init__()
        self._touched = touched
        self._values = values  # report the value (the call id of a leg) rather than the key

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if self._values:
            self._touched.add(value)
            return
        self._touched.add(key)
        if hasattr(value, "watcher"):
            value.watcher = self._touched

    def __delitem__(self, key: str) -> None:
        value = self[key]
        super().__delitem__(key)
        self._touched.add(value if self._values else key)

    _MISSING = object()

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key in self:
            value = super().pop(key)
            self._touched.add(value if self._values else key)
            return value
        if default is _Watched._MISSING:
            raise KeyError(key)
        return default


@dataclass(slots=True)
class AcdState:
    queues: dict[str, QueueConfig] = field(default_factory=dict)
    index: RoutingIndex = field(default_factory=RoutingIndex)
    agents: dict[str, Agent] = field(init=False)
    calls: dict[str, Call] = field(init=False)  # call id (= caller channel id) -> call
    legs: dict[str, str] = field(init=False)  # agent leg id -> call id (ringing or connected)
    sessions: dict[str, str] = field(default_factory=dict)  # agent session channel -> agent id
    playbacks: dict[str, str] = field(default_factory=dict)  # playback id -> call id
    supervisors: dict[str, SupervisorLeg] = field(default_factory=dict)
    consults: dict[str, str] = field(default_factory=dict)  # consulted party's leg id -> call id
    dials: dict[str, str] = field(default_factory=dict)  # manually dialled customer channel -> agent id
    stats: dict[str, QueueStats] = field(default_factory=dict)
    rr_last: dict[str, str] = field(default_factory=dict)  # queue -> agent last offered (round-robin)
    agent_order: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    seq: int = 0
    registrations_known: bool = True  # False from a start with AMI until its first registration listing

    def __post_init__(self) -> None:
        self.agents = _Watched(self.index.touched_agents)
        self.calls = _Watched(self.index.touched_calls)
        self.legs = _Watched(self.index.touched_calls, values=True)

    def sync(self) -> None:
        self.index.sync(self)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def set_config(self, queues: tuple[QueueConfig, ...] | list[QueueConfig],
                   agents: tuple[AgentConfig, ...] | list[AgentConfig]) -> list[str]:
        """Install configs; returns ids of agents that disappeared from the configuration."""
        self.queues = {q.name: q for q in queues}
        for q in queues:
            self.stats.setdefault(q.name, QueueStats())
        gone = [a for a in self.agents if a not in {c.id for c in agents}]
        for i, cfg in enumerate(agents):
            self.agent_order[cfg.id] = i
            if cfg.id in self.agents:
                agent = self.agents[cfg.id]
                if agent.endpoint == agent.config.endpoint and cfg.endpoint != agent.config.endpoint:
                    # the configured device changed: the next offer rings the new one (an endpoint the
                    # operator chose at login stays until logout)
                    agent.endpoint, agent.registered = cfg.endpoint, True if self.registrations_known else None
                agent.config = cfg
            else:
                self.agents[cfg.id] = Agent(cfg, endpoint=cfg.endpoint,
                                            registered=True if self.registrations_known else None)
        self.index.rebuild(self)
        return gone

    def waiting(self, queue: str | None = None) -> list[Call]:
        """Waiting calls in service order: queue weight, caller priority, then first come first served."""
        self.sync()
        if queue is not None:
            return [self.calls[cid] for cid in self.index.waiting_ids(queue)]
        calls = [c for c in self.calls.values() if c.status == "waiting"]
        calls.sort(key=lambda c: (-self.queue_weight(c.queue), -c.priority, c.entered_at, c.seq))
        return calls

    def waiting_count(self, queue: str) -> int:
        self.sync()
        q = self.index.queues.get(queue)
        return len(q.waiting) if q is not None else 0

    def queue_weight(self, name: str) -> int:
        q = self.queues.get(name)
        return q.weight if q else 0

    def position(self, call: Call) -> int:
        """1-based place in its own queue."""
        self.sync()
        return self.index.position(call)

    def members(self, queue: str) -> list[Agent]:
        return [a for a in self.agents.values() if queue in a.config.memberships]

    def staffed(self, queue: str) -> int:
        """Members logged in, reachable and not paused."""
        self.sync()
        q = self.index.queues.get(queue)
        return q.staffed if q is not None else 0

    def present(self, queue: str) -> int:
        """Members logged in and reachable (paused or not)."""
        self.sync()
        q = self.index.queues.get(queue)
        return q.present if q is not None else 0
