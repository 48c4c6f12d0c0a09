"""``AcdRig``: a running ``AcdService`` wired to an ARI server over real sockets.

Used by the end-to-end tests (against an in-process ``SimAsterisk``) and by ``bench/acd.py`` (against a
simulator in another process). It owns the ``AriSession`` and the service task:

    async with AcdRig(sim.ari_url, queues, agents) as rig:
        await rig.svc.login("a1")
        await rig.until(lambda: rig.state("a1") == "on_call", "a1 on a call")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from callcore.acd.core.commands import CallbackRequested, Command
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime.service import AcdService
from callcore.ari.client import AriClient
from callcore.ari.dispatch import EventFilter
from callcore.ari.session import AriSession
from callcore.ari.stream import CONTACT_CENTER_EVENT_TYPES
from callcore.clock import Clock, SystemClock
from callcore.errors import Unavailable
from callcore.store.api import JournalSink, MemoryJournal


class AcdRig:
    def __init__(self, url: str, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], *,
                 user: str = "callcore", password: str = "callcore-secret", app: str = "callcore",
                 journal: JournalSink | None = None, clock: Clock | None = None, concurrency: int = 32,
                 on_request: Callable[[Command], None] | None = None,
                 event_filter: EventFilter | None = None, heartbeat: float = 5.0) -> None:
        self.client = AriClient(url, user, password, app)
        self.session = AriSession(self.client, heartbeat=heartbeat, reconnect_base=0.05, reconnect_max=0.5,
                                  stable_after=0.5, event_types=CONTACT_CENTER_EVENT_TYPES)
        self.journal = journal if journal is not None else MemoryJournal()
        self.callbacks: list[CallbackRequested] = []
        self.svc = AcdService(self.client, self.journal, clock or SystemClock(), list(queues), list(agents),
                              app=app, on_callback=self.callbacks.append, concurrency=concurrency,
                              on_request=on_request)
        self._filter = event_filter
        self._task: asyncio.Task[None] | None = None

    async def start(self, connect_timeout: float = 5.0) -> None:
        sub = self.session.subscribe("acd", maxsize=50_000, filter=self._filter)
        await self.session.start()
        await self.session.wait_connected(connect_timeout)
        self._task = asyncio.create_task(self.svc.run(sub), name="acd-rig-service")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.session.close()

    async def __aenter__(self) -> AcdRig:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- looking at it ------------------------------------------------------------------------------

    def state(self, agent_id: str) -> str:
        return str(self.svc.agent_state(agent_id)["state"])

    def journal_types(self) -> list[str]:
        events = getattr(self.journal, "events", [])
        return [e.type for e in events]

    async def until(self, cond: Callable[[], Any], what: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll ``cond`` until it holds; ``Unavailable`` naming ``what`` when it never does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not cond():
            if loop.time() > deadline:
                raise Unavailable(f"timed out waiting for: {what}")
            await asyncio.sleep(0.005)
