"""Directory records: the ACD's ``QueueConfig`` / ``AgentConfig`` built from JSON-like mappings and back.

Pure: ``build_queue`` / ``build_agent`` take a mapping (HTTP JSON, CLI options, a database row), check
every field and raise ``InputError`` naming the field. Partial updates merge onto an existing config
and are validated as a whole. The JSON form uses the ACD's field names; ``overflow`` is text
(``queue:<name>``, ``dialplan:<context>,<exten>[,<priority>]``, ``voicemail:<box>``) and ``skills`` is a
list of ``{"skill", "min_level", "relax": [{"after", "level"}]}`` objects (or the ACD's text notation
``language=ru>=3, after 30 s >=1, after 60 s dropped``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from typing import Any

from callcore.acd.core.model import AgentConfig, Overflow, QueueConfig, SkillRequirement
from callcore.errors import InputError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SKILL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=-]{0,63}$")
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9]+/[!-~]{1,200}$")   # TECH/resource, printable ASCII

TICKET_TYPES = ("complaint", "claim", "request")
MAX_LEVEL = 100

QUEUE_FIELDS = tuple(f.name for f in dataclasses.fields(QueueConfig))
AGENT_FIELDS = tuple(f.name for f in dataclasses.fields(AgentConfig))
_FLOAT_FIELDS = ("announce_position_every", "max_wait", "wrapup_time", "ring_timeout",
                 "service_level_threshold")
_INT_FIELDS = {"weight": (-1000, 1000), "max_len": (0, 100_000), "max_no_answer": (0, 1000)}
_TEXT_FIELDS = {"moh_class": 80, "recording": 20, "script": 20_000, "voicemail_context": 80,
                "transfer_context": 80, "strategy": 20, "join_empty": 20, "leave_empty": 20}


# --- field checks ------------------------------------------------------------------------------


def check_name(value: Any, fld: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InputError("must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit)",
                         field=fld)
    return value


def check_int(value: Any, fld: str, *, lo: int = 0, hi: int = 86_400) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)   # JSON's 128.0 is the integer 128
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InputError(f"must be an integer, got {value!r}", field=fld) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"must be an integer, got {value!r}", field=fld)
    if not lo <= value <= hi:
        raise InputError(f"must be between {lo} and {hi}, got {value}", field=fld)
    return value


def check_seconds(value: Any, fld: str, *, hi: float = 86_400.0) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InputError(f"must be a number of seconds, got {value!r}", field=fld) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(f"must be a number of seconds, got {value!r}", field=fld)
    if not 0 <= value <= hi:
        raise InputError(f"must be between 0 and {hi:g}, got {value}", field=fld)
    return float(value)


def check_bool(value: Any, fld: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.lower() in ("true", "yes", "on", "1")
    raise InputError(f"must be true or false, got {value!r}", field=fld)


def check_text(value: Any, fld: str, *, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", field=fld)
    if len(value) > max_len:
        raise InputError(f"must be at most {max_len} characters", field=fld)
    return value


def check_level_map(value: Any, fld: str, *, names: re.Pattern[str] = SKILL_RE,
                    hi: int = MAX_LEVEL) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InputError("must be an object mapping names to levels", field=fld)
    out: dict[str, int] = {}
    for key, level in value.items():
        if not isinstance(key, str) or not names.match(key):
            raise InputError(f"bad name {key!r}", field=fld)
        out[key] = check_int(level, f"{fld}.{key}", lo=0, hi=hi)
    return out


def check_endpoint(value: Any, fld: str = "endpoint") -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not ENDPOINT_RE.match(value):
        raise InputError(f"must look like TECH/resource (e.g. PJSIP/1001), got {value!r}", field=fld)
    return value


# --- overflow, skills, dispositions -------------------------------------------------------------


def overflow_text(overflow: Overflow | None) -> str | None:
    if overflow is None:
        return None
    if overflow.kind == "dialplan":
        return f"dialplan:{overflow.context},{overflow.exten},{overflow.priority}"
    return f"{overflow.kind}:{overflow.target}"


def _overflow(value: Any) -> Overflow | None:
    if value is None or value == "":
        return None
    if isinstance(value, Overflow):
        return value
    if not isinstance(value, str):
        raise InputError("must be queue:NAME, dialplan:CONTEXT,EXTEN[,PRIORITY] or voicemail:BOX",
                         field="overflow")
    result = Overflow.parse(value)
    if result.kind == "queue":
        check_name(result.target, "overflow")
    return result


def skill_json(req: SkillRequirement) -> dict[str, Any]:
    return {"skill": req.skill, "min_level": req.min_level,
            "relax": [{"after": after, "level": level} for after, level in req.relax]}


def _skill(item: Any, fld: str) -> SkillRequirement:
    if isinstance(item, SkillRequirement):
        return item
    if isinstance(item, str):
        return SkillRequirement.parse(item)
    keys = set(item) if isinstance(item, Mapping) else set()
    if not {"skill", "min_level"} <= keys <= {"skill", "min_level", "relax"}:
        raise InputError("must be 'skill>=N, after S s >=M' text or {skill, min_level, relax}", field=fld)
    skill = item["skill"]
    if not isinstance(skill, str) or not SKILL_RE.match(skill):
        raise InputError(f"bad skill name {skill!r}", field=f"{fld}.skill")
    steps: list[tuple[float, int | None]] = []
    relax = item.get("relax", [])
    if not isinstance(relax, list | tuple):
        raise InputError("must be a list of {after, level}", field=f"{fld}.relax")
    for i, step in enumerate(relax):
        where = f"{fld}.relax[{i}]"
        if isinstance(step, list | tuple) and len(step) == 2:
            step = {"after": step[0], "level": step[1]}
        if not isinstance(step, Mapping) or set(step) != {"after", "level"}:
            raise InputError("must be {after, level}", field=where)
        level = step["level"]
        steps.append((check_seconds(step["after"], f"{where}.after"),
                      None if level is None else check_int(level, f"{where}.level", hi=MAX_LEVEL)))
    if any(b[0] <= a[0] for a, b in itertools.pairwise(steps)):
        raise InputError("relaxation steps must be in increasing time", field=f"{fld}.relax")
    min_level = check_int(item["min_level"], f"{fld}.min_level", hi=MAX_LEVEL)
    return SkillRequirement(skill, min_level, tuple(steps))


def _skills(value: Any) -> tuple[SkillRequirement, ...]:
    if isinstance(value, str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InputError("must be a list of skill requirements", field="skills")
    reqs = tuple(_skill(item, f"skills[{i}]") for i, item in enumerate(value))
    names = [r.skill for r in reqs]
    if len(set(names)) != len(names):
        raise InputError("each skill may be required once", field="skills")
    return reqs


def _dispositions(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [c.strip() for c in value.split(",") if c.strip()]
    if not isinstance(value, list | tuple):
        raise InputError("must be a list of codes", field="dispositions")
    codes = tuple(check_name(c, "dispositions") for c in value)
    if len(set(codes)) != len(codes):
        raise InputError("codes must be unique", field="dispositions")
    return codes


def _queue_field(key: str, value: Any) -> Any:
    if key == "name":
        return check_name(value, key)
    if key in _FLOAT_FIELDS:
        return check_seconds(value, key)
    if key in _INT_FIELDS:
        lo, hi = _INT_FIELDS[key]
        return check_int(value, key, lo=lo, hi=hi)
    if key == "announce_holdtime":
        return check_bool(value, key)
    if key == "overflow":
        return _overflow(value)
    if key == "callback_digit":
        return "" if value is None else check_text(value, key, max_len=1)
    if key == "dispositions":
        return _dispositions(value)
    if key == "skills":
        return _skills(value)
    return check_text(value, key, max_len=_TEXT_FIELDS[key])


# --- queues and agents -------------------------------------------------------------------------


def build_queue(data: Mapping[str, Any], *, base: QueueConfig | None = None) -> QueueConfig:
    """A validated QueueConfig from ``data`` (merged onto ``base`` for updates)."""
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in QUEUE_FIELDS}
    for key, value in data.items():
        if key not in QUEUE_FIELDS:
            raise InputError("unknown field", field=str(key))
        if base is not None and key == "name" and value != base.name:
            raise InputError("a queue cannot be renamed", field="name")
        values[key] = _queue_field(key, value)
    if "name" not in values:
        raise InputError("is required", field="name")
    if values.get("ring_timeout", 1.0) <= 0:
        raise InputError("must be greater than 0", field="ring_timeout")
    if values.get("service_level_threshold", 1.0) <= 0:
        raise InputError("must be greater than 0", field="service_level_threshold")
    spec = QueueConfig(**values)
    if spec.overflow is not None and spec.overflow.kind == "queue" and spec.overflow.target == spec.name:
        raise InputError("a queue cannot overflow to itself", field="overflow")
    return spec


def queue_json(q: QueueConfig) -> dict[str, Any]:
    out = {k: getattr(q, k) for k in QUEUE_FIELDS}
    out["overflow"] = overflow_text(q.overflow)
    out["dispositions"] = list(q.dispositions)
    out["skills"] = [skill_json(s) for s in q.skills]
    return out


def build_agent(data: Mapping[str, Any], *, base: AgentConfig | None = None) -> AgentConfig:
    """A validated AgentConfig from ``data`` (merged onto ``base`` for updates)."""
    values: dict[str, Any] = {} if base is None else {k: getattr(base, k) for k in AGENT_FIELDS}
    for key, value in data.items():
        if key not in AGENT_FIELDS:
            raise InputError("unknown field", field=str(key))
        if key == "id":
            if base is not None and value != base.id:
                raise InputError("an agent id cannot be changed", field="id")
            values[key] = check_name(value, "id")
        elif key == "name":
            values[key] = check_text(value, "name")
        elif key == "endpoint":
            values[key] = check_endpoint(value)
        elif key == "skills":
            values[key] = check_level_map(value, "skills")
        else:
            values[key] = check_level_map(value, "memberships", names=NAME_RE, hi=1000)
    if "id" not in values:
        raise InputError("is required", field="id")
    return AgentConfig(**values)


def agent_json(a: AgentConfig) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "endpoint": a.endpoint, "skills": dict(a.skills),
            "memberships": dict(a.memberships)}


def parse_level_pair(text: str, fld: str, *, default: int = 0, hi: int = MAX_LEVEL) -> tuple[str, int]:
    """``'lang=ru:3'`` -> ``('lang=ru', 3)``; ``'sales'`` -> ``('sales', default)`` (CLI notation)."""
    key, sep, level = text.rpartition(":")
    if not sep:
        key, level = text, str(default)
    if not key or not SKILL_RE.match(key):
        raise InputError(f"bad name in {text!r} (expected NAME:LEVEL)", field=fld)
    return key, check_int(level, fld, lo=0, hi=hi)
