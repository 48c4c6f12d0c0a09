"""The simulated Asterisk's shared state, timers and event delivery to Stasis applications."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from callcore.clock import Clock, SystemClock
from callcore.errors import CallcoreError
from callcore.sim.behaviour import BehaviourBook
from callcore.sim.model import App, Bridge, Cancellable, Chan, LiveRecording, Playback, StoredRecording
from callcore.sim.wire import ari_time


class RestError(CallcoreError):
    """An ARI error reply: HTTP status, reason phrase and JSON body."""

    def __init__(self, status: int, message: str, *, reason: str | None = None, key: str = "message") -> None:
        self.status = status
        self.body = {key: message}
        self.reason = reason
        super().__init__(f"{status} {message}")


class Scheduler(Protocol):
    def later(self, seconds: float, fn: Callable[[], None]) -> Cancellable:
        """Run ``fn`` after ``seconds`` of simulated time."""
        ...


class LoopScheduler:
    """Simulated seconds on the running event loop, divided by ``time_scale``.

    ``hold()`` stops simulated time for everything scheduled from then on: those jobs wait in a
    virtual queue that only ``advance(seconds)`` moves, until ``release()`` hands what is left back to
    the loop with its remaining delay. A test uses it to place a request at an exact simulated moment
    (e.g. a subscription a few milliseconds after an originate) whatever the machine's load."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._held: VirtualScheduler | None = None

    def later(self, seconds: float, fn: Callable[[], None]) -> Cancellable:
        if self._held is not None:
            return self._held.later(seconds, fn)
        loop = asyncio.get_running_loop()
        if seconds <= 0:
            return loop.call_soon(fn)
        return loop.call_later(seconds / self.time_scale, fn)

    @property
    def held(self) -> bool:
        return self._held is not None

    def hold(self) -> None:
        if self._held is None:
            self._held = VirtualScheduler()

    def advance(self, seconds: float) -> None:
        """Run the held jobs that fall due within ``seconds`` of simulated time, in order."""
        if self._held is None:
            raise RuntimeError("advance() needs hold() first")
        self._held.advance(seconds)

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        loop = asyncio.get_running_loop()
        for job in sorted(held.pending()):
            loop.call_later(max(0.0, job.at - held.now) / self.time_scale, job.run)


@dataclass(order=True)
class _Job:
    at: float
    seq: int
    fn: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.fn()


class VirtualScheduler:
    """Deterministic virtual time for tests: ``advance(seconds)`` runs what falls due, in order."""

    def __init__(self, clock: Any = None) -> None:
        self.now = 0.0
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._clock = clock

    def later(self, seconds: float, fn: Callable[[], None]) -> Cancellable:
        job = _Job(self.now + max(0.0, seconds), next(self._seq), fn)
        heapq.heappush(self._heap, job)
        return job

    def pending(self) -> list[_Job]:
        return [job for job in self._heap if not job.cancelled]

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._heap and self._heap[0].at <= end:
            job = heapq.heappop(self._heap)
            if job.cancelled:
                continue
            if self._clock is not None:
                self._clock.advance(job.at - self.now)
            self.now = job.at
            job.fn()
        if self._clock is not None:
            self._clock.advance(end - self.now)
        self.now = end


class EventSink(Protocol):
    """A websocket (or test collector) receiving encoded events."""

    def send(self, text: str) -> None: ...


_encoder = msgspec.json.Encoder()


class CoreState:
    """State and event fan-out; the channel/bridge/media mixins operate on it."""

    def __init__(
        self,
        *,
        app: str = "callcore",
        seed: int = 1,
        sysname: str = "callcore-sim",
        clock: Clock | None = None,
        scheduler: Scheduler | None = None,
        entity_id: str = "02:fc:00:00:00:01",
        time_scale: float = 1.0,
    ) -> None:
        self.default_app = app
        self.rng = random.Random(seed)
        self.sysname = sysname
        self.clock: Clock = clock or SystemClock()
        self.scheduler: Scheduler = scheduler or LoopScheduler(time_scale)
        self.time_scale = time_scale
        self.entity_id = entity_id
        self.book = BehaviourBook()
        self.counters: Counter[str] = Counter()
        self.globals: dict[str, str] = {}
        self.device_states: dict[str, str] = {}
        self.stored: dict[str, StoredRecording] = {}
        self.apps: dict[str, App] = {}
        self.sockets: dict[str, EventSink] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.subscribe_all: set[str] = set()
        # simulated seconds between an originate reply and the first Dial event (SIP INVITE/100 Trying)
        self.dial_start_delay = 0.05
        self.reset()

    def reset(self) -> None:
        """A fresh start: no channels, bridges or media (stored recordings survive)."""
        self.started = self.clock.now()
        self.epoch = int(self.started)
        self.uid_counter = itertools.count()
        self.name_counters: dict[str, itertools.count[int]] = {}
        self.channels: dict[str, Chan] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}
        self.recordings: dict[str, LiveRecording] = {}
        self.calls: dict[str, dict[str, Any]] = {}

    # --- ids and names ---------------------------------------------------------------------------

    def now_str(self) -> str:
        return ari_time(self.clock.now())

    def new_uid(self) -> str:
        return (
            f"{self.sysname}-{self.epoch}.{next(self.uid_counter)}"
            if self.sysname
            else f"{self.epoch}.{next(self.uid_counter)}"
        )

    def new_seq(self, tech: str) -> str:
        counter = self.name_counters.setdefault(tech, itertools.count())
        return f"{next(counter):08x}"

    def new_uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"

    def later(self, seconds: float, fn: Callable[[], None]) -> Cancellable:
        return self.scheduler.later(seconds, fn)

    # --- applications -----------------------------------------------------------------------------

    def app_owns_channels(self, name: str) -> bool:
        return any(name in c.subs or c.stasis_app == name for c in self.channels.values())

    def app_exists(self, name: str) -> bool:
        return name in self.sockets or self.app_owns_channels(name)

    def get_app(self, name: str) -> App:
        app = self.apps.get(name)
        if app is None:
            app = self.apps[name] = App(name)
        return app

    def app_json(self, name: str) -> dict[str, Any]:
        app = self.get_app(name)
        return {
            "name": name,
            "channel_ids": [c.id for c in self.channels.values() if name in c.subs or c.stasis_app == name],
            "bridge_ids": [b.id for b in self.bridges.values() if name in b.subs],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": list(app.allowed),
            "events_disallowed": list(app.disallowed),
        }

    def attach_socket(self, names: Iterable[str], sink: EventSink, *, subscribe_all: bool = False) -> None:
        for name in names:
            if subscribe_all:
                self.subscribe_all.add(name)
            else:
                self.subscribe_all.discard(name)
            old = self.sockets.get(name)
            if old is not None and old is not sink:
                self._send(
                    old,
                    {
                        "type": "ApplicationReplaced",
                        "timestamp": self.now_str(),
                        "application": name,
                        "asterisk_id": self.entity_id,
                    },
                )
            self.sockets[name] = sink
            self.get_app(name)

    def detach_socket(self, sink: EventSink) -> None:
        for name in [n for n, s in self.sockets.items() if s is sink]:
            del self.sockets[name]
            if not self.app_owns_channels(name):
                self.apps.pop(name, None)

    def forget_app_if_idle(self, name: str) -> None:
        if name not in self.sockets and not self.app_owns_channels(name):
            self.apps.pop(name, None)

    # --- events -----------------------------------------------------------------------------------

    def _send(self, sink: EventSink, event: dict[str, Any]) -> None:
        self.counters["events_sent"] += 1
        self.counters["event:" + event["type"]] += 1
        sink.send(_encoder.encode(event).decode())

    def emit(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        chans: Iterable[Chan] = (),
        bridges: Iterable[Bridge] = (),
        pre: dict[str, Any] | None = None,
    ) -> None:
        """Deliver one event to every application subscribed to one of its sources."""
        targets: list[str] = []
        for c in chans:
            if c.stasis_app is not None and c.stasis_app not in targets:
                targets.append(c.stasis_app)
            for s in c.subs:
                if s not in targets:
                    targets.append(s)
        for b in bridges:
            for s in b.subs:
                if s not in targets:
                    targets.append(s)
        for s in self.subscribe_all:
            if s not in targets:
                targets.append(s)
        if not targets:
            return
        ts = self.now_str()
        for name in targets:
            sink = self.sockets.get(name)
            if sink is None:
                continue
            app = self.apps.get(name)
            if app is not None and not app.wants(kind):
                continue
            event: dict[str, Any] = dict(pre) if pre else {}
            event["type"] = kind
            event["timestamp"] = ts
            event.update(body)
            event["asterisk_id"] = self.entity_id
            event["application"] = name
            self._send(sink, event)

    def chan_event(
        self, kind: str, chan: Chan, extra: dict[str, Any] | None = None, pre: dict[str, Any] | None = None
    ) -> None:
        body: dict[str, Any] = dict(extra) if extra else {}
        body["channel"] = chan.json()
        self.emit(kind, body, chans=(chan,), pre=pre)

    def varset(self, chan: Chan, variable: str, value: str) -> None:
        chan.variables[variable] = value
        self.emit(
            "ChannelVarset",
            {"channel": chan.json()},
            chans=(chan,),
            pre={"variable": variable, "value": value},
        )
