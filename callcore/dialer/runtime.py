"""The dialer of one callcore instance: a ``CampaignRunner`` (``callcore.dialer.runner``) per running
campaign. The runner, the ACD hand-off protocol and the attempt pieces are importable from here too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import Any

import structlog

from callcore.ari import events as E
from callcore.ari.api import AriApi
from callcore.clock import Clock
from callcore.dialer.attempt import (
    AMD_CONTEXT,
    ATTEMPTS,
    BLOCKED,
    SAFE_HARBOUR_CONTEXT,
    AgentConnector,
    Attempt,
    OperatorsFn,
    refusal_outcome,
)
from callcore.dialer.runner import CampaignRunner
from callcore.dialer.store import DialerStore
from callcore.errors import NotFound
from callcore.store.api import JournalSink

__all__ = ["AMD_CONTEXT", "ATTEMPTS", "BLOCKED", "SAFE_HARBOUR_CONTEXT", "AgentConnector", "Attempt",
           "CampaignRunner", "DialerService", "OperatorsFn", "refusal_outcome"]

log = structlog.get_logger(__name__)


class DialerService:
    """One ``CampaignRunner`` per running campaign of the database; ``reload()`` (on start and on
    configuration changes) starts runners for newly running campaigns and stops those paused or stopped."""

    def __init__(self, *, ari: AriApi, subscribe: Callable[[str], AsyncIterable[E.AriEvent]],
                 store: DialerStore, journal: JournalSink, connector: AgentConnector, operators: OperatorsFn,
                 instance: str, clock: Clock | None = None, **runner_options: Any) -> None:
        self.ari, self.subscribe, self.store, self.journal = ari, subscribe, store, journal
        self.connector, self.operators, self.instance, self.clock = connector, operators, instance, clock
        self.runner_options = runner_options
        self.runners: dict[str, CampaignRunner] = {}
        self._tg: asyncio.TaskGroup | None = None

    async def start(self, tg: asyncio.TaskGroup) -> None:
        self._tg = tg
        await self.reload()

    async def reload(self) -> None:
        if self._tg is None:
            return
        running = {c.name: c for c in await self.store.running_campaigns()}
        for name in [n for n in self.runners if n not in running]:
            self.runners.pop(name).stop()
        for name, c in running.items():
            if name in self.runners:
                continue
            runner = CampaignRunner(ari=self.ari, store=self.store, campaign=c, journal=self.journal,
                                    connector=self.connector, operators=self.operators,
                                    instance=self.instance, clock=self.clock, **self.runner_options)
            self.runners[name] = runner
            self._tg.create_task(runner.run(self.subscribe(f"dialer-{name}")), name=f"dialer-{name}")
            log.info("dialer_campaign_started", campaign=name, instance=self.instance)

    async def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()
        self.runners.clear()

    def runner(self, campaign: str) -> CampaignRunner:
        """The runner of a running campaign (preview operators call ``next_lead``/``call_lead`` on it)."""
        try:
            return self.runners[campaign]
        except KeyError:
            raise NotFound(f"campaign {campaign!r} is not running on this instance") from None
