"""The Prometheus registry every callcore module registers its metrics on.

One registry per process; metric objects are module-level singletons (``callcore_`` prefix).
``render()`` produces the text format served at ``/metrics``.

Hygiene rules every module follows:

* no ``*_created`` series (``disable_created_metrics``): they double the series count and no rule uses them;
* counters of a known label value (a configured queue, a running campaign) are exported at 0 before their first
  event, so rates and panels start from a value instead of "no data" (``KnownLabels.set``);
* label values that stop existing (a deleted queue) stop being exported (``KnownLabels.set`` removes them);
* ``callcore_build_info{version, python}`` is 1, for joins and for spotting mixed versions across instances.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from callcore import __version__

disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

BUILD_INFO = Info("callcore_build", "callcore version and Python version of this process", registry=REGISTRY)
BUILD_INFO.info({"version": __version__, "python": platform.python_version()})

__all__ = ["GC_COLLECTOR", "PLATFORM_COLLECTOR", "PROCESS_COLLECTOR", "REGISTRY", "KnownLabels", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class KnownLabels:
    """The label values (one label: queue, campaign...) that currently exist, for a group of metrics.

    ``set(values)`` is called when the set changes (configuration loaded or changed), never per event: new
    values get a 0 child in every metric of ``zero`` (counters, histograms: "nothing happened yet" is a true
    0); vanished values are removed from ``zero`` and from ``forget`` (gauges, whose 0 would be a claim).
    ``expand`` gives the extra label values to initialise per value (e.g. every refusal reason of a campaign).
    """

    def __init__(self, zero: Sequence[Any], forget: Sequence[Any] = (),
                 expand: dict[int, Sequence[Sequence[str]]] | None = None) -> None:
        self._zero = tuple(zero)
        self._forget = tuple(forget)
        self._expand = expand or {}
        self._values: set[str] = set()

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def _children(self, index: int, value: str) -> list[tuple[str, ...]]:
        extra = self._expand.get(index)
        return [(value, *rest) for rest in extra] if extra else [(value,)]

    def add(self, values: Iterable[str]) -> None:
        """Initialise new values without forgetting any (a campaign started)."""
        for value in set(values) - self._values:
            for i, metric in enumerate(self._zero):
                for labels in self._children(i, value):
                    metric.labels(*labels)
            self._values.add(value)

    def set(self, values: Iterable[str]) -> None:
        wanted = set(values)
        for value in self._values - wanted:
            self.discard(value)
        self.add(wanted)

    def discard(self, value: str) -> None:
        for i, metric in enumerate(self._zero):
            for labels in self._children(i, value):
                metric.remove(*labels)
        for metric in self._forget:
            metric.remove(value)
        self._values.discard(value)


def render() -> bytes:
    return generate_latest(REGISTRY)
