"""The Prometheus registry every callcore module registers its metrics on.

One registry per process; metric objects are module-level singletons (``callcore_`` prefix).
``render()`` produces the text format served at ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

__all__ = ["GC_COLLECTOR", "PLATFORM_COLLECTOR", "PROCESS_COLLECTOR", "REGISTRY", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render() -> bytes:
    return generate_latest(REGISTRY)
