"""Journal throughput and latency against the real PostgreSQL.

Runs in a temporary database of its own (dropped at the end):

* PgJournal: N events (default 200k) appended as fast as the producer can, time until all are committed,
  with the write-ahead log (the product's setting: each event on local disk before ``append`` returns) and
  without it (the baseline, same run), plus the cost of ``append`` alone with and without the log;
* naive baseline: one autocommitted INSERT per event (default 5k);
* end-to-end latency (append -> batch committed) at a steady rate with the default flush settings (these
  figures go into the JSON line), then with a 10 ms flush interval.

Usage: ``.venv/bin/python bench/journal.py [--events 200000] [--naive 5000] [--rate 20000]``.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from callcore.config import Settings
from callcore.logs import configure_logging
from callcore.store.journal import PgJournal
from callcore.store.migrate import migrate
from callcore.store.pg import quote_ident, resolve_database, with_database


def payload(i: int) -> dict[str, object]:
    return {"i": i, "caller": "+33123456789", "reason": "timeout", "wait_ms": i % 9000}


async def journal_throughput(dsn: str, n: int, spill: str, *, wal: bool = True) -> tuple[float, dict[str, object]]:
    settings = Settings(journal_buffer=n + 1, journal_batch=5000, journal_flush_interval=0.05,
                        journal_spill_dir=spill, instance_id="bench")
    done = 0
    all_in = asyncio.Event()

    def flushed(k: int) -> None:
        nonlocal done
        done += k
        if done >= n:
            all_in.set()

    async with PgJournal(dsn, settings, on_flushed=flushed, wal=wal) as j:
        start = time.perf_counter()
        for i in range(n):
            j.append("bench.event", payload(i), call_id=f"c{i % 500}", queue=f"q{i % 8}",
                     agent_id=f"a{i % 50}")
            if i % 2000 == 1999:
                await asyncio.sleep(0)
        await all_in.wait()
        elapsed = time.perf_counter() - start
        health = j.health()
    return n / elapsed, health


async def append_cost(dsn: str, n: int, spill: str, *, wal: bool) -> float:
    """Microseconds per ``append`` call alone (the cost on the event path), flushing disabled meanwhile."""
    settings = Settings(journal_buffer=n + 1, journal_batch=n + 1, journal_flush_interval=3600.0,
                        journal_spill_dir=spill, instance_id="bench")
    async with PgJournal(dsn, settings, wal=wal) as j:
        start = time.perf_counter()
        for i in range(n):
            j.append("bench.append", payload(i), call_id=f"c{i % 500}", queue=f"q{i % 8}")
        return (time.perf_counter() - start) / n * 1e6


async def naive_throughput(dsn: str, n: int) -> float:
    conn = await asyncpg.connect(dsn)
    sql = ("INSERT INTO events (event_key, ts, type, instance, call_id, agent_id, queue, payload) "
           "VALUES ($1, now(), $2, $3, $4, $5, $6, $7::jsonb)")
    try:
        start = time.perf_counter()
        for i in range(n):
            await conn.execute(sql, uuid.uuid4(), "bench.naive", "bench", f"c{i % 500}", f"a{i % 50}",
                               f"q{i % 8}", json.dumps(payload(i)))
        return n / (time.perf_counter() - start)
    finally:
        await conn.close()


async def latency(dsn: str, rate: int, seconds: float, spill: str,
                  interval: float | None = None) -> tuple[float, float, float]:
    settings = Settings(journal_spill_dir=spill, instance_id="bench")
    if interval is not None:
        settings = settings.replace(journal_flush_interval=interval)
    pending: deque[float] = deque()
    samples: list[float] = []

    def flushed(k: int) -> None:
        now = time.perf_counter()
        for _ in range(k):
            samples.append(now - pending.popleft())

    tick = 0.005
    per_tick = max(1, int(rate * tick))
    async with PgJournal(dsn, settings, on_flushed=flushed) as j:
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < seconds:
            due = int((time.perf_counter() - start) * rate)
            for _ in range(min(per_tick * 4, due - sent)):
                pending.append(time.perf_counter())
                j.append("bench.latency", payload(sent), call_id=f"c{sent % 500}")
                sent += 1
            await asyncio.sleep(tick)
    samples.sort()
    p50 = statistics.median(samples) * 1000
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    return p50, p99, settings.journal_flush_interval * 1000


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--naive", type=int, default=5_000)
    ap.add_argument("--rate", type=int, default=20_000, help="events/s for the latency run")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    configure_logging("warning", "console")
    resolved = await resolve_database(os.environ.get("CALLCORE_DATABASE_URL", ""), purpose="test")
    name = f"cc_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(resolved.dsn)
    await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    dsn = with_database(resolved.dsn, name)
    try:
        await migrate(dsn)
        with tempfile.TemporaryDirectory(prefix="callcore-bench-spill-") as spill:
            eps, health = await journal_throughput(dsn, args.events, spill)
            print(f"PgJournal with write-ahead log: {args.events} events, {eps:,.0f} events/s (end state {health})")
            eps_nolog, _ = await journal_throughput(dsn, args.events, spill, wal=False)
            print(f"PgJournal without the log (baseline): {eps_nolog:,.0f} events/s; "
                  f"ratio with/without {eps / eps_nolog:.2f}")
            us_log = await append_cost(dsn, 50_000, spill, wal=True)
            us_nolog = await append_cost(dsn, 50_000, spill, wal=False)
            print(f"append() alone: {us_log:.1f} us with the log, {us_nolog:.1f} us without "
                  f"({us_log / us_nolog:.1f}x)")
            naive = await naive_throughput(dsn, args.naive)
            print(f"naive one INSERT per event: {args.naive} events, {naive:,.0f} events/s")
            p50, p99, interval = await latency(dsn, args.rate, args.seconds, spill)
            print(f"latency append->committed at {args.rate} events/s, flush interval {interval:.0f} ms: "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            q50, q99, qi = await latency(dsn, args.rate, args.seconds, spill, interval=0.01)
            print(f"latency append->committed at {args.rate} events/s, flush interval {qi:.0f} ms: "
                  f"p50 {q50:.1f} ms, p99 {q99:.1f} ms")
        conn = await asyncpg.connect(dsn)
        rows = await conn.fetchval("SELECT count(*) FROM events")
        dups = await conn.fetchval("SELECT count(*) - count(DISTINCT event_key) FROM events")
        await conn.close()
        print(f"rows in events: {rows} (duplicate keys: {dups}); cpus: {os.cpu_count()}")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
        await resolved.stop()
    print(json.dumps({"events_per_s": round(eps), "events_per_s_without_log": round(eps_nolog),
                      "log_throughput_ratio": round(eps / eps_nolog, 2), "append_us": round(us_log, 2),
                      "append_us_without_log": round(us_nolog, 2), "naive_events_per_s": round(naive),
                      "ratio": round(eps / naive, 1), "flush_p50_ms": round(p50, 1),
                      "flush_p99_ms": round(p99, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
