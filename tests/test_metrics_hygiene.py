"""What /metrics exports: no ``_created`` series, build info, counters at 0 for configured queues and
running campaigns, nothing left behind for a deleted queue."""

from __future__ import annotations

import platform
import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from callcore import __version__, metrics
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime import metrics as acd_metrics
from callcore.acd.runtime.service import AcdService
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.dialer.campaign import Outcome
from callcore.dialer.compliance import RefusalCode
from callcore.dialer.runtime import BLOCKED, CAMPAIGNS
from callcore.store.api import MemoryJournal


def samples() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def names() -> set[str]:
    return {name for name, _ in samples()}


def labelled(name: str, **labels: str) -> float | None:
    return samples().get((name, frozenset(labels.items())))


def test_no_created_series() -> None:
    text = metrics.render().decode()
    assert "_total" in text
    assert not re.search(r"(?m)^\w+_created[{ ]", text), [ln for ln in text.splitlines() if "_created" in ln][:3]


def test_build_info() -> None:
    assert labelled("callcore_build_info", version=__version__, python=platform.python_version()) == 1.0


def test_known_labels_start_at_zero_and_vanish_with_their_value() -> None:
    reg = CollectorRegistry()
    c = Counter("t_events", "t", ["queue"], registry=reg)
    h = Histogram("t_wait", "t", ["queue"], buckets=(1,), registry=reg)
    g = Gauge("t_waiting", "t", ["queue"], registry=reg)
    known = metrics.KnownLabels(zero=(c, h), forget=(g,))
    known.set(["a", "b"])
    assert reg.get_sample_value("t_events_total", {"queue": "a"}) == 0.0
    assert reg.get_sample_value("t_wait_count", {"queue": "b"}) == 0.0
    assert reg.get_sample_value("t_waiting", {"queue": "a"}) is None, "a gauge is not claimed to be 0"
    c.labels("b").inc(3)
    g.labels("b").set(2)
    known.set(["a", "b"])  # unchanged set: counts are kept
    assert reg.get_sample_value("t_events_total", {"queue": "b"}) == 3.0
    known.set(["a"])
    for name in ("t_events_total", "t_wait_count", "t_waiting"):
        assert reg.get_sample_value(name, {"queue": "b"}) is None, name
    assert known.values == {"a"}


def test_configured_queues_are_exported_at_zero_and_deleted_ones_disappear() -> None:
    clock = ManualClock(1000.0)
    queues = [QueueConfig(name="hyg-sales"), QueueConfig(name="hyg-support")]
    agents = [AgentConfig(id="h1", name="H", endpoint="PJSIP/h1", memberships={"hyg-sales": 0})]
    acd = AcdService(FakeAri(), MemoryJournal(), clock, queues, agents)
    for counter in ("offered", "answered", "abandoned", "overflowed"):
        for q in ("hyg-sales", "hyg-support"):
            assert labelled(f"callcore_queue_calls_{counter}_total", queue=q) == 0.0, (counter, q)
    assert labelled("callcore_queue_wait_seconds_count", queue="hyg-support") == 0.0
    acd_metrics.CALLS_WAITING.labels(queue="hyg-support").set(0)
    acd_metrics.OVERFLOWED.labels(queue="hyg-support").inc()
    acd.apply_config([QueueConfig(name="hyg-sales")], agents)
    left = {labels for name, labels in samples() if name.startswith("callcore_queue_")}
    assert not any(("queue", "hyg-support") in labels for labels in left), "the deleted queue is still exported"
    assert labelled("callcore_queue_calls_offered_total", queue="hyg-sales") == 0.0


def test_campaign_outcomes_and_refusal_reasons_start_at_zero() -> None:
    CAMPAIGNS.add(["hyg-camp"])
    for reason in RefusalCode:
        assert labelled("callcore_dialer_blocked_total", campaign="hyg-camp", reason=reason.value) == 0.0
    for outcome in Outcome:
        assert labelled("callcore_dialer_attempts_total", campaign="hyg-camp", outcome=outcome.value) == 0.0
    BLOCKED.labels("hyg-camp", RefusalCode.DNC.value).inc()
    CAMPAIGNS.add(["hyg-camp"])
    assert labelled("callcore_dialer_blocked_total", campaign="hyg-camp", reason="dnc") == 1.0
