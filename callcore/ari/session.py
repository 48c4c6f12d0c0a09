"""``AriSession``: one ARI REST client plus its events websocket, as a single async context.

    async with AriSession.from_settings(settings) as ari:
        sub = ari.subscribe("acd")
        await ari.wait_connected(10)
        async for ev in sub: ...
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from callcore.ari.client import AriClient
from callcore.ari.dispatch import Dispatcher, EventFilter, Subscription
from callcore.ari.stream import CONTACT_CENTER_EVENT_TYPES, EventStream
from callcore.clock import Clock
from callcore.config import Settings


class AriSession:
    def __init__(
        self, client: AriClient, *, heartbeat: float = 10.0, reconnect_max: float = 2.0,
        reconnect_base: float = 0.5, event_types: Sequence[str] | None = None, clock: Clock | None = None,
        rng: random.Random | None = None, stable_after: float = 5.0,
    ) -> None:
        self.client = client
        self.app = client.app
        self.dispatcher = Dispatcher(clock=clock)
        self.stream = EventStream(client, self.dispatcher, heartbeat=heartbeat, reconnect_max=reconnect_max,
                                  reconnect_base=reconnect_base, event_types=event_types, clock=clock,
                                  rng=rng, stable_after=stable_after)
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *,
                      event_types: Sequence[str] | None = CONTACT_CENTER_EVENT_TYPES) -> AriSession:
        """Session with the settings' URL, credentials, timeout, heartbeat and backoff cap. By default the
        app's event filter drops the ChannelVarset/ChannelDialplan flood; ``event_types=None`` keeps all."""
        return cls(AriClient.from_settings(settings), heartbeat=settings.ari_heartbeat,
                   reconnect_max=settings.ari_reconnect_max, event_types=event_types)

    def subscribe(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        return self.dispatcher.subscribe(name, maxsize=maxsize, filter=filter)

    def events(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        """Same as ``subscribe`` (a name that cannot clash with ``AriApi.subscribe`` on fakes)."""
        return self.subscribe(name, maxsize, filter)

    @property
    def connected(self) -> bool:
        return self.stream.connected

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self.stream.wait_connected(timeout)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.stream.run(), name=f"ari-events-{self.app}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self.stream.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.dispatcher.close_all()
        await self.client.close()

    async def __aenter__(self) -> AriSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
