"""Small pure policies: recording sampling, call scripts, position and hold-time announcements."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from callcore.acd.core.model import recording_percent

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


def should_record(policy: str, call_id: str) -> bool:
    """Deterministic sampling: the same call id always gets the same answer."""
    pct = recording_percent(policy)
    if pct >= 100:
        return True
    if pct <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big") % 100
    return bucket < pct


def render_script(template: str, values: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by its value; unknown names stay visible as ``{name}``. Never raises."""

    def sub(m: re.Match[str]) -> str:
        key = m[1]
        if key in values and values[key] is not None:
            return str(values[key])
        return m[0]

    return _PLACEHOLDER.sub(sub, template)


def _number(n: int) -> list[str]:
    if 0 <= n <= 20:
        return [f"sound:digits/{n}"]
    return [f"number:{n}"]


def announcement(position: int, estimated_wait: float | None) -> tuple[str, ...]:
    """Media for "you are next" / "there are N calls waiting" and optionally "hold time about M minutes"."""
    media: list[str] = []
    if position <= 1:
        media.append("sound:queue-youarenext")
    else:
        media += ["sound:queue-thereare", *_number(position), "sound:queue-callswaiting"]
    if estimated_wait is not None and estimated_wait >= 60:
        minutes = math.ceil(estimated_wait / 60)
        media += ["sound:queue-holdtime", *_number(minutes), "sound:minutes"]
    return tuple(media)


def estimated_wait(position: int, staffed: int, avg_handle: float) -> float:
    """Calls ahead handled in parallel by the staffed agents, each taking the recent average handle time."""
    return math.ceil(position / max(1, staffed)) * avg_handle
