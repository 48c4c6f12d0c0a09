"""The dialer's link to the ACD, both ways through core events, and the dialer gauges.

``AcdHandoff`` is what the dialer's executor asks of the ACD: an answered customer becomes a high-priority
``CallArrived`` of the campaign's queue (for the one operator of a preview call), a customer whose grace
ran out is withdrawn (``CallerHungUp``), and a preview operator is reserved for their own ringing call
(``OutboundReserved`` / ``OutboundReleased``: no inbound call is offered to them meanwhile). The other
direction needs no polling: ``AcdJournalTap`` sits between the ACD and the journal and hands each ACD
journal entry about one of our customers (``call.answered`` with the operator, ``call.abandoned``,
``call.refused``) to the dialer as it is written. Predictive and progressive campaigns should be staffed
with persistent agent sessions (``Stasis(callcore,agent-login,<agent>)``): those operators are bridged at
once, while ringing an operator's phone rarely fits in the 2 s grace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import Gauge

from callcore.acd.core.events import CallArrived, CallerHungUp, OutboundReleased, OutboundReserved
from callcore.acd.core.model import AgentState
from callcore.acd.runtime.service import AcdService
from callcore.clock import Clock
from callcore.dialer import pacer
from callcore.dialer.core.commands import QueueCustomer
from callcore.metrics import REGISTRY
from callcore.store.api import JournalSink, journal_batch

IN_FLIGHT = Gauge("callcore_dialer_calls_in_flight", "Outbound calls dialled and not ended, by campaign",
                  ["campaign"], registry=REGISTRY)
DIAL_LEVEL = Gauge("callcore_dialer_dial_level", "Outbound calls in flight per active operator, by campaign",
                   ["campaign"], registry=REGISTRY)
ABANDON_RATIO = Gauge("callcore_dialer_abandon_ratio",
                      "Abandoned / live-answered outbound calls over a rolling window, by campaign",
                      ["campaign", "window"], registry=REGISTRY)

AcdListener = Callable[[str, str | None, str | None], None]


class AcdJournalTap:
    """The ACD's journal sink: every entry goes to the journal, then to each of ``listeners`` (the dialer,
    the callback dialer), which pick the entries about their own calls."""

    def __init__(self, inner: JournalSink) -> None:
        self.inner = inner
        self.listeners: list[AcdListener] = []

    def batch(self) -> AbstractContextManager[None]:
        return journal_batch(self.inner)

    def append(self, type: str, payload: Mapping[str, Any] | None = None, *, call_id: str | None = None,
               channel_id: str | None = None, agent_id: str | None = None, queue: str | None = None,
               campaign_id: str | None = None, ts: float | None = None) -> None:
        self.inner.append(type, payload, call_id=call_id, channel_id=channel_id, agent_id=agent_id, queue=queue,
                          campaign_id=campaign_id, ts=ts)
        if call_id is not None:
            for listener in self.listeners:
                listener(type, call_id, agent_id)


class AcdHandoff:
    def __init__(self, acd: AcdService, *, scripts: Callable[[str], str] | None = None) -> None:
        self.acd = acd
        self.scripts = scripts  # campaign name -> its call script, shown to the operator

    def queue_customer(self, cmd: QueueCustomer) -> None:
        data = {str(k): v for k, v in cmd.data.items()}
        script = self.scripts(str(cmd.data.get("campaign", ""))) if self.scripts else ""
        if script:
            data["campaign_script"] = script
        self.acd.runtime.handle(CallArrived(cmd.attempt, cmd.queue, cmd.priority, cmd.caller_number,
                                            cmd.caller_name, data, agent_id=cmd.agent_id))

    def withdraw(self, attempt: str) -> None:
        self.acd.runtime.handle(CallerHungUp(attempt))

    def reserve_agent(self, agent_id: str, attempt: str) -> None:
        self.acd.runtime.handle(OutboundReserved(agent_id, attempt))

    def release_agent(self, agent_id: str, attempt: str) -> None:
        self.acd.runtime.handle(OutboundReleased(agent_id, attempt))

    def agent_state(self, agent_id: str) -> str:
        agent = self.acd.engine.state.agents.get(agent_id)
        return agent.state.value if agent is not None else "logged_out"


def operators_of(acd: AcdService, clock: Clock) -> Any:
    """``operators(queue) -> (free, busy)`` for the pacer, from the ACD's live agent states."""

    def operators(queue: str) -> tuple[int, tuple[pacer.BusyOperator, ...]]:
        st = acd.engine.state
        now = clock.now()
        free = 0
        busy: list[pacer.BusyOperator] = []
        wrapup = st.queues[queue].wrapup_time if queue in st.queues else 0.0
        for a in st.members(queue):
            if not a.reachable():
                continue
            if a.state is AgentState.AVAILABLE and a.outbound_call is None:
                free += 1
            elif a.state in (AgentState.ON_CALL, AgentState.RESERVED):
                busy.append(pacer.BusyOperator(max(0.0, now - a.since), wrapup))
            elif a.state is AgentState.WRAP_UP:
                busy.append(pacer.BusyOperator(None, max(0.0, a.wrapup_until - now)))
        return free, tuple(busy)

    return operators


async def publish_dialer_gauges(dialer: Any, operators: Any, clock: Clock, interval: float = 1.0,
                                monthly_every: int = 60) -> None:
    """Keep the dialer gauges current for every running campaign of this instance (the 30-day ratio is
    read from PostgreSQL once a minute; a failed read keeps the last value)."""
    seen: set[str] = set()
    tick = 0
    while True:
        if tick % monthly_every == 0:
            for name, runner in list(dialer.runners.items()):
                try:
                    answered, abandoned = await dialer.store.abandon_counts(runner.campaign.id,
                                                                            clock.now() - 30 * 86400.0)
                except Exception:
                    continue
                ABANDON_RATIO.labels(campaign=name, window="30d").set(abandoned / answered if answered else 0.0)
        tick += 1
        current = set()
        for name, runner in list(dialer.runners.items()):
            current.add(name)
            in_flight = len(runner.attempts)
            free, busy = operators(runner.settings.queue)
            active = free + len(busy)
            IN_FLIGHT.labels(campaign=name).set(in_flight)
            DIAL_LEVEL.labels(campaign=name).set(in_flight / active if active else 0.0)
            answered, abandoned = runner.abandon_24h
            ABANDON_RATIO.labels(campaign=name, window="24h").set(abandoned / answered if answered else 0.0)
        for name in seen - current:
            IN_FLIGHT.labels(campaign=name).set(0)
            DIAL_LEVEL.labels(campaign=name).set(0)
        seen = current
        await asyncio.sleep(interval)
