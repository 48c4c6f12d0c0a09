"""Queue statistics computed from journal events (pure).

Per queue (the ``queue`` column of the events):

- offered: ``call.queued`` (every entry into the queue, also by overflow or transfer from another queue)
- answered / abandoned / overflowed / callbacks / transferred: ``call.answered``, ``call.abandoned``,
  ``call.overflowed``, ``call.callback``, ``call.transferred``; refused: ``call.refused`` (not offered)
- ASA: mean ``wait`` of answered calls; talk: mean ``talk`` of ``call.ended``
- wrap-up: mean time agents spent in ``wrap_up`` after a call of the queue (``agent.state`` events)
- AHT = mean talk + mean wrap-up
- abandonment rate = abandoned / offered
- service level = answered within the threshold / (answered + abandoned after the threshold), the same
  definition as the live ``callcore_queue_service_level`` gauge: callers who hang up before the threshold
  count neither for nor against it
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SL_THRESHOLD = 20.0


@dataclass(frozen=True, slots=True)
class EventRow:
    ts: float
    type: str
    call_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    channel_id: str | None = None


@dataclass(slots=True)
class QueueReport:
    queue: str
    sl_threshold: float = DEFAULT_SL_THRESHOLD
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    overflowed: int = 0
    callbacks: int = 0
    transferred: int = 0
    refused: int = 0
    answered_within_sl: int = 0
    abandoned_after_sl: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    talks: int = 0
    wrapup_total: float = 0.0
    wrapups: int = 0
    abandon_wait_total: float = 0.0

    @property
    def asa(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None

    @property
    def avg_talk(self) -> float | None:
        return self.talk_total / self.talks if self.talks else None

    @property
    def avg_wrapup(self) -> float | None:
        return self.wrapup_total / self.wrapups if self.wrapups else None

    @property
    def aht(self) -> float | None:
        if self.avg_talk is None:
            return None
        return self.avg_talk + (self.avg_wrapup or 0.0)

    @property
    def abandonment_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        handled = self.answered + self.abandoned_after_sl
        return self.answered_within_sl / handled if handled else None

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {"queue": self.queue, "offered": self.offered, "answered": self.answered,
                "abandoned": self.abandoned, "overflowed": self.overflowed, "callbacks": self.callbacks,
                "transferred": self.transferred, "refused": self.refused, "asa": r(self.asa),
                "avg_talk": r(self.avg_talk), "avg_wrapup": r(self.avg_wrapup), "aht": r(self.aht),
                "abandonment_rate": r(self.abandonment_rate), "service_level": r(self.service_level),
                "sl_threshold": self.sl_threshold}


def _num(payload: Mapping[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class QueueStatsBuilder:
    """Feed events in time order; ``result()`` gives the per-queue figures (``only``: keep one queue)."""

    def __init__(self, *, thresholds: Mapping[str, float] | None = None,
                 default_threshold: float = DEFAULT_SL_THRESHOLD, only: str | None = None) -> None:
        self._thresholds = thresholds or {}
        self._default = default_threshold
        self._only = only
        self._reports: dict[str, QueueReport] = {}
        self._wrap_started: dict[str, tuple[float, str]] = {}  # agent -> (ts, queue)
        self._queued: set[str] = set()  # calls with a call.queued event so far

    def _rep(self, queue: str) -> QueueReport:
        if queue not in self._reports:
            self._reports[queue] = QueueReport(queue, self._thresholds.get(queue, self._default))
        return self._reports[queue]

    def _agent_state(self, ev: EventRow) -> None:
        if not ev.agent_id:
            return
        if ev.payload.get("to") == "wrap_up" and ev.queue:
            self._wrap_started[ev.agent_id] = (ev.ts, ev.queue)
        elif ev.payload.get("from") == "wrap_up" and ev.agent_id in self._wrap_started:
            started, queue = self._wrap_started.pop(ev.agent_id)
            if self._only is None or queue == self._only:
                r = self._rep(queue)
                r.wrapup_total += max(0.0, ev.ts - started)
                r.wrapups += 1

    def feed(self, ev: EventRow) -> None:
        if ev.type == "agent.state":
            self._agent_state(ev)
            return
        if not ev.queue or not ev.type.startswith("call."):
            return
        if self._only is not None and ev.queue != self._only:
            return
        r = self._rep(ev.queue)
        wait = _num(ev.payload, "wait")
        match ev.type:
            case "call.queued":
                r.offered += 1
                if ev.call_id:
                    self._queued.add(ev.call_id)
            case "call.readopted":
                # a caller who entered while no instance was running is offered when adopted
                if ev.call_id and ev.call_id not in self._queued:
                    self._queued.add(ev.call_id)
                    r.offered += 1
            case "call.answered":
                r.answered += 1
                r.wait_total += wait or 0.0
                if (wait or 0.0) <= r.sl_threshold:
                    r.answered_within_sl += 1
            case "call.abandoned":
                r.abandoned += 1
                r.abandon_wait_total += wait or 0.0
                if (wait or 0.0) > r.sl_threshold:
                    r.abandoned_after_sl += 1
            case "call.overflowed":
                r.overflowed += 1
            case "call.callback":
                r.callbacks += 1
            case "call.transferred":
                r.transferred += 1
            case "call.refused":
                r.refused += 1
            case "call.ended":
                talk = _num(ev.payload, "talk")
                if talk is not None:
                    r.talk_total += talk
                    r.talks += 1
            case _:
                pass

    def result(self) -> dict[str, QueueReport]:
        return dict(sorted(self._reports.items()))


def queue_stats(events: Iterable[EventRow], *, thresholds: Mapping[str, float] | None = None,
                default_threshold: float = DEFAULT_SL_THRESHOLD,
                only: str | None = None) -> dict[str, QueueReport]:
    """Per-queue figures from events in time order (``only``: keep one queue)."""
    builder = QueueStatsBuilder(thresholds=thresholds, default_threshold=default_threshold, only=only)
    for ev in events:
        builder.feed(ev)
    return builder.result()


def format_table(reports: Iterable[QueueReport]) -> str:
    def f(v: float | None, pct: bool = False) -> str:
        if v is None:
            return "-"
        return f"{v * 100:.1f}%" if pct else f"{v:.1f}"

    head = (f"{'QUEUE':16} {'OFFERED':>7} {'ANSW':>5} {'ABAND':>5} {'OVERFL':>6} {'ASA s':>6} {'AHT s':>6} "
            f"{'ABAND%':>7} {'SL%':>7} {'SL s':>5}")
    lines = [head]
    for r in reports:
        lines.append(f"{r.queue:16} {r.offered:>7} {r.answered:>5} {r.abandoned:>5} {r.overflowed:>6} "
                     f"{f(r.asa):>6} {f(r.aht):>6} {f(r.abandonment_rate, True):>7} "
                     f"{f(r.service_level, True):>7} {r.sl_threshold:>5g}")
    return "\n".join(lines) + "\n"
