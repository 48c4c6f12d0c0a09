"""The dialer's link to the ACD: answered customers go to operators, and the pacer sees the operators.

``AcdConnector.connect_to_agent`` hands an answered customer to the ACD as a high-priority call of the
campaign's queue, but only when an operator is available right now (the dialer gives it 2 s: an answered
customer not connected by then counts as abandoned). If the dialer gives up first, the offer is withdrawn
and the operator's leg, if any, is cancelled. Predictive and progressive campaigns should be staffed with
persistent agent sessions (``Stasis(callcore,agent-login,<agent>)``): those operators are bridged at once,
while ringing an operator's phone rarely fits in 2 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import Gauge

from callcore.acd.core.events import CallArrived, CallerHungUp
from callcore.acd.core.model import AgentState
from callcore.acd.runtime.service import AcdService
from callcore.clock import Clock
from callcore.dialer import pacer
from callcore.metrics import REGISTRY

OUTBOUND_PRIORITY = 1000  # answered customers go ahead of inbound callers waiting in the same queue

IN_FLIGHT = Gauge("callcore_dialer_calls_in_flight", "Outbound calls dialled and not ended, by campaign",
                  ["campaign"], registry=REGISTRY)
DIAL_LEVEL = Gauge("callcore_dialer_dial_level", "Outbound calls in flight per active operator, by campaign",
                   ["campaign"], registry=REGISTRY)
ABANDON_RATIO = Gauge("callcore_dialer_abandon_ratio",
                      "Abandoned / live-answered outbound calls over a rolling window, by campaign",
                      ["campaign", "window"], registry=REGISTRY)


class AcdConnector:
    def __init__(self, acd: AcdService, *, scripts: Callable[[str], str] | None = None,
                 poll: float = 0.02) -> None:
        self.acd = acd
        self.scripts = scripts  # campaign name -> its call script, shown to the operator
        self.poll = poll

    def _available(self, queue: str, agent_id: str | None) -> bool:
        st = self.acd.engine.state
        return any(a.state is AgentState.AVAILABLE and a.reachable() and (agent_id is None or a.id == agent_id)
                   for a in st.members(queue))

    async def connect_to_agent(self, channel_id: str, queue: str, lead_data: Mapping[str, Any]) -> bool:
        agent_id = lead_data.get("agent_id")
        agent = str(agent_id) if agent_id else None
        if not self._available(queue, agent):
            return False
        data = {str(k): v for k, v in lead_data.items()}
        script = self.scripts(str(lead_data.get("campaign", ""))) if self.scripts else ""
        if script:
            data["campaign_script"] = script
        self.acd.runtime.handle(CallArrived(
            channel_id, queue, OUTBOUND_PRIORITY, str(lead_data.get("phone", "")),
            str(lead_data.get("name", "")), data, agent_id=agent))
        calls = self.acd.engine.state.calls
        try:
            while True:
                call = calls.get(channel_id)
                if call is None:
                    return False
                if call.status == "connected":
                    return True
                await asyncio.sleep(self.poll)
        except asyncio.CancelledError:
            call = calls.get(channel_id)
            if call is not None and call.status == "waiting":
                self.acd.runtime.handle(CallerHungUp(channel_id))
            raise


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
            if a.state is AgentState.AVAILABLE:
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
