"""Pure routing decision for inbound calls: DID mapping, VIP list, business hours and holidays.

No I/O: the FastAGI ``route`` script loads a ``RouteFacts`` from PostgreSQL and calls ``decide_route``
with the current time. Business hours are local to each window's time zone; a window whose close is not
after its open runs past midnight. A queue without any window is open all the time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcore.agi import names

MIN_PRIORITY = 0
MAX_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class DidRoute:
    did: str
    queue: str
    priority: int = 0
    language: str | None = None
    after_hours_queue: str | None = None


@dataclass(frozen=True, slots=True)
class HoursWindow:
    weekday: int  # 0 = Monday ... 6 = Sunday (ISO weekday - 1)
    open: dt.time
    close: dt.time
    tz: str = "UTC"


@dataclass(frozen=True, slots=True)
class Holiday:
    day: dt.date
    queue: str | None
    name: str


@dataclass(frozen=True, slots=True)
class RouteFacts:
    did_route: DidRoute | None = None
    vip_priority: int | None = None
    hours: Sequence[HoursWindow] = ()
    holidays: Sequence[Holiday] = ()


@dataclass(frozen=True, slots=True)
class RouteDecision:
    queue: str
    priority: int
    reason: str
    language: str | None = None
    holiday: str | None = None

    def variables(self) -> dict[str, str]:
        out = {names.VAR_QUEUE: self.queue, names.VAR_PRIORITY: str(self.priority),
               names.VAR_ROUTE_REASON: self.reason}
        if self.language:
            out[names.VAR_LANGUAGE] = self.language
        return out


ERROR_VARIABLES = {names.VAR_QUEUE: names.DEFAULT_QUEUE, names.VAR_PRIORITY: "0",
                   names.VAR_ROUTE_REASON: names.REASON_ERROR}


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def in_window(window: HoursWindow, now: dt.datetime) -> bool:
    """Is the aware datetime ``now`` inside the window (in the window's own time zone)?"""
    local = now.astimezone(_zone(window.tz))
    t = local.time().replace(tzinfo=None)
    day = local.weekday()
    if window.open < window.close:
        return day == window.weekday and window.open <= t < window.close
    # Runs past midnight (close <= open): the evening part on its weekday, the morning part on the next.
    return (day == window.weekday and t >= window.open) or (
        day == (window.weekday + 1) % 7 and t < window.close)


def is_open(hours: Sequence[HoursWindow], now: dt.datetime) -> bool:
    return not hours or any(in_window(w, now) for w in hours)


def holiday_for(holidays: Sequence[Holiday], queue: str, local_day: dt.date) -> Holiday | None:
    for h in holidays:
        if h.day == local_day and (h.queue is None or h.queue == queue):
            return h
    return None


def clamp_priority(value: int) -> int:
    return max(MIN_PRIORITY, min(MAX_PRIORITY, value))


def decide_route(facts: RouteFacts, now: dt.datetime, *, default_queue: str = names.DEFAULT_QUEUE,
                 after_hours_queue: str = names.AFTER_HOURS_QUEUE) -> RouteDecision:
    """Queue, priority and reason for one inbound call. ``now`` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("decide_route needs an aware datetime")
    route = facts.did_route
    queue = route.queue if route else default_queue
    priority = route.priority if route else 0
    reason = names.REASON_DID if route else names.REASON_DEFAULT
    if facts.vip_priority is not None and facts.vip_priority > priority:
        priority, reason = facts.vip_priority, names.REASON_VIP
    priority = clamp_priority(priority)
    language = route.language if route else None
    closed_queue = (route.after_hours_queue if route and route.after_hours_queue else after_hours_queue)
    zone = _zone(facts.hours[0].tz) if facts.hours else dt.UTC
    holiday = holiday_for(facts.holidays, queue, now.astimezone(zone).date())
    if holiday is not None:
        return RouteDecision(closed_queue, priority, names.REASON_HOLIDAY, language, holiday.name)
    if not is_open(facts.hours, now):
        return RouteDecision(closed_queue, priority, names.REASON_CLOSED, language)
    return RouteDecision(queue, priority, reason, language)


def number_candidates(number: str) -> list[str]:
    """Forms under which a caller number may be stored: as received, digits only, ``+digits``."""
    raw = number.strip()
    digits = "".join(c for c in raw if c.isdigit())
    out = [raw]
    for form in (digits, f"+{digits}"):
        if digits and form not in out:
            out.append(form)
    return [c for c in out if c]
