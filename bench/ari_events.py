"""Throughput of the ARI events path: websocket frames -> decode -> dispatch -> one consumer.

Starts a local ARI websocket server (``callcore.ari.mockserver``), sends N realistic frames (shapes
from the recorded Asterisk traces, ids varied), and measures events/s received by a consumer of an
``AriSession`` plus the client's CPU time per event. Baseline: plain ``json.loads`` of the same frames.
The server runs in a separate process so its CPU time is not counted. Last output line: one JSON object.

    .venv/bin/python bench/ari_events.py [N]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time
from typing import Any

from callcore.ari import events as E
from callcore.ari.client import AriClient
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


def serve(n: int, port_q: Any, go: Any) -> None:
    async def main() -> None:
        frames = make_frames(n)
        async with MockAriServer() as srv:
            port_q.put(srv.port)
            await srv.wait_ws_connects(1, timeout=30)
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            for i in range(0, n, 500):
                for ws in srv.websockets:
                    for f in frames[i:i + 500]:
                        await ws.send_str(f)
            await asyncio.sleep(20)

    asyncio.run(main())


async def measure(port: int, n: int, go: Any) -> tuple[float, float]:
    client = AriClient(f"http://127.0.0.1:{port}", "callcore", "callcore-secret", "callcore", timeout=5)
    async with AriSession(client) as ari:
        sub = ari.subscribe("bench", maxsize=n + 10)
        await ari.wait_connected(10)
        assert isinstance(await sub.get(), E.Connected)
        go.set()
        first = await sub.get()
        t0, c0 = time.perf_counter(), time.process_time()
        got = 1
        while got < n:
            await sub.get()
            got += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert first is not None and sub.dropped_total == 0
    return (n - 1) / wall, cpu / (n - 1)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    frames = make_frames(n)
    t0 = time.perf_counter()
    for f in frames:
        json.loads(f)
    json_rate = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for f in frames:
        E.decode_event(f)
    decode_rate = n / (time.perf_counter() - t0)

    ctx = multiprocessing.get_context("spawn")
    port_q, go = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(n, port_q, go), daemon=True)
    proc.start()
    try:
        port = port_q.get(timeout=20)
        rate, cpu_per_event = asyncio.run(measure(port, n, go))
    finally:
        proc.terminate()
        proc.join(5)
    print(f"frames: {n}")
    print(f"json.loads only:                 {json_rate:12,.0f} frames/s")
    print(f"decode_event only (msgspec):     {decode_rate:12,.0f} frames/s")
    print(f"websocket -> decode -> consumer: {rate:12,.0f} events/s, {cpu_per_event * 1e6:.1f} us CPU/event")
    print(json.dumps({"events_per_s": round(rate), "json_loads_per_s": round(json_rate),
                      "ratio": round(rate / json_rate, 3), "cpu_us_per_event": round(cpu_per_event * 1e6, 2)}))


if __name__ == "__main__":
    main()
