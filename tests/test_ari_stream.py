"""Events websocket: connect + resync snapshot, reconnect, ordering, slow consumers, heartbeat, backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.ari import events as E
from callcore.ari.client import AriClient
from callcore.ari.dispatch import Subscription
from callcore.ari.mockserver import MockAriServer
from callcore.ari.models import Bridge, Channel
from callcore.ari.session import AriSession
from callcore.ari.stream import CONTACT_CENTER_EVENT_TYPES, Backoff
from callcore.errors import AriUnavailable
from callcore.metrics import REGISTRY

WAIT = 10.0


def dtmf(i: int, channel: str = "c1") -> dict[str, Any]:
    return {"type": "ChannelDtmfReceived", "timestamp": "2026-11-29T01:54:33.150+0000", "digit": str(i % 10),
            "duration_ms": i, "channel": {"id": channel, "state": "Up"}, "application": "callcore",
            "asterisk_id": "02:fc:00:00:00:01"}


def session_for(server: MockAriServer, password: str = "callcore-secret", **kw: Any) -> AriSession:
    client = AriClient(server.url, "callcore", password, "callcore", timeout=2.0)
    kw.setdefault("reconnect_base", 0.01)
    kw.setdefault("reconnect_max", 0.05)
    return AriSession(client, rng=random.Random(1), **kw)


async def next_of(sub: Subscription, cls: type[Any]) -> Any:
    async with asyncio.timeout(WAIT):
        async for ev in sub:
            if isinstance(ev, cls):
                return ev
    raise AssertionError(f"subscription ended before a {cls.__name__}")


async def take(sub: Subscription, n: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(WAIT):
        while len(out) < n:
            out.append(await sub.get())
    return out


@pytest.fixture
async def server() -> AsyncIterator[MockAriServer]:
    async with MockAriServer() as srv:
        yield srv


async def test_connect_resync_and_ordered_events(server: MockAriServer) -> None:
    server.add_channel(Channel(id="c1", state="Up"))
    server.add_channel(Channel(id="other"), in_app=False)
    server.add_bridge(Bridge(id="b1", channels=["c1"]))
    server.add_bridge(Bridge(id="b-orphan", channels=[], bridge_class="stasis"))
    async with session_for(server, event_types=CONTACT_CENTER_EVENT_TYPES) as ari:
        sub = ari.subscribe("acd")
        await ari.wait_connected(WAIT)
        assert ari.connected
        first = await sub.get()
        assert isinstance(first, E.Connected) and not first.reconnect
        assert [c.id for c in first.snapshot.channels] == ["c1"]
        assert [b.id for b in first.snapshot.bridges] == ["b1"]
        assert [b.id for b in first.snapshot.stasis_bridges] == ["b-orphan"]
        for i in range(50):
            await server.send_event(dtmf(i))
        got = await take(sub, 50)
        assert [e.duration_ms for e in got] == list(range(50))
    query = server.ws_queries[0]
    assert query == {"app": "callcore", "subscribeAll": "false"}
    allowed = {f["type"] for f in server.event_filter["allowed"]}
    assert "StasisStart" in allowed and "ChannelVarset" not in allowed
    assert all(r.authorization.startswith("Basic ") for r in server.requests)
    assert sub.closed


async def test_reconnect_emits_disconnected_then_connected_with_surviving_channels(
    server: MockAriServer,
) -> None:
    server.add_channel(Channel(id="in-stasis", state="Up"))
    server.add_channel(Channel(id="hung-up-while-down", state="Up"))
    before = REGISTRY.get_sample_value("callcore_ari_reconnects_total") or 0.0
    async with session_for(server) as ari:
        sub = ari.subscribe("acd")
        first = await next_of(sub, E.Connected)
        assert first.snapshot.channel_ids() == {"in-stasis", "hung-up-while-down"}
        server.remove_channel("hung-up-while-down")
        await server.drop_websockets()
        gone = await next_of(sub, E.Disconnected)
        assert "closed" in gone.reason
        again = await next_of(sub, E.Connected)
        assert again.reconnect and again.snapshot.channel_ids() == {"in-stasis"}
        assert ari.connected
        await server.send_event(dtmf(7, "in-stasis"))
        ev = await sub.get()
        assert isinstance(ev, E.ChannelDtmfReceived) and ev.channel.id == "in-stasis"
    assert server.ws_connects == 2
    assert (REGISTRY.get_sample_value("callcore_ari_reconnects_total") or 0.0) == before + 1
    assert REGISTRY.get_sample_value("callcore_ari_connected") == 0


async def test_slow_consumer_never_stalls_others(server: MockAriServer) -> None:
    n = 300
    async with session_for(server) as ari:
        slow = ari.subscribe("slow", maxsize=3)
        fast = ari.subscribe("fast")
        only_c2 = ari.subscribe("c2-only", filter=lambda ev: E.event_channel_id(ev) == "c2")
        await ari.wait_connected(WAIT)
        for i in range(n):
            await server.send_event(dtmf(i, "c2" if i % 10 == 0 else "c1"))
        got = await take(fast, n + 1)
        assert isinstance(got[0], E.Connected)
        assert [e.duration_ms for e in got[1:]] == list(range(n))
        c2 = await take(only_c2, 1 + n // 10)
        assert [e.duration_ms for e in c2[1:]] == list(range(0, n, 10))
        # the slow consumer kept its first 3 events; everything after was dropped for it alone
        assert slow.qsize() == 3 and slow.dropped_total == n + 1 - 3
        assert [type(e).__name__ for e in slow.drain()] == ["Connected", "ChannelDtmfReceived",
                                                            "ChannelDtmfReceived"]
        await server.send_event(dtmf(999))
        marker, ev = await take(slow, 2)
        assert isinstance(marker, E.Overflowed) and marker.dropped == n + 1 - 3
        assert isinstance(ev, E.ChannelDtmfReceived) and ev.duration_ms == 999
    dropped = REGISTRY.get_sample_value("callcore_ari_events_dropped_total", {"consumer": "slow"})
    assert dropped is not None and dropped >= n + 1 - 3


async def test_application_replaced_reconnects(server: MockAriServer) -> None:
    async with session_for(server) as ari:
        sub = ari.subscribe("acd")
        await next_of(sub, E.Connected)
        await server.send_event({"type": "ApplicationReplaced", "timestamp": "2026-11-29T01:54:15.229+0000",
                                 "application": "callcore", "asterisk_id": "x"})
        assert isinstance(await sub.get(), E.ApplicationReplaced)
        gone = await next_of(sub, E.Disconnected)
        assert gone.reason == "application replaced"
        again = await next_of(sub, E.Connected)
        assert again.reconnect


async def test_heartbeat_pings_and_dead_peer_detection(server: MockAriServer) -> None:
    async with session_for(server, heartbeat=0.05) as ari:
        sub = ari.subscribe("acd")
        await next_of(sub, E.Connected)
        await server.wait_pings(2)
        assert server.ws_connects == 1  # pongs answered: the connection stays
        server.answer_pings = False
        gone = await next_of(sub, E.Disconnected)
        assert "PONG" in gone.reason or "error" in gone.reason
        server.answer_pings = True
        await next_of(sub, E.Connected)


async def test_bad_credentials_keep_retrying_without_connecting(server: MockAriServer) -> None:
    async with session_for(server, password="wrong") as ari:
        with pytest.raises(AriUnavailable):
            await ari.wait_connected(0.3)
        assert not ari.connected
        assert ari.stream.backoff.attempt >= 2
    assert server.ws_connects == 0


async def test_unreachable_then_available(server: MockAriServer) -> None:
    url = server.url
    await server.close()
    client = AriClient(url, "callcore", "callcore-secret", "callcore", timeout=1.0)
    async with AriSession(client, reconnect_base=0.01, reconnect_max=0.05, rng=random.Random(2)) as ari:
        sub = ari.subscribe("acd")
        await asyncio.sleep(0.1)
        assert not ari.connected and ari.stream.backoff.attempt >= 1
        restarted = MockAriServer()
        restarted.port = server.port
        async with restarted:
            ev = await next_of(sub, E.Connected)
            assert not ev.reconnect


async def test_bad_frames_are_skipped(server: MockAriServer) -> None:
    async with session_for(server) as ari:
        sub = ari.subscribe("acd")
        await next_of(sub, E.Connected)
        await server.send_raw("this is not json")
        await server.send_raw('{"type": "BrandNewEvent", "x": 1}')
        await server.send_event(dtmf(1))
        unknown, ev = await take(sub, 2)
        assert isinstance(unknown, E.UnknownEvent) and unknown.type == "BrandNewEvent"
        assert isinstance(ev, E.ChannelDtmfReceived)
        assert ari.connected


@given(base=st.floats(0.01, 5), cap=st.floats(0.01, 120), seed=st.integers(0, 2**32), n=st.integers(1, 80))
def test_backoff_is_capped_full_jitter(base: float, cap: float, seed: int, n: int) -> None:
    b = Backoff(base, cap, random.Random(seed))
    for attempt in range(n):
        ceiling = b.ceiling()
        assert ceiling == min(cap, base * 2**attempt)
        d = b.next_delay()
        assert 0 <= d <= ceiling <= cap
    b.reset()
    assert b.attempt == 0 and b.ceiling() == min(cap, base)


def test_backoff_jitter_spreads() -> None:
    b = Backoff(1.0, 30.0, random.Random(5))
    b.attempt = 10
    delays = []
    for _ in range(200):
        delays.append(b.next_delay())
        b.attempt = 10
    assert min(delays) < 5 and max(delays) > 25 and len(set(delays)) == 200


def test_settings_drive_heartbeat_and_cap() -> None:
    from callcore.config import Settings

    s = Settings(ari_heartbeat=3.5, ari_reconnect_max=12.0, ari_app="cc2")
    ari = AriSession.from_settings(s)
    assert ari.stream.heartbeat == 3.5 and ari.stream.backoff.cap == 12.0 and ari.app == "cc2"
    assert ari.stream.event_types is not None and "ChannelVarset" not in ari.stream.event_types
    assert AriSession.from_settings(s, event_types=None).stream.event_types is None


def events_counted(type_name: str) -> float:
    return REGISTRY.get_sample_value("callcore_ari_events_total", {"type": type_name}) or 0.0


async def test_event_counters_follow_bursts_and_no_deflate_is_offered(server: MockAriServer) -> None:
    dtmf_before = events_counted("ChannelDtmfReceived")
    odd_before = events_counted("ChannelToneDetected")
    async with session_for(server) as ari:
        sub = ari.subscribe("count")
        await next_of(sub, E.Connected)
        assert server.websockets and not server.websockets[0].compress
        for _ in range(3):
            await server.send_event(dtmf(1))
        await server.send_event({"type": "ChannelToneDetected", "channel": {"id": "c1"}})
        got = await take(sub, 4)
        assert isinstance(got[-1], E.UnknownEvent) and got[-1].type == "ChannelToneDetected"
        await asyncio.sleep(0)
        assert events_counted("ChannelDtmfReceived") == dtmf_before + 3
        assert events_counted("ChannelToneDetected") == odd_before + 1
        for i in range(200):
            await server.send_event(dtmf(i))
        await server.drop_websockets()
        await next_of(sub, E.Disconnected)
        assert events_counted("ChannelDtmfReceived") == dtmf_before + 203


async def test_frames_written_raw_in_one_chunk_arrive_in_order(server: MockAriServer) -> None:
    import json
    import struct

    def frame(event: dict[str, Any]) -> bytes:
        payload = json.dumps(event).encode()
        return struct.pack("!BBH", 0x81, 126, len(payload)) + payload

    async with session_for(server) as ari:
        sub = ari.subscribe("raw")
        await next_of(sub, E.Connected)
        await server.write_raw(server.websockets[0], b"".join(frame(dtmf(i)) for i in range(5)))
        got = await take(sub, 5)
        assert [e.duration_ms for e in got] == [0, 1, 2, 3, 4]


async def test_reconnects_as_soon_as_asterisk_answers_again(server: MockAriServer) -> None:
    """Field: after Asterisk came back the jittered backoff (up to its cap) left Stasis(app) unregistered
    for 4-30 s and every call failed meanwhile. The wait is cut short once Asterisk's HTTP side answers."""
    url = server.url
    await server.close()
    client = AriClient(url, "callcore", "callcore-secret", "callcore", timeout=1.0)
    # base and cap far above the test's patience: only the probe can reconnect in time
    async with AriSession(client, reconnect_base=120.0, reconnect_max=120.0, rng=random.Random(2)) as ari:
        sub = ari.subscribe("acd")
        await asyncio.sleep(0.3)
        assert not ari.connected and ari.stream.backoff.attempt >= 1
        assert ari.stream.backoff.ceiling() >= 120.0
        restarted = MockAriServer()
        restarted.port = server.port
        async with restarted:
            ev = await next_of(sub, E.Connected)   # within WAIT (10 s), not the minutes of the backoff
            assert not ev.reconnect and ari.connected
