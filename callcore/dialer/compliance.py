"""Hard guards checked right before a number is dialled.

Every guard is a pure function of its inputs (epoch seconds for instants, IANA zone names for the lead's
possible time zones) and returns a :class:`Refusal` naming the reason, or ``None`` when dialling is
allowed. The caller supplies facts that need I/O (the DNC lookup result, attempt counts, the last
abandonment of the number); nothing here reads a clock or a database.

Calling window: the window is expressed in the lead's local wall-clock time. A lead whose number maps to
several possible zones (a country or area code spanning zones) may only be called when the window is
open in *every* zone, i.e. in the intersection of the windows. Local time is computed with
:mod:`zoneinfo`, so daylight-saving transitions are honoured: on a spring-forward day a window starting
inside the skipped hour opens at the first existing instant after it, and on a fall-back day the
repeated hour is judged by its wall-clock reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcore.errors import InputError

ABANDON_LOCKOUT_SECONDS = 72 * 3600.0


class RefusalCode(StrEnum):
    OUTSIDE_WINDOW = "outside-window"
    NO_COMMON_WINDOW = "no-common-window"
    DNC = "dnc"
    LEAD_ATTEMPTS = "lead-attempts-exhausted"
    NUMBER_DAILY_ATTEMPTS = "number-daily-attempts"
    ABANDON_LOCKOUT = "abandon-lockout"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a number must not be dialled now; ``retry_at`` is the earliest instant it may be, if known."""

    code: RefusalCode
    detail: str
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Daily window in local wall-clock time; ``start > end`` means the window spans midnight."""

    start: time = time(9, 0)
    end: time = time(21, 0)

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InputError("calling window is empty (start equals end)", field="calling_window")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InputError("calling window times are local wall-clock times, without tzinfo",
                             field="calling_window")

    @classmethod
    def parse(cls, text: str) -> CallingWindow:
        """Parse ``"09:00-21:00"`` (an en dash is accepted too)."""
        parts = text.replace("–", "-").split("-")
        if len(parts) != 2:
            raise InputError(f"calling window {text!r} is not HH:MM-HH:MM", field="calling_window")
        try:
            start, end = (time.fromisoformat(p.strip()) for p in parts)
        except ValueError as exc:
            raise InputError(f"calling window {text!r}: {exc}", field="calling_window") from exc
        return cls(start, end)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {name!r}", field="timezone") from exc


def _local(at: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC).astimezone(tz)


def window_open(window: CallingWindow, zones: Sequence[str], at: float) -> bool:
    """True when ``at`` lies inside the window in every one of ``zones`` (at least one zone needed)."""
    if not zones:
        raise InputError("a lead needs at least one time zone", field="timezone")
    return all(window.contains(_local(at, zone(z)).time().replace(tzinfo=None)) for z in zones)


def _starts_after(window: CallingWindow, tz: ZoneInfo, at: float, days: int) -> Iterable[float]:
    """Instants at which the window opens in ``tz`` on the local days around ``at``."""
    day = _local(at, tz).date()
    for offset in range(-1, days + 1):
        d = day + timedelta(days=offset)
        naive = datetime.combine(d, window.start)
        aware = naive.replace(tzinfo=tz)
        instant = aware.timestamp()
        # A start inside a spring-forward gap resolves past the gap; step back to the first
        # instant whose wall clock is inside the window.
        if _local(instant, tz).replace(tzinfo=None) != naive:
            instant = _first_open_after_gap(window, tz, naive)
        yield instant


def _first_open_after_gap(window: CallingWindow, tz: ZoneInfo, naive: datetime) -> float:
    # In a gap, fold=0 maps forward by the gap length; the transition instant is the first valid one.
    early = naive.replace(tzinfo=tz, fold=1).timestamp()
    late = naive.replace(tzinfo=tz, fold=0).timestamp()
    lo, hi = min(early, late), max(early, late)
    while hi - lo > 1.0:
        mid = (lo + hi) / 2
        if window.contains(_local(mid, tz).time().replace(tzinfo=None)) and _local(mid, tz).date() == \
                naive.date():
            hi = mid
        else:
            lo = mid
    return float(int(hi))


def next_window_open(window: CallingWindow, zones: Sequence[str], after: float,
                     horizon_days: int = 4) -> float | None:
    """First instant >= ``after`` when the window is open in all zones; ``None`` if the zones share none."""
    if window_open(window, zones, after):
        return after
    candidates = sorted({s for z in zones for s in _starts_after(window, zone(z), after, horizon_days)
                         if s > after})
    for c in candidates:
        if window_open(window, zones, c):
            return c
    return None


# --- guards ----------------------------------------------------------------------------------------


def check_window(window: CallingWindow, zones: Sequence[str], at: float) -> Refusal | None:
    if window_open(window, zones, at):
        return None
    nxt = next_window_open(window, zones, at)
    if nxt is None:
        return Refusal(RefusalCode.NO_COMMON_WINDOW,
                       f"calling window {window.start}-{window.end} never open in all of {list(zones)}")
    return Refusal(RefusalCode.OUTSIDE_WINDOW,
                   f"outside calling window {window.start}-{window.end} in {list(zones)}", nxt)


def check_dnc(on_dnc_list: bool) -> Refusal | None:
    return Refusal(RefusalCode.DNC, "number is on the do-not-call list") if on_dnc_list else None


def check_lead_attempts(attempts: int, max_attempts: int) -> Refusal | None:
    if attempts >= max_attempts:
        return Refusal(RefusalCode.LEAD_ATTEMPTS, f"lead already dialled {attempts} of {max_attempts} times")
    return None


def local_day_start(at: float, zone_name: str) -> float:
    """Epoch seconds of local midnight (or the first instant of the local day) containing ``at``."""
    tz = zone(zone_name)
    local = _local(at, tz)
    midnight = datetime.combine(local.date(), time(0, 0)).replace(tzinfo=tz)
    start = midnight.timestamp()
    if _local(start, tz).date() != local.date():  # midnight skipped by a DST change
        start = _local(start, tz).replace(minute=0, second=0).timestamp()
    return start


def attempts_today(attempt_times: Iterable[float], at: float, zone_name: str) -> int:
    """How many of ``attempt_times`` fall on the local day of ``at`` (up to ``at``) in ``zone_name``."""
    start = local_day_start(at, zone_name)
    return sum(1 for t in attempt_times if start <= t <= at)


def check_number_daily_attempts(attempts_today_count: int, max_per_day: int, at: float,
                                zone_name: str) -> Refusal | None:
    if attempts_today_count < max_per_day:
        return None
    tz = zone(zone_name)
    tomorrow = _local(at, tz).date() + timedelta(days=1)
    nxt = datetime.combine(tomorrow, time(0, 0)).replace(tzinfo=tz).timestamp()
    return Refusal(RefusalCode.NUMBER_DAILY_ATTEMPTS,
                   f"number already dialled {attempts_today_count} times today (cap {max_per_day})", nxt)


def check_abandon_lockout(last_abandoned_at: float | None, at: float, operator_guaranteed: bool,
                          lockout: float = ABANDON_LOCKOUT_SECONDS) -> Refusal | None:
    """A number whose call was abandoned waits ``lockout`` seconds unless an operator is guaranteed."""
    if last_abandoned_at is None or operator_guaranteed:
        return None
    until = last_abandoned_at + lockout
    if at < until:
        return Refusal(RefusalCode.ABANDON_LOCKOUT, "number had an abandoned call within the lockout", until)
    return None


# --- ambiguous time zones ------------------------------------------------------------------------------

class ZonePolicy(StrEnum):
    """How a campaign dials a lead whose number can be in several time zones."""

    STRICTEST = "strictest"        # the window must be open in every possible zone (their intersection)
    DEFAULT_ZONE = "default-zone"  # the campaign's default zone, when it is one of the lead's possible zones
    COLUMN = "column"              # the zone named by a column of the lead file (strictest where it is empty)


def resolve_zones(zones: Sequence[str], policy: ZonePolicy = ZonePolicy.STRICTEST,
                  default_zone: str = "") -> tuple[str, ...]:
    """The zones whose clocks the calling window is checked against for a lead with possible ``zones``.

    ``strictest`` keeps all of them (the window must be open in every one). ``default-zone`` uses
    ``default_zone`` when it is one of them, else keeps them all: a zone the number cannot be in would be a
    guess. ``column`` zones were chosen at upload, from the lead file; a lead left with several (its cell was
    empty) is dialled by the strictest rule.
    """
    if len(zones) <= 1 or policy is not ZonePolicy.DEFAULT_ZONE:
        return tuple(zones)
    if not default_zone:
        raise InputError("the default-zone policy needs a default zone", field="default_zone")
    return (default_zone,) if default_zone in zones else tuple(zones)


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """A campaign's zone policy with its zone or column; validated on construction."""

    policy: ZonePolicy = ZonePolicy.STRICTEST
    default_zone: str = ""
    zone_column: str = ""

    def __post_init__(self) -> None:
        if self.policy is ZonePolicy.DEFAULT_ZONE:
            if not self.default_zone:
                raise InputError("the default-zone policy needs a default zone (e.g. Europe/Moscow)",
                                 field="default_zone")
            try:
                zone(self.default_zone)
            except InputError:
                raise InputError(f"unknown time zone {self.default_zone!r}", field="default_zone") from None
        if self.policy is ZonePolicy.COLUMN and not self.zone_column.strip():
            raise InputError("the column policy needs the lead file's time-zone column", field="zone_column")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZoneRule:
        """From a campaign's stored settings (other keys ignored)."""
        try:
            policy = ZonePolicy(data.get("zone_policy", ZonePolicy.STRICTEST.value))
        except ValueError:
            raise InputError(f"zone policy must be one of {', '.join(p.value for p in ZonePolicy)}, got "
                             f"{data.get('zone_policy')!r}", field="zone_policy") from None
        return cls(policy, str(data.get("default_zone", "")), str(data.get("zone_column", "")))

    def resolve(self, zones: Sequence[str]) -> tuple[str, ...]:
        """The zones the window is checked in for a lead with these possible ``zones`` (UTC if none)."""
        return resolve_zones(zones or ("UTC",), self.policy, self.default_zone)

    def text(self) -> str:
        """One line for the upload summary and the campaign report."""
        if self.policy is ZonePolicy.DEFAULT_ZONE:
            return (f"time zones: default-zone {self.default_zone} (a lead that can be in it is dialled by its "
                    "clock; others only while the window is open in all of their zones)")
        if self.policy is ZonePolicy.COLUMN:
            return (f"time zones: column {self.zone_column!r} of the lead file (an empty cell: the number's "
                    "zones, dialled only while the window is open in all of them)")
        return ("time zones: strictest (a lead with several possible zones is dialled only while the window is "
                "open in all of them)")


def shared_open_hours(window: CallingWindow, zones: Sequence[str], day_start: float, step: float = 300.0) -> float:
    """Hours of the 24 h from ``day_start`` during which ``window`` is open in all ``zones`` (``step``
    seconds resolution): what a lead with these possible zones can be dialled in a day."""
    samples = int(86_400 / step)
    open_steps = sum(1 for i in range(samples) if window_open(window, zones, day_start + i * step))
    return open_steps * step / 3600.0
