"""A minimal ARI queue application: the baseline ``bench/acd.py`` measures callcore against.

One FIFO queue, agents rung one at a time in ring mode, no journal, no database, no API, no MOH:
answer (unless the channel is already up), originate the free agent who has been free longest, on the
agent's answer create a mixing bridge and add both, when the caller leaves hang the agent up and destroy
the bridge. Same ARI client library as callcore (``callcore.ari``), so the difference is callcore's own
work. Usage: ``python bench/acd_baseline.py URL AGENTS``; prints a JSON line with the routing latencies
(ARI event received -> originate sent, ms) when it gets SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callcore.ari import events as E
from callcore.ari.client import AriClient
from callcore.ari.session import AriSession


class Minimal:
    def __init__(self, client: AriClient, agents: int) -> None:
        self.ari = client
        self.free: deque[str] = deque(f"PJSIP/{1001 + i}" for i in range(agents))
        self.waiting: deque[str] = deque()
        self.leg_of: dict[str, tuple[str, str]] = {}  # caller -> (leg, endpoint)
        self.caller_of: dict[str, str] = {}  # leg -> caller
        self.bridged: set[str] = set()
        self.received: dict[str, float] = {}
        self.latencies: list[float] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.received_alive: set[str] = set()  # inbound callers still up

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def safe(self, coro: Any) -> None:
        try:
            await coro
        except Exception:  # a channel that went away meanwhile
            pass

    def stamp(self, ev: Any) -> bool:
        if isinstance(ev, E.StasisStart | E.ChannelDestroyed | E.StasisEnd):
            self.received[ev.channel.id] = time.perf_counter()
        return True

    def dial(self, caller: str, cause: float) -> None:
        ep = self.free.popleft()
        leg = f"{caller}-leg"
        self.leg_of[caller] = (leg, ep)
        self.caller_of[leg] = caller
        self.latencies.append((time.perf_counter() - cause) * 1000.0)
        self.spawn(self.safe(self.ari.originate(ep, channel_id=leg, app_args=["agent", caller], timeout=15)))

    def next_caller(self, cause: float) -> None:
        while self.free and self.waiting:
            self.dial(self.waiting.popleft(), cause)

    async def bridge(self, caller: str, leg: str) -> None:
        bid = f"b-{caller}"
        await self.ari.create_bridge(bid)
        await self.ari.add_channel(bid, [caller, leg])
        self.bridged.add(caller)

    def feed(self, ev: Any) -> None:
        match ev:
            case E.StasisStart(channel=ch, args=args) if args[:1] == ["inbound"]:
                cause = self.received.pop(ch.id, time.perf_counter())
                if ch.state != "Up":
                    self.spawn(self.safe(self.ari.answer(ch.id)))
                self.waiting.append(ch.id)
                self.next_caller(cause)
            case E.StasisStart(channel=ch, args=args) if args[:1] == ["agent"]:
                self.received.pop(ch.id, None)
                caller = self.caller_of.get(ch.id)
                if caller is not None:
                    self.spawn(self.safe(self.bridge(caller, ch.id)))
            case E.ChannelDestroyed(channel=ch):
                cause = self.received.pop(ch.id, time.perf_counter())
                if ch.id in self.caller_of:  # an agent leg ended: the agent is free
                    caller = self.caller_of.pop(ch.id)
                    entry = self.leg_of.get(caller)
                    if entry is not None and entry[0] == ch.id:
                        del self.leg_of[caller]
                        self.free.append(entry[1])
                        if caller not in self.bridged and caller in self.received_alive:
                            self.waiting.appendleft(caller)
                    self.next_caller(cause)
                else:
                    self.caller_gone(ch.id)
            case E.StasisEnd(channel=ch):
                self.received.pop(ch.id, None)
                if ch.id not in self.caller_of:
                    self.caller_gone(ch.id)

    def caller_gone(self, caller: str) -> None:
        if caller not in self.received_alive:
            return  # already dealt with (StasisEnd, then ChannelDestroyed)
        self.received_alive.discard(caller)
        if caller in self.waiting:
            self.waiting.remove(caller)
        entry = self.leg_of.get(caller)
        if entry is not None:
            self.spawn(self.safe(self.ari.hangup(entry[0], missing_ok=True)))
        if caller in self.bridged:
            self.bridged.discard(caller)
            self.spawn(self.safe(self.ari.destroy_bridge(f"b-{caller}", missing_ok=True)))


async def main(url: str, agents: int) -> None:
    app = await serve(url, "callcore", "callcore-secret", "callcore", agents)
    print(json.dumps({"latencies_ms": app.latencies}), flush=True)


async def serve(url: str, user: str, password: str, app_name: str, agents: int,
                endpoints: list[str] | None = None) -> Minimal:
    """Run the application on ``agents`` operator endpoints (``PJSIP/1001``... unless given) until SIGTERM."""
    client = AriClient(url, user, password, app_name)
    session = AriSession(client)
    app = Minimal(client, agents)
    if endpoints is not None:
        app.free = deque(endpoints)
    sub = session.subscribe("app", maxsize=100_000, filter=app.stamp)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def consume() -> None:
        async for ev in sub:
            if isinstance(ev, E.StasisStart) and ev.args[:1] == ["inbound"]:
                app.received_alive.add(ev.channel.id)
            app.feed(ev)

    await session.start()
    task = loop.create_task(consume())
    await stop.wait()
    task.cancel()
    await session.close()
    return app


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
