"""Prometheus metrics of the ARI client and event stream (registered on ``callcore.metrics.REGISTRY``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from callcore.metrics import REGISTRY

ARI_REQUESTS = Counter(
    "callcore_ari_requests_total", "ARI REST requests by HTTP method and status ('error' = no response).",
    ["method", "status"], registry=REGISTRY,
)
ARI_REQUEST_SECONDS = Histogram(
    "callcore_ari_request_seconds", "ARI REST request latency by HTTP method.", ["method"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ARI_CONNECTED = Gauge(
    "callcore_ari_connected", "1 while the ARI events websocket is connected and resynced.",
    registry=REGISTRY,
)
ARI_RECONNECTS = Counter(
    "callcore_ari_reconnects_total", "Websocket connections established after the first one.",
    registry=REGISTRY,
)
ARI_EVENTS = Counter(
    "callcore_ari_events_total", "ARI websocket events received, by event type.", ["type"], registry=REGISTRY,
)
ARI_EVENTS_DROPPED = Counter(
    "callcore_ari_events_dropped_total", "Events dropped for a consumer whose queue was full.", ["consumer"],
    registry=REGISTRY,
)
ARI_CONNECT_FAILURES = Counter(
    "callcore_ari_connect_failures_total", "Failed websocket connect or resync attempts.", registry=REGISTRY,
)
