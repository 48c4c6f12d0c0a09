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


def churn(agents: int = 1000, waiting: int = 4000, steps: int = 3000) -> list[float]:
    """Every agent on a call and ``waiting`` callers in line; then calls end one at a time, each freeing an
    agent who takes the next caller. Returns the seconds each event took."""
    cfgs = [AgentConfig(f"a{i}", endpoint=f"PJSIP/a{i}", memberships={"q1": 0}) for i in range(agents)]
    h = Harness.build([QueueConfig("q1")], cfgs)
    for a in cfgs:
        h.send(AgentLogin(a.id))
    n = 0
    connected: list[str] = []

    def arrive() -> None:
        nonlocal n
        n += 1
        for cmd in h.send(CallArrived(f"c{n}", "q1")):
            if isinstance(cmd, OriginateAgent):
                h.send(AgentLegAnswered(cmd.leg_id))
                connected.append(cmd.app_args[1])

    for _ in range(agents + waiting):
        arrive()
    took: list[float] = []
    for _ in range(steps):
        cid = connected.pop(0)
        t = time.perf_counter()
        out = h.send(CallerHungUp(cid))
        took.append(time.perf_counter() - t)
        for cmd in out:
            if isinstance(cmd, OriginateAgent):
                t = time.perf_counter()
                h.send(AgentLegAnswered(cmd.leg_id))
                took.append(time.perf_counter() - t)
                connected.append(cmd.app_args[1])
        t = time.perf_counter()
        arrive()
        took.append(time.perf_counter() - t)
    return took


def main() -> None:
    n, dt = busy_center()
    print(f"busy center: {n} events in {dt:.2f} s = {n / dt:.0f} events/s (200 agents, 150 concurrent calls)")
    dt = deep_queue()
    took = sorted(churn())
    p50, p99 = took[len(took) // 2] * 1e3, took[int(len(took) * 0.99)] * 1e3
    print(f"churn: 1000 agents busy, 4000 waiting, {len(took)} events: p50 {p50:.3f} ms, p99 {p99:.3f} ms per event")
    print(f"deep queue: 2000 arrivals with nobody logged in in {dt:.3f} s = {2000 / dt:.0f} arrivals/s")


if __name__ == "__main__":
    main()
