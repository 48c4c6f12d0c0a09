"""The ACD at contact-center scale: ``callcore run`` as deployed against the simulator, steps of operators
and calls in flight, with churn and a burst.

Usage: ``.venv/bin/python bench/scale.py [--quick] [--steps 100x500,500x2000,1000x5000] [--churn-seconds 60]``

For each step ``N x M`` (N operators, M calls in flight) a fresh database on the PostgreSQL server at
127.0.0.1:5432 (or a private cluster when none answers) gets one queue (longest-idle, ring mode, wrap-up
2 s) and N operators; ``callcore sim`` (the simulated Asterisk, N agent phones answering after 0.2-0.8 s)
and ``callcore run`` (journal, projector, metrics and API on) start as separate processes; the operators
log in over the API. Then, with callers who never give up:

* fill: callers arrive until about M calls are in flight (N talking, the rest waiting);
* churn: arrivals at the rate the operators finish calls (talk 20-40 s), so operators keep freeing up
  while M - N callers wait, for ``--churn-seconds``;
* burst: 1,000 more callers within 10 s, then 10 s more of churn.

Measured per phase: routing latency p50/p99 (``callcore_acd_routing_seconds``: from the event that made a
match possible to the agent request), event-loop lag p99 (``callcore_event_loop_lag_observed_seconds``),
CPU of the callcore process as a fraction of one core and CPU ms per bridged call, RSS, latency p99 of
``GET /api/v1/snapshot`` (polled every second) and of ``GET /metrics``, calls bridged (the simulator's
count) against expected (every operator freed while callers wait takes one: operators + the calls whose
talk time has ended, estimated from the bridge times and the talk-time range, capped by the callers
offered). ``stalled``: fewer than 80 % of the expected calls bridged, a snapshot that took more than 5 s,
or SIGTERM at full load not stopping the process within 10 s. The load average of the machine is printed
with every step: the figures are wall-clock and vary with what else runs.

Each step prints one line per phase and a JSON line; the last line is the JSON of the largest step with
``operators``, ``calls_in_flight`` (the most seen in the churn and burst phases: waiting + talking, from the
snapshot; ``target_in_flight`` is the step's M, which a starved simulator may not reach in the fill phase),
``routing_p99_ms``, ``cpu_cores``, ``rss_mb``, ``api_p99_ms`` (worst phase of churn, burst and after),
``cpu_ms_per_call`` (churn phase), ``stalled``. ``--quick``: steps 50x200 and 200x1000, talk 5-15 s, 20 s of churn, a
300-caller burst.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg

REPO = Path(__file__).resolve().parents[1]
ADMIN = "scale-admin-token"
TALK = (20.0, 40.0)  # --quick: 5-15 s
WRAPUP = 2.0
ANSWER_DELAY = (0.2, 0.8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- /metrics -------------------------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$')


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """name -> {label text: value} of the Prometheus text format."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            try:
                out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
            except ValueError:
                continue
    return out


def buckets(metrics: dict[str, dict[str, float]], name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of histogram ``name``, sorted."""
    pairs = []
    for labels, value in metrics.get(f"{name}_bucket", {}).items():
        m = re.search(r'le="([^"]+)"', labels)
        if m:
            pairs.append((float(m.group(1)), value))
    return sorted(pairs)


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float:
    """Quantile of what was observed between two scrapes, interpolated within its bucket (ms)."""
    prev = dict(before)
    diff = [(le, c - prev.get(le, 0.0)) for le, c in after]
    if not diff or diff[-1][1] <= 0:
        return float("nan")
    target = q * diff[-1][1]
    lo, lo_count = 0.0, 0.0
    for le, count in diff:
        if count >= target:
            if math.isinf(le):
                return lo * 1000.0
            span = count - lo_count
            frac = (target - lo_count) / span if span > 0 else 1.0
            return (lo + (le - lo) * frac) * 1000.0
        lo, lo_count = le, count
    return float("nan")


def observed(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> int:
    return int(after[-1][1] - dict(before).get(after[-1][0], 0.0)) if after else 0


# --- processes ------------------------------------------------------------------------------------------


async def admin_dsn() -> tuple[str, Any]:
    from callcore.store.pg import resolve_database

    resolved = await resolve_database("", purpose="test")
    return resolved.dsn, resolved.stop


async def fresh_database(admin: str, name: str) -> str:
    from callcore.store.pg import quote_ident, with_database

    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await conn.close()
    return with_database(admin, name)


async def seed(dsn: str, operators: int, wrapup: float = WRAPUP) -> None:
    from callcore.acd.core.model import AgentConfig, QueueConfig
    from callcore.directory import store
    from callcore.store.migrate import migrate
    from callcore.store.pg import create_pool

    await migrate(dsn)
    pool = await create_pool(dsn, 4)
    try:
        await store.create_queue(pool, QueueConfig(name="sales", strategy="longest-idle", wrapup_time=wrapup,
                                                   ring_timeout=15.0))
        sem = asyncio.Semaphore(4)

        async def one(i: int) -> None:
            async with sem:
                await store.create_agent(pool, AgentConfig(id=f"a{1001 + i}", name=f"Operator {1001 + i}",
                                                           endpoint=f"PJSIP/{1001 + i}", memberships={"sales": 0}))

        await asyncio.gather(*(one(i) for i in range(operators)))
    finally:
        await pool.close()


@dataclass
class Proc:
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=fh,
                                         stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self, timeout: float = 10.0) -> float | None:  # noqa: ASYNC109
        """SIGTERM; seconds until it exited, or None when it had to be killed."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        return None


# --- one step -------------------------------------------------------------------------------------------


@dataclass
class Sampler:
    """What the bench watches while a phase runs."""

    http: aiohttp.ClientSession
    api: str
    sim: str
    pid: int
    snapshot_ms: list[float] = field(default_factory=list)
    metrics_ms: list[float] = field(default_factory=list)
    snapshot_failures: int = 0
    rss: list[float] = field(default_factory=list)
    bridges: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, calls bridged so far)
    waiting: int = 0
    connected: int = 0
    in_flight: list[int] = field(default_factory=list)  # waiting + connected at each snapshot
    last: dict[str, dict[str, float]] = field(default_factory=dict)

    async def get(self, url: str, timeout: float = 30.0) -> tuple[int, Any, float]:  # noqa: ASYNC109
        started = time.perf_counter()
        try:
            async with self.http.get(url, headers={"Authorization": f"Bearer {ADMIN}"},
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                body = await r.read()
                return r.status, body, (time.perf_counter() - started) * 1000.0
        except (aiohttp.ClientError, TimeoutError):
            return 0, b"", (time.perf_counter() - started) * 1000.0

    async def sim_counters(self) -> dict[str, int]:
        async with self.http.get(f"{self.sim}/_sim/counters") as r:
            data: dict[str, int] = await r.json()
            return data

    async def snapshot(self) -> None:
        status, body, ms = await self.get(f"{self.api}/api/v1/snapshot")
        self.snapshot_ms.append(ms)
        if status != 200:
            self.snapshot_failures += 1
            return
        snap = json.loads(body)
        q = snap.get("queues", {}).get("sales", {})
        self.waiting = int(q.get("waiting", 0))
        self.connected = int(q.get("connected", 0))
        self.in_flight.append(self.waiting + self.connected)

    def in_flight_max(self, since: int) -> int:
        return max(self.in_flight[since:] or [self.waiting + self.connected])

    async def scrape(self) -> dict[str, dict[str, float]]:
        status, body, ms = await self.get(f"{self.api}/metrics")
        self.metrics_ms.append(ms)
        if status == 200:
            self.last = parse_metrics(body.decode())
        return self.last

    async def run(self, stop: asyncio.Event) -> None:
        tick = 0
        while not stop.is_set():
            started = time.monotonic()
            c = await self.sim_counters()
            self.bridges.append((time.monotonic(), c.get("calls_bridged", 0)))
            self.rss.append(proc_rss_mb(self.pid))
            if tick % 2 == 0:
                await self.snapshot()
            tick += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.05, 0.5 - (time.monotonic() - started)))


def completions(bridges: list[tuple[float, int]], until: float, talk: tuple[float, float]) -> float:
    """Expected number of bridged calls whose talk time (uniform in ``talk``) ended by ``until``."""
    lo, hi = talk
    total, prev = 0.0, 0
    for t, n in bridges:
        new = n - prev
        prev = n
        if new <= 0:
            continue
        age = until - t
        total += new * min(1.0, max(0.0, (age - lo) / (hi - lo)))
    return total


@dataclass
class Step:
    operators: int
    in_flight: int
    churn_s: float
    burst: int
    burst_s: float = 10.0


async def run_step(args: argparse.Namespace, admin: str, step: Step, workdir: Path) -> dict[str, Any]:
    n, m = step.operators, step.in_flight
    dsn = await fresh_database(admin, f"callcore_scale_{n}_{m}")
    t0 = time.monotonic()
    await seed(dsn, n)
    sim_port, http_port = free_port(), free_port()
    sim_url, api = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{http_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env.update({
        "PYTHONPATH": str(REPO), "CALLCORE_ARI_URL": sim_url, "CALLCORE_DATABASE_URL": dsn,
        "CALLCORE_HTTP_PORT": str(http_port), "CALLCORE_AGI_ENABLED": "false",
        "CALLCORE_STATE_DIR": str(workdir / f"state-{n}-{m}"), "CALLCORE_INSTANCE_ID": "scale",
        "CALLCORE_API_TOKENS": f"{ADMIN}=admin:scale", "CALLCORE_LOG_LEVEL": "warning",
        "CALLCORE_LOG_FORMAT": "json",
    })
    sim = Proc([sys.executable, "-m", "callcore", "sim", "--port", str(sim_port), "--agents", str(n)], env,
               workdir / f"sim-{n}-{m}.log")
    svc = Proc([sys.executable, "-m", "callcore", "run"], env, workdir / f"callcore-{n}-{m}.log")
    if args.profile:
        svc.argv = [sys.executable, "-m", "cProfile", "-o", str(workdir / f"callcore-{n}-{m}.prof"),
                    "-m", "callcore", "run"]
    sim.start()
    result: dict[str, Any] = {"operators": n, "calls_in_flight": m}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        try:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{sim_url}/_sim/counters") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.05)
            async with http.put(f"{sim_url}/_sim/endpoints/PJSIP/1*",
                                json={"answer_delay": list(ANSWER_DELAY), "p_answer": 1.0}) as r:
                r.raise_for_status()
            svc.start()
            s = Sampler(http, api, sim_url, svc.pid)
            for _ in range(600):
                status, _body, _ms = await s.get(f"{api}/readyz", timeout=2.0)
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"callcore did not become ready (see {svc.log})")
            login_started = time.monotonic()
            sem = asyncio.Semaphore(16)

            async def login(i: int) -> None:
                async with sem, http.post(f"{api}/api/v1/agents/a{1001 + i}/login", json={},
                                          headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                    if r.status != 200:
                        raise RuntimeError(f"login of a{1001 + i}: {r.status} {await r.text()}")

            await asyncio.gather(*(login(i) for i in range(n)))
            result["login_s"] = round(time.monotonic() - login_started, 2)
            result["setup_s"] = round(time.monotonic() - t0, 1)
            stop = asyncio.Event()
            sampler = asyncio.create_task(s.run(stop), name="sampler")
            talk = args.talk
            cycle = sum(talk) / 2 + WRAPUP + sum(ANSWER_DELAY) / 2
            capacity = n / cycle  # calls per second the operators finish
            phases: list[dict[str, Any]] = []

            async def arrivals(rate: float) -> None:
                body = {"rate_per_s": rate, "queues": ["sales"], "patience": 36000.0, "talk_time": list(talk)}
                async with http.post(f"{sim_url}/_sim/arrivals", json=body) as r:
                    r.raise_for_status()

            async def phase(name: str, seconds: float, rate: float, *, until_in_flight: int = 0) -> None:
                c0 = await s.sim_counters()
                cpu0, t_start = proc_cpu(svc.pid), time.monotonic()
                m0 = await s.scrape()
                snaps0, rss0, flights0 = len(s.snapshot_ms), len(s.rss), len(s.in_flight)
                await arrivals(rate)
                while time.monotonic() - t_start < seconds:
                    await asyncio.sleep(0.5)
                    if until_in_flight:
                        c = await s.sim_counters()
                        injected = c.get("calls_injected", 0)
                        done = completions(s.bridges, time.monotonic(), talk)
                        if injected - done >= until_in_flight:
                            break
                elapsed = time.monotonic() - t_start
                cpu = proc_cpu(svc.pid) - cpu0
                m1 = await s.scrape()
                c1 = await s.sim_counters()
                bridged = c1.get("calls_bridged", 0) - c0.get("calls_bridged", 0)
                offered_total = c1.get("calls_injected", 0)
                now = time.monotonic()
                expected_total = min(offered_total, n + completions(s.bridges, now, talk))
                expected_before = min(c0.get("calls_injected", 0), n + completions(s.bridges, t_start, talk))
                expected = max(0.0, expected_total - expected_before)
                route_b0, route_b1 = (buckets(x, "callcore_acd_routing_seconds") for x in (m0, m1))
                lag_b0, lag_b1 = (buckets(x, "callcore_event_loop_lag_observed_seconds") for x in (m0, m1))
                snaps = s.snapshot_ms[snaps0:]
                p = {
                    "phase": name, "seconds": round(elapsed, 1),
                    "offered": c1.get("calls_injected", 0) - c0.get("calls_injected", 0),
                    "bridged": bridged, "expected": round(expected),
                    "waiting": s.waiting, "connected": s.connected,
                    "in_flight_max": s.in_flight_max(flights0),
                    "routed": observed(route_b0, route_b1),
                    "routing_p50_ms": round(quantile(route_b0, route_b1, 0.5), 2),
                    "routing_p99_ms": round(quantile(route_b0, route_b1, 0.99), 2),
                    "loop_lag_p99_ms": round(quantile(lag_b0, lag_b1, 0.99), 1),
                    "cpu_cores": round(cpu / elapsed, 3),
                    "cpu_ms_per_call": round(cpu * 1000.0 / max(bridged, 1), 2),
                    "rss_mb": round(max(s.rss[rss0:] or [proc_rss_mb(svc.pid)]), 1),
                    "api_p99_ms": round(pct(snaps, 0.99), 1), "api_max_ms": round(max(snaps or [0.0]), 1),
                    "metrics_p99_ms": round(pct(s.metrics_ms[-2:], 0.99), 1),
                    "overloaded": m1.get("callcore_overloaded", {}).get("", float("nan")),
                    "load": loadavg(),
                }
                phases.append(p)
                print(f"  {n} operators, {m} in flight, {name:<6} {p['seconds']:>5.1f}s offered {p['offered']:>5} "
                      f"bridged {p['bridged']:>5}/{p['expected']:<5} waiting {p['waiting']:>5} in flight "
                      f"{p['in_flight_max']:>5} | routing p50 "
                      f"{p['routing_p50_ms']} p99 {p['routing_p99_ms']} ms | loop lag p99 {p['loop_lag_p99_ms']} "
                      f"ms | cpu {p['cpu_cores']} cores, {p['cpu_ms_per_call']} ms/call | rss {p['rss_mb']} MB | "
                      f"snapshot p99 {p['api_p99_ms']} ms (max {p['api_max_ms']}) | load {p['load']}", flush=True)

            fill_rate = min(400.0, max(50.0, m / 20.0))
            await phase("fill", 180.0, fill_rate, until_in_flight=m)
            await phase("churn", step.churn_s, capacity)
            await phase("burst", step.burst_s, capacity + step.burst / step.burst_s)
            await phase("after", 10.0, capacity)
            stop.set()
            await sampler
            stop_s = await svc.stop(10.0)
            result["sigterm_stop_s"] = round(stop_s, 2) if stop_s is not None else None
            churn = [p for p in phases if p["phase"] in ("churn", "burst", "after")]
            bridged = sum(p["bridged"] for p in churn)
            expected = sum(p["expected"] for p in churn)

            def worst(key: str) -> float:
                vals = [p[key] for p in churn if not math.isnan(p[key])]
                return max(vals) if vals else float("nan")

            cpu_s = sum(p["cpu_cores"] * p["seconds"] for p in churn)
            result.update({
                "calls_in_flight": max(p["in_flight_max"] for p in churn),  # measured, not the target
                "target_in_flight": m,
                "routing_p50_ms": worst("routing_p50_ms"), "routing_p99_ms": worst("routing_p99_ms"),
                "loop_lag_p99_ms": worst("loop_lag_p99_ms"),
                "cpu_cores": round(cpu_s / sum(p["seconds"] for p in churn), 3),
                "rss_mb": worst("rss_mb"), "api_p99_ms": worst("api_p99_ms"),
                # steady state (arrivals = completions): the burst's callers are answered and queued long before
                # they are bridged, so their cost would land on other calls
                "cpu_ms_per_call": next(p["cpu_ms_per_call"] for p in churn if p["phase"] == "churn"),
                "bridged": bridged, "expected": expected,
                "stalled": bool(bridged < 0.8 * expected or worst("api_max_ms") > 5000.0 or stop_s is None
                                or s.snapshot_failures > 0),
                "load": loadavg(),
                "phases": phases,
            })
        finally:
            await svc.stop(10.0)
            await sim.stop(10.0)
    return result


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="small steps, short phases (a check, not the figures)")
    p.add_argument("--steps", default="", help="N x M pairs: operators x calls in flight, comma-separated")
    p.add_argument("--churn-seconds", type=float, default=60.0)
    p.add_argument("--burst", type=int, default=1000, help="callers arriving within 10 s")
    p.add_argument("--talk", type=float, nargs=2, default=TALK, help="callers' talk time range, s")
    p.add_argument("--profile", action="store_true", help="run callcore under cProfile (.prof in the work dir)")
    p.add_argument("--workdir", default="", help="logs and state (default: a temporary directory)")
    return p.parse_args(argv)


async def main(args: argparse.Namespace) -> int:
    if args.quick:
        steps = [Step(50, 200, 20.0, 300), Step(200, 1000, 20.0, 300)]
        args.talk = (5.0, 15.0)
    else:
        steps = [Step(100, 500, args.churn_seconds, args.burst), Step(500, 2000, args.churn_seconds, args.burst),
                 Step(1000, 5000, args.churn_seconds, args.burst)]
    if args.steps:
        steps = [Step(int(a), int(b), args.churn_seconds if not args.quick else 20.0, args.burst)
                 for a, b in (x.split("x") for x in args.steps.split(","))]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="callcore-scale-"))
    os.makedirs(workdir, exist_ok=True)
    admin, stop_pg = await admin_dsn()
    print(f"machine: {os.cpu_count()} cores, load {loadavg()}; logs in {workdir}", flush=True)
    results = []
    try:
        for step in steps:
            r = await run_step(args, admin, step, workdir)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "phases"}), flush=True)
    finally:
        if stop_pg is not None:
            await stop_pg()
    last = results[-1]
    keys = ("operators", "calls_in_flight", "target_in_flight", "routing_p99_ms", "cpu_cores", "rss_mb", "api_p99_ms",
            "cpu_ms_per_call", "stalled")
    print(json.dumps({k: last[k] for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
