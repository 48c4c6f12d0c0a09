"""Inbound ACD as deployed: CPU, ARI requests and routing latency per call of ``callcore run`` (journal,
projector, metrics and API on) against a minimal ARI queue application measured in the same run.

Usage: ``.venv/bin/python bench/acd.py [--agents 200] [--rate 30] [--seconds 30] [--quick]``

Each configuration gets a fresh simulator (``callcore sim``, agent phones answering after
``--answer-delay``) and runs as its own process; the bench offers the same load to each: Poisson arrivals
at ``--rate`` calls/s of callers the dialplan already answered (``answered`` in the simulator), talking
``--talk`` seconds, for ``--seconds``, to ``--agents`` ring-mode operators without wrap-up. At the default
rate the arrivals exceed what the operators can finish (agents / mean talk), so a queue builds up and
operators free up while callers wait. Then arrivals stop and every call is let finish.

* ``callcore``: ``callcore run`` on its own database (journal, projector, API); callcore starts MOH;
* ``callcore-dialplan-moh``: the same with ``CALLCORE_ACD_DIALPLAN_MOH=true`` (the dialplan started MOH);
* ``baseline``: ``bench/acd_baseline.py``, answer/originate/bridge/hang-up and nothing else.

Per configuration: CPU ms per bridged call (process CPU during the arrivals / calls bridged meanwhile),
ARI requests per call (every request the simulator served from the first arrival to the last hang-up /
calls bridged), routing latency p50/p99 (ARI event received -> agent originate sent: callcore's
``callcore_acd_routing_seconds``, the baseline's own clock), the largest queue seen, and the ratios to
the baseline. The last line is one JSON object. The machine's load average is printed with each line:
figures are wall-clock CPU and vary with what else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from scale import (
    ADMIN,
    REPO,
    Proc,
    admin_dsn,
    buckets,
    free_port,
    fresh_database,
    loadavg,
    parse_metrics,
    pct,
    proc_cpu,
    quantile,
    seed,
)


async def wait_http(http: aiohttp.ClientSession, url: str, limit: float = 60.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url) as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def counters(http: aiohttp.ClientSession, sim: str) -> dict[str, int]:
    async with http.get(f"{sim}/_sim/counters") as r:
        data: dict[str, int] = await r.json()
        return data


async def offer_load(http: aiohttp.ClientSession, sim: str, args: argparse.Namespace, rng: random.Random) -> int:
    """Poisson arrivals of answered callers for ``args.seconds``; returns how many were offered."""
    n, started = 0, time.monotonic()
    next_at = started
    sem = asyncio.Semaphore(32)
    tasks = []

    async def one(i: int) -> None:
        body = {"queue": "sales", "answered": True, "caller_number": f"+1555{i:07d}", "patience": 3600.0,
                "talk_time": rng.uniform(*args.talk)}
        async with sem, http.post(f"{sim}/_sim/calls", json=body) as r:
            r.raise_for_status()

    while True:
        next_at += rng.expovariate(args.rate)
        if next_at - started >= args.seconds:
            break
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        tasks.append(asyncio.create_task(one(n)))
        n += 1
    await asyncio.gather(*tasks)
    return n


async def run_config(name: str, args: argparse.Namespace, admin: str, workdir: Path) -> dict[str, Any]:
    sim_port, http_port = free_port(), free_port()
    sim_url, api = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{http_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env["PYTHONPATH"] = str(REPO)
    sim = Proc([sys.executable, "-m", "callcore", "sim", "--port", str(sim_port), "--agents", str(args.agents)],
               env, workdir / f"sim-{name}.log")
    sim.start()
    app: Proc
    result: dict[str, Any] = {"config": name}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        try:
            await wait_http(http, f"{sim_url}/_sim/counters")
            async with http.put(f"{sim_url}/_sim/endpoints/PJSIP/1*",
                                json={"answer_delay": args.answer_delay, "p_answer": 1.0}) as r:
                r.raise_for_status()
            if name == "baseline":
                app = Proc([sys.executable, str(REPO / "bench" / "acd_baseline.py"), sim_url, str(args.agents)],
                           env, workdir / f"{name}.log")
                app.start()
                await asyncio.sleep(1.5)
            else:
                dsn = await fresh_database(admin, f"callcore_bench_acd_{name.replace('-', '_')}")
                await seed(dsn, args.agents, wrapup=0.0)
                env_app = {**env, "CALLCORE_ARI_URL": sim_url, "CALLCORE_DATABASE_URL": dsn,
                           "CALLCORE_HTTP_PORT": str(http_port), "CALLCORE_AGI_ENABLED": "false",
                           "CALLCORE_STATE_DIR": str(workdir / f"state-{name}"), "CALLCORE_INSTANCE_ID": "bench",
                           "CALLCORE_API_TOKENS": f"{ADMIN}=admin:bench", "CALLCORE_LOG_LEVEL": "warning",
                           "CALLCORE_ACD_DIALPLAN_MOH": "true" if name == "callcore-dialplan-moh" else "false"}
                argv = [sys.executable, "-m", "callcore", "run"]
                if args.profile:
                    argv[1:1] = ["-m", "cProfile", "-o", str(workdir / f"{name}.prof")]
                app = Proc(argv, env_app, workdir / f"{name}.log")
                app.start()
                await wait_http(http, f"{api}/readyz")
                sem = asyncio.Semaphore(16)

                async def login(i: int) -> None:
                    async with sem, http.post(f"{api}/api/v1/agents/a{1001 + i}/login", json={},
                                              headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                        r.raise_for_status()

                await asyncio.gather(*(login(i) for i in range(args.agents)))
            c0 = await counters(http, sim_url)
            m0 = parse_metrics(await (await http.get(f"{api}/metrics")).text()) if name != "baseline" else {}
            cpu0 = proc_cpu(app.pid)
            largest = 0

            async def watch(stop: asyncio.Event) -> None:
                nonlocal largest
                while not stop.is_set():
                    c = await counters(http, sim_url)
                    in_queue = c.get("calls_injected", 0) - c0.get("calls_injected", 0) - (
                        c.get("calls_bridged", 0) - c0.get("calls_bridged", 0))
                    largest = max(largest, in_queue)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)

            stop = asyncio.Event()
            watcher = asyncio.create_task(watch(stop))
            started = time.monotonic()
            offered = await offer_load(http, sim_url, args, random.Random(7))
            elapsed = time.monotonic() - started
            cpu = proc_cpu(app.pid) - cpu0
            c1 = await counters(http, sim_url)
            m1 = parse_metrics(await (await http.get(f"{api}/metrics")).text()) if name != "baseline" else {}
            bridged_window = c1.get("calls_bridged", 0) - c0.get("calls_bridged", 0)
            # let every call finish: its hang-up requests belong to it
            deadline = time.monotonic() + 120.0
            while time.monotonic() < deadline:
                c = await counters(http, sim_url)
                done = c.get("calls_bridged", 0) - c0.get("calls_bridged", 0)
                if done >= offered and time.monotonic() - started > elapsed + args.talk[1] + 2:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)
            stop.set()
            await watcher
            c2 = await counters(http, sim_url)
            bridged = c2.get("calls_bridged", 0) - c0.get("calls_bridged", 0)
            rest = c2.get("rest_requests", 0) - c0.get("rest_requests", 0)
            await app.stop(15.0)
            if name == "baseline":
                lines = [ln for ln in app.log.read_text().splitlines() if ln.startswith("{")]
                lat = json.loads(lines[-1])["latencies_ms"] if lines else []
                p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
            else:
                b0, b1 = (buckets(x, "callcore_acd_routing_seconds") for x in (m0, m1))
                p50, p99 = quantile(b0, b1, 0.5), quantile(b0, b1, 0.99)
            result.update({
                "offered": offered, "offered_per_s": round(offered / elapsed, 1), "bridged": bridged,
                "largest_queue": largest, "cpu_ms_per_call": round(cpu * 1000.0 / max(bridged_window, 1), 2),
                "cpu_cores": round(cpu / elapsed, 3), "ari_requests_per_call": round(rest / max(bridged, 1), 2),
                "routing_p50_ms": round(p50, 2), "routing_p99_ms": round(p99, 2), "load": loadavg(),
            })
        finally:
            with contextlib.suppress(Exception):
                await app.stop(10.0)
            await sim.stop(10.0)
    return result


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--rate", type=float, default=30.0, help="arrivals per second")
    p.add_argument("--seconds", type=float, default=30.0, help="how long arrivals last")
    p.add_argument("--talk", type=float, nargs=2, default=(6.0, 10.0), help="caller talk time range, s")
    p.add_argument("--answer-delay", type=float, default=0.05, help="agent phones answer after, s")
    p.add_argument("--quick", action="store_true", help="50 agents, 8 calls/s for 10 s (a check)")
    p.add_argument("--only", nargs="*", default=None, help="configurations to run")
    p.add_argument("--profile", action="store_true", help="run callcore under cProfile (.prof in the work dir)")
    p.add_argument("--workdir", default="")
    args = p.parse_args(argv)
    if args.quick:
        args.agents, args.rate, args.seconds, args.talk = 50, 8.0, 10.0, (4.0, 6.0)
    return args


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="callcore-bench-acd-"))
    os.makedirs(workdir, exist_ok=True)
    admin, stop_pg = await admin_dsn()
    print(f"machine: {os.cpu_count()} cores, load {loadavg()}; {args.agents} operators, {args.rate} calls/s "
          f"for {args.seconds} s, talk {args.talk[0]}-{args.talk[1]} s; logs in {workdir}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in args.only or ("baseline", "callcore", "callcore-dialplan-moh"):
            r = await run_config(name, args, admin, workdir)
            results[name] = r
            print(json.dumps(r), flush=True)
    finally:
        if stop_pg is not None:
            await stop_pg()
    base = results.get("baseline")
    summary: dict[str, Any] = {}
    for name, r in results.items():
        summary[name] = {k: r[k] for k in ("cpu_ms_per_call", "ari_requests_per_call", "routing_p50_ms",
                                           "routing_p99_ms", "largest_queue", "bridged", "offered")}
        if base is not None and name != "baseline":
            summary[name]["cpu_ratio"] = round(r["cpu_ms_per_call"] / max(base["cpu_ms_per_call"], 1e-9), 2)
            summary[name]["requests_ratio"] = round(
                r["ari_requests_per_call"] / max(base["ari_requests_per_call"], 1e-9), 2)
    return summary


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse(sys.argv[1:])))))
