"""Access to the recorded real-Asterisk traces (``asterisk-traces/*.jsonl`` in the shared directory).

Used by tests and the benchmark; the shared directory is ``$CALLCORE_SHARED_DIR`` or ``../shared``
next to the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def shared_dir() -> Path:
    env = os.environ.get("CALLCORE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


def traces_dir() -> Path | None:
    path = shared_dir() / "asterisk-traces"
    return path if path.is_dir() else None


def trace_records(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(``file#seq``, record) for every record of ``kind`` in every trace; [] when traces are absent."""
    base = traces_dir()
    if base is None:
        return []
    out = []
    for path in sorted(base.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("kind") == kind:
                out.append((f"{path.name}#{rec.get('seq')}", rec))
    return out


def trace_events() -> list[tuple[str, dict[str, Any]]]:
    """(``file#seq``, event dict) of every recorded websocket event."""
    return [(where, rec["event"]) for where, rec in trace_records("ws_event")]
