"""Throughput of the pure ACD core: ``python bench/acd_core.py`` prints events per second."""

from __future__ import annotations

import time

from callcore.acd.core.commands import OriginateAgent
from callcore.acd.core.events import AgentLegAnswered, AgentLogin, CallArrived, CallerHungUp
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.testkit.acd_harness import Harness


def busy_center(agents: int = 200, calls: int = 5000, concurrent: int = 150) -> tuple[int, float]:
    cfgs = [AgentConfig(f"a{i}", endpoint=f"PJSIP/a{i}", memberships={"q1": 0, "q2": 1})
            for i in range(agents)]
    h = Harness.build([QueueConfig("q1"), QueueConfig("q2")], cfgs)
    for a in cfgs:
        h.send(AgentLogin(a.id))
    n = 0
    t = time.perf_counter()
    for i in range(calls):
        for cmd in h.send(CallArrived(f"c{i}", "q1" if i % 2 else "q2")):
            if isinstance(cmd, OriginateAgent):
                h.send(AgentLegAnswered(cmd.leg_id))
                n += 1
        n += 1
        if i >= concurrent:
            h.send(CallerHungUp(f"c{i - concurrent}"))
            n += 1
    return n, time.perf_counter() - t


def deep_queue(waiting: int = 2000) -> float:
    h = Harness.build([QueueConfig("q1")], [AgentConfig("a1", endpoint="PJSIP/a1", memberships={"q1": 0})])
    t = time.perf_counter()
    for i in range(waiting):
        h.send(CallArrived(f"w{i}", "q1"))
    return time.perf_counter() - t


def main() -> None:
    n, dt = busy_center()
    print(f"busy center: {n} events in {dt:.2f} s = {n / dt:.0f} events/s (200 agents, 150 concurrent calls)")
    dt = deep_queue()
    print(f"deep queue: 2000 arrivals with nobody logged in in {dt:.3f} s = {2000 / dt:.0f} arrivals/s")


if __name__ == "__main__":
    main()
