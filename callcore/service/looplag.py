"""The process's load watch: event-loop lag measured every 100 ms, overload exported and shed.

``LoadWatch.run`` sleeps ``interval`` seconds in a loop and feeds ``callcore.overload.LagMonitor`` the time
each wake-up was due and the time it ran. Exported: ``callcore_event_loop_lag_seconds`` (last sample),
``callcore_event_loop_lag_observed_seconds`` (histogram of every sample), ``callcore_overloaded`` (1 while
overloaded) and ``callcore_shed_total{what}`` (non-essential work skipped or deferred while overloaded:
``gauges`` ACD gauge refreshes, ``wallboard`` wallboard ticks, ``projection`` table projections held back to
be written in larger batches). Call routing, ARI requests, the journal, operator notifications and the
API are never shed.

One watch per process (``WATCH``), like the metrics: the components that can shed ask ``shedding(what)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from prometheus_client import Counter, Gauge, Histogram

from callcore.metrics import REGISTRY
from callcore.overload import LagMonitor

log = structlog.get_logger(__name__)

LAG = Gauge("callcore_event_loop_lag_seconds", "Event-loop lag: how late the last 100 ms tick ran",
            registry=REGISTRY)
LAG_OBSERVED = Histogram("callcore_event_loop_lag_observed_seconds", "Event-loop lag of every 100 ms tick",
                         buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                         registry=REGISTRY)
OVERLOADED = Gauge("callcore_overloaded", "1 while the process is overloaded (loop lag or ARI event backlog)",
                   registry=REGISTRY)
SHED = Counter("callcore_shed", "Non-essential work skipped or deferred while overloaded", ["what"],
               registry=REGISTRY)
SHEDDABLE = ("gauges", "wallboard", "projection")
for _what in SHEDDABLE:
    SHED.labels(what=_what)


class LoadWatch:
    def __init__(self, monitor: LagMonitor | None = None) -> None:
        self.monitor = monitor or LagMonitor()
        self.backlog: Callable[[], int] = lambda: 0

    @property
    def overloaded(self) -> bool:
        return self.monitor.overloaded

    def shedding(self, what: str) -> bool:
        """True (and counted) when ``what`` should be skipped or deferred now."""
        if not self.monitor.overloaded:
            return False
        SHED.labels(what=what).inc()
        return True

    def report(self) -> dict[str, object]:
        return self.monitor.report(asyncio.get_running_loop().time())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        m = self.monitor
        while True:
            scheduled = loop.time() + m.interval
            await asyncio.sleep(m.interval)
            was = m.overloaded
            try:
                backlog = self.backlog()
            except Exception:
                backlog = 0
            lag = m.sample(scheduled, loop.time(), backlog)
            LAG.set(lag)
            LAG_OBSERVED.observe(lag)
            if m.overloaded != was:
                OVERLOADED.set(1 if m.overloaded else 0)
                if m.overloaded:
                    log.warning("overloaded", loop_lag_s=round(lag, 3), events_backlog=backlog)
                else:
                    log.info("overload_over", episodes=m.episodes)


WATCH = LoadWatch()


def shedding(what: str) -> bool:
    return WATCH.shedding(what)
