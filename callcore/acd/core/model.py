"""Configuration and runtime records of the inbound ACD.

Everything here is plain data: no I/O, no clock. Times are seconds since the epoch, passed in.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from callcore.acd.core import strategies
from callcore.errors import InputError

STRATEGIES = strategies.NAMES  # the registry in ``callcore.acd.core.strategies`` is the one list

# What makes a queue "empty" for join/leave decisions:
#   never          - callers always join / never leave because of staffing
#   no_members     - no member is logged in (paused members count as present)
#   none_available - no member is logged in and unpaused (busy and wrap-up members still count: they come back
#                    without anybody doing anything)
EmptyPolicy = Literal["never", "no_members", "none_available"]
EMPTY_POLICIES: tuple[str, ...] = ("never", "no_members", "none_available")


@dataclass(frozen=True, slots=True)
class Overflow:
    """Where a caller goes after ``max_wait``, a refused join or a queue that emptied.

    kind ``queue``: ``target`` is another queue; ``dialplan``: continue at context/exten/priority;
    ``voicemail``: continue at ``voicemail_context``/<box>/1 (the dialplan there runs VoiceMail()).
    """

    kind: Literal["queue", "dialplan", "voicemail"]
    target: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1

    @staticmethod
    def parse(text: str) -> Overflow:
        """``queue:<name>`` | ``dialplan:<context>,<exten>[,<priority>]`` | ``voicemail:<box>``."""
        kind, _, rest = text.strip().partition(":")
        rest = rest.strip()
        if kind == "queue" and rest:
            return Overflow("queue", target=rest)
        if kind == "voicemail" and rest:
            return Overflow("voicemail", target=rest)
        if kind == "dialplan":
            parts = [p.strip() for p in rest.split(",")]
            if len(parts) in (2, 3) and all(parts):
                prio = 1
                if len(parts) == 3:
                    if not parts[2].isdigit():
                        raise InputError("priority must be a number", field="overflow")
                    prio = int(parts[2])
                return Overflow("dialplan", context=parts[0], exten=parts[1], priority=prio)
        raise InputError(f"cannot read overflow action {text!r}", field="overflow")


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """A minimum skill level that relaxes while the caller waits.

    ``relax`` holds (after_seconds, level) steps in increasing time; level ``None`` drops the requirement.
    """

    skill: str
    min_level: int
    relax: tuple[tuple[float, int | None], ...] = ()

    def level_at(self, waited: float) -> int | None:
        level: int | None = self.min_level
        for after, lvl in self.relax:
            if waited >= after:
                level = lvl
        return level

    def change_times(self) -> tuple[float, ...]:
        return tuple(after for after, _ in self.relax)

    _STEP = re.compile(r"^after\s+(\d+(?:\.\d+)?)\s*s?\s+(?:>=\s*(\d+)|(dropped|drop|any))$", re.IGNORECASE)
    _HEAD = re.compile(r"^([A-Za-z0-9_.:=\-]+?)\s*>=\s*(\d+)$")

    @staticmethod
    def parse(text: str) -> SkillRequirement:
        """``language=ru>=3, after 30 s >=1, after 60 s dropped``."""
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise InputError("empty skill requirement", field="skills")
        head = SkillRequirement._HEAD.match(parts[0])
        if head is None:
            raise InputError(f"cannot read skill requirement {parts[0]!r}", field="skills")
        steps: list[tuple[float, int | None]] = []
        for p in parts[1:]:
            m = SkillRequirement._STEP.match(p)
            if m is None:
                raise InputError(f"cannot read relaxation step {p!r}", field="skills")
            steps.append((float(m[1]), int(m[2]) if m[2] is not None else None))
        if any(b[0] <= a[0] for a, b in itertools.pairwise(steps)):
            raise InputError("relaxation steps must be in increasing time", field="skills")
        return SkillRequirement(head[1], int(head[2]), tuple(steps))


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: str = "longest-idle"  # a name in callcore.acd.core.strategies.REGISTRY
    weight: int = 0
    moh_class: str = "default"
    announce_position_every: float = 0.0
    announce_holdtime: bool = False
    max_wait: float = 0.0
    overflow: Overflow | None = None
    join_empty: EmptyPolicy = "never"
    leave_empty: EmptyPolicy = "never"
    max_len: int = 0
    callback_digit: str = ""
    wrapup_time: float = 0.0
    ring_timeout: float = 15.0
    max_no_answer: int = 3
    service_level_threshold: float = 20.0
    recording: str = "none"
    script: str = ""
    dispositions: tuple[str, ...] = ()
    skills: tuple[SkillRequirement, ...] = ()
    voicemail_context: str = "callcore-voicemail"
    transfer_context: str = "callcore-transfer"

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("queue name is empty", field="name")
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {self.strategy!r}", where=self.name, field="strategy")
        for f in ("join_empty", "leave_empty"):
            if getattr(self, f) not in EMPTY_POLICIES:
                raise InputError(f"unknown policy {getattr(self, f)!r}", where=self.name, field=f)
        for f in ("announce_position_every", "max_wait", "wrapup_time", "ring_timeout", "max_len",
                  "max_no_answer", "service_level_threshold"):
            if getattr(self, f) < 0:
                raise InputError("must not be negative", where=self.name, field=f)
        recording_percent(self.recording, self.name)
        digit = self.callback_digit
        if len(digit) > 1 or (digit and digit not in "0123456789*#"):
            raise InputError("must be one DTMF digit", where=self.name, field="callback_digit")


def recording_percent(policy: str, where: str = "") -> int:
    """``all`` -> 100, ``none`` -> 0, ``percent:N`` -> N."""
    if policy == "all":
        return 100
    if policy == "none":
        return 0
    kind, _, n = policy.partition(":")
    if kind == "percent" and n.isdigit() and 0 <= int(n) <= 100:
        return int(n)
    raise InputError(f"unknown recording policy {policy!r}", where=where or None, field="recording")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    name: str = ""
    endpoint: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    memberships: Mapping[str, int] = field(default_factory=dict)  # queue -> penalty (lower rings first)

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("agent id is empty", field="id")


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


# Fields whose change moves an agent in or out of the routing index (``callcore.acd.core.index``), or a call
# in or out of its queue's line: setting one reports the record to the index it belongs to.
_AGENT_WATCH = frozenset({"state", "registered", "session_channel", "endpoint", "config", "idle_since",
                          "outbound_call"})
_CALL_WATCH = frozenset({"status", "queue", "priority", "entered_at", "seq", "next_relax"})


@dataclass(slots=True)
class Agent:
    """Runtime state of one agent. Mutated only by ``callcore.acd.core.agent`` transitions."""

    config: AgentConfig
    state: AgentState = AgentState.LOGGED_OUT
    pause_reason: str = ""
    since: float = 0.0
    idle_since: float = 0.0
    endpoint: str = ""
    registered: bool | None = True  # None: not known yet (just started, the phones' registrations not read)
    session_channel: str | None = None
    call_id: str | None = None
    leg_id: str | None = None
    call_queue: str | None = None
    wrapup_until: float = 0.0
    pending: str | None = None  # "pause" | "logout" after the current call
    pending_reason: str = ""
    misses: int = 0
    answered: dict[str, int] = field(default_factory=dict)
    last_call_id: str | None = None
    last_queue: str | None = None
    last_disposition_done: bool = True
    outbound_call: str | None = None  # the operator's own outbound (preview) call is ringing: no other offer
    watcher: set[str] | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _AGENT_WATCH:
            try:
                w = self.watcher
            except AttributeError:  # still being built
                return
            if w is not None:
                w.add(self.config.id)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def session(self) -> bool:
        return self.session_channel is not None

    def reachable(self) -> bool:
        return self.session or (self.registered is True and bool(self.endpoint))


CallStatus = Literal["waiting", "connected", "transferred", "ended"]  # transferred: attended, agent gone


@dataclass(slots=True)
class Call:
    id: str
    channel: str
    queue: str
    priority: int
    caller_number: str
    caller_name: str
    entered_at: float  # first entry into callcore: orders calls within a priority
    queue_entered_at: float  # entry into the current queue: max_wait counts from here
    seq: int
    data: Mapping[str, Any] = field(default_factory=dict)
    status: CallStatus = "waiting"
    legs: dict[str, str] = field(default_factory=dict)  # ringing leg id -> agent id
    tried: set[str] = field(default_factory=set)
    agent_id: str | None = None
    agent_leg: str | None = None  # connected leg (ring mode) or agent session channel
    bridge_id: str | None = None
    answered_at: float = 0.0
    recording: str | None = None
    announcing: str | None = None  # playback id of a running announcement
    next_relax: float | None = None
    required_agent: str | None = None  # only this agent may take the call
    held: bool = False  # the operator put the caller on hold (music, out of the bridge)
    consult_leg: str | None = None  # attended transfer: the consulted party's channel
    consult_answered: bool = False
    consult_target: str = ""
    bridged: bool = False  # connected, and Asterisk confirmed the bridge holds the caller and the agent
    watcher: set[str] | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _CALL_WATCH:
            try:
                w = self.watcher
            except AttributeError:  # still being built
                return
            if w is not None:
                w.add(self.id)

    def waited(self, now: float) -> float:
        return max(0.0, now - self.queue_entered_at)
