"""Throughput and CPU cost of the ARI client's events path: websocket frames -> decode -> dispatch -> consumer.

A local ARI websocket server (``callcore.ari.mockserver``) runs in a separate process so its CPU time is
not counted. It pre-encodes N realistic frames (shapes from the recorded Asterisk traces, ids varied)
as complete websocket frames and writes them in large batches as fast as the socket accepts them, so
the client, not the server, is the limit. Measured in the client process only: events/s received by
one consumer of an ``AriSession`` and CPU time per event (``time.process_time``); ``client_cpu_share``
near 1.0 confirms the client was busy the whole time. Baseline: plain ``json.loads`` of the same frames.
Last output line: one JSON object.

    .venv/bin/python bench/ari_events.py [N] [--profile]
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import multiprocessing
import pstats
import struct
import sys
import time
from typing import Any

from callcore.ari import events as E
from callcore.ari.client import AriClient
from callcore.ari.dispatch import Dispatcher
from callcore.ari.mockserver import MockAriServer
from callcore.ari.session import AriSession
from callcore.ari.traces import trace_events

FALLBACK = [
    {"type": "ChannelStateChange", "timestamp": "2026-11-29T01:52:18.157+0000",
     "channel": {"id": "callcore-lab-1795917138.0", "name": "PJSIP/trunk-00000000", "state": "Up",
                 "protocol_id": "1-23930@127.0.0.1", "caller": {"name": "Caller", "number": "15551230001"},
                 "connected": {"name": "", "number": ""}, "accountcode": "",
                 "dialplan": {"context": "inbound", "exten": "100", "priority": 2, "app_name": "Stasis",
                              "app_data": "callcore,inbound,sales"},
                 "creationtime": "2026-11-29T01:52:18.155+0000", "language": "en"},
     "asterisk_id": "02:fc:00:00:00:01", "application": "callcore"},
]
BATCH_FRAMES = 2000
HIGH_WATER = 4 * 1024 * 1024


def make_frames(n: int) -> list[str]:
    shapes = [ev for _, ev in trace_events() if ev["type"] != "ApplicationReplaced"] or FALLBACK
    frames = []
    for i in range(n):
        ev: dict[str, Any] = json.loads(json.dumps(shapes[i % len(shapes)]))
        for key in ("channel", "peer"):
            if isinstance(ev.get(key), dict):
                ev[key]["id"] = f"bench-{i}"
        frames.append(json.dumps(ev))
    return frames


def ws_text_frame(text: str) -> bytes:
    """One unmasked, uncompressed server-to-client text frame (RFC 6455)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


def serve(n: int, port_q: Any, go: Any) -> None:
    async def main() -> None:
        frames = make_frames(n)
        batches = [b"".join(ws_text_frame(f) for f in frames[i:i + BATCH_FRAMES])
                   for i in range(0, n, BATCH_FRAMES)]
        async with MockAriServer() as srv:
            port_q.put(srv.port)
            await srv.wait_ws_connects(1, timeout=30)
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            for batch in batches:
                for ws in list(srv.websockets):
                    await srv.write_raw(ws, batch, buffer_limit=HIGH_WATER)
            await asyncio.sleep(60)

    asyncio.run(main())


async def measure(port: int, n: int, go: Any, profile: cProfile.Profile | None) -> tuple[float, float, float]:
    client = AriClient(f"http://127.0.0.1:{port}", "callcore", "callcore-secret", "callcore", timeout=5)
    async with AriSession(client) as ari:
        sub = ari.subscribe("bench", maxsize=n + 10)
        await ari.wait_connected(10)
        assert isinstance(await sub.get(), E.Connected)
        go.set()
        first = await sub.get()
        if profile is not None:
            profile.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        got = 1
        while got < n:
            await sub.get()
            got += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if profile is not None:
            profile.disable()
        assert first is not None and sub.dropped_total == 0
    return (n - 1) / wall, cpu / (n - 1), cpu / wall


def in_process_rate(frames: list[str]) -> float:
    """decode_event + Dispatcher.publish + consumer drain, no websocket."""
    dispatcher = Dispatcher()
    sub = dispatcher.subscribe("bench", maxsize=len(frames) + 10)
    publish, decode = dispatcher.publish, E.decode_event
    t0 = time.perf_counter()
    for f in frames:
        publish(decode(f))
        sub.get_nowait()
    return len(frames) / (time.perf_counter() - t0)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 200_000
    profile = cProfile.Profile() if "--profile" in sys.argv else None
    frames = make_frames(n)
    t0 = time.perf_counter()
    for f in frames:
        json.loads(f)
    json_rate = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for f in frames:
        E.decode_event(f)
    decode_rate = n / (time.perf_counter() - t0)
    dispatch_rate = in_process_rate(frames)

    ctx = multiprocessing.get_context("spawn")
    port_q, go = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(n, port_q, go), daemon=True)
    proc.start()
    try:
        port = port_q.get(timeout=60)
        rate, cpu_per_event, cpu_share = asyncio.run(measure(port, n, go, profile))
    finally:
        proc.terminate()
        proc.join(5)
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    print(f"frames: {n}, {sum(len(f) for f in frames) / n:.0f} bytes on average")
    print(f"json.loads only:                    {json_rate:12,.0f} frames/s")
    print(f"decode_event only (msgspec):        {decode_rate:12,.0f} frames/s")
    print(f"decode + dispatch, no websocket:    {dispatch_rate:12,.0f} events/s")
    print(f"websocket -> decode -> consumer:    {rate:12,.0f} events/s, {cpu_per_event * 1e6:.2f} us CPU/event, "
          f"client CPU busy {cpu_share:.0%} of the time")
    print(json.dumps({"events_per_s": round(rate), "json_loads_per_s": round(json_rate),
                      "ratio": round(rate / json_rate, 3), "cpu_us_per_event": round(cpu_per_event * 1e6, 2),
                      "client_cpu_share": round(cpu_share, 3), "dispatch_no_ws_per_s": round(dispatch_rate)}))


if __name__ == "__main__":
    main()
