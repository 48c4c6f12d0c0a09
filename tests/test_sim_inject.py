"""Calls dialled into the simulated Asterisk with any Stasis arguments: agent login from a phone,
arbitrary ``args``, in the engine (virtual time) and through the ``/_sim/`` control API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.clock import ManualClock
from callcore.sim import Engine, SimAsterisk
from callcore.sim.core import VirtualScheduler

AUTH = {"Authorization": aiohttp.encode_basic_auth("callcore", "callcore-secret")}


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, text: str) -> None:
        self.events.append(json.loads(text))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


def make() -> tuple[Engine, VirtualScheduler, Sink]:
    clock = ManualClock(1_795_917_138.0)
    sched = VirtualScheduler(clock)
    eng = Engine(app="callcore", seed=1, sysname="callcore-lab", clock=clock, scheduler=sched)
    for name in ("PJSIP/trunk", "PJSIP/agent1001"):
        eng.add_endpoint(name)
    sink = Sink()
    eng.attach_socket(["callcore"], sink)
    return eng, sched, sink


def test_agent_login_from_the_phone_itself() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_agent_login("PJSIP/agent1001")
    start = sink.of("StasisStart")[0]
    assert start["args"] == ["agent-login", "agent1001"]
    ch = start["channel"]
    assert ch["id"] == cid and ch["name"].startswith("PJSIP/agent1001-") and ch["state"] == "Up"
    assert ch["caller"] == {"name": "Agent 1001", "number": "1001"}
    assert ch["dialplan"] == {"context": "agents", "exten": "*55", "priority": 2, "app_name": "Stasis",
                              "app_data": "callcore,agent-login,agent1001"}
    assert eng.list_calls() == [] and eng.counters["calls_injected"] == 0


def test_agent_login_as_another_agent_and_endpoint_shows_the_channel() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_agent_login("agent1001", "1002")
    start = sink.of("StasisStart")[0]
    assert start["args"] == ["agent-login", "1002"]
    assert start["channel"]["dialplan"]["exten"] == "*551002"
    assert eng.endpoint_json("PJSIP/agent1001")["channel_ids"] == [cid]


def test_agent_session_ends_when_the_phone_hangs_up() -> None:
    eng, _sched, sink = make()
    cid = eng.inject_agent_login("PJSIP/agent1001")
    eng.far_hangup(cid)
    assert [e["channel"]["id"] for e in sink.of("StasisEnd")] == [cid]
    assert cid not in eng.channels
    assert eng.counters["calls_abandoned"] == 0 and eng.list_calls() == []


def test_agent_login_without_the_app_fails_like_dialplan() -> None:
    eng, _sched, _sink = make()
    eng.detach_socket(_sink)
    cid = eng.inject_agent_login("PJSIP/agent1001")
    assert cid not in eng.channels and eng.counters["calls_failed"] == 0


def test_args_and_queue_validation() -> None:
    eng, _sched, _sink = make()
    with pytest.raises(ValueError):
        eng.inject_call()
    with pytest.raises(ValueError):
        eng.inject_call(args=[])
    with pytest.raises(ValueError):
        eng.inject_call(args=["x"], endpoint="agent1001")


@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10),
                min_size=1, max_size=4),
       st.sampled_from(["agents", "inbound", "custom"]))
def test_any_args_reach_stasis_unchanged(args: list[str], context: str) -> None:
    eng, _sched, sink = make()
    cid = eng.inject_call(args=args, context=context, exten="s", endpoint="PJSIP/agent1001")
    start = sink.of("StasisStart")[0]
    assert start["args"] == args and start["channel"]["id"] == cid
    assert start["channel"]["dialplan"]["app_data"] == ",".join(["callcore", *args])
    assert start["channel"]["dialplan"]["context"] == context
    is_call = args[0] == "inbound"
    assert (len(eng.list_calls()) == 1) is is_call
    if is_call and len(args) > 1:
        assert eng.list_calls()[0]["queue"] == args[1]


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(seed=3, time_scale=50.0, agents=["agent1001"]) as s:
        yield s


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    for _ in range(50):
        msg = await asyncio.wait_for(ws.receive(), 5.0)
        event: dict[str, Any] = json.loads(msg.data)
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind}")


async def test_control_api_agent_login_and_args(sim: SimAsterisk) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        async with http.post(sim.ari_url + "/_sim/agent-login", json={"endpoint": "PJSIP/agent1001"}) as r:
            assert r.status == 201
            cid = (await r.json())["channel_id"]
        start = await next_event(ws, "StasisStart")
        assert start["channel"]["id"] == cid and start["args"] == ["agent-login", "agent1001"]
        async with http.post(sim.ari_url + "/_sim/calls",
                             json={"args": ["agent-login", "1002"], "context": "agents", "exten": "*551002",
                                   "endpoint": "PJSIP/agent1001", "answered": True}) as r:
            assert r.status == 201
        start = await next_event(ws, "StasisStart")
        assert start["args"] == ["agent-login", "1002"]
        assert start["channel"]["dialplan"]["context"] == "agents"
        bad: dict[str, Any]
        for bad in ({}, {"args": []}, {"args": "agent-login"}, {"args": ["x"], "endpoint": "nope"}):
            async with http.post(sim.ari_url + "/_sim/calls", json=bad) as r:
                assert r.status == 400, bad
        async with http.post(sim.ari_url + "/_sim/agent-login", json={}) as r:
            assert r.status == 400
        await ws.close()
