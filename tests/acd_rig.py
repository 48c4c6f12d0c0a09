"""The ACD service on FakeAri with a manual clock and an in-memory journal, for tests that drive it through
Asterisk's events (the service's own task consumes them, as in production)."""

from __future__ import annotations

import asyncio

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime.service import AcdService
from callcore.ari.dispatch import Subscription
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.store.api import MemoryJournal


class Rig:
    def __init__(self, queues: list[QueueConfig], agents: list[AgentConfig]) -> None:
        self.clock = ManualClock()
        self.fake = FakeAri(clock=self.clock)
        self.journal = MemoryJournal()
        self.svc = AcdService(self.fake, self.journal, self.clock, queues, agents)
        self.task: asyncio.Task[None] | None = None
        self.sub: Subscription | None = None

    async def settle(self) -> None:
        """Let the service consume everything FakeAri has sent and run what that decided."""
        for _ in range(5):
            for _ in range(10):
                await asyncio.sleep(0)
            await self.svc.drain()

    def originated(self) -> list[str]:
        return [kw["channel_id"] for kw in self.fake.calls_to("originate")]

    def start(self) -> None:
        self.sub = self.fake.events("acd-test")
        self.task = asyncio.create_task(self.svc.run(self.sub), name="acd-under-test")

    async def stop(self) -> None:
        assert self.sub is not None and self.task is not None
        self.sub.close()
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, Exception):
            pass
