"""Per-call ARI lanes: order within a lane, the in-flight cap, cancellation, and lane keys of ACD commands."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.acd.core.commands import (
    AddToBridge,
    Answer,
    CallbackRequested,
    CancelTimer,
    Command,
    Journal,
    Notify,
    OriginateAgent,
    SetTimer,
    StartMoh,
)
from callcore.acd.core.events import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentLogin,
    AgentSessionConnected,
    CallArrived,
    CallerHungUp,
    SupervisorRequest,
)
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime.executor import AcdRuntime
from callcore.acd.runtime.lanes import LaneKeys, Lanes
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.store.api import MemoryJournal
from callcore.testkit.acd_harness import Harness

Item = tuple[str, int, int]  # lane, sequence number within the lane, scheduler yields while "in flight"


class Recorder:
    def __init__(self) -> None:
        self.done: list[Item] = []
        self.in_flight = 0
        self.peak = 0
        self.busy: set[str] = set()
        self.overlap = False

    async def run(self, item: Item) -> None:
        lane, _, yields = item
        if lane in self.busy:
            self.overlap = True
        self.busy.add(lane)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(yields):
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
            self.busy.discard(lane)
        self.done.append(item)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 6)), max_size=80),
    cap=st.integers(1, 6),
    batch=st.integers(1, 10),
)
def test_lanes_keep_order_per_key_and_respect_the_cap(items: list[tuple[str, int]], cap: int,
                                                       batch: int) -> None:
    async def scenario() -> Recorder:
        rec = Recorder()
        lanes: Lanes[Item] = Lanes(rec.run, concurrency=cap, urgent=lambda item: item[2] == 0)
        pool = asyncio.create_task(lanes.run())
        seq: dict[str, int] = {}
        for i, (lane, yields) in enumerate(items):
            seq[lane] = seq.get(lane, 0) + 1
            lanes.submit(lane, (lane, seq[lane], yields))
            if i % batch == 0:
                await asyncio.sleep(0)
        await lanes.drain()
        assert lanes.active_lanes == 0 and lanes.queued == 0 and lanes.in_flight == 0
        pool.cancel()
        await asyncio.gather(pool, return_exceptions=True)
        return rec

    rec = asyncio.run(scenario())
    assert len(rec.done) == len(items)
    assert not rec.overlap
    assert rec.peak <= cap
    for lane in "abcdefgh":
        order = [n for (k, n, _) in rec.done if k == lane]
        assert order == sorted(order)


async def test_cap_bounds_requests_in_flight_without_a_task_per_command() -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def blocked(item: str) -> None:
        started.append(item)
        await release.wait()

    lanes: Lanes[str] = Lanes(blocked, concurrency=4)
    pool = asyncio.create_task(lanes.run())
    await asyncio.sleep(0)
    tasks_before = len(asyncio.all_tasks())
    for i in range(200):
        lanes.submit(f"call{i}", f"cmd{i}")
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(started) == 4 and lanes.in_flight == 4 and lanes.queued == 196
    assert len(asyncio.all_tasks()) == tasks_before
    release.set()
    await lanes.drain()
    assert len(started) == 200 and lanes.peak_in_flight == 4
    pool.cancel()
    await asyncio.gather(pool, return_exceptions=True)


async def test_urgent_lanes_go_first_when_requests_back_up() -> None:
    gate = asyncio.Event()
    order: list[str] = []

    async def run(item: str) -> None:
        if item == "block":
            await gate.wait()
        order.append(item)

    lanes: Lanes[str] = Lanes(run, concurrency=1, urgent=lambda item: item.startswith("originate"))
    pool = asyncio.create_task(lanes.run())
    lanes.submit("c0", "block")
    for _ in range(5):
        await asyncio.sleep(0)
    assert lanes.in_flight == 1
    lanes.submit("c1", "answer-1")
    lanes.submit("c1", "originate-1b")
    lanes.submit("c2", "answer-2")
    lanes.submit("leg3", "originate-3")
    gate.set()
    await lanes.drain()
    pool.cancel()
    await asyncio.gather(pool, return_exceptions=True)
    # originate-1b stays behind answer-1 in its own lane; once at the head, its lane goes first too.
    assert order == ["block", "originate-3", "answer-1", "originate-1b", "answer-2"]


async def test_cancelling_the_pool_cancels_in_flight_and_drops_queued() -> None:
    cancelled: list[str] = []

    async def slow(item: str) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise

    lanes: Lanes[str] = Lanes(slow, concurrency=2)
    pool = asyncio.create_task(lanes.run())
    for i in range(5):
        lanes.submit("one-call", f"c{i}")
    lanes.submit("other", "o0")
    for _ in range(5):
        await asyncio.sleep(0)
    waiter = asyncio.create_task(lanes.drain())
    await asyncio.sleep(0)
    assert not waiter.done()
    pool.cancel()
    await asyncio.gather(pool, return_exceptions=True)
    await asyncio.wait_for(waiter, 1)
    assert sorted(cancelled) == ["c0", "o0"]
    assert lanes.dropped == 4 and lanes.active_lanes == 0 and lanes.in_flight == 0


async def test_a_failing_item_does_not_stop_its_lane() -> None:
    done: list[int] = []

    async def run(n: int) -> None:
        if n == 1:
            raise RuntimeError("boom")
        done.append(n)

    lanes: Lanes[int] = Lanes(run, concurrency=1)
    pool = asyncio.create_task(lanes.run())
    for n in range(3):
        lanes.submit("k", n)
    await lanes.drain()
    pool.cancel()
    await asyncio.gather(pool, return_exceptions=True)
    assert done == [0, 2]


def test_withdraw_last_takes_back_only_the_newest_queued_item() -> None:
    async def noop(_: str) -> None:
        return None

    async def scenario() -> None:
        lanes: Lanes[str] = Lanes(noop)
        lanes.submit("k", "answer")
        lanes.submit("k", "moh")
        assert not lanes.withdraw_last("k", lambda s: s == "answer")
        assert lanes.withdraw_last("k", lambda s: s == "moh")
        assert not lanes.withdraw_last("absent", lambda s: True)
        assert lanes.queued == 1

    asyncio.run(scenario())


# --- lane keys of the commands the core emits ----------------------------------------------------------


def harness() -> Harness:
    agents = [AgentConfig(a, endpoint=f"PJSIP/{a}", memberships={"q": 0}) for a in ("a1", "a2")]
    h = Harness.build([QueueConfig("q", recording="all")], agents)
    h.send(AgentLogin("a1"))
    return h


LOCAL = (Journal, Notify, SetTimer, CancelTimer, CallbackRequested)


def keyed(keys: LaneKeys, out: list[Command]) -> list[tuple[str, Command]]:
    """(lane, command) for the commands that become ARI requests."""
    return [(keys.key(c), c) for c in out if not isinstance(c, LOCAL)]


def test_caller_commands_share_the_call_lane_and_agent_legs_have_their_own() -> None:
    h = harness()
    keys = LaneKeys(h.engine.state)
    arrived = keyed(keys, list(h.send(CallArrived("c1", "q"))))
    (leg,) = h.originated
    assert [k for k, c in arrived if isinstance(c, Answer | StartMoh)] == ["c1", "c1"]
    assert [k for k, c in arrived if isinstance(c, OriginateAgent)] == [leg]
    connected = keyed(keys, list(h.send(AgentLegAnswered(leg))))
    # the caller joins the bridge first, MOH stops right after (same lane, in that order)
    assert [type(c).__name__ for _, c in connected] == ["CreateBridge", "AddToBridge", "StopMoh",
                                                         "StartRecording"]
    assert {k for k, _ in connected} == {"c1"}
    ended = keyed(keys, list(h.send(CallerHungUp("c1"))))
    lanes = {type(c).__name__: k for k, c in ended}
    assert lanes["Hangup"] == leg and lanes["DestroyBridge"] == "c1" and lanes["StopRecording"] == "c1"
    keys.forget_channel("c1")
    assert len(keys) == 0


def test_supervision_and_session_lanes() -> None:
    h = harness()
    keys = LaneKeys(h.engine.state)
    keyed(keys, list(h.send(CallArrived("c1", "q"))))
    (leg,) = h.originated
    keyed(keys, list(h.send(AgentLegAnswered(leg))))
    sup = keyed(keys, list(h.send(SupervisorRequest("a1", "whisper", "PJSIP/sup", "sup1"))))
    assert {k for k, _ in sup} == {"sup1"}
    h2 = Harness.build([QueueConfig("q")], [AgentConfig("a2", endpoint="PJSIP/a2", memberships={"q": 0})])
    keys2 = LaneKeys(h2.engine.state)
    session = keyed(keys2, list(h2.send(AgentSessionConnected("a2", "sess"))))
    assert {k for k, _ in session} == {"sess"}
    call = keyed(keys2, list(h2.send(CallArrived("c2", "q"))))
    by_type = {type(c).__name__: k for k, c in call}
    assert by_type["AddToBridge"] == "c2" and by_type["Play"] == "sess" and by_type["Answer"] == "c2"


async def test_moh_start_and_stop_queued_together_cancel_out() -> None:
    clock = ManualClock()
    fake = FakeAri(clock=clock)
    agents = [AgentConfig("a1", endpoint="PJSIP/a1", memberships={"q": 0})]
    h = Harness.build([QueueConfig("q")], agents)
    rt = AcdRuntime(h.engine, fake, MemoryJournal(), clock)
    rt.handle(AgentSessionConnected("a1", "sess"))
    rt.handle(CallArrived("c1", "q"))
    assert rt.lanes.queued == 6  # session: Answer, CreateBridge, AddToBridge, beep; caller: Answer, AddToBridge
    assert rt.lanes.keys() == ["c1", "sess"]
    assert rt.lanes.withdraw_last("c1", lambda c: isinstance(c, AddToBridge))
    assert rt.lanes.withdraw_last("c1", lambda c: c == Answer("c1"))
    assert not fake.calls_to("start_moh")


OPS = st.lists(st.tuples(st.sampled_from(["arrive", "answer", "fail", "caller_gone", "leg_gone", "tick"]),
                         st.integers(0, 5)), max_size=40)


@settings(max_examples=80, deadline=None)
@given(ops=OPS)
def test_lane_keys_keep_each_channel_on_one_lane(ops: list[tuple[str, int]]) -> None:
    """Whatever the core does, every command about a caller runs on the caller's lane, every command about
    an agent leg on the leg's lane, and nothing is remembered once Asterisk reports the channels gone."""
    agents = [AgentConfig(f"a{i}", endpoint=f"PJSIP/a{i}", memberships={"q": 0}) for i in range(3)]
    h = Harness.build([QueueConfig("q", ring_timeout=5, wrapup_time=2, max_no_answer=2)], agents)
    keys = LaneKeys(h.engine.state)
    for a in agents:
        h.send(AgentLogin(a.id))
    callers: set[str] = set()
    legs: set[str] = set()

    def check(out: list[Command]) -> None:
        for lane, cmd in keyed(keys, out):
            if isinstance(cmd, OriginateAgent):
                legs.add(cmd.leg_id)
                assert lane == cmd.leg_id
            channel = getattr(cmd, "channel", None) or (cmd.channels[0] if isinstance(cmd, AddToBridge) else None)
            if channel in callers:
                assert lane == channel, cmd
            elif channel in legs:
                assert lane == channel, cmd
            bridge = getattr(cmd, "bridge_id", "")
            if bridge.startswith("callcore-") and bridge[len("callcore-"):] in callers:
                assert lane == bridge[len("callcore-"):], cmd

    for op, n in ops:
        live_legs = sorted(h.originated)
        if op == "arrive":
            callers.add(f"c{n}")
            check(h.send(CallArrived(f"c{n}", "q")))
        elif op == "answer" and live_legs:
            check(h.send(AgentLegAnswered(live_legs[n % len(live_legs)])))
        elif op == "fail" and live_legs:
            check(h.send(AgentLegFailed(live_legs[n % len(live_legs)], "busy")))
        elif op == "caller_gone":
            check(h.send(CallerHungUp(f"c{n}")))
            keys.forget_channel(f"c{n}")
        elif op == "leg_gone" and live_legs:
            leg = live_legs[n % len(live_legs)]
            check(h.send(AgentLegHungUp(leg)))
            keys.forget_channel(leg)
        elif op == "tick":
            check(h.advance(3.0))
    for c in sorted(callers):
        check(h.send(CallerHungUp(c)))
        keys.forget_channel(c)
    for leg in sorted(legs):
        check(h.send(AgentLegHungUp(leg)))
        keys.forget_channel(leg)
    assert not keys.channels and not keys.bridges
