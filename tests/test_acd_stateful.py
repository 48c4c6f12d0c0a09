"""Random sequences of calls, agent actions, Asterisk races and time against the pure core."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from callcore.acd.core.commands import AddToBridge, Journal, OriginateAgent
from callcore.acd.core.events import (
    AgentDisposition,
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentReady,
    AgentSessionConnected,
    AgentSessionDisconnected,
    CallArrived,
    CallerHungUp,
    DtmfReceived,
    EndpointRegistration,
    LiveChannel,
    Resync,
)
from callcore.acd.core.model import AgentConfig, AgentState, QueueConfig, SkillRequirement
from callcore.acd.core.routing import offerable, qualified
from callcore.errors import CallcoreError
from callcore.testkit.acd_harness import Harness

AGENTS = ("a1", "a2", "a3", "a4")
TERMINAL = {"call.abandoned", "call.overflowed", "call.ended", "call.refused", "call.callback"}


def configs() -> tuple[list[QueueConfig], list[AgentConfig]]:
    queues = [
        QueueConfig("q1", wrapup_time=5, ring_timeout=10, max_no_answer=3, callback_digit="9"),
        QueueConfig("q2", strategy="ring-all", wrapup_time=0, ring_timeout=8, max_wait=90,
                    skills=(SkillRequirement.parse("fr>=3, after 20 s >=1, after 40 s dropped"),)),
    ]
    agents = [
        AgentConfig("a1", endpoint="PJSIP/a1", skills={"fr": 3}, memberships={"q1": 0, "q2": 0}),
        AgentConfig("a2", endpoint="PJSIP/a2", skills={"fr": 1}, memberships={"q1": 1, "q2": 0}),
        AgentConfig("a3", endpoint="PJSIP/a3", memberships={"q1": 0}),
        AgentConfig("a4", endpoint="PJSIP/a4", skills={"fr": 5}, memberships={"q2": 0}),
    ]
    return queues, agents


class AcdMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        queues, agents = configs()
        self.h = Harness.build(queues, agents, seed=1)
        self.arrived: list[str] = []
        self.n = 0
        self.first_offer: dict[str, int] = {}
        self.sessions: dict[str, str] = {}
        for a in AGENTS[:3]:
            self._send(AgentLogin(a))

    def _send(self, ev: object) -> None:
        try:
            out = self.h.send(ev)  # type: ignore[arg-type]
        except CallcoreError:
            return
        self._note_offers(out)

    def _note_offers(self, out: Sequence[object]) -> None:
        for c in out:
            cid = None
            if isinstance(c, OriginateAgent):
                cid = c.app_args[1]
            elif isinstance(c, AddToBridge) and c.channels[0] in self.h.engine.state.calls:
                cid = c.channels[0]
            if cid is not None and cid not in self.first_offer:
                self.first_offer[cid] = len(self.first_offer)
                self._check_fifo(cid)

    def _check_fifo(self, cid: str) -> None:
        """When a q1 call is first offered, no earlier q1 caller of the same priority is still unoffered."""
        st_ = self.h.engine.state
        call = st_.calls.get(cid)
        if call is None or call.queue != "q1":
            return
        for other in st_.waiting("q1"):
            if other.id != cid and other.priority == call.priority and other.entered_at < call.entered_at:
                assert other.id in self.first_offer, f"{other.id} overtaken by {cid}"

    @rule(queue=st.sampled_from(["q1", "q2", "nope"]), priority=st.integers(0, 2))
    def arrive(self, queue: str, priority: int) -> None:
        self.n += 1
        cid = f"c{self.n}"
        self.arrived.append(cid)
        self._note_offers(self.h.advance(1))
        self._send(CallArrived(cid, queue, priority, caller_number=f"555{self.n}"))

    @precondition(lambda self: bool(self.arrived))
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        self._send(CallerHungUp(data.draw(st.sampled_from(self.arrived))))

    @precondition(lambda self: bool(self.arrived))
    @rule(data=st.data(), digit=st.sampled_from(["1", "9"]))
    def caller_presses(self, data: st.DataObject, digit: str) -> None:
        self._send(DtmfReceived(data.draw(st.sampled_from(self.arrived)), digit))

    @precondition(lambda self: bool(self.h.originated))
    @rule(data=st.data(), outcome=st.sampled_from(["answer", "fail", "hangup"]))
    def agent_leg(self, data: st.DataObject, outcome: str) -> None:
        leg = data.draw(st.sampled_from(sorted(self.h.originated)))
        ev = {"answer": AgentLegAnswered(leg), "fail": AgentLegFailed(leg, "busy"),
              "hangup": AgentLegHungUp(leg)}[outcome]
        self._send(ev)

    @precondition(lambda self: bool(self.h.hung_up))
    @rule(data=st.data())
    def late_answer(self, data: st.DataObject) -> None:
        self._send(AgentLegAnswered(data.draw(st.sampled_from(sorted(self.h.hung_up)))))

    @rule(agent=st.sampled_from(AGENTS),
          action=st.sampled_from(["login", "logout", "pause", "ready", "dispo", "unreg", "reg"]))
    def agent_action(self, agent: str, action: str) -> None:
        ev: object = {
            "login": AgentLogin(agent), "logout": AgentLogout(agent), "pause": AgentPause(agent, "break"),
            "ready": AgentReady(agent), "dispo": AgentDisposition(agent, "done"),
            "unreg": EndpointRegistration(f"PJSIP/{agent}", False),
            "reg": EndpointRegistration(f"PJSIP/{agent}", True),
        }[action]
        self._send(ev)

    @rule(agent=st.sampled_from(AGENTS), connect=st.booleans())
    def session(self, agent: str, connect: bool) -> None:
        if connect and agent not in self.sessions:
            self.n += 1
            self.sessions[agent] = f"s{self.n}"
            self._send(AgentSessionConnected(agent, self.sessions[agent]))
        elif not connect and agent in self.sessions:
            self._send(AgentSessionDisconnected(self.sessions.pop(agent)))

    @rule(seconds=st.floats(0, 40))
    def wait(self, seconds: float) -> None:
        self._note_offers(self.h.advance(seconds))

    @rule()
    def reconnect(self) -> None:
        st_ = self.h.engine.state
        live = [LiveChannel(c.id, ("inbound", c.queue, str(c.priority)), c.entered_at)
                for c in st_.calls.values()]
        live += [LiveChannel(leg, o.app_args, self.h.now) for leg, o in self.h.originated.items()]
        live += [LiveChannel(ch, ("agent-login", a), self.h.now) for a, ch in self.sessions.items()]
        bridges = {c.bridge_id: (c.channel, c.agent_leg or "") for c in st_.calls.values() if c.bridge_id}
        self._send(Resync(tuple(live), bridges))

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def no_agent_holds_two_calls(self) -> None:
        if not hasattr(self, "h"):
            return
        st_ = self.h.engine.state
        holds: dict[str, int] = {}
        for c in st_.calls.values():
            owners = list(c.legs.values()) + ([c.agent_id] if c.status == "connected" and c.agent_id else [])
            for owner in owners:
                holds[owner] = holds.get(owner, 0) + 1
        assert all(n <= 1 for n in holds.values()), holds
        for a in st_.agents.values():
            if a.state is AgentState.ON_CALL:
                call = st_.calls.get(a.call_id or "")
                assert call is not None and call.status == "connected" and call.agent_id == a.id
            elif a.state is AgentState.RESERVED:
                call = st_.calls.get(st_.legs.get(a.leg_id or "", ""))
                assert call is not None and call.legs.get(a.leg_id or "") == a.id
            else:
                assert holds.get(a.id, 0) == 0, (a.id, a.state)

    @invariant()
    def nobody_waits_while_qualified_agent_idles(self) -> None:
        if not hasattr(self, "h"):
            return
        st_ = self.h.engine.state
        for c in st_.waiting():
            if c.legs:
                continue
            q = st_.queues[c.queue]
            idle = [a.id for a in st_.agents.values() if offerable(a) and qualified(a, c, q, self.h.now)]
            assert not idle, (c.id, idle)

    @invariant()
    def every_caller_accounted_for(self) -> None:
        if not hasattr(self, "h"):
            return
        st_ = self.h.engine.state
        ended = {j.call_id for j in self.h.log if isinstance(j, Journal) and j.type in TERMINAL}
        for cid in self.arrived:
            call = st_.calls.get(cid)
            if call is None:
                assert cid in ended, cid
            else:
                assert call.status in ("waiting", "connected")
                if call.status == "connected":
                    assert any(isinstance(c, AddToBridge) and cid in c.channels for c in self.h.log)


AcdMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcdStateful = AcdMachine.TestCase
