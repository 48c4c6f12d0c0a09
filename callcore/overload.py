"""Overload detection from event-loop lag: pure logic, time given by the caller.

A ticker asks to be woken every ``interval`` seconds; ``LagMonitor.sample(scheduled, now)`` gets the time it
was due and the time it really ran. The difference is the loop lag: how long any ready callback (an ARI event,
an HTTP request, a timer) currently waits for the loop. ``backlog`` is the number of ARI events received and
not yet handled, the other sign of a process that falls behind.

The process is *overloaded* from the first sample whose lag reaches ``enter_lag`` (or whose backlog reaches
``enter_backlog``) and stays so until no sample has reached ``exit_lag`` / ``exit_backlog`` for ``hold``
seconds: one sample over the line sheds work at once, and a load that hovers near the line does not flap.
While overloaded, readiness says so and the service sheds non-essential work (see ``callcore.service.looplag``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class LagMonitor:
    interval: float = 0.1
    enter_lag: float = 0.25
    exit_lag: float = 0.05
    enter_backlog: int = 2000
    exit_backlog: int = 200
    hold: float = 5.0
    window: int = 100  # samples kept for ``recent_max``
    overloaded: bool = False
    since: float | None = None  # when the current overload began
    episodes: int = 0
    last_lag: float = 0.0
    _last_bad: float = float("-inf")
    _recent: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not (0 <= self.exit_lag <= self.enter_lag) or not (0 <= self.exit_backlog <= self.enter_backlog):
            raise ValueError("exit thresholds must lie between 0 and the enter thresholds")
        if self.interval <= 0 or self.hold < 0 or self.window < 1:
            raise ValueError("interval must be positive, hold and window non-negative")

    def sample(self, scheduled: float, now: float, backlog: int = 0) -> float:
        """Record one tick due at ``scheduled`` that ran at ``now``; returns the lag (never negative)."""
        lag = max(0.0, now - scheduled)
        self.last_lag = lag
        self._recent.append(lag)
        if len(self._recent) > self.window:
            self._recent.popleft()
        if lag >= self.exit_lag or backlog >= self.exit_backlog:
            self._last_bad = now
        if not self.overloaded:
            if lag >= self.enter_lag or backlog >= self.enter_backlog:
                self.overloaded = True
                self.since = now
                self.episodes += 1
        elif now - self._last_bad >= self.hold:
            self.overloaded = False
            self.since = None
        return lag

    @property
    def recent_max(self) -> float:
        return max(self._recent, default=0.0)

    def report(self, now: float) -> dict[str, object]:
        """For readiness and health: overloaded or not, for how long, and the recent lag."""
        return {
            "overloaded": self.overloaded,
            "overloaded_for_s": round(now - self.since, 3) if self.since is not None else 0.0,
            "loop_lag_s": round(self.last_lag, 4),
            "loop_lag_recent_max_s": round(self.recent_max, 4),
            "overload_episodes": self.episodes,
        }
