from __future__ import annotations

from typing import Any

from callcore.acd.core.commands import Hangup, OriginateAgent, StartMoh
from callcore.acd.core.events import (
    AgentLegAnswered,
    AgentLogin,
    AgentPause,
    AgentSessionConnected,
    CallArrived,
    LiveChannel,
    PersistedAgent,
    Resync,
)
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig
from callcore.testkit.acd_harness import Harness

T0 = 1_800_000_000.0


def setup(wrapup: float = 0.0) -> Harness:
    ags = [AgentConfig(a, endpoint=f"PJSIP/{a}", memberships={"sales": 0}) for a in ("a1", "a2")]
    return Harness.build([QueueConfig("sales", wrapup_time=wrapup)], ags)


def of(cmds: list[Any], kind: type) -> list[Any]:
    return [c for c in cmds if isinstance(c, kind)]


def inbound(ch: str, created: float, prio: int = 0) -> LiveChannel:
    return LiveChannel(ch, ("inbound", "sales", str(prio)), created)


def test_pause_reason_survives_restart_via_persisted_state() -> None:
    h = setup()
    h.send(AgentLogin("a1"))
    h.send(AgentPause("a1", "training"))
    persisted = [PersistedAgent(a.id, a.state.value, a.pause_reason, a.endpoint)
                 for a in h.engine.state.agents.values()]
    fresh = setup()
    fresh.send(Resync((), {}, tuple(persisted)))
    a1 = fresh.engine.state.agents["a1"]
    assert a1.state is AgentState.PAUSED and a1.pause_reason == "training"
    assert fresh.engine.state.agents["a2"].state is AgentState.LOGGED_OUT


def test_restart_readopts_waiting_callers_in_original_order_with_moh() -> None:
    fresh = setup()
    chans = (inbound("late", T0 - 10), inbound("early", T0 - 50))
    out = fresh.send(Resync(chans, {}, (), {"late": T0 - 100}))
    assert StartMoh("late", "default") in out and StartMoh("early", "default") in out
    assert [c.id for c in fresh.engine.state.waiting()] == ["late", "early"]
    fresh.send(AgentLogin("a1"))
    assert of(fresh.log, OriginateAgent)[-1].app_args[1] == "late"


def test_reconnect_releases_agent_whose_leg_vanished_and_requeues_caller() -> None:
    h = setup(wrapup=0)
    h.send(AgentLogin("a1"))
    (o,) = of(h.send(CallArrived("c1", "sales")), OriginateAgent)
    h.send(AgentLegAnswered(o.leg_id))
    h.advance(30)
    out = h.send(Resync((inbound("c1", T0),), {"callcore-c1": ("c1",)}))
    call = h.engine.state.calls["c1"]
    assert StartMoh("c1", "default") in out
    assert call.entered_at == T0
    # The agent is released and, being the only one, is offered the caller again.
    assert h.engine.state.agents["a1"].state is AgentState.RESERVED
    assert of(out, OriginateAgent)[-1].app_args[1] == "c1"


def test_reconnect_with_no_live_channels_frees_reserved_and_on_call_agents() -> None:
    h = setup(wrapup=5)
    h.send(AgentLogin("a1"))
    h.send(AgentLogin("a2"))
    o1 = of(h.send(CallArrived("c1", "sales")), OriginateAgent)[0]
    h.send(AgentLegAnswered(o1.leg_id))
    h.send(CallArrived("c2", "sales"))
    assert h.engine.state.agents["a2"].state is AgentState.RESERVED
    h.send(Resync(()))
    states = {a.id: a.state for a in h.engine.state.agents.values()}
    assert states == {"a1": AgentState.WRAP_UP, "a2": AgentState.AVAILABLE}
    assert not h.engine.state.calls
    h.advance(6)
    assert h.engine.state.agents["a1"].state is AgentState.AVAILABLE


def test_restart_adopts_bridged_conversation() -> None:
    fresh = setup()
    chans = (inbound("c1", T0 - 60), LiveChannel("leg1", ("agent", "c1", "a2"), T0 - 30))
    fresh.send(Resync(chans, {"callcore-c1": ("c1", "leg1")}, (PersistedAgent("a2", "on_call"),)))
    call = fresh.engine.state.calls["c1"]
    assert call.status == "connected" and call.agent_id == "a2"
    assert fresh.engine.state.agents["a2"].state is AgentState.ON_CALL
    fresh.send(AgentLegAnswered("leg1"))
    assert fresh.engine.state.agents["a2"].state is AgentState.ON_CALL


def test_orphan_agent_leg_and_session_restored() -> None:
    fresh = setup()
    chans = (LiveChannel("leg9", ("agent", "gone", "a1"), T0), LiveChannel("s2", ("agent-login", "a2"), T0))
    out = fresh.send(Resync(chans))
    assert Hangup("leg9", "orphaned") in out
    a2 = fresh.engine.state.agents["a2"]
    assert a2.session_channel == "s2" and a2.state is AgentState.AVAILABLE
    fresh.send(AgentSessionConnected("a2", "s2"))
    assert fresh.engine.state.agents["a2"].session_channel == "s2"
