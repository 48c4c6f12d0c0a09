"""Pieces shared by the dial loop and its callers: the ACD hand-off protocol, one attempt in flight,
dialplan contexts and the dialer's metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Counter

from callcore.dialer import campaign as core
from callcore.dialer import pacer
from callcore.dialer.compliance import RefusalCode
from callcore.dialer.store import ClaimedLead
from callcore.metrics import REGISTRY, KnownLabels

ATTEMPTS = Counter("callcore_dialer_attempts_total", "Dial attempts ended, by campaign and outcome",
                   ["campaign", "outcome"], registry=REGISTRY)
BLOCKED = Counter("callcore_dialer_blocked_total", "Leads refused by a guard at dial time",
                  ["campaign", "reason"], registry=REGISTRY)
# campaigns run here: every outcome and refusal reason exported at 0 from the start
CAMPAIGNS = KnownLabels(zero=(ATTEMPTS, BLOCKED), expand={0: [(o.value,) for o in core.Outcome],
                                                          1: [(c.value,) for c in RefusalCode]})

AMD_CONTEXT = "dialer-amd"
SAFE_HARBOUR_CONTEXT = "callcore-safe-harbour"


class AgentConnector(Protocol):
    async def connect_to_agent(self, channel_id: str, queue: str, lead_data: Mapping[str, Any]) -> bool:
        """Hand the answered customer to an operator of ``queue``; True once one is connected."""
        ...


# free operators and busy ones (see ``pacer.BusyOperator``) of a queue, from the ACD
OperatorsFn = Callable[[str], tuple[int, tuple[pacer.BusyOperator, ...]]]


@dataclass(slots=True)
class Attempt:
    id: str
    lead: ClaimedLead
    pure: core.Lead
    started_at: float
    agent_id: str | None = None
    answered_at: float | None = None
    amd_status: str | None = None
    amd_cause: str | None = None
    connected_at: float | None = None
    abandoned: bool = False
    decided: bool = False
    keypress: str | None = None  # agentless campaigns recording a keypress: the digit pressed
    awaiting_key: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def refusal_outcome(code: RefusalCode) -> str:
    if code is RefusalCode.DNC:
        return core.Outcome.DNC_BLOCKED.value
    if code in (RefusalCode.OUTSIDE_WINDOW, RefusalCode.NO_COMMON_WINDOW):
        return core.Outcome.OUTSIDE_WINDOW.value
    return code.value

