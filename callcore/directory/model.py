"""Queue and agent definitions as stored in the directory, with validation.

Pure: building a ``QueueSpec`` or ``AgentSpec`` from a mapping (HTTP JSON, CLI options, a database
row) checks every field and raises ``InputError`` naming the field. Partial updates merge onto an
existing spec and are validated as a whole.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcore.errors import InputError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SKILL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,63}$")
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9]+/\S{1,200}$")
NUMBER_RE = re.compile(r"^\+?[0-9*#]{1,32}$")

STRATEGIES = ("longest_idle", "ringall", "round_robin", "fewest_calls", "random", "linear", "skills")
JOIN_EMPTY = ("allow", "logged_in", "available")
LEAVE_EMPTY = ("never", "logged_in", "available")
RECORDING = ("none", "all", "on_demand")
TICKET_TYPES = ("complaint", "claim", "request")
MAX_SKILL_LEVEL = 100


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """After ``after`` seconds of waiting, the queue's skill requirements become ``requirements``."""

    after: int
    requirements: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"after": self.after, "requirements": dict(self.requirements)}


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    strategy: str = "longest_idle"
    moh_class: str = "default"
    announce_position_interval: int = 30
    periodic_announce: str = ""
    periodic_announce_interval: int = 0
    max_wait: int = 0
    overflow_target: str | None = None
    join_empty: str = "allow"
    leave_empty: str = "never"
    max_len: int = 0
    callback_digit: str | None = None
    wrapup_time: int = 10
    ring_timeout: int = 15
    max_no_answer: int = 3
    service_level_threshold: int = 20
    recording: str = "none"
    script: str = ""
    disposition_codes: tuple[str, ...] = ()
    skill_requirements: Mapping[str, int] = field(default_factory=dict)
    skill_relaxation: tuple[RelaxationStep, ...] = ()
    weight: int = 0

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["disposition_codes"] = list(self.disposition_codes)
        out["skill_requirements"] = dict(self.skill_requirements)
        out["skill_relaxation"] = [s.to_json() for s in self.skill_relaxation]
        return out


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: str
    name: str = ""
    endpoint: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "endpoint": self.endpoint, "skills": dict(self.skills),
                "queues": dict(self.queues)}


QUEUE_FIELDS = tuple(f.name for f in dataclasses.fields(QueueSpec))
AGENT_FIELDS = tuple(f.name for f in dataclasses.fields(AgentSpec))


# --- field checks ------------------------------------------------------------------------------


def check_name(value: Any, fld: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InputError("must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit)",
                         field=fld)
    return value


def _int(value: Any, fld: str, *, lo: int = 0, hi: int = 86_400) -> int:
    if isinstance(value, bool):
        raise InputError(f"must be an integer, got {value!r}", field=fld)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InputError(f"must be an integer, got {value!r}", field=fld) from None
    if not isinstance(value, int):
        raise InputError(f"must be an integer, got {value!r}", field=fld)
    if not lo <= value <= hi:
        raise InputError(f"must be between {lo} and {hi}, got {value}", field=fld)
    return value


def _choice(value: Any, fld: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}, got {value!r}", field=fld)
    return str(value)


def _text(value: Any, fld: str, *, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", field=fld)
    if len(value) > max_len:
        raise InputError(f"must be at most {max_len} characters", field=fld)
    return value


def check_skill_map(value: Any, fld: str) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InputError("must be an object mapping skill names to levels", field=fld)
    out: dict[str, int] = {}
    for key, level in value.items():
        if not isinstance(key, str) or not SKILL_RE.match(key):
            raise InputError(f"bad skill name {key!r}", field=fld)
        out[key] = _int(level, f"{fld}.{key}", lo=0, hi=MAX_SKILL_LEVEL)
    return out


def check_target(value: Any, fld: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or ":" not in value:
        raise InputError("must be 'queue:NAME' or 'number:DIGITS'", field=fld)
    kind, _, rest = value.partition(":")
    if kind == "queue":
        check_name(rest, fld)
    elif kind == "number":
        if not NUMBER_RE.match(rest):
            raise InputError(f"bad number {rest!r}", field=fld)
    else:
        raise InputError("must be 'queue:NAME' or 'number:DIGITS'", field=fld)
    return value


def check_endpoint(value: Any, fld: str = "endpoint") -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not ENDPOINT_RE.match(value):
        raise InputError(f"must look like TECH/resource (e.g. PJSIP/1001), got {value!r}", field=fld)
    return value


def _codes(value: Any, fld: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [c.strip() for c in value.split(",") if c.strip()]
    if not isinstance(value, list | tuple):
        raise InputError("must be a list of codes", field=fld)
    codes = tuple(check_name(c, fld) for c in value)
    if len(set(codes)) != len(codes):
        raise InputError("codes must be unique", field=fld)
    return codes


def _relaxation(value: Any, fld: str) -> tuple[RelaxationStep, ...]:
    if isinstance(value, RelaxationStep):
        return (value,)
    if not isinstance(value, list | tuple):
        raise InputError("must be a list of {after, requirements}", field=fld)
    steps: list[RelaxationStep] = []
    for i, item in enumerate(value):
        if isinstance(item, RelaxationStep):
            steps.append(item)
            continue
        if not isinstance(item, Mapping) or set(item) != {"after", "requirements"}:
            raise InputError("each step must be an object with 'after' and 'requirements'",
                             field=f"{fld}[{i}]")
        steps.append(RelaxationStep(_int(item["after"], f"{fld}[{i}].after", lo=1),
                                    check_skill_map(item["requirements"], f"{fld}[{i}].requirements")))
    afters = [s.after for s in steps]
    if afters != sorted(set(afters)):
        raise InputError("steps must have strictly increasing 'after'", field=fld)
    return tuple(steps)


def _queue_field(key: str, value: Any) -> Any:
    if key == "name":
        return check_name(value, key)
    if key == "strategy":
        return _choice(value, key, STRATEGIES)
    if key == "join_empty":
        return _choice(value, key, JOIN_EMPTY)
    if key == "leave_empty":
        return _choice(value, key, LEAVE_EMPTY)
    if key == "recording":
        return _choice(value, key, RECORDING)
    if key in ("moh_class", "periodic_announce"):
        return _text(value, key)
    if key == "script":
        return _text(value, key, max_len=20_000)
    if key == "overflow_target":
        return check_target(value, key)
    if key == "callback_digit":
        if value is None or value == "":
            return None
        if value not in tuple("0123456789*#"):
            raise InputError(f"must be one DTMF digit 0-9, * or #, got {value!r}", field=key)
        return str(value)
    if key == "ring_timeout":
        return _int(value, key, lo=1, hi=600)
    if key == "service_level_threshold":
        return _int(value, key, lo=1)
    if key == "weight":
        return _int(value, key, lo=-1000, hi=1000)
    if key == "max_len":
        return _int(value, key, lo=0, hi=100_000)
    if key == "max_no_answer":
        return _int(value, key, lo=0, hi=1000)
    if key == "disposition_codes":
        return _codes(value, key)
    if key == "skill_requirements":
        return check_skill_map(value, key)
    if key == "skill_relaxation":
        return _relaxation(value, key)
    return _int(value, key)


def build_queue(data: Mapping[str, Any], *, base: QueueSpec | None = None) -> QueueSpec:
    """A validated QueueSpec from ``data`` (merged onto ``base`` for updates)."""
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in QUEUE_FIELDS}
    for key, value in data.items():
        if key not in QUEUE_FIELDS:
            raise InputError("unknown field", field=str(key))
        if base is not None and key == "name" and value != base.name:
            raise InputError("a queue cannot be renamed", field="name")
        values[key] = _queue_field(key, value)
    if "name" not in values:
        raise InputError("is required", field="name")
    spec = QueueSpec(**values)
    if spec.overflow_target == f"queue:{spec.name}":
        raise InputError("a queue cannot overflow to itself", field="overflow_target")
    return spec


def build_agent(data: Mapping[str, Any], *, base: AgentSpec | None = None) -> AgentSpec:
    """A validated AgentSpec from ``data`` (merged onto ``base`` for updates)."""
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in AGENT_FIELDS}
    for key, value in data.items():
        if key not in AGENT_FIELDS:
            raise InputError("unknown field", field=str(key))
        if key == "id":
            if base is not None and value != base.id:
                raise InputError("an agent id cannot be changed", field="id")
            values[key] = check_name(value, "id")
        elif key == "name":
            values[key] = _text(value, "name")
        elif key == "endpoint":
            values[key] = check_endpoint(value)
        elif key == "skills":
            values[key] = check_skill_map(value, "skills")
        else:
            queues = check_skill_map(value, "queues")
            for q in queues:
                check_name(q, "queues")
            values[key] = queues
    if "id" not in values:
        raise InputError("is required", field="id")
    return AgentSpec(**values)


def parse_level_pair(text: str, fld: str, *, default: int = 0) -> tuple[str, int]:
    """``'lang=ru:3'`` -> ``('lang=ru', 3)``; ``'sales'`` -> ``('sales', default)`` (CLI notation)."""
    key, sep, level = text.rpartition(":")
    if not sep:
        key, level = text, str(default)
    if not key or not SKILL_RE.match(key):
        raise InputError(f"bad name in {text!r} (expected NAME:LEVEL)", field=fld)
    return key, _int(level, fld, lo=0, hi=MAX_SKILL_LEVEL)
