"""A virtual-time driver for the pure core, used by tests and simulations.

It plays the adapter's part without Asterisk: keeps the timers the core sets, fires them as virtual time
advances, and remembers which agent legs were originated and which channels were hung up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from callcore.acd.core.commands import (
    AddToBridge,
    CancelTimer,
    Command,
    Hangup,
    OriginateAgent,
    SetTimer,
)
from callcore.acd.core.engine import Engine
from callcore.acd.core.events import CallBridged, Event, TimerFired
from callcore.acd.core.model import AgentConfig, QueueConfig


@dataclass
class Harness:
    engine: Engine
    now: float = 1_800_000_000.0
    timers: dict[str, float] = field(default_factory=dict)
    log: list[Command] = field(default_factory=list)
    originated: dict[str, OriginateAgent] = field(default_factory=dict)  # live ringing/answered legs
    hung_up: set[str] = field(default_factory=set)
    auto_bridge: bool = True  # a connecting AddToBridge succeeds at once (CallBridged is sent back)

    @classmethod
    def build(cls, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], seed: int = 0) -> Harness:
        return cls(Engine(queues, agents, seed=seed))

    def send(self, event: Event) -> list[Command]:
        """Run ``event``; with ``auto_bridge`` the outcome of each connecting bridge is reported back as
        Asterisk's answer would be, and the commands that causes are part of the result."""
        out = self.engine.handle(event, self.now)
        self._apply(out)
        if self.auto_bridge:
            for c in list(out):
                if isinstance(c, AddToBridge) and c.confirm:
                    out += self.send(CallBridged(c.confirm))
        return out

    def _apply(self, out: list[Command]) -> None:
        self.log += out
        for c in out:
            if isinstance(c, SetTimer):
                self.timers[c.key] = c.at
            elif isinstance(c, CancelTimer):
                self.timers.pop(c.key, None)
            elif isinstance(c, OriginateAgent):
                self.originated[c.leg_id] = c
            elif isinstance(c, Hangup):
                self.hung_up.add(c.channel)
                self.originated.pop(c.channel, None)

    def advance(self, seconds: float) -> list[Command]:
        """Move virtual time forward, firing due timers in time order."""
        end = self.now + seconds
        fired: list[Command] = []
        while True:
            due = sorted((at, key) for key, at in self.timers.items() if at <= end)
            if not due:
                break
            at, key = due[0]
            del self.timers[key]
            self.now = max(self.now, at)
            fired += self.send(TimerFired(key))
        self.now = end
        return fired

    def legs_for(self, agent_id: str) -> list[str]:
        return [leg for leg, o in self.originated.items() if o.app_args[2:3] == (agent_id,)]
