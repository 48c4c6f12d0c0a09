"""The last queue/agent configuration read from PostgreSQL, cached on local disk.

A service restarted while PostgreSQL is down routes calls with this configuration instead of none.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import msgspec
import structlog

from callcore.acd.core.events import PersistedAgent
from callcore.acd.core.model import AgentConfig, QueueConfig

log = structlog.get_logger(__name__)


class ConfigCache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, queues: list[QueueConfig], agents: list[AgentConfig],
             states: list[PersistedAgent] | None = None) -> None:
        """Write the cache; ``states=None`` keeps the agent states cached before (a configuration change)."""
        if states is None:
            cached = self.load() if self.exists() else None
            states = cached[2] if cached is not None else []
        data = {"queues": msgspec.to_builtins(queues), "agents": msgspec.to_builtins(agents),
                "states": [dataclasses.asdict(s) for s in states]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("config_cache_not_written", path=str(self.path), error=str(exc))

    def load(self) -> tuple[list[QueueConfig], list[AgentConfig], list[PersistedAgent]] | None:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            queues = msgspec.convert(data["queues"], list[QueueConfig])
            agents = msgspec.convert(data["agents"], list[AgentConfig])
            states = [PersistedAgent(**s) for s in data.get("states", [])]
            return queues, agents, states
        except (OSError, ValueError, KeyError, TypeError, msgspec.ValidationError) as exc:
            log.warning("config_cache_unreadable", path=str(self.path), error=str(exc))
            return None
