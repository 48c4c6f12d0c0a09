"""FastAGI throughput: N concurrent fake-Asterisk clients each run the `route` script (in-memory store).

Usage: .venv/bin/python bench/agi.py [sessions] [concurrency]
Prints sessions per second and latency percentiles of a whole session (connect -> variables set -> close).
The clients run in the same process and event loop, so the figures include their CPU time too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import time

from callcore.agi.routing import DidRoute, RouteFacts
from callcore.agi.scripts import AgiScripts
from callcore.agi.server import AgiServer
from callcore.agi.store import CallerInfo
from callcore.clock import SystemClock
from callcore.config import Settings

ENV = ("agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1/route\n"
       "agi_channel: PJSIP/trunk-00000001\nagi_callerid: 15551230700\nagi_calleridname: Zoë Müller\n"
       "agi_dnid: 700\nagi_extension: 700\nagi_context: inbound\nagi_arg_1: 700\n\n").encode()


class Store:
    async def route_facts(self, dids: list[str], callers: list[str], now: dt.datetime) -> RouteFacts:
        return RouteFacts(DidRoute("700", "sales", 3))

    async def caller_info(self, callers: list[str]) -> CallerInfo:
        return CallerInfo()

    async def is_dnc(self, phone_e164: str) -> bool:
        return False

    async def add_callback(self, number: str, queue: str, due_at: dt.datetime, note: str) -> bool:
        return True


async def one(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(ENV)
    while line := await reader.readline():
        if line.startswith(b"SET VARIABLE"):
            writer.write(b"200 result=1\n")
    writer.close()
    return time.perf_counter() - started


async def main(total: int, concurrency: int) -> None:
    settings = Settings().replace(agi_port=0, agi_max_sessions=max(200, concurrency))
    async with AgiServer(settings, AgiScripts(Store(), SystemClock()).scripts()) as server:
        gate = asyncio.Semaphore(concurrency)

        async def bounded() -> float:
            async with gate:
                return await one(server.port)

        started = time.perf_counter()
        latencies = sorted(await asyncio.gather(*(bounded() for _ in range(total))))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    print(f"{total} route sessions, concurrency {concurrency}: {total / elapsed:,.0f} sessions/s; "
          f"latency p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000,
                     int(sys.argv[2]) if len(sys.argv) > 2 else 50))
