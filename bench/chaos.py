"""Chaos suite: faults injected into callcore as deployed, with counts of what was lost or stuck.

Every scenario runs on a private PostgreSQL cluster this script starts (``initdb``/``pg_ctl``) and stops,
with the simulated Asterisk (``callcore sim``) and the service (``callcore run``) as separate processes
talking over real sockets. It drives mixed traffic (Poisson inbound callers to ring-mode operators logged
in over the HTTP API, a predictive campaign to operators on *55 sessions), injects the fault, drains
(arrivals stop, the campaign is stopped, calls finish), then counts from the simulator's view of every
call, the database and each instance's API, and prints one JSON line per scenario:

* ``offered`` inbound calls that entered Asterisk + outbound attempts; ``connected`` bridged to an operator;
  ``abandoned`` callers who hung up first (and abandoned outbound calls); ``failed`` inbound calls ended
  by the system without an operator (Stasis failed, hung up) and attempts that failed;
* ``lost`` inbound callers still waiting after the drain (stranded) + attempts ended as ``lost``;
* ``events_sent`` ARI events the simulators sent, ``events_journaled`` ``ari.*`` rows in ``events``,
  ``duplicates`` the same ARI event journaled twice;
* ``agents_stuck`` operators not available after the drain (reserved, on a call, paused by the system, or
  held by an instance they do not belong to), ``leads_stuck`` leads left ``dialing``, ``open_attempts``
  attempts never ended, ``dialled_twice`` leads whose attempts overlap, were dialled again after being
  connected, or whose attempt count misses attempts made;
* ``recover_s`` seconds from the end of the fault until the instance is connected to ARI, reaches the
  database and has replayed its journal (for start-up faults: from the process start; for ARI faults: until
  the next call is bridged to an operator).

``--short`` (used by ``tests/test_chaos.py``) runs each scenario in about 20 s at 10x simulated time;
the default (long) mode runs the outages at their real length (PostgreSQL down 60 s and 5 minutes, ARI
REST faults 30 s) for the figures in the README. Targets: 0 lost, 0 stuck, 0 dialled twice,
journaled = sent, recovery within 2 s of the dependency coming back. The figures are wall-clock and vary
with the machine's load.

stdout carries exactly one JSON line per scenario with the keys above; the notes (what was seen on the way:
unconfirmed events, stuck operators by name, per-type event counts, report figures) go to stderr or
``--notes FILE``. ``--jobs N`` runs N scenarios at a time, each worker on a PostgreSQL cluster of its own (the
PostgreSQL faults stop only that cluster).

Usage: ``.venv/bin/python bench/chaos.py [--short] [--jobs N] [--only NAME ...] [--notes FILE] [--list]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg

from callcore.store.pg import LOCAL_HOST, PrivateCluster, free_port, make_dsn, quote_ident, run, with_database

ADMIN = "chaos-admin-token"
SYNTHETIC = ("ari.connected", "ari.disconnected", "ari.overflowed")
CAMPAIGN = "chaos"


@dataclass(frozen=True)
class Sizes:
    """How big and how long: ``short`` for CI, long for the figures."""

    short: bool
    time_scale: float = 10.0
    inbound_agents: int = 6
    campaign_agents: int = 3
    rate: float = 0.25          # inbound calls per simulated second (x time_scale per real second)
    leads: int = 300
    warmup: float = 2.0         # real seconds of traffic before the fault
    after: float = 1.5          # real seconds of traffic after it
    drain: float = 20.0         # max real seconds to wait for calls to finish
    pg_outage: float = 3.0
    pg_long_outage: float = 6.0
    rest_fault: float = 4.0
    kill_down: float = 1.5
    journal_buffer: int = 300   # small so outages exercise the spill files
    settle: float = 15.0        # max real seconds for the operators to be available again after the drain

    @staticmethod
    def make(short: bool) -> Sizes:
        if short:
            return Sizes(True)
        return Sizes(False, inbound_agents=20, campaign_agents=6, rate=0.4, leads=3000, warmup=20.0,
                     after=20.0, drain=90.0, pg_outage=60.0, pg_long_outage=300.0, rest_fault=30.0,
                     kill_down=5.0, journal_buffer=5000)


# --- PostgreSQL -----------------------------------------------------------------------------------------


class Postgres:
    """A private cluster that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        # durable settings (fsync, synchronous commit): an outage here is a crash of the server, and what it
        # acknowledged must survive it, as on a production server
        self.root = Path(tempfile.mkdtemp(prefix="callcore-chaos-pg-"))
        self.root.chmod(0o755)
        self.cluster = PrivateCluster(self.root / "data")
        self.admin = ""

    async def start(self) -> None:
        self.admin = await self.cluster.start()

    async def down(self) -> None:
        c = self.cluster
        await run(c._cmd("pg_ctl", "-D", str(c.data_dir), "-m", "immediate", "-w", "stop"), check=False)

    async def up(self) -> None:
        c = self.cluster
        options = f"-p {c.port} -k {c.socket_dir} -c listen_addresses={LOCAL_HOST}"
        await run(c._cmd("pg_ctl", "-D", str(c.data_dir), "-l", str(c.log_file), "-o", options, "-w", "-t", "60",
                         "start"))

    async def close(self) -> None:
        await self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    async def fresh(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        finally:
            await conn.close()
        return with_database(make_dsn(user="postgres", host=LOCAL_HOST, port=self.cluster.port,
                                      database="postgres"), name)


# --- processes --------------------------------------------------------------------------------------------


def _open_log(path: Path) -> Any:
    return open(path, "ab")


def _fill(directory: Path) -> None:
    """Fill the file system of ``directory`` (a small tmpfs) to the last byte."""
    with contextlib.suppress(OSError), open(directory / "filler", "wb") as fh:
        fh.write(b"\0" * (1 << 20))


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: asyncio.subprocess.Process | None = None
        self.exit_codes: list[int] = []

    async def start(self) -> None:
        fh = _open_log(self.log)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT)
        finally:
            fh.close()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        self.exit_codes.append(code)
        self.proc = None
        return code

    async def stop(self) -> None:
        if self.proc is not None:
            self.signal(signal.SIGTERM)
            await self.wait(20)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


@dataclass
class Node:
    """One simulated Asterisk and the callcore instance in front of it."""

    name: str
    prefix: str
    sizes: Sizes
    workdir: Path
    dsn: str
    sim_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    sim: Proc | None = None
    svc: Proc | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def inbound_agents(self) -> list[str]:
        return [f"{self.prefix}{1001 + i}" for i in range(self.sizes.inbound_agents)]

    @property
    def campaign_agents(self) -> list[str]:
        n = self.sizes.inbound_agents
        return [f"{self.prefix}{1001 + n + i}" for i in range(self.sizes.campaign_agents)]

    @property
    def agents(self) -> list[str]:
        return self.inbound_agents + self.campaign_agents

    @property
    def sim_url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.sim_port}"

    @property
    def api(self) -> str:
        return f"http://{LOCAL_HOST}:{self.http_port}"

    @property
    def state_dir(self) -> Path:
        return self.workdir / f"state-{self.name}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
        env.update({
            "CALLCORE_ARI_URL": self.sim_url, "CALLCORE_DATABASE_URL": self.dsn,
            "CALLCORE_HTTP_PORT": str(self.http_port), "CALLCORE_AGI_ENABLED": "false",
            "CALLCORE_STATE_DIR": str(self.state_dir), "CALLCORE_INSTANCE_ID": self.name,
            "CALLCORE_API_TOKENS": f"{ADMIN}=admin:chaos", "CALLCORE_LOG_FORMAT": "json",
            "CALLCORE_JOURNAL_BUFFER": str(self.sizes.journal_buffer),
            "CALLCORE_PHONE_REGION": "US",
        })
        env.update(self.extra_env)
        return env

    async def start_sim(self) -> None:
        argv = [sys.executable, "-m", "callcore", "sim", "--port", str(self.sim_port), "--agents",
                str(len(self.agents)), "--agent-prefix", self.prefix, "--time-scale", str(self.sizes.time_scale),
                "--seed", str(abs(hash(self.name)) % 1000), "--system-name", f"sim-{self.name}"]
        self.sim = Proc(f"sim-{self.name}", argv, self.env(), self.workdir / f"sim-{self.name}.log")
        await self.sim.start()

    async def start_service(self) -> None:
        if self.svc is None:
            self.svc = Proc(f"callcore-{self.name}", [sys.executable, "-m", "callcore", "run"], self.env(),
                            self.workdir / f"callcore-{self.name}.log")
        self.svc.env = self.env()
        await self.svc.start()

    async def stop(self) -> None:
        for p in (self.svc, self.sim):
            if p is not None:
                await p.stop()


# --- HTTP helpers -------------------------------------------------------------------------------------------


async def http(session: aiohttp.ClientSession, method: str, url: str, body: Any = None,
               token: str | None = ADMIN, timeout: float = 5.0) -> tuple[int, Any]:  # noqa: ASYNC109
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.request(method, url, json=body, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, repr(exc)


async def until(cond: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.1) -> float | None:  # noqa: ASYNC109
    """Seconds until ``cond()`` held, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await cond():
            return time.monotonic() - start
        await asyncio.sleep(step)
    return None


async def health(s: aiohttp.ClientSession, node: Node) -> dict[str, Any]:
    _, body = await http(s, "GET", f"{node.api}/readyz", token=None, timeout=2.0)
    checks = body.get("checks") if isinstance(body, dict) else None
    return checks if isinstance(checks, dict) else {}


def healthy(h: dict[str, Any]) -> bool:
    j = h.get("journal") or {}
    return bool(h.get("ari_connected") and h.get("database_reachable") and not h.get("journal_spilling")
                and not j.get("spilled_pending"))


# --- the world ------------------------------------------------------------------------------------------------


class World:
    def __init__(self, pg: Postgres, sizes: Sizes, name: str, workdir: Path, nodes: int = 1) -> None:
        self.pg, self.sizes, self.name, self.workdir = pg, sizes, name, workdir
        self.node_count = nodes
        self.nodes: list[Node] = []
        self.dsn = ""
        self.http: aiohttp.ClientSession | None = None
        self.recover_s: float | None = None
        self.notes: dict[str, Any] = {}
        self.cleanups: list[Callable[[], object]] = []

    @property
    def s(self) -> aiohttp.ClientSession:
        assert self.http is not None
        return self.http

    async def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dsn = await self.pg.fresh(f"chaos_{self.name}")
        self.http = aiohttp.ClientSession()
        self.nodes = [Node(f"node{i + 1}", "ab"[i], self.sizes, self.workdir, self.dsn)
                      for i in range(self.node_count)]
        await self.seed()
        for n in self.nodes:
            await n.start_sim()
        for n in self.nodes:
            await self.wait_sim(n)

    async def seed(self) -> None:
        from callcore.acd.core.model import AgentConfig, QueueConfig
        from callcore.directory import store
        from callcore.store.migrate import migrate
        from callcore.store.pg import create_pool

        await migrate(self.dsn)
        pool = await create_pool(self.dsn, 2)
        try:
            await store.create_queue(pool, QueueConfig(name="sales", strategy="longest-idle", wrapup_time=1.0,
                                                       ring_timeout=8.0))
            await store.create_queue(pool, QueueConfig(name="outbound", strategy="longest-idle",
                                                       wrapup_time=1.0))
            for n in self.nodes:
                for aid in n.inbound_agents:
                    await store.create_agent(pool, AgentConfig(id=aid, name=f"Operator {aid}",
                                                               endpoint=f"PJSIP/{aid}", memberships={"sales": 0}))
                for aid in n.campaign_agents:
                    await store.create_agent(pool, AgentConfig(id=aid, name=f"Operator {aid}",
                                                               endpoint=f"PJSIP/{aid}",
                                                               memberships={"outbound": 0}))
        finally:
            await pool.close()
        await self.seed_campaign()

    async def seed_campaign(self) -> None:
        from callcore.dialer.campaign import CampaignSettings, Mode
        from callcore.dialer.compliance import CallingWindow
        from callcore.dialer.store import DialerStore
        from callcore.dialer.upload import UploadOptions, upload_leads
        from callcore.store.pg import connect, create_pool

        csv = self.workdir / "leads.csv"
        rows = ["phone;name;tz"] + [f"+1 202 555 {n:04d};Lead {n};UTC" for n in range(self.sizes.leads)]
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        now = datetime.now(UTC)
        window = CallingWindow((now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
                               (now + timedelta(hours=2)).time().replace(second=0, microsecond=0))
        pool = await create_pool(self.dsn, 1)
        try:
            await DialerStore(pool).create_campaign(CAMPAIGN, CampaignSettings(
                caller_id="+15550001000", queue="outbound", mode=Mode.PREDICTIVE, window=window,
                ring_timeout=15.0, wrapup=1.0))
            conn = await connect(self.dsn)
            try:
                await upload_leads(conn, CAMPAIGN, csv, UploadOptions(region="US", tz_column="tz",
                                                                      column_map={"phone": "phone"}))
            finally:
                await conn.close()
        finally:
            await pool.close()

    async def wait_sim(self, n: Node) -> None:
        async def up() -> bool:
            status, _ = await http(self.s, "GET", f"{n.sim_url}/_sim/counters", token=None, timeout=1.0)
            return status == 200

        if await until(up, 30) is None:
            raise RuntimeError(f"simulator of {n.name} did not start (see {n.sim.log if n.sim else '?'})")
        for aid in n.agents:
            await http(self.s, "PUT", f"{n.sim_url}/_sim/endpoints/PJSIP/{aid}",
                       {"answer_delay": [0.5, 1.5], "p_answer": 1.0}, token=None)
        await http(self.s, "PUT", f"{n.sim_url}/_sim/endpoints/PJSIP/*@trunk",
                   {"answer_delay": [2.0, 8.0], "p_answer": 0.6, "p_busy": 0.1, "talk_time": [10.0, 40.0]},
                   token=None)

    async def start_service(self, n: Node, *, wait: bool = True) -> float | None:
        started = time.monotonic()
        await n.start_service()
        if not wait:
            return None

        async def ready() -> bool:
            return bool((await health(self.s, n)).get("ari_connected"))

        if await until(ready, 60) is None:
            raise RuntimeError(f"callcore {n.name} did not become ready (see {n.svc.log if n.svc else '?'})")
        return time.monotonic() - started

    async def login_agents(self, n: Node) -> None:
        for aid in n.inbound_agents:
            status, body = await http(self.s, "POST", f"{n.api}/api/v1/agents/{aid}/login", {})
            if status != 200:
                raise RuntimeError(f"login of {aid} on {n.name}: {status} {body}")
        for aid in n.campaign_agents:
            await http(self.s, "POST", f"{n.sim_url}/_sim/agent-login",
                       {"endpoint": f"PJSIP/{aid}", "agent_id": aid}, token=None)

    async def traffic(self, n: Node, on: bool = True) -> None:
        if on:
            sz = self.sizes
            await http(self.s, "POST", f"{n.sim_url}/_sim/arrivals",
                       {"rate_per_s": sz.rate, "queues": ["sales"], "patience": [20.0, 60.0],
                        "talk_time": [10.0, 40.0]}, token=None)
        else:
            await http(self.s, "DELETE", f"{n.sim_url}/_sim/arrivals", token=None)

    async def campaign(self, action: str) -> None:
        from callcore.dialer.store import DialerStore
        from callcore.store.pg import create_pool

        for _ in range(100):
            try:
                pool = await create_pool(self.dsn, 1)
                try:
                    await DialerStore(pool).change_state(CAMPAIGN, action)
                finally:
                    await pool.close()
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(0.5)
            except Exception as exc:  # e.g. Conflict: already in that state
                self.notes[f"campaign_{action}"] = str(exc)
                return

    async def start_all(self, *, campaign: bool = True) -> None:
        for n in self.nodes:
            await self.start_service(n)
            await self.login_agents(n)
        if campaign:
            await self.campaign("start")
        for n in self.nodes:
            await self.traffic(n)

    async def bridged(self, n: Node) -> int:
        _, counters = await http(self.s, "GET", f"{n.sim_url}/_sim/counters", token=None)
        return int(counters.get("calls_bridged", 0)) if isinstance(counters, dict) else 0

    async def measure_recovery(self, nodes: list[Node] | None = None, timeout: float = 120.0,  # noqa: ASYNC109
                               since: float | None = None, calls_flow: bool = False) -> None:
        """Seconds from ``since`` (default now) until every node in ``nodes`` is healthy again (and, with
        ``calls_flow``, has bridged one more call)."""
        start = since if since is not None else time.monotonic()
        targets = nodes or self.nodes
        before = {n.name: await self.bridged(n) for n in targets} if calls_flow else {}

        async def all_ok() -> bool:
            if self.dead():
                return True
            for n in targets:
                if not healthy(await health(self.s, n)):
                    return False
                if calls_flow and await self.bridged(n) <= before[n.name]:
                    return False
            return True

        took = await until(all_ok, timeout)
        dead = self.dead()
        if dead:
            self.notes["service_died"] = dead
        self.recover_s = None if took is None or dead else round(time.monotonic() - start, 2)

    def dead(self) -> list[str]:
        """Instances whose process exited on its own (a crash), with the exit code."""
        return [f"{n.name}: exit {n.svc.proc.returncode}" for n in self.nodes
                if n.svc is not None and n.svc.proc is not None and n.svc.proc.returncode is not None]

    async def drain(self) -> None:
        for n in self.nodes:
            await self.traffic(n, on=False)
        await self.campaign("stop")

        async def calls_done() -> bool:
            for n in self.nodes:
                status, calls = await http(self.s, "GET", f"{n.sim_url}/_sim/calls", token=None)
                if status != 200 or any(c["state"] not in ("ended", "failed") for c in calls):
                    return False
            return self.dead() != [] or await self.open_attempts() == 0

        await until(calls_done, self.sizes.drain, step=0.25)
        # the last operators finish their wrap-up (1 s): waited for as a condition, not a fixed pause, so
        # that a loaded machine does not count an operator still in wrap-up as stuck; one who is still not
        # available after the bound is stuck
        await asyncio.sleep(1.0)
        await until(self.agents_settled, self.sizes.settle, step=0.25)

    async def agents_settled(self) -> bool:
        if self.dead():
            return True
        for n in self.nodes:
            status, snap = await http(self.s, "GET", f"{n.api}/api/v1/snapshot")
            if status != 200:
                return False
            agents = snap.get("agents", {})
            if any((agents.get(aid) or {}).get("state") != "available" for aid in n.agents):
                return False
        return True

    async def open_attempts(self) -> int:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=2)
        except (OSError, asyncpg.PostgresError):
            return -1
        try:
            return int(await conn.fetchval("SELECT count(*) FROM dial_attempts WHERE ended_at IS NULL"))
        finally:
            await conn.close()

    async def close(self) -> None:
        for n in self.nodes:
            await n.stop()
        if self.http is not None:
            await self.http.close()
        for fn in self.cleanups:
            fn()

    # --- counting --------------------------------------------------------------------------------------

    async def count(self) -> dict[str, Any]:
        offered = connected = abandoned = failed = lost = events_sent = 0
        sent_by_type: dict[str, int] = {}
        for n in self.nodes:
            _, calls = await http(self.s, "GET", f"{n.sim_url}/_sim/calls", token=None)
            for c in calls:
                offered += 1
                if c.get("bridged"):
                    connected += 1
                elif c.get("abandoned"):
                    abandoned += 1
                elif c["state"] in ("ended", "failed"):
                    failed += 1
                else:
                    lost += 1
            _, counters = await http(self.s, "GET", f"{n.sim_url}/_sim/counters", token=None)
            events_sent += int(counters.get("events_sent", 0))
            # written just before a connection broke (a kill, a drop): the peer may never have read them
            unconfirmed = int(counters.get("events_unconfirmed", 0))
            self.notes["events_unconfirmed"] = self.notes.get("events_unconfirmed", 0) + unconfirmed
            for k, v in counters.items():
                if k.startswith("event:"):
                    sent_by_type["ari." + k[6:]] = sent_by_type.get("ari." + k[6:], 0) + int(v)
        agents_stuck = await self.stuck_agents()
        # let the journal and the projection settle before reading the database
        await until(self._journal_settled, 30)
        conn = await asyncpg.connect(self.dsn)
        try:
            ev = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) - count(DISTINCT (type, channel_id, payload::text)) AS dups "
                "FROM events WHERE type LIKE 'ari.%' AND type <> ALL($1::text[])", list(SYNTHETIC))
            att = await conn.fetchrow(
                "SELECT count(*) AS n,"
                " count(*) FILTER (WHERE agent_id IS NOT NULL AND answered_at IS NOT NULL) AS conn,"
                " count(*) FILTER (WHERE abandoned) AS ab,"
                " count(*) FILTER (WHERE outcome IN ('failed', 'congestion')) AS failed,"
                " count(*) FILTER (WHERE outcome = 'lost') AS lost,"
                " count(*) FILTER (WHERE ended_at IS NULL) AS open FROM dial_attempts")
            by_type = {r["type"]: int(r["n"]) for r in await conn.fetch(
                "SELECT type, count(*) AS n FROM events WHERE type LIKE 'ari.%' GROUP BY type")}
            missing = {t: n - by_type.get(t, 0) for t, n in sent_by_type.items() if n != by_type.get(t, 0)}
            if missing:
                self.notes["events_missing_by_type"] = missing
            leads_stuck = await conn.fetchval("SELECT count(*) FROM leads WHERE state = 'dialing'")
            twice = await conn.fetchval("""
                WITH a AS (SELECT lead_id, started_at, COALESCE(ended_at, 'infinity') AS ended_at, answered_at,
                                  agent_id FROM dial_attempts WHERE lead_id IS NOT NULL)
                SELECT count(DISTINCT l.id) FROM leads l
                 WHERE EXISTS (SELECT 1 FROM a x JOIN a y ON x.lead_id = y.lead_id AND x.started_at < y.started_at
                                WHERE x.lead_id = l.id AND (y.started_at < x.ended_at OR x.agent_id IS NOT NULL))
                    OR l.attempts < (SELECT count(*) FROM a WHERE a.lead_id = l.id)""")
            if int(att["open"]) or int(leads_stuck) or int(twice):
                # what is needed to find the cause: every attempt of the leads concerned
                self.notes["attempts_of_leads_in_question"] = [
                    {k: str(v) for k, v in dict(r).items()} for r in await conn.fetch(
                        "SELECT a.*, l.state AS lead_state, l.attempts AS lead_attempts FROM dial_attempts a "
                        "JOIN leads l ON l.id = a.lead_id WHERE a.lead_id IN (SELECT lead_id FROM dial_attempts "
                        "WHERE ended_at IS NULL UNION SELECT id FROM leads WHERE state = 'dialing') "
                        "ORDER BY a.lead_id, a.started_at LIMIT 20")]
            calls_open = await conn.fetchval("SELECT count(*) FROM calls WHERE ended_at IS NULL")
            from callcore.directory.report import queue_report

            now = datetime.now(UTC)
            report = await queue_report(conn, now - timedelta(hours=1), now + timedelta(minutes=1))
            closed = {r["reason"]: int(r["n"]) for r in await conn.fetch(
                "SELECT payload->>'reason' AS reason, count(*) AS n FROM events WHERE type = 'call.closed' "
                "GROUP BY 1")}
            self.notes["call_events"] = {r["type"]: [int(r["n"]), int(r["calls"])] for r in await conn.fetch(
                "SELECT type, count(*) AS n, count(DISTINCT call_id) AS calls FROM events "
                "WHERE type LIKE 'call.%' GROUP BY type")}
            twice_answered = [dict(r) for r in await conn.fetch(
                "SELECT call_id, array_agg(instance ORDER BY id) AS instances, array_agg(queue ORDER BY id) AS queues,"
                " array_agg(to_char(ts, 'HH24:MI:SS.MS') ORDER BY id) AS at FROM events WHERE type = 'call.answered'"
                " GROUP BY call_id HAVING count(*) > 1 LIMIT 5")]
            if twice_answered:
                self.notes["answered_twice"] = twice_answered
            self.notes["answered_not_queued"] = int(await conn.fetchval(
                "SELECT count(DISTINCT call_id) FROM events e WHERE type = 'call.answered' AND NOT EXISTS "
                "(SELECT 1 FROM events q WHERE q.call_id = e.call_id AND q.type = 'call.queued')"))
        finally:
            await conn.close()
        self.notes["calls_rows_open"] = int(calls_open)
        self.notes["report"] = {r.queue: [r.offered, r.answered] for r in report}  # offered, answered
        if any(r.answered > r.offered for r in report):
            self.notes["report_answered_above_offered"] = True
        if closed:
            self.notes["calls_closed_after_restart"] = closed
        return {
            "scenario": self.name, "offered": offered + int(att["n"]), "connected": connected + int(att["conn"]),
            "abandoned": abandoned + int(att["ab"]), "failed": failed + int(att["failed"]),
            "lost": lost + int(att["lost"]), "events_sent": events_sent, "events_journaled": int(ev["n"]),
            "duplicates": int(ev["dups"]), "agents_stuck": agents_stuck, "leads_stuck": int(leads_stuck),
            "dialled_twice": int(twice), "open_attempts": int(att["open"]), "recover_s": self.recover_s,
        }

    async def _journal_settled(self) -> bool:
        if self.dead():
            return True
        for n in self.nodes:
            h = await health(self.s, n)
            if not h or h.get("projection_pending") or (h.get("journal") or {}).get("buffered") \
                    or not healthy(h):
                return False
        return True

    async def stuck_agents(self) -> int:
        stuck = 0
        for n in self.nodes:
            status, snap = await http(self.s, "GET", f"{n.api}/api/v1/snapshot")
            if status != 200:
                self.notes[f"snapshot_{n.name}"] = status
                stuck += len(n.agents)
                continue
            agents = snap.get("agents", {})
            for aid in n.agents:
                a = agents.get(aid, {})
                if a.get("state") != "available":
                    stuck += 1
                    self.notes.setdefault("stuck", []).append(f"{n.name}:{aid}:{a.get('state')}"
                                                              f":{a.get('pause_reason', '')}")
            for aid, a in agents.items():  # another node's operators must stay out of this instance's hands
                if aid not in n.agents and a.get("state") != "logged_out":
                    stuck += 1
                    self.notes.setdefault("foreign", []).append(f"{n.name}:{aid}:{a.get('state')}")
        return stuck


# --- scenarios ----------------------------------------------------------------------------------------------
#
# A scenario is data: its name, how many instances, whether the service is started (with mixed traffic and
# a warm-up) before the fault, and the fault itself: a small function that injects it and returns when the
# dependency is back, saying from when and on which instances recovery is measured. ``run_scenario`` does
# everything else the same way for all of them: set-up, traffic, recovery, drain, counting.


@dataclass(frozen=True)
class Recovery:
    """Recovery is measured from ``since`` (monotonic) on ``nodes`` (None: all): until they are healthy and,
    with ``calls_flow``, until one more call has been bridged to an operator (for faults that leave the
    instance connected but unable to place calls)."""

    since: float
    nodes: list[Node] | None = None
    calls_flow: bool = False


Fault = Callable[[World], Awaitable[Recovery]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    nodes: int = 1
    started: bool = True        # the runner starts the instances, traffic and campaign before the fault
    campaign: bool = True       # the predictive campaign runs (mixed inbound + outbound traffic)
    prepare: Callable[[World], Awaitable[None]] | None = None   # before anything starts

    @property
    def doc(self) -> str:
        return (self.fault.__doc__ or "").strip()


def now() -> Recovery:
    return Recovery(time.monotonic())


async def pg_outage(w: World, seconds: float) -> Recovery:
    await w.pg.down()
    await asyncio.sleep(seconds)
    await w.pg.up()
    return now()


async def pg_down_inbound(w: World) -> Recovery:
    """PostgreSQL stopped (60 s in long mode) while inbound callers queue; started again."""
    return await pg_outage(w, w.sizes.pg_outage)


async def pg_down_outbound(w: World) -> Recovery:
    """PostgreSQL stopped while the predictive campaign has calls in flight, with inbound traffic."""
    async def dialling() -> bool:
        return await w.open_attempts() > 0

    w.notes["waited_for_outbound_s"] = await until(dialling, 10)
    return await pg_outage(w, w.sizes.pg_outage)


async def pg_down_spill(w: World) -> Recovery:
    """PostgreSQL down long enough for the journal to spill to disk (5 minutes in long mode), then replayed."""
    await w.pg.down()
    await asyncio.sleep(w.sizes.pg_long_outage)
    w.notes["spilled_pending_at_end_of_outage"] = ((await health(w.s, w.nodes[0])).get("journal") or {}).get(
        "spilled_pending")
    await w.pg.up()
    return now()


async def pg_down_at_start(w: World) -> Recovery:
    """callcore (re)started while PostgreSQL is down: routes calls from its configuration cache."""
    n = w.nodes[0]
    await w.start_service(n)  # a first run writes the configuration cache
    assert n.svc is not None
    await n.svc.stop()
    await w.pg.down()
    started = time.monotonic()
    await w.start_service(n)
    w.notes["start_without_db_s"] = round(time.monotonic() - started, 2)
    await w.login_agents(n)
    await w.traffic(n)
    await asyncio.sleep(w.sizes.pg_outage)
    await w.pg.up()
    back = now()
    await w.campaign("start")
    return back


async def fill_spill_disk(w: World) -> None:
    spill = w.nodes[0].state_dir / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and (await run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(spill)],
                                                check=False))[0] == 0
    w.notes["tmpfs"] = mounted
    if mounted:
        _fill(spill)
        w.cleanups.append(lambda: subprocess.run(["umount", "-l", str(spill)], capture_output=True))


async def spill_disk_full(w: World) -> Recovery:
    """PostgreSQL down while the spill directory's disk is full: events wait in memory, none lost."""
    await w.pg.down()
    await asyncio.sleep(w.sizes.pg_outage)
    w.notes["during_outage"] = (await health(w.s, w.nodes[0])).get("journal")
    await w.pg.up()
    return now()


async def ari_ws_drop(w: World) -> Recovery:
    """The ARI websocket dropped twice, then Asterisk restarted (1 s down)."""
    n = w.nodes[0]
    for _ in range(2):
        await http(w.s, "POST", f"{n.sim_url}/_sim/faults/drop_websockets", token=None)
        await asyncio.sleep(1.0)
    await http(w.s, "POST", f"{n.sim_url}/_sim/faults/restart", {"down_for": 1.0}, token=None)
    await asyncio.sleep(1.0)
    back = now()

    async def connected() -> bool:
        return bool((await health(w.s, n)).get("ari_connected"))

    await until(connected, 30)
    for aid in n.campaign_agents:  # their *55 calls died with Asterisk: the phones dial in again
        await http(w.s, "POST", f"{n.sim_url}/_sim/agent-login", {"endpoint": f"PJSIP/{aid}", "agent_id": aid},
                   token=None)
    return Recovery(back.since, calls_flow=True)


async def ari_rest_faults(w: World) -> Recovery:
    """ARI REST answers 500 for half the period (30 s in long mode), then times out."""
    n = w.nodes[0]
    for fault in ({"prefix": "/ari", "status": 500}, {"prefix": "/ari", "delay": 8.0}):
        await http(w.s, "POST", f"{n.sim_url}/_sim/faults/rest", fault, token=None)
        await asyncio.sleep(w.sizes.rest_fault / 2)
        await http(w.s, "DELETE", f"{n.sim_url}/_sim/faults/rest", token=None)
    return Recovery(time.monotonic(), calls_flow=True)


async def kill_and_restart(w: World, n: Node) -> Recovery:
    assert n.svc is not None
    n.svc.signal(signal.SIGKILL)
    await n.svc.wait()
    await asyncio.sleep(w.sizes.kill_down)
    started = time.monotonic()
    await w.start_service(n)
    return Recovery(started, [n])


async def kill9(w: World) -> Recovery:
    """callcore killed with SIGKILL mid-call, started again a few seconds later."""
    return await kill_and_restart(w, w.nodes[0])


async def sigterm_overload(w: World) -> Recovery:
    """SIGTERM while callers queue beyond what the operators can take; started again at once."""
    n = w.nodes[0]
    await http(w.s, "POST", f"{n.sim_url}/_sim/arrivals",
               {"rate_per_s": w.sizes.rate * 4, "queues": ["sales"], "patience": [60.0, 120.0],
                "talk_time": [20.0, 40.0]}, token=None)
    await asyncio.sleep(w.sizes.warmup)
    assert n.svc is not None
    stopping = time.monotonic()
    n.svc.signal(signal.SIGTERM)
    w.notes["sigterm_exit_code"] = await n.svc.wait(30)
    w.notes["shutdown_s"] = round(time.monotonic() - stopping, 2)
    started = time.monotonic()
    await w.start_service(n)
    await w.traffic(n)
    return Recovery(started, [n])


async def two_instances_restart(w: World) -> Recovery:
    """Two instances (one per Asterisk) on one database; instance 2 stopped and started again."""
    n2 = w.nodes[1]
    assert n2.svc is not None
    await n2.svc.stop()
    started = time.monotonic()
    await w.start_service(n2)
    return Recovery(started, [n2])


async def two_instances_kill(w: World) -> Recovery:
    """Two instances on one database; instance 1 killed with SIGKILL, started again."""
    return await kill_and_restart(w, w.nodes[0])


SCENARIOS: dict[str, Scenario] = {sc.name: sc for sc in (
    Scenario("pg_down_inbound", pg_down_inbound, campaign=False),
    Scenario("pg_down_outbound", pg_down_outbound),
    Scenario("ari_ws_drop", ari_ws_drop),
    Scenario("kill9", kill9),
    Scenario("two_instances_restart", two_instances_restart, nodes=2),
    Scenario("pg_down_at_start", pg_down_at_start, started=False),
    Scenario("pg_down_spill", pg_down_spill),
    Scenario("spill_disk_full", spill_disk_full, prepare=fill_spill_disk),
    Scenario("ari_rest_faults", ari_rest_faults),
    Scenario("sigterm_overload", sigterm_overload),
    Scenario("two_instances_kill", two_instances_kill, nodes=2),
)}
KEYS = ("scenario", "offered", "connected", "abandoned", "failed", "lost", "events_sent", "events_journaled",
        "duplicates", "agents_stuck", "leads_stuck", "dialled_twice", "open_attempts", "recover_s")


async def run_scenario(pg: Postgres, sizes: Sizes, sc: Scenario, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(the scenario's figures with exactly KEYS, notes)``."""
    w = World(pg, sizes, sc.name, root / sc.name, sc.nodes)
    started = time.monotonic()
    try:
        await w.setup()
        if sc.prepare is not None:
            await sc.prepare(w)
        if sc.started:
            await w.start_all(campaign=sc.campaign)
            await asyncio.sleep(sizes.warmup)
        back = await sc.fault(w)
        await w.measure_recovery(back.nodes, since=back.since, calls_flow=back.calls_flow)
        await asyncio.sleep(sizes.after)
        await w.drain()
        result = await w.count()
    finally:
        await w.close()
    w.notes["seconds"] = round(time.monotonic() - started, 1)
    return {k: result[k] for k in KEYS}, w.notes


async def worker(names: asyncio.Queue[str], sizes: Sizes, root: Path,
                 report: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """One private PostgreSQL cluster, scenarios taken one after the other (faults stop only this cluster)."""
    pg = Postgres()
    await pg.start()
    try:
        while not names.empty():
            name = names.get_nowait()
            try:
                result, notes = await run_scenario(pg, sizes, SCENARIOS[name], root)
            except Exception as exc:
                traceback.print_exc()
                result, notes = {"scenario": name, "error": repr(exc)}, {}
            report(result, notes)
    finally:
        await pg.close()


async def main_async(args: argparse.Namespace, notes_out: Any) -> int:
    sizes = Sizes.make(args.short)
    names = args.only or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    root = Path(args.workdir or tempfile.mkdtemp(prefix="callcore-chaos-"))
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    def report(result: dict[str, Any], notes: dict[str, Any]) -> None:
        print(json.dumps(result), flush=True)
        print(json.dumps({"scenario": result["scenario"], "notes": notes}, default=str), file=notes_out,
              flush=True)

    try:
        async with asyncio.TaskGroup() as tg:
            for i in range(max(1, min(args.jobs, len(names)))):
                tg.create_task(worker(queue, sizes, root, report), name=f"chaos-worker-{i}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"logs in {root}", file=sys.stderr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--short", action="store_true", help="CI sizes: a few seconds per scenario")
    ap.add_argument("--only", nargs="*", help="run only these scenarios")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--jobs", type=int, default=1,
                    help="scenarios run at the same time, each worker on a PostgreSQL cluster of its own")
    ap.add_argument("--notes", help="append each scenario's notes (JSON lines) to this file (default: stderr)")
    ap.add_argument("--workdir", help="directory for logs and state (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    if args.list:
        for name, sc in SCENARIOS.items():
            print(f"{name}: {sc.doc}")
        return 0
    random.seed(1)
    from callcore.logs import configure_logging

    configure_logging("warning", "console", sys.stderr)  # stdout carries only the JSON lines
    if args.notes is None:
        return asyncio.run(main_async(args, sys.stderr))
    with open(args.notes, "a", encoding="utf-8") as notes_out:
        return asyncio.run(main_async(args, notes_out))


if __name__ == "__main__":
    sys.exit(main())
