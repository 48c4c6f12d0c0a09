"""Ordered, bounded, concurrent execution of ARI commands: one lane per call.

``Lanes`` runs submitted items on a fixed pool of worker tasks. Items submitted under one key run one at
a time in submission order; items of different keys run concurrently, at most ``concurrency`` at once.
No task is created per item: a lane with work waits in a ready queue until a worker takes it, the worker
runs one item and puts the lane back at the end of the ready queue when it has more, so a busy call
cannot starve the others. Stopping the pool (cancelling ``run``) cancels the items in flight and drops
the queued ones; ``drain()`` returns once nothing is queued or running.

``LaneKeys`` decides which lane an ACD command belongs to. A caller's commands (answer, MOH, bridge,
recording, hangup) share the lane named by the caller's channel; an agent leg has its own lane, so the
agent is rung without waiting for the caller's answer/MOH round trips while its originate and a later
hangup stay in order; a supervision (snoop, its bridge, the supervisor's leg) has the supervisor leg's
lane; an agent session channel and its bridge share the session channel's lane. Commands that join
channels to a bridge go to the lane of the first channel they move. Ids are remembered while the
resource lives and forgotten when the command ending it is submitted or Asterisk reports it gone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, Generic, TypeVar

import structlog

from callcore.acd.core.calls import agent_bridge, call_bridge
from callcore.acd.core.commands import (
    AddToBridge,
    Answer,
    Command,
    ContinueInDialplan,
    CreateBridge,
    DestroyBridge,
    Hangup,
    OriginateAgent,
    Play,
    RemoveFromBridge,
    SetVariable,
    Snoop,
    StartMoh,
    StartRecording,
    StopMoh,
    StopPlayback,
    StopRecording,
)
from callcore.acd.core.state import AcdState

log = structlog.get_logger(__name__)
T = TypeVar("T")

SUP_BRIDGE = "callcore-sup-"
AGENT_BRIDGE = agent_bridge("")
CALL_BRIDGE = call_bridge("")


class Lanes(Generic[T]):
    def __init__(self, execute: Callable[[T], Awaitable[None]], *, concurrency: int = 32,
                 name: str = "acd-lane", urgent: Callable[[T], bool] | None = None) -> None:
        """``urgent(item)``: a lane whose next item is urgent is served before the other ready lanes."""
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._execute = execute
        self._urgent = urgent
        self.concurrency = concurrency
        self.name = name
        self._lanes: dict[str, deque[T]] = {}
        self._ready: deque[str] = deque()
        self._ready_urgent: deque[str] = deque()
        self._sleepers: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.executed = 0
        self.dropped = 0
        self.submitted = 0
        self.withdrawn = 0
        self._progress = asyncio.Event()  # set whenever an item is done with
        self.running = False

    # --- producer side -----------------------------------------------------------------------------

    def submit(self, key: str, item: T) -> None:
        """Queue ``item`` behind everything already submitted under ``key``. Never blocks."""
        self.submitted += 1
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(item)
            return
        self._lanes[key] = deque((item,))
        self._idle.clear()
        self._make_ready(key, item)

    def withdraw_last(self, key: str, match: Callable[[T], bool],
                      past: Callable[[T], bool] | None = None) -> bool:
        """Take back the newest queued (not yet started) item of ``key`` that ``match`` accepts, looking
        back past the newer items that ``past`` accepts (none by default)."""
        lane = self._lanes.get(key)
        if not lane:
            return False
        for i in range(len(lane) - 1, -1, -1):
            item = lane[i]
            if match(item):
                self.withdrawn += 1
                self._progress.set()
                del lane[i]  # a lane left empty is retired by the worker that next takes it
                return True
            if past is None or not past(item):
                return False
        return False

    def _make_ready(self, key: str, head: T) -> None:
        if self._urgent is not None and self._urgent(head):
            self._ready_urgent.append(key)
        else:
            self._ready.append(key)
        self._wake_one()

    # --- views ---------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    @property
    def active_lanes(self) -> int:
        return len(self._lanes)

    def keys(self) -> list[str]:
        return sorted(self._lanes)

    # --- consumer side -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the lanes until cancelled; whatever is still queued then is dropped."""
        self.running = True
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(self.concurrency):
                    tg.create_task(self._worker(), name=f"{self.name}-{i}")
        finally:
            self.running = False
            self._drop_all()

    def settle(self) -> Coroutine[Any, Any, None]:
        """Wait until as many items have been dealt with (run, withdrawn or dropped) as had been submitted
        when called: what was decided so far, without waiting for the work that keeps coming in meanwhile."""
        return self._settle(self.submitted)

    async def _settle(self, target: int) -> None:
        while self.executed + self.dropped + self.withdrawn < target and not self._idle.is_set():
            self._progress.clear()
            await self._progress.wait()

    async def drain(self) -> None:
        """Wait until no item is queued or in flight (or the pool stopped and dropped the rest)."""
        await self._idle.wait()

    async def _next_key(self) -> str:
        while True:
            if self._ready_urgent:
                return self._ready_urgent.popleft()
            if self._ready:
                return self._ready.popleft()
            waiter = asyncio.get_running_loop().create_future()
            self._sleepers.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and (self._ready or self._ready_urgent):
                    self._wake_one()  # pass the wake-up on rather than lose it
                raise

    def _wake_one(self) -> None:
        while self._sleepers:
            waiter = self._sleepers.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _worker(self) -> None:
        lanes = self._lanes
        while True:
            key = await self._next_key()
            lane = lanes.get(key)
            if not lane:
                self._retire(key)
                continue
            item = lane.popleft()
            self.in_flight += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            try:
                # log lines from this command carry the channel (or bridge) it is about
                with structlog.contextvars.bound_contextvars(channel_id=key):
                    await self._execute(item)
            except Exception:
                log.exception("acd.lane_item_failed", lane=key)
            finally:
                self.in_flight -= 1
                self.executed += 1
                self._progress.set()
                if lane:
                    self._make_ready(key, lane[0])
                else:
                    self._retire(key)

    def _retire(self, key: str) -> None:
        lane = self._lanes.get(key)
        if lane is not None and not lane:
            del self._lanes[key]
        if not self._lanes:
            self._idle.set()
            self._progress.set()

    def _drop_all(self) -> None:
        dropped = self.queued
        if dropped:
            log.warning("acd.lanes_dropped", commands=dropped, lanes=len(self._lanes))
        self.dropped += dropped
        self._progress.set()
        self._lanes.clear()
        self._ready.clear()
        self._ready_urgent.clear()
        self._sleepers.clear()
        self._idle.set()


class LaneKeys:
    """Lane names for ACD commands (see the module description)."""

    def __init__(self, state: AcdState) -> None:
        self.state = state
        self.channels: dict[str, str] = {}
        self.bridges: dict[str, str] = {}
        self.media: dict[str, str] = {}  # playback ids and recording names

    def __len__(self) -> int:
        return len(self.channels) + len(self.bridges) + len(self.media)

    def _chan(self, channel: str) -> str:
        key = self.channels.get(channel)
        if key is None:
            key = self.channels[channel] = channel
        return key

    def _bridge(self, bridge: str) -> str:
        key = self.bridges.get(bridge)
        if key is not None:
            return key
        if bridge.startswith(SUP_BRIDGE):
            key = self._chan(bridge[len(SUP_BRIDGE):])
        elif bridge.startswith(AGENT_BRIDGE):
            a = self.state.agents.get(bridge[len(AGENT_BRIDGE):])
            key = self._chan(a.session_channel) if a is not None and a.session_channel else bridge
        elif bridge.startswith(CALL_BRIDGE):
            key = self._chan(bridge[len(CALL_BRIDGE):])
        else:
            key = bridge
        self.bridges[bridge] = key
        return key

    def key(self, cmd: Command) -> str:
        """The lane of ``cmd``; remembers the ids it introduces and forgets the ones it ends."""
        match cmd:
            case Answer(channel=ch) | StartMoh(channel=ch) | StopMoh(channel=ch) | SetVariable(channel=ch) \
                    | ContinueInDialplan(channel=ch):
                return self._chan(ch)
            case Hangup(channel=ch):
                key = self._chan(ch)
                del self.channels[ch]
                return key
            case Play(channel=ch, playback_id=pid):
                key = self._chan(ch)
                self.media[pid] = key
                return key
            case StopPlayback(playback_id=pid):
                return self.media.pop(pid, pid)
            case OriginateAgent(leg_id=leg):
                return self._chan(leg)
            case Snoop(snoop_id=snoop, app_args=args):
                key = self._chan(args[1] if len(args) > 1 else snoop)
                self.channels[snoop] = key
                return key
            case AddToBridge(bridge_id=b, channels=chans) | RemoveFromBridge(bridge_id=b, channels=chans):
                bkey = self._bridge(b)
                return self.channels.get(chans[0], bkey) if chans else bkey
            case CreateBridge(bridge_id=b):
                return self._bridge(b)
            case DestroyBridge(bridge_id=b):
                key = self._bridge(b)
                del self.bridges[b]
                return key
            case StartRecording(bridge_id=b, name=name):
                key = self._bridge(b)
                self.media[name] = key
                return key
            case StopRecording(name=name):
                return self.media.pop(name, name)
        return ""

    def forget_channel(self, channel: str) -> None:
        self.channels.pop(channel, None)

    def forget_media(self, ident: str) -> None:
        self.media.pop(ident, None)

    def prune(self, live_channels: Collection[str], live_bridges: Collection[str]) -> None:
        """After a reconnect: forget channels and bridges Asterisk no longer has."""
        for ch in [c for c in self.channels if c not in live_channels]:
            del self.channels[ch]
        for b in [b for b in self.bridges if b not in live_bridges]:
            del self.bridges[b]
