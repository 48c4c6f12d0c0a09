"""The configured endpoint of an agent reaches the live ACD; a device that cannot be called is reported as
unreachable, not as an operator who did not answer."""

from __future__ import annotations

from typing import Any

from callcore.acd.core.commands import OriginateAgent
from callcore.acd.core.events import (
    ASTERISK_FAILED,
    ORIGINATE_FAILED,
    AgentLegFailed,
    AgentLogin,
    AgentLogout,
    CallArrived,
    ConfigChanged,
    EndpointRegistration,
)
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig
from callcore.testkit.acd_harness import Harness

SALES = QueueConfig("sales", ring_timeout=10, max_no_answer=3)


def agent(endpoint: str) -> AgentConfig:
    return AgentConfig("a1", "A1", endpoint, memberships={"sales": 0})


def offers(out: list[Any]) -> list[str]:
    return [c.endpoint for c in out if isinstance(c, OriginateAgent)]


def test_a_changed_endpoint_rings_at_the_next_offer() -> None:
    h = Harness.build([SALES], [agent("PJSIP/agent1001")])
    h.send(AgentLogin("a1"))
    h.advance(1)
    h.send(EndpointRegistration("PJSIP/agent1001", False))
    h.send(ConfigChanged((SALES,), (agent("PJSIP/1001"),)))
    assert h.engine.state.agents["a1"].endpoint == "PJSIP/1001"
    assert offers(h.send(CallArrived("c1", "sales"))) == ["PJSIP/1001"]


def test_login_after_logout_takes_the_configured_endpoint() -> None:
    h = Harness.build([SALES], [agent("PJSIP/1001")])
    h.send(AgentLogin("a1", endpoint="PJSIP/softphone"))
    h.advance(1)
    h.send(ConfigChanged((SALES,), (agent("PJSIP/1002"),)))
    assert h.engine.state.agents["a1"].endpoint == "PJSIP/softphone"   # chosen for this session
    h.send(AgentLogout("a1"))
    h.send(AgentLogin("a1"))
    h.advance(1)
    assert offers(h.send(CallArrived("c1", "sales"))) == ["PJSIP/1002"]


def test_failed_originates_pause_the_agent_as_unreachable() -> None:
    h = Harness.build([SALES], [agent("PJSIP/agent1001")])
    h.send(AgentLogin("a1"))
    h.advance(1)
    out = h.send(CallArrived("c1", "sales"))
    for _ in range(3):   # the call is offered again at once after each failure, until the agent is paused
        (o,) = [c for c in out if isinstance(c, OriginateAgent)]
        out = h.send(AgentLegFailed(o.leg_id, ORIGINATE_FAILED))
    assert not [c for c in out if isinstance(c, OriginateAgent)]
    a1 = h.engine.state.agents["a1"]
    assert a1.state is AgentState.PAUSED and a1.pause_reason == "unreachable"


def test_offers_asterisk_failed_do_not_pause_the_agent() -> None:
    """Asterisk answering 500s or timing out is not the operator's device: after the fault, the operator
    takes calls again without anybody lifting an auto-pause."""
    h = Harness.build([SALES], [agent("PJSIP/agent1001")])
    h.send(AgentLogin("a1"))
    h.advance(1)
    out = h.send(CallArrived("c1", "sales"))
    for _ in range(5):   # more than max_no_answer
        (o,) = [c for c in out if isinstance(c, OriginateAgent)]
        out = h.send(AgentLegFailed(o.leg_id, ASTERISK_FAILED))
    a1 = h.engine.state.agents["a1"]
    assert a1.state is AgentState.RESERVED and a1.misses == 0   # offered the waiting call once more
    assert offers(out) == ["PJSIP/agent1001"]
