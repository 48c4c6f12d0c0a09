"""Per-queue Prometheus metrics of the ACD, fed from the core's journal commands and snapshots."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from callcore.acd.core.commands import Journal
from callcore.metrics import REGISTRY, KnownLabels

_WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
_TALK_BUCKETS = (5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)

CALLS_WAITING = Gauge("callcore_queue_calls_waiting", "Callers waiting in the queue", ["queue"],
                      registry=REGISTRY)
LONGEST_WAIT = Gauge("callcore_queue_longest_wait_seconds", "Wait of the longest-waiting caller", ["queue"],
                     registry=REGISTRY)
OFFERED = Counter("callcore_queue_calls_offered", "Calls that entered the queue", ["queue"],
                  registry=REGISTRY)
ANSWERED = Counter("callcore_queue_calls_answered", "Calls connected to an agent", ["queue"],
                   registry=REGISTRY)
ABANDONED = Counter("callcore_queue_calls_abandoned", "Callers who hung up while waiting", ["queue"],
                    registry=REGISTRY)
OVERFLOWED = Counter("callcore_queue_calls_overflowed", "Calls sent to the overflow destination", ["queue"],
                     registry=REGISTRY)
WAIT = Histogram("callcore_queue_wait_seconds", "Wait until answered or abandoned", ["queue"],
                 buckets=_WAIT_BUCKETS, registry=REGISTRY)
TALK = Histogram("callcore_queue_talk_seconds", "Talk time of connected calls", ["queue"],
                 buckets=_TALK_BUCKETS, registry=REGISTRY)
SERVICE_LEVEL = Gauge("callcore_queue_service_level",
                      "Answered within the threshold / (answered + abandoned after the threshold)", ["queue"],
                      registry=REGISTRY)
AGENTS = Gauge("callcore_agents", "Agents by state", ["state"], registry=REGISTRY)
# configured queues: counters exported at 0 from the start, deleted queues no longer exported
QUEUES = KnownLabels(zero=(OFFERED, ANSWERED, ABANDONED, OVERFLOWED, WAIT, TALK),
                     forget=(CALLS_WAITING, LONGEST_WAIT, SERVICE_LEVEL))


def observe(j: Journal) -> None:
    """Update counters and histograms from one journal command."""
    q = j.queue
    if q is None:
        return
    t = j.type
    if t == "call.queued":
        OFFERED.labels(queue=q).inc()
    elif t == "call.answered":
        ANSWERED.labels(queue=q).inc()
        WAIT.labels(queue=q).observe(float(j.payload.get("wait", 0.0)))
    elif t == "call.abandoned":
        ABANDONED.labels(queue=q).inc()
        WAIT.labels(queue=q).observe(float(j.payload.get("wait", 0.0)))
    elif t == "call.overflowed":
        OVERFLOWED.labels(queue=q).inc()
    elif t == "call.ended":
        TALK.labels(queue=q).observe(float(j.payload.get("talk", 0.0)))


def refresh(queues: dict[str, tuple[int, float, float | None]], agents_by_state: dict[str, int]) -> None:
    """Set the gauges: queue -> (waiting, longest wait, service level)."""
    for name, (waiting, longest, sl) in queues.items():
        CALLS_WAITING.labels(queue=name).set(waiting)
        LONGEST_WAIT.labels(queue=name).set(longest)
        if sl is not None:
            SERVICE_LEVEL.labels(queue=name).set(sl)
    for state, n in agents_by_state.items():
        AGENTS.labels(state=state).set(n)

_ROUTING_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0)
ROUTING = Histogram("callcore_acd_routing_seconds",
                    "From the event that made a caller-agent match possible (ARI event received by the websocket "
                    "reader, timer due, API request) to the agent request sent (originate, or add to the session "
                    "bridge)", buckets=_ROUTING_BUCKETS, registry=REGISTRY)
EVENTS_BACKLOG = Gauge("callcore_acd_events_backlog", "ARI events received and not yet taken by the ACD",
                       registry=REGISTRY)
