"""Campaign settings and the pure lead lifecycle.

A lead moves ``NEW -> DIALING -> (SCHEDULED | CALLBACK | DONE)``; every call result is first reduced to an
:class:`Outcome` (:func:`outcome_from_hangup` maps a Q.850 cause and the AMD verdict), then
:func:`apply_outcome` returns the new lead state: either a retry scheduled after the outcome's delay, or a
final state when the outcome is final or the attempt caps are reached. Nothing here performs I/O; time is
passed in as epoch seconds.

Abandonment accounting (:class:`AbandonLedger`) keeps hourly buckets of human-answered and abandoned calls
and reports the rate over rolling 24 h and 30 day windows. An answered customer not connected to an
operator within ``connect_grace`` seconds (2 s) counts as abandoned and hears the safe-harbour message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from callcore.dialer import compliance
from callcore.dialer.compliance import CallingWindow, Refusal, ZonePolicy
from callcore.errors import InputError

MIN_RING_TIMEOUT = 15.0


class Mode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"
    AGENTLESS = "agentless"

    @property
    def operator_guaranteed(self) -> bool:
        """True when every answered call is certain to find its operator (no abandonment possible)."""
        return self in (Mode.PREVIEW, Mode.PROGRESSIVE)


class MachineHandling(StrEnum):
    HANGUP_RETRY = "hangup-retry"
    LEAVE_MESSAGE = "leave-message"


class Outcome(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CONGESTION = "congestion"
    ABANDONED = "abandoned"
    DNC_BLOCKED = "dnc-blocked"
    OUTSIDE_WINDOW = "outside-window"


class LeadStatus(StrEnum):
    NEW = "new"
    DIALING = "dialing"
    SCHEDULED = "scheduled"
    CALLBACK = "callback"
    DONE = "done"


class FinalReason(StrEnum):
    CONTACTED = "contacted"
    MESSAGE_LEFT = "message-left"
    DNC = "dnc"
    ATTEMPTS_EXHAUSTED = "attempts-exhausted"
    NO_COMMON_WINDOW = "no-common-window"


@dataclass(frozen=True, slots=True)
class RetryDelays:
    """Seconds to wait before redialling after each retryable outcome."""

    busy: float = 600.0
    no_answer: float = 3600.0
    machine: float = 4 * 3600.0
    failed: float = 3600.0
    congestion: float = 300.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 0:
                raise InputError("retry delay must not be negative", field=f"retry.{f.name}")

    def for_outcome(self, outcome: Outcome) -> float | None:
        return {
            Outcome.BUSY: self.busy,
            Outcome.NO_ANSWER: self.no_answer,
            Outcome.MACHINE: self.machine,
            Outcome.FAILED: self.failed,
            Outcome.CONGESTION: self.congestion,
        }.get(outcome)


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    caller_id: str
    queue: str = ""
    script: str = ""
    mode: Mode = Mode.PROGRESSIVE
    window: CallingWindow = field(default_factory=CallingWindow)
    max_attempts: int = 5
    max_attempts_per_number_per_day: int = 3
    retry: RetryDelays = field(default_factory=RetryDelays)
    ring_timeout: float = 25.0
    abandon_target: float = 0.03
    dial_level_min: float = 1.0
    dial_level_max: float = 5.0
    amd: bool = False
    machine_handling: MachineHandling = MachineHandling.HANGUP_RETRY
    safe_harbour_message: str = "sound:custom/callcore-safe-harbour"  # shipped: callcore.dialer.sounds
    agentless_message: str = ""
    agentless_record_keypress: bool = False
    agentless_lines: int = 10  # agentless campaigns: simultaneous calls (the trunk capacity given to it)
    abandon_lockout: float = compliance.ABANDON_LOCKOUT_SECONDS
    connect_grace: float = 2.0
    wrapup: float = 5.0
    zone_policy: ZonePolicy = ZonePolicy.STRICTEST  # leads with several possible time zones
    default_zone: str = ""   # zone_policy default-zone: this IANA zone, when it is one of the lead's zones
    zone_column: str = ""    # zone_policy column: the lead file's column naming each lead's IANA zone

    def __post_init__(self) -> None:
        if not self.caller_id.strip():
            raise InputError("caller id is required", field="caller_id")
        if self.mode is not Mode.AGENTLESS and not self.queue:
            raise InputError("a queue must take the answered calls", field="queue")
        if self.mode is Mode.AGENTLESS and not self.agentless_message:
            raise InputError("an agentless campaign needs a message to play", field="agentless_message")
        if self.ring_timeout < MIN_RING_TIMEOUT:
            raise InputError(f"ring timeout must be at least {MIN_RING_TIMEOUT:g} s", field="ring_timeout")
        if not 0.0 < self.abandon_target < 1.0:
            raise InputError("abandonment target must be between 0 and 1", field="abandon_target")
        if self.max_attempts < 1 or self.max_attempts_per_number_per_day < 1:
            raise InputError("attempt caps must be at least 1", field="max_attempts")
        if not 0.0 <= self.dial_level_min <= 1.0:
            raise InputError("minimum dial level must be within [0, 1]", field="dial_level_min")
        if self.dial_level_max < max(1.0, self.dial_level_min):
            raise InputError("maximum dial level must be at least 1", field="dial_level_max")
        if self.agentless_lines < 1:
            raise InputError("agentless campaigns need at least one line", field="agentless_lines")
        if self.connect_grace < 0 or self.wrapup < 0 or self.abandon_lockout < 0:
            raise InputError("durations must not be negative", field="connect_grace")
        compliance.ZoneRule(self.zone_policy, self.default_zone, self.zone_column)   # validates them

    @property
    def zone_rule(self) -> compliance.ZoneRule:
        return compliance.ZoneRule(self.zone_policy, self.default_zone, self.zone_column)

    def dial_zones(self, zones: Sequence[str]) -> tuple[str, ...]:
        """The zones whose local time the calling window is checked in, for a lead with these zones."""
        return compliance.resolve_zones(zones or ("UTC",), self.zone_policy, self.default_zone)


# --- outcomes --------------------------------------------------------------------------------------

_BUSY_CAUSES = frozenset({17, 21})
_NO_ANSWER_CAUSES = frozenset({16, 18, 19, 20, 31, 32, 102, 127})
_CONGESTION_CAUSES = frozenset({34, 38, 41, 42, 44, 47})
_FAILED_CAUSES = frozenset({1, 2, 3, 22, 27, 28, 29, 58, 88, 111})


class AmdStatus(StrEnum):
    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"
    HANGUP = "HANGUP"


def outcome_from_hangup(cause: int | None, answered: bool, amd: AmdStatus | str | None = None) -> Outcome:
    """Reduce a call's end to an outcome.

    Answered calls are human unless AMD said ``MACHINE`` (``NOTSURE`` is treated as human so a person is
    never dropped). For unanswered calls the Q.850 cause decides: 17 busy and 21 rejected are busy; 16,
    18, 19, 20, 31 and our own cancel (127, 32) are no answer; 34/38/41/42/44/47 congestion; 1, 3, 28 and
    other routing/number errors failed; anything unknown is failed.
    """
    if answered:
        if amd is not None and str(amd).upper() == AmdStatus.MACHINE:
            return Outcome.MACHINE
        return Outcome.HUMAN
    if cause in _BUSY_CAUSES:
        return Outcome.BUSY
    if cause in _NO_ANSWER_CAUSES or cause is None:
        return Outcome.NO_ANSWER
    if cause in _CONGESTION_CAUSES:
        return Outcome.CONGESTION
    return Outcome.FAILED


def classify_connect(answered_at: float, connected_at: float | None, grace: float = 2.0) -> Outcome:
    """A human answer is abandoned unless an operator was connected within ``grace`` seconds."""
    if connected_at is not None and connected_at - answered_at <= grace:
        return Outcome.HUMAN
    return Outcome.ABANDONED


class AnswerAction(StrEnum):
    CONNECT = "connect-to-queue"
    SAFE_HARBOUR = "play-safe-harbour"
    LEAVE_MESSAGE = "leave-message"
    HANG_UP = "hang-up"
    PLAY_AGENTLESS = "play-agentless-message"


def answer_action(settings: CampaignSettings, amd: AmdStatus | str | None,
                  operator_free: bool) -> AnswerAction:
    """What to do with a freshly answered call (``operator_free``: one is free within the grace)."""
    if settings.amd and amd is not None and str(amd).upper() == AmdStatus.MACHINE:
        if settings.machine_handling is MachineHandling.LEAVE_MESSAGE:
            return AnswerAction.LEAVE_MESSAGE
        return AnswerAction.HANG_UP
    if settings.mode is Mode.AGENTLESS:
        return AnswerAction.PLAY_AGENTLESS
    return AnswerAction.CONNECT if operator_free else AnswerAction.SAFE_HARBOUR


# --- lead lifecycle --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lead:
    id: str
    phone: str
    zones: tuple[str, ...]
    status: LeadStatus = LeadStatus.NEW
    attempts: int = 0
    attempt_times: tuple[float, ...] = ()
    next_attempt_at: float | None = None
    last_outcome: Outcome | None = None
    last_abandoned_at: float | None = None
    final_reason: FinalReason | None = None
    callback_agent: str | None = None


def dial_refusal(settings: CampaignSettings, lead: Lead, at: float, on_dnc_list: bool) -> Refusal | None:
    """Run every hard guard; the first refusal (DNC, caps, lockout, window) or ``None``.

    A scheduled callback was promised to the customer, so it is exempt from the per-lead attempt cap
    (but not from the daily cap per number, the lockout, DNC or the calling window).
    """
    zones = settings.dial_zones(lead.zones)
    primary_zone = zones[0]
    return (
        compliance.check_dnc(on_dnc_list)
        or (None if lead.status is LeadStatus.CALLBACK
            else compliance.check_lead_attempts(lead.attempts, settings.max_attempts))
        or compliance.check_number_daily_attempts(
            compliance.attempts_today(lead.attempt_times, at, primary_zone),
            settings.max_attempts_per_number_per_day, at, primary_zone)
        or compliance.check_abandon_lockout(lead.last_abandoned_at, at, settings.mode.operator_guaranteed,
                                            settings.abandon_lockout)
        or compliance.check_window(settings.window, zones, at)
    )


def is_due(lead: Lead, at: float) -> bool:
    if lead.status is LeadStatus.NEW:
        return True
    if lead.status in (LeadStatus.SCHEDULED, LeadStatus.CALLBACK):
        return lead.next_attempt_at is None or lead.next_attempt_at <= at
    return False


def start_dial(lead: Lead, at: float) -> Lead:
    """The lead is being dialled now: counts one attempt for the lead and its number."""
    if lead.status in (LeadStatus.DONE, LeadStatus.DIALING):
        raise InputError(f"lead {lead.id} cannot be dialled in status {lead.status}", field="status")
    return dataclasses.replace(lead, status=LeadStatus.DIALING, attempts=lead.attempts + 1,
                               attempt_times=(*lead.attempt_times, at)[-50:], next_attempt_at=None)


def _final(lead: Lead, outcome: Outcome, reason: FinalReason) -> Lead:
    return dataclasses.replace(lead, status=LeadStatus.DONE, last_outcome=outcome, final_reason=reason,
                               next_attempt_at=None)


def apply_refusal(lead: Lead, refusal: Refusal) -> Lead:
    """Record a guard's refusal without counting an attempt."""
    code = compliance.RefusalCode
    if refusal.code is code.DNC:
        return _final(lead, Outcome.DNC_BLOCKED, FinalReason.DNC)
    if refusal.code is code.LEAD_ATTEMPTS:
        return _final(lead, lead.last_outcome or Outcome.NO_ANSWER, FinalReason.ATTEMPTS_EXHAUSTED)
    if refusal.code is code.NO_COMMON_WINDOW:
        return _final(lead, Outcome.OUTSIDE_WINDOW, FinalReason.NO_COMMON_WINDOW)
    outcome = Outcome.OUTSIDE_WINDOW if refusal.code is code.OUTSIDE_WINDOW else lead.last_outcome
    status = LeadStatus.CALLBACK if lead.status is LeadStatus.CALLBACK else LeadStatus.SCHEDULED
    return dataclasses.replace(lead, status=status, next_attempt_at=refusal.retry_at, last_outcome=outcome)


def apply_outcome(settings: CampaignSettings, lead: Lead, outcome: Outcome, at: float) -> Lead:
    """New lead state after a dial attempt ended with ``outcome`` at ``at``."""
    if outcome is Outcome.HUMAN:
        return _final(lead, outcome, FinalReason.CONTACTED)
    if outcome is Outcome.DNC_BLOCKED:
        return _final(lead, outcome, FinalReason.DNC)
    if outcome is Outcome.MACHINE and settings.machine_handling is MachineHandling.LEAVE_MESSAGE:
        return _final(lead, outcome, FinalReason.MESSAGE_LEFT)
    if outcome is Outcome.ABANDONED:
        lead = dataclasses.replace(lead, last_abandoned_at=at)
        delay = 0.0 if settings.mode.operator_guaranteed else settings.abandon_lockout
    elif outcome is Outcome.OUTSIDE_WINDOW:
        nxt = compliance.next_window_open(settings.window, settings.dial_zones(lead.zones), at)
        if nxt is None:
            return _final(lead, outcome, FinalReason.NO_COMMON_WINDOW)
        return dataclasses.replace(lead, status=LeadStatus.SCHEDULED, next_attempt_at=nxt,
                                   last_outcome=outcome)
    else:
        delay = settings.retry.for_outcome(outcome) or 0.0
    if lead.attempts >= settings.max_attempts:
        return _final(lead, outcome, FinalReason.ATTEMPTS_EXHAUSTED)
    return dataclasses.replace(lead, status=LeadStatus.SCHEDULED, next_attempt_at=at + delay,
                               last_outcome=outcome, callback_agent=None)


class CallbackTarget(StrEnum):
    SELF = "self"
    CAMPAIGN = "campaign"


@dataclass(frozen=True, slots=True)
class CallbackDisposition:
    """An operator's wrap-up choice: call this lead back at ``at`` (themselves or anyone on the campaign)."""

    at: float
    target: CallbackTarget = CallbackTarget.CAMPAIGN
    agent: str | None = None


def apply_callback(lead: Lead, disposition: CallbackDisposition, now: float) -> Lead:
    """Schedule a callback; it does not consume the lead's retry budget."""
    if disposition.at < now:
        raise InputError("callback time is in the past", field="callback_at")
    if disposition.target is CallbackTarget.SELF and not disposition.agent:
        raise InputError("a personal callback needs the operator", field="agent")
    agent = disposition.agent if disposition.target is CallbackTarget.SELF else None
    return dataclasses.replace(lead, status=LeadStatus.CALLBACK, next_attempt_at=disposition.at,
                               callback_agent=agent, final_reason=None)


# --- abandonment accounting ------------------------------------------------------------------------

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class AbandonRate:
    answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


@dataclass(frozen=True, slots=True)
class AbandonLedger:
    """Hourly buckets ``(hour_index, human_answered, abandoned)``, oldest first, kept for 30 days.

    Every abandoned call is also a live (human) answer: it counts in both columns.
    """

    buckets: tuple[tuple[int, int, int], ...] = ()

    def record(self, outcome: Outcome, at: float) -> AbandonLedger:
        if outcome not in (Outcome.HUMAN, Outcome.ABANDONED):
            return self
        hour = int(at // HOUR)
        ab = 1 if outcome is Outcome.ABANDONED else 0
        kept = [b for b in self.buckets if b[0] > hour - 30 * 24]
        if kept and kept[-1][0] == hour:
            h, n, a = kept[-1]
            kept[-1] = (h, n + 1, a + ab)
        else:
            kept.append((hour, 1, ab))
            kept.sort()
        return AbandonLedger(tuple(kept))

    def window(self, at: float, seconds: float) -> AbandonRate:
        """Totals over the hour buckets overlapping ``(at - seconds, at]``."""
        lo = int((at - seconds) // HOUR) + 1
        hi = int(at // HOUR)
        sel: Sequence[tuple[int, int, int]] = [b for b in self.buckets if lo <= b[0] <= hi]
        return AbandonRate(sum(b[1] for b in sel), sum(b[2] for b in sel))

    def last_24h(self, at: float) -> AbandonRate:
        return self.window(at, DAY)

    def last_30d(self, at: float) -> AbandonRate:
        return self.window(at, 30 * DAY)
