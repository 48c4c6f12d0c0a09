"""The persistent agent session's login: by agent id, by the phone's endpoint name, or refused."""

from __future__ import annotations

from callcore.acd.core.commands import AddToBridge, Hangup, Journal
from callcore.acd.core.engine import Engine
from callcore.acd.core.events import AgentSessionConnected
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig

AGENTS = [AgentConfig(id="7", name="Ann", endpoint="PJSIP/agent1001", memberships={"sales": 0}),
          AgentConfig(id="8", name="Bob", endpoint="PJSIP/agent1002", memberships={"sales": 0})]


def engine() -> Engine:
    return Engine([QueueConfig(name="sales")], AGENTS)


def test_login_by_agent_id() -> None:
    e = engine()
    out = e.handle(AgentSessionConnected("8", "chan-1"), 10.0)
    assert any(isinstance(c, AddToBridge) and "chan-1" in c.channels for c in out)
    assert e.state.agents["8"].state is AgentState.AVAILABLE


def test_login_by_the_phones_endpoint_name() -> None:
    e = engine()
    e.handle(AgentSessionConnected("agent1001", "chan-2"), 10.0)
    assert e.state.agents["7"].session_channel == "chan-2"
    assert e.state.agents["7"].state is AgentState.AVAILABLE


def test_unknown_login_is_hung_up_not_left_in_silence() -> None:
    e = engine()
    out = e.handle(AgentSessionConnected("agent9999", "chan-3"), 10.0)
    assert Hangup("chan-3", "unknown-agent") in out
    assert any(isinstance(c, Journal) and c.type == "agent.session_refused" for c in out)
    assert all(a.state is AgentState.LOGGED_OUT for a in e.state.agents.values())
