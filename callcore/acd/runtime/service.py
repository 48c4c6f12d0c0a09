"""``AcdService``: the running ACD (``callcore.acd.ports.AcdPort``) on top of the core and ARI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

from callcore.acd.core import agent as ag
from callcore.acd.core.commands import CallbackRequested, Command
from callcore.acd.core.engine import Engine
from callcore.acd.core.events import (
    AgentCallControl,
    AgentConsult,
    AgentDial,
    AgentDisposition,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentTransfer,
    ConfigChanged,
    Event,
    PersistedAgent,
    RegistrationsKnown,
    Resync,
    SupervisorRequest,
)
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime import metrics
from callcore.acd.runtime.executor import AcdRuntime
from callcore.ari.api import AriApi
from callcore.clock import Clock
from callcore.errors import InputError, NotFound
from callcore.store.api import JournalSink

ConfigLoader = Callable[[], Awaitable[tuple[Sequence[QueueConfig], Sequence[AgentConfig]]]]
CALL_CONTROLS = ("hold", "resume", "hangup", "complete", "return")
EVENT_BUFFER = 256  # per operator stream; the oldest notification is dropped when a reader falls behind


class AcdService:
    def __init__(self, ari: AriApi, journal: JournalSink, clock: Clock, queues: list[QueueConfig],
                 agents: list[AgentConfig], app: str = "callcore", *, seed: int = 0,
                 loader: ConfigLoader | None = None,
                 on_callback: Callable[[CallbackRequested], None] | None = None,
                 concurrency: int = 32,
                 on_request: Callable[[Command], None] | None = None,
                 registrations_known: bool = True,
                 dialplan_moh: bool = False) -> None:
        """``concurrency`` caps the ARI requests in flight (one ordered lane per call, see
        ``callcore.acd.runtime.lanes``); ``on_request`` sees each command just before its ARI request is sent.
        ``registrations_known=False`` (registrations tracked through AMI): ring-mode agents are offered calls
        only once their phone is known registered (``EndpointRegistration``) or ``registrations_read()``."""
        self.engine = Engine(queues, agents, seed=seed, registrations_known=registrations_known)
        self.clock = clock
        self.runtime = AcdRuntime(self.engine, ari, journal, clock, app=app, notify=self._push,
                                  on_callback=on_callback, concurrency=concurrency, on_request=on_request,
                                  dialplan_moh=dialplan_moh)
        self._loader = loader
        metrics.QUEUES.set(q.name for q in queues)
        self._streams: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._sup_seq = 0

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self, events: AsyncIterable[Any]) -> None:
        """Consume ARI events (``async for ev in sub``) until the subscription ends."""
        await self.runtime.run(events)

    def settle(self) -> Coroutine[Any, Any, None]:
        """Wait until the ARI commands issued so far have been executed (not those issued meanwhile)."""
        return self.runtime.lanes.settle()

    async def drain(self) -> None:
        """Wait until every ARI command issued so far has been executed."""
        await self.runtime.drain()

    def restore(self, agents: Sequence[PersistedAgent], entered_at: dict[str, float] | None = None) -> None:
        """Give persisted agent states (and journaled entry times) to the core before the first Resync."""
        self.runtime.handle(Resync((), {}, tuple(agents), entered_at or {}))

    def registrations_read(self) -> None:
        """The phones' registrations have been read (or AMI could not be reached): stop waiting for them."""
        self.runtime.handle(RegistrationsKnown())

    def apply_config(self, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig]) -> None:
        self.runtime.handle(ConfigChanged(tuple(queues), tuple(agents)))
        metrics.QUEUES.set(q.name for q in queues)

    async def reload(self) -> None:
        if self._loader is None:
            return
        queues, agents = await self._loader()
        self.apply_config(queues, agents)

    def _do(self, ev: Event) -> None:
        self.runtime.handle(ev)

    # --- operator -----------------------------------------------------------------------------------

    async def login(self, agent_id: str, *, endpoint: str | None = None) -> dict[str, Any]:
        self._do(AgentLogin(agent_id, endpoint))
        return self.agent_state(agent_id)

    async def logout(self, agent_id: str) -> dict[str, Any]:
        self._do(AgentLogout(agent_id))
        return self.agent_state(agent_id)

    async def pause(self, agent_id: str, reason: str) -> dict[str, Any]:
        self._do(AgentPause(agent_id, reason))
        return self.agent_state(agent_id)

    async def ready(self, agent_id: str) -> dict[str, Any]:
        self._do(AgentReady(agent_id))
        return self.agent_state(agent_id)

    def agent_state(self, agent_id: str) -> dict[str, Any]:
        a = self.engine.state.agents.get(agent_id)
        if a is None:
            raise NotFound(f"unknown agent {agent_id!r}")
        return ag.describe(a, self.clock.now())

    def current_call(self, agent_id: str) -> dict[str, Any] | None:
        return self.engine.current_call(agent_id, self.clock.now())

    async def disposition(self, agent_id: str, code: str, notes: str = "",
                          callback_at: float | None = None) -> dict[str, Any]:
        if not code:
            raise InputError("missing disposition code", field="code")
        self._do(AgentDisposition(agent_id, code, notes, callback_at))
        return self.agent_state(agent_id)

    async def transfer(self, agent_id: str, *, queue: str | None = None,
                       number: str | None = None) -> dict[str, Any]:
        self._do(AgentTransfer(agent_id, queue, number))
        return self.agent_state(agent_id)

    async def call_control(self, agent_id: str, action: str) -> dict[str, Any]:
        if action not in CALL_CONTROLS:
            raise InputError(f"must be one of {', '.join(CALL_CONTROLS)}", field="action")
        self._do(AgentCallControl(agent_id, action))
        return {**self.agent_state(agent_id), "call": self.current_call(agent_id)}

    async def consult(self, agent_id: str, *, number: str | None = None,
                      agent: str | None = None) -> dict[str, Any]:
        self._sup_seq += 1
        leg = f"consult-{agent_id}-{int(self.clock.now())}-{self._sup_seq}"
        self._do(AgentConsult(agent_id, leg, number, agent))
        return {**self.agent_state(agent_id), "call": self.current_call(agent_id), "leg_id": leg}

    async def dial(self, agent_id: str, *, number: str, queue: str, endpoint: str,
                   caller_id: str) -> dict[str, Any]:
        self._sup_seq += 1
        leg = f"manual-{agent_id}-{int(self.clock.now())}-{self._sup_seq}"
        self._do(AgentDial(agent_id, leg, number, queue, endpoint, caller_id))
        return {**self.agent_state(agent_id), "leg_id": leg, "number": number}

    def events(self, agent_id: str) -> AsyncIterator[dict[str, Any]]:
        if agent_id not in self.engine.state.agents:
            raise NotFound(f"unknown agent {agent_id!r}")
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_BUFFER)
        self._streams.setdefault(agent_id, []).append(q)
        q.put_nowait({"event": "state", **self.agent_state(agent_id)})
        return self._stream(agent_id, q)

    async def _stream(self, agent_id: str, q: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                yield await q.get()
        finally:
            subs = self._streams.get(agent_id, [])
            if q in subs:
                subs.remove(q)

    def _push(self, agent_id: str, payload: dict[str, Any]) -> None:
        for q in self._streams.get(agent_id, []):
            if q.full():
                q.get_nowait()
            q.put_nowait(payload)

    # --- supervisor ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return self.engine.snapshot(self.clock.now())

    async def supervise(self, agent_id: str, mode: str, supervisor_endpoint: str) -> dict[str, Any]:
        self._sup_seq += 1
        leg = f"sup-{agent_id}-{int(self.clock.now())}-{self._sup_seq}"
        self._do(SupervisorRequest(agent_id, mode, supervisor_endpoint, leg))
        return {"agent_id": agent_id, "mode": mode, "leg_id": leg, "endpoint": supervisor_endpoint}
