"""The ARI client against the simulated Asterisk: reconnect + resync while a call is in Stasis."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from callcore.ari import events as E
from callcore.ari.client import AriClient
from callcore.ari.dispatch import Subscription
from callcore.ari.session import AriSession

sim_mod = pytest.importorskip("callcore.sim", reason="callcore.sim (simulated Asterisk) is not available")

WAIT = 15.0


async def next_of(sub: Subscription, cls: type[Any], channel_id: str | None = None) -> Any:
    async with asyncio.timeout(WAIT):
        async for ev in sub:
            if isinstance(ev, cls) and (channel_id is None or E.event_channel_id(ev) == channel_id):
                return ev
    raise AssertionError(f"subscription ended before a {cls.__name__}")


def session(url: str) -> AriSession:
    client = AriClient(url, "callcore", "callcore-secret", "callcore", timeout=3.0)
    return AriSession(client, reconnect_base=0.05, reconnect_max=0.3, rng=random.Random(3))


async def test_reconnect_and_resync_with_call_in_stasis() -> None:
    async with sim_mod.SimAsterisk(seed=1) as sim, session(sim.ari_url) as ari:
        sub = ari.subscribe("test")
        first = await next_of(sub, E.Connected)
        assert not first.reconnect
        cid = await sim.inject_call(queue="sales", caller_number="+15551230001")
        start = await next_of(sub, E.StasisStart, cid)
        assert start.channel.caller.number.endswith("15551230001")
        await ari.client.answer(cid)
        await sim.drop_websockets()
        await next_of(sub, E.Disconnected)
        again = await next_of(sub, E.Connected)
        assert again.reconnect and cid in again.snapshot.channel_ids()
        assert {c.id: c.state for c in again.snapshot.channels}[cid] == "Up"
        # the stream keeps working after the resync
        await ari.client.hangup(cid)
        await next_of(sub, E.StasisEnd, cid)


async def test_restart_gives_an_empty_snapshot() -> None:
    async with sim_mod.SimAsterisk(seed=2) as sim, session(sim.ari_url) as ari:
        sub = ari.subscribe("test")
        await next_of(sub, E.Connected)
        cid = await sim.inject_call(queue="sales", caller_number="+15551230002")
        await next_of(sub, E.StasisStart, cid)
        await sim.restart(down_for=0.2)
        await next_of(sub, E.Disconnected)
        again = await next_of(sub, E.Connected)
        assert again.reconnect and again.snapshot.channels == []
