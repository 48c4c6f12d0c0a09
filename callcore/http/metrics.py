"""Prometheus metrics of the HTTP API."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from callcore.metrics import REGISTRY

REQUESTS = Counter("callcore_http_requests", "HTTP requests by route and status",
                   ["method", "route", "status"], registry=REGISTRY)
REQUEST_SECONDS = Histogram("callcore_http_request_seconds", "Time to answer an HTTP request (not streams)",
                            ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                            registry=REGISTRY)
EVENT_STREAMS = Gauge("callcore_http_event_streams", "Open server-sent event streams", registry=REGISTRY)
