"""Injected clocks: the pure core never reads time itself."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock for tests and virtual-time simulations."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._t = start
        self._m = 0.0

    def now(self) -> float:
        return self._t

    def monotonic(self) -> float:
        return self._m

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._t += seconds
        self._m += seconds

    def set(self, now: float) -> None:
        self.advance(max(0.0, now - self._t))
