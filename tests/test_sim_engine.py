"""The simulated Asterisk core driven in virtual time (no network): event order, causes, patience,
talk times, subscriptions, filters and seeded determinism."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from callcore.clock import ManualClock
from callcore.sim import EndpointBehaviour, Engine
from callcore.sim.core import RestError, VirtualScheduler


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, text: str) -> None:
        self.events.append(json.loads(text))

    def types(self, *, varset: bool = False) -> list[str]:
        return [e["type"] for e in self.events if varset or e["type"] != "ChannelVarset"]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


def make(seed: int = 1) -> tuple[Engine, VirtualScheduler, Sink]:
    clock = ManualClock(1_795_917_138.0)
    sched = VirtualScheduler(clock)
    eng = Engine(app="callcore", seed=seed, sysname="callcore-lab", clock=clock, scheduler=sched)
    for name in ("PJSIP/trunk", "PJSIP/1001", "PJSIP/1002"):
        eng.add_endpoint(name)
    sink = Sink()
    eng.attach_socket(["callcore"], sink)
    return eng, sched, sink


def test_inbound_call_enters_stasis_with_queue_and_priority() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_call(queue="sales", caller_number="+15551230001", caller_name="Ann", priority=5)
    start = sink.of("StasisStart")[0]
    assert start["args"] == ["inbound", "sales", "5"]
    ch = start["channel"]
    assert ch["id"] == cid and re.match(r"^callcore-lab-\d+\.\d+$", cid)
    assert ch["name"] == "PJSIP/trunk-00000000" and ch["state"] == "Ring"
    assert ch["dialplan"] == {"context": "inbound", "exten": "100", "priority": 2, "app_name": "Stasis",
                              "app_data": "callcore,inbound,sales,5"}
    assert eng.counters["calls_injected"] == 1


def test_patience_expires_unanswered_is_a_cancel() -> None:
    eng, sched, sink = make()
    eng.inject_call(queue="sales", patience=30.0)
    sched.advance(29.9)
    assert sink.types() == ["StasisStart"]
    sched.advance(0.2)
    assert sink.types() == ["StasisStart", "ChannelHangupRequest", "StasisEnd"]
    req = sink.of("ChannelHangupRequest")[0]
    assert (req["cause"], req["tech_cause"]) == (127, 487)
    assert eng.counters["calls_abandoned"] == 1 and not eng.channels


def test_patience_expires_answered_is_a_bye_without_cause_and_no_destroyed() -> None:
    eng, sched, sink = make()
    cid = eng.inject_call(queue="sales", patience=10.0)
    eng.answer(eng.chan(cid))
    sched.advance(11.0)
    assert sink.types() == ["StasisStart", "ChannelStateChange", "ChannelHangupRequest", "StasisEnd"]
    assert "cause" not in sink.of("ChannelHangupRequest")[0]
    varsets = [e["variable"] for e in sink.of("ChannelVarset")]
    assert varsets[:5] == ["RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES"]
    assert eng.counters["calls_answered"] == 1 and eng.counters["calls_abandoned"] == 1


def _bridge_call_with_agent(eng: Engine, sched: VirtualScheduler, talk: float | None = 20.0) -> tuple[str, str]:
    eng.book.set("PJSIP/1001", EndpointBehaviour(answer_delay=1.0))
    cid = eng.inject_call(queue="sales", caller_number="+15551230001", caller_name="Ann", patience=30.0,
                          talk_time=talk)
    eng.answer(eng.chan(cid))
    agent = eng.originate("PJSIP/1001", app="callcore", app_args=["agent", cid], channel_id="agent-1")
    sched.advance(2.0)
    b = eng.create_bridge("mixing", "b1", "call")
    eng.add_to_bridge(b, [cid, agent.id])
    return cid, agent.id


def test_originate_answer_and_bridge_follow_the_trace_order() -> None:
    eng, sched, sink = make()
    _bridge_call_with_agent(eng, sched)
    assert sink.types()[2:] == ["Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial", "StasisStart",
                                "ChannelEnteredBridge", "ChannelEnteredBridge", "ChannelConnectedLine",
                                "ChannelConnectedLine"]
    assert [e["dialstatus"] for e in sink.of("Dial")] == ["", "RINGING", "ANSWER"]
    entered = sink.of("ChannelEnteredBridge")[1]["bridge"]["channels"]
    assert entered == ["agent-1", sink.of("StasisStart")[0]["channel"]["id"]]
    peers = [(e["channel"]["id"], e["variable"]) for e in sink.of("ChannelVarset") if "BRIDGE" in e["variable"]]
    assert [v for _, v in peers] == ["BRIDGEPEER", "BRIDGEPVTCALLID"] * 2
    assert eng.counters["calls_bridged"] == 1


def test_bridged_caller_hangs_up_after_talk_time_and_patience_is_cancelled() -> None:
    eng, sched, sink = make()
    cid, agent = _bridge_call_with_agent(eng, sched, talk=20.0)
    sched.advance(19.0)
    assert cid in eng.channels
    sched.advance(2.0)
    assert cid not in eng.channels and agent in eng.channels
    assert eng.counters["calls_abandoned"] == 0
    bridged = [e["variable"] for e in sink.of("ChannelVarset") if e["channel"]["id"] == agent]
    assert "RTPAUDIOQOSBRIDGED" in bridged


def test_app_hangup_of_originated_channel_ends_with_destroyed_cause_16() -> None:
    eng, sched, sink = make()
    _cid, agent = _bridge_call_with_agent(eng, sched, talk=None)
    sink.events.clear()
    eng.hangup(eng.chan(agent), 16, request={"cause": 32, "soft": True})
    assert sink.types() == ["ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd", "ChannelDestroyed"]
    assert sink.of("ChannelHangupRequest")[0]["cause"] == 32
    destroyed = sink.of("ChannelDestroyed")[0]
    assert (destroyed["cause"], destroyed["cause_txt"]) == (16, "Normal Clearing")
    assert destroyed["channel"]["dialplan"]["app_name"] == "AppDial2"


@pytest.mark.parametrize(("behaviour", "cause", "tech", "status"), [
    (EndpointBehaviour(p_busy=1.0), 17, 486, "BUSY"),
    (EndpointBehaviour(p_congestion=1.0), 34, 503, "CONGESTION"),
])
def test_rejected_originate(behaviour: EndpointBehaviour, cause: int, tech: int, status: str) -> None:
    eng, sched, sink = make()
    eng.book.set("PJSIP/1002", behaviour)
    eng.originate("PJSIP/1002", app="callcore", channel_id="x")
    sched.advance(1.0)
    assert sink.types() == ["Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"]
    assert sink.of("Dial")[1]["dialstatus"] == status
    d = sink.of("ChannelDestroyed")[0]
    assert (d["cause"], d["tech_cause"]) == (cause, tech)


def test_no_answer_times_out_with_cause_19() -> None:
    eng, sched, sink = make()
    eng.book.set("PJSIP/1002", EndpointBehaviour(p_answer=0.0))
    eng.originate("PJSIP/1002", app="callcore", channel_id="x", timeout=5)
    sched.advance(4.9)
    assert sink.types() == ["Dial", "ChannelStateChange", "Dial"]
    sched.advance(0.2)
    d = sink.of("ChannelDestroyed")[0]
    assert (d["cause"], d["cause_txt"], d["tech_cause"]) == (19, "User alerting, no answer", 480)
    assert not eng.channels


def test_allocation_failures_and_duplicates() -> None:
    eng, _sched, _ = make()
    for endpoint in ("Bogus/1", "PJSIP/nosuch"):
        with pytest.raises(RestError) as err:
            eng.originate(endpoint, app="callcore")
        assert (err.value.status, err.value.body) == (500, {"error": "Allocation failed"})
    eng.book.set("PJSIP/1002", EndpointBehaviour(registered=False))
    with pytest.raises(RestError):
        eng.originate("PJSIP/1002", app="callcore")
    eng.originate("PJSIP/1001", app="callcore", channel_id="dup")
    with pytest.raises(RestError) as err:
        eng.originate("PJSIP/1001", app="callcore", channel_id="dup")
    assert err.value.status == 409


@pytest.mark.parametrize(("kwargs", "status", "cause"), [
    ({"p_machine": 1.0}, "MACHINE", "LONGGREETING-1500-1500"),
    ({}, "HUMAN", "HUMAN-800-800"),
    ({"amd_notsure": 1.0}, "NOTSURE", "TOOLONG-4900"),
])
def test_amd_context_enters_stasis_with_the_amd_result(kwargs: dict[str, Any], status: str, cause: str) -> None:
    eng, sched, sink = make()
    eng.book.set("PJSIP/*@trunk", EndpointBehaviour(answer_delay=1.0, **kwargs))
    c = eng.originate("PJSIP/5551000@trunk", context="dialer-amd", extension="s", channel_id="amd-1",
                      variables={"CAMPAIGN": "demo"})
    c.subs.add("callcore")
    sched.advance(10.0)
    start = sink.of("StasisStart")[0]
    assert start["args"] == ["amd", status, cause]
    assert eng.chan("amd-1").variables["AMDSTATUS"] == status
    assert [e["dialplan_app"] for e in sink.of("ChannelDialplan")] == ["NoOp", "AMD", "NoOp", "Stasis"]


def test_event_filter_and_application_replaced() -> None:
    eng, sched, first = make()
    eng.get_app("callcore").allowed = [{"type": "StasisStart"}]
    eng.inject_call(queue="sales", patience=1.0)
    sched.advance(2.0)
    assert first.types(varset=True) == ["StasisStart"]
    second = Sink()
    eng.attach_socket(["callcore"], second)
    assert first.types()[-1] == "ApplicationReplaced"
    eng.get_app("callcore").allowed = []
    eng.get_app("callcore").disallowed = [{"type": "ChannelVarset"}]
    eng.inject_call(queue="sales", patience=1.0)
    sched.advance(2.0)
    assert second.types(varset=True) == ["StasisStart", "ChannelHangupRequest", "StasisEnd"]
    assert first.types()[-1] == "ApplicationReplaced"


def test_app_exists_while_it_has_a_socket_or_channels() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_call(queue="sales")
    eng.detach_socket(sink)
    assert eng.app_exists("callcore")
    eng.hangup(eng.chan(cid), 16, request={"cause": 32, "soft": True})
    assert not eng.app_exists("callcore")
    failed = eng.inject_call(queue="sales")
    assert failed not in eng.channels and eng.counters["calls_failed"] == 1


def test_shutdown_hangs_up_with_cause_4_and_clears_everything() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_call(queue="sales", answered=True)
    eng.add_to_bridge(eng.create_bridge("mixing", "b", ""), [cid])
    sink.events.clear()
    eng.shutdown()
    assert sink.types(varset=True) == ["ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd"]
    assert sink.of("ChannelHangupRequest")[0]["cause"] == 4
    assert not eng.channels and not eng.bridges


def run_scenario(seed: int) -> list[dict[str, Any]]:
    eng, sched, sink = make(seed)
    eng.book.set("PJSIP/*@trunk", EndpointBehaviour(p_busy=0.3, p_answer=0.6, talk_time=(5.0, 50.0)))
    for i in range(20):
        eng.originate(f"PJSIP/555{i:04d}@trunk", app="callcore", channel_id=f"c{i}", timeout=20)
        eng.inject_call(queue="sales", caller_number=f"+1555{i:07d}", patience=float(5 + i))
        sched.advance(0.7)
    sched.advance(120.0)
    return sink.events


def test_seeded_runs_are_identical_and_seeds_differ() -> None:
    assert run_scenario(5) == run_scenario(5)
    assert run_scenario(5) != run_scenario(6)



def test_originate_to_an_unregistered_app_is_accepted_then_hangs_up() -> None:
    eng, sched, sink = make()
    eng.book.set("PJSIP/1001", EndpointBehaviour(answer_delay=0.5))
    eng.originate("PJSIP/1001", app="nosuchapp", channel_id="n1")
    assert not eng.app_exists("nosuchapp")
    sched.advance(1.0)
    assert "n1" not in eng.channels and sink.events == []
