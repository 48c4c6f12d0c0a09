"""``callcore demo``: the simulated Asterisk, the real service and PostgreSQL, working together.

Everything talks over real sockets: the service drives the simulated Asterisk through ARI (REST and
websocket), operators log in through the HTTP API, and every event lands in PostgreSQL's journal. A live
view updates in place on a terminal (one line every few seconds otherwise); a summary follows, counted
from the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from callcore.config import Secret, Settings, load_settings
from callcore.logs import configure_logging

DEMO_DB = "callcore_demo"
ADMIN_TOKEN = "demo-admin-token"


@dataclass
class DemoOptions:
    duration: float = 60.0
    rate: float = 0.25
    seed: int = 1
    agents: int = 10
    time_scale: float = 1.0
    campaign: bool = True
    plain: bool = False
    workdir: Path = Path(".callcore/demo")
    keep_database: bool = False


@dataclass
class DemoState:
    started: float = field(default_factory=time.monotonic)
    snapshot: dict[str, Any] = field(default_factory=dict)
    sim: dict[str, int] = field(default_factory=dict)
    journal: dict[str, Any] = field(default_factory=dict)
    dialer: dict[str, Any] = field(default_factory=dict)
    dialer_read: float = 0.0


def parse(argv: list[str]) -> DemoOptions:
    p = argparse.ArgumentParser(prog="callcore demo", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of traffic (default 60)")
    p.add_argument("--rate", type=float, default=0.25, help="inbound calls per second (default 0.25)")
    p.add_argument("--agents", type=int, default=10,
                   help="simulated operators (default 10: 60%% inbound, the rest on the campaign)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the simulation (default 1)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="simulated seconds per real second for talk/patience times (default 1)")
    p.add_argument("--no-campaign", action="store_true", help="inbound only, no outbound campaign")
    p.add_argument("--plain", action="store_true", help="no in-place redraw, one status line every 5 s")
    p.add_argument("--keep-database", action="store_true",
                   help="keep this run's database (callcore_demo_<pid>_<random>) instead of dropping it at the end")
    a = p.parse_args(argv)
    for name in ("duration", "rate", "time_scale"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    if not 1 <= a.agents <= 500:
        p.error("--agents must be between 1 and 500")
    return DemoOptions(a.duration, a.rate, a.seed, a.agents, a.time_scale, not a.no_campaign, a.plain,
                       keep_database=a.keep_database)


def main(argv: list[str]) -> int:
    opts = parse(argv)
    settings = load_settings()
    opts.workdir.mkdir(parents=True, exist_ok=True)
    log_path = opts.workdir / "demo.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        configure_logging(settings.log_level, "json", stream=log_file)
        try:
            return asyncio.run(run_demo(opts, settings, sys.stdout))
        except KeyboardInterrupt:
            print("\ninterrupted")
            return 130
        finally:
            print(f"service log: {log_path}")


async def _database(settings: Settings, out: TextIO) -> tuple[str, Any, str]:
    """A database of this run's own (``callcore_demo_<pid>_<random>``) on the configured server, the local
    one or a throwaway private cluster: another demo on the same server keeps its database, and no other
    database is created or dropped."""
    from callcore.store.db import connect
    from callcore.store.pg import quote_ident, resolve_database, with_database

    resolved = await resolve_database(settings.database_url.reveal(), purpose="test")
    print(f"PostgreSQL: {resolved.detail}", file=out)
    admin = with_database(resolved.dsn, "postgres")
    name = f"{DEMO_DB}_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await connect(admin, codecs=False)
    try:
        await conn.execute(f"CREATE DATABASE {quote_ident(name)}")   # fails rather than reuse one
        await conn.execute(f"COMMENT ON DATABASE {quote_ident(name)} IS "
                           f"'callcore demo run (pid {os.getpid()}); dropped when it ends'")
    finally:
        await conn.close()
    print(f"PostgreSQL: database {name!r} created for this run", file=out)
    return with_database(admin, name), resolved, name


async def _drop_database(dsn: str, name: str) -> None:
    """Drop the database this run created (``name``, never another)."""
    from callcore.store.db import connect
    from callcore.store.pg import quote_ident, with_database

    conn = await connect(with_database(dsn, "postgres"), codecs=False)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


async def _seed(dsn: str, agent_ids: list[str]) -> dict[str, str]:
    from callcore.acd.core.model import AgentConfig, QueueConfig, SkillRequirement
    from callcore.directory import store
    from callcore.store.db import open_pool
    from callcore.store.migrate import migrate

    await migrate(dsn)
    pool = await open_pool(dsn, 2)
    tokens: dict[str, str] = {}
    try:
        await store.create_queue(pool, QueueConfig(
            name="sales", strategy="longest-idle", wrapup_time=2.0, ring_timeout=12.0,
            service_level_threshold=15.0, callback_digit="1", announce_position_every=30.0,
            recording="percent:20", dispositions=("sale", "no-sale", "callback"),
            script="Hello {caller_name}, thank you for calling. You are speaking with {agent_name}."))
        await store.create_queue(pool, QueueConfig(
            name="support", strategy="fewest-calls", wrapup_time=3.0, ring_timeout=12.0,
            service_level_threshold=20.0, skills=(SkillRequirement.parse("lang_en>=2, after 10 s >=1"),),
            dispositions=("solved", "escalated", "complaint")))
        await store.create_queue(pool, QueueConfig(name="outbound", strategy="longest-idle", wrapup_time=2.0))
        inbound_only = _inbound_team_size(len(agent_ids))
        for n, aid in enumerate(agent_ids):
            if n >= inbound_only:
                memberships = {"outbound": 0, "sales": 5}  # the campaign's team, backing up sales
            elif n % 2 == 0:
                memberships = {"sales": 0, "support": 2}
            else:
                memberships = {"support": 0, "sales": 1}
            await store.create_agent(pool, AgentConfig(
                id=aid, name=f"Operator {aid}", endpoint=f"PJSIP/{aid}",
                skills={"lang_en": 1 + n % 3}, memberships=memberships))
            tokens[aid] = await store.issue_agent_token(pool, aid)
        from callcore.web import demo as web_demo

        await web_demo.seed(pool, agent_ids[0])
    finally:
        await pool.close()
    return tokens


def _inbound_team_size(agents: int) -> int:
    """60 % of the operators take inbound calls (ring mode); the rest staff the campaign (sessions)."""
    return max(1, (agents * 3) // 5)


async def run_demo(opts: DemoOptions, base: Settings, out: TextIO) -> int:
    dsn, resolved, db_name = await _database(base, out)
    try:
        return await _run(opts, base, out, dsn)
    finally:
        if opts.keep_database:
            print(f"database {db_name!r} kept (--keep-database): {dsn}", file=out)
        else:
            await _drop_database(dsn, db_name)
        await resolved.stop()


async def _run(opts: DemoOptions, base: Settings, out: TextIO, dsn: str) -> int:
    from callcore.service.app import Service
    from callcore.sim import EndpointBehaviour, SimAsterisk
    from callcore.sim.ami import SimAmi

    agent_ids = [f"{2001 + i}" for i in range(opts.agents)]
    tokens = await _seed(dsn, agent_ids)
    spill = opts.workdir / "spill"
    shutil.rmtree(spill, ignore_errors=True)
    from callcore.web import demo as web_demo

    sim = SimAsterisk(seed=opts.seed, time_scale=opts.time_scale,
                      agents=[f"PJSIP/{a}" for a in agent_ids] + [web_demo.SUPERVISOR_ENDPOINT])
    await sim.start()
    ami = SimAmi(endpoints=list(agent_ids))
    await ami.start()
    for aid in agent_ids:
        ami.set_registered(aid, True)
    print(f"simulated Asterisk: ARI at {sim.ari_url}, AMI on port {ami.port} ({opts.agents} operator phones, "
          "registered)", file=out)
    for aid in agent_ids:
        sim.set_endpoint(f"PJSIP/{aid}", EndpointBehaviour(answer_delay=(0.3, 1.2), p_answer=0.97))
    sim.set_endpoint(web_demo.SUPERVISOR_ENDPOINT, EndpointBehaviour(answer_delay=0.5, p_answer=1.0))
    settings = base.replace(
        ari_url=sim.ari_url, database_url=Secret(dsn), http_port=0, agi_port=0, ami_enabled=True,
        ami_host="127.0.0.1", ami_port=ami.port,
        journal_spill_dir=str(spill), api_tokens=Secret(f"{ADMIN_TOKEN}=admin:demo"))
    service = Service(settings, dsn=dsn)
    stop = asyncio.Event()
    state = DemoState()
    code = 0
    try:
        async with asyncio.TaskGroup() as tg:
            svc_task = tg.create_task(service.run(stop), name="service")
            await asyncio.wait_for(service.started.wait(), 30)
            assert service.http_port is not None
            base_url = f"http://127.0.0.1:{service.http_port}/api/v1"
            print(f"callcore service: HTTP API at {base_url}", file=out)
            print(web_demo.addresses(service.http_port, agent_ids[0]), file=out)
            async with aiohttp.ClientSession() as http:
                inbound_team = agent_ids[:_inbound_team_size(len(agent_ids))]
                for aid in inbound_team:
                    await _api(http, "POST", f"{base_url}/agents/{aid}/login", tokens[aid], {})
                print(f"{len(inbound_team)} operators logged in through the HTTP API (their phones ring)", file=out)
                campaign_team = agent_ids[len(inbound_team):]
                for aid in campaign_team:
                    await sim.inject_agent_login(f"PJSIP/{aid}", aid)
                if campaign_team:
                    print(f"{len(campaign_team)} operators dialled *55: persistent sessions, calls bridged at once",
                          file=out)
                if opts.campaign:
                    await _start_campaign(opts, sim, dsn, out)
                sim.start_arrivals(opts.rate, queues=["sales", "support"], patience=(15.0, 60.0),
                                   talk_time=(8.0, 30.0))
                await _live(opts, state, service, sim, http, base_url, out)
                await sim.stop_arrivals()
            stop.set()
            await svc_task
    except Exception as exc:  # the demo explains what went wrong instead of a traceback
        print(f"\ndemo failed: {exc!r}", file=out)
        code = 1
    finally:
        await sim.close()
        await ami.stop()
    if code == 0:
        await _summary(dsn, state, sim, out)
    return code


async def _api(http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        data = await r.json()
        if r.status >= 400:
            raise RuntimeError(f"{method} {url} -> {r.status}: {data}")
        return data


async def _start_campaign(opts: DemoOptions, sim: Any, dsn: str, out: TextIO) -> None:
    """A predictive campaign over generated leads: uploaded from a CSV file, then started (the running
    service picks it up through LISTEN/NOTIFY)."""
    import random
    from datetime import UTC, datetime, timedelta

    from callcore.dialer.campaign import CampaignSettings, Mode
    from callcore.dialer.compliance import CallingWindow
    from callcore.dialer.store import DialerStore
    from callcore.dialer.upload import UploadOptions, upload_leads
    from callcore.sim import EndpointBehaviour
    from callcore.store.db import connect, open_pool

    rng = random.Random(opts.seed)
    csv = opts.workdir / "leads.csv"
    rows = ["Телефон;ФИО;город;tz"]
    for n in range(400):
        rows.append(f"+1 (202) 555-{rng.randrange(10_000):04d};Клиент {n};Washington;UTC")
    rows.append("not-a-number;Broken Row;Nowhere;UTC")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    now = datetime.now(UTC)
    window = CallingWindow((now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
                           (now + timedelta(hours=3)).time().replace(second=0, microsecond=0))
    pool = await open_pool(dsn, 1)
    try:
        await DialerStore(pool).create_campaign("reminders", CampaignSettings(
            caller_id="+15550001000", queue="outbound", mode=Mode.PREDICTIVE, window=window,
            script="Good afternoon {name}, this is {agent_name} calling about your appointment in {город}."))
        conn = await connect(dsn)
        try:
            report = await upload_leads(conn, "reminders", csv, UploadOptions(
                region="US", column_map={"phone": "Телефон", "name": "ФИО"}, tz_column="tz",
                reject_file=opts.workdir / "leads.rejects.csv"))
        finally:
            await conn.close()
        print(f"outbound campaign 'reminders' (predictive): {report.inserted} leads uploaded from {csv}, "
              f"{sum(report.rejected.values())} rejected (see {opts.workdir / 'leads.rejects.csv'})", file=out)
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(
            answer_delay=(2.0, 6.0), p_answer=0.5, p_busy=0.08, talk_time=(6.0, 20.0)))
        await DialerStore(pool).change_state("reminders", "start")
    finally:
        await pool.close()


async def _live(opts: DemoOptions, state: DemoState, service: Any, sim: Any, http: aiohttp.ClientSession,
                base_url: str, out: TextIO) -> None:
    tty = out.isatty() and not opts.plain and os.environ.get("TERM") != "dumb"
    deadline = time.monotonic() + opts.duration
    last_plain = 0.0
    lines_drawn = 0
    while True:
        now = time.monotonic()
        state.snapshot = await _api(http, "GET", f"{base_url}/snapshot", ADMIN_TOKEN)
        state.sim = sim.counters
        state.journal = service.journal.health() if service.journal else {}
        if opts.campaign and service.pool is not None and now - state.dialer_read >= 2.0:
            state.dialer_read = now
            rows = await service.pool.fetch("SELECT coalesce(outcome, 'in-flight') AS o, count(*) AS n "
                                            "FROM dial_attempts GROUP BY 1 ORDER BY 2 DESC")
            state.dialer = {r["o"]: r["n"] for r in rows}
        text = render(state, now - state.started, opts.duration)
        if tty:
            if lines_drawn:
                out.write(f"\x1b[{lines_drawn}F\x1b[J")
            out.write(text + "\n")
            out.flush()
            lines_drawn = text.count("\n") + 1
        elif now - last_plain >= 5.0:
            last_plain = now
            rows = text.splitlines()
            out.write(" | ".join(r for i, r in enumerate(rows) if i != 2) + "\n")
            out.flush()
        if now >= deadline:
            break
        await asyncio.sleep(min(0.5, max(0.0, deadline - now)))


def render(state: DemoState, elapsed: float, duration: float) -> str:
    snap = state.snapshot
    queues = snap.get("queues", {})
    by_state = snap.get("agents_by_state", {})
    sim = state.sim
    j = state.journal
    width = 30
    done = min(1.0, elapsed / duration) if duration else 1.0
    bar = "#" * int(done * width) + "." * (width - int(done * width))
    lines = [f"callcore demo [{bar}] {elapsed:5.1f}/{duration:.0f} s"]
    lines.append("agents: " + "  ".join(f"{k}={v}" for k, v in by_state.items() if v))
    lines.append(f"{'queue':10} {'waiting':>7} {'longest':>8} {'offered':>7} {'answered':>8} {'abandoned':>9} "
                 f"{'SL':>6}")
    for name, q in sorted(queues.items()):
        sl = q.get("service_level")
        sl_text = f"{sl * 100:5.1f}%" if isinstance(sl, float) else "    -"
        lines.append(f"{name:10} {q.get('waiting', 0):7d} {q.get('longest_wait', 0.0):7.1f}s "
                     f"{q.get('offered', 0):7d} {q.get('answered', 0):8d} {q.get('abandoned', 0):9d} {sl_text:>6}")
    events = sum(v for k, v in sim.items() if k.startswith("event:"))
    lines.append(f"asterisk (sim): calls in={sim.get('calls_injected', 0)} "
                 f"originated={sim.get('channels_originated', 0)} bridged={sim.get('calls_bridged', 0)} "
                 f"ARI events={events}")
    if state.dialer:
        lines.append("dialer: " + "  ".join(f"{k}={v}" for k, v in state.dialer.items()))
    lines.append(f"journal: buffered={j.get('buffered', 0)} db_ok={j.get('db_ok')} spilling={j.get('spilling')}")
    return "\n".join(lines)


async def _summary(dsn: str, state: DemoState, sim: Any, out: TextIO) -> None:
    from callcore.store.db import connect

    conn = await connect(dsn, codecs=False)
    try:
        rows = await conn.fetch("SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC")
        total = sum(r["n"] for r in rows)
        calls = await conn.fetchone(
            "SELECT count(*) AS calls, count(answered_at) AS answered, "
            "avg(extract(epoch FROM answered_at - entered_at)) AS asa FROM calls")
    finally:
        await conn.close()
    snap = state.snapshot
    print("\nsummary", file=out)
    for name, q in sorted(snap.get("queues", {}).items()):
        print(f"  queue {name}: offered {q.get('offered', 0)}, answered {q.get('answered', 0)}, "
              f"abandoned {q.get('abandoned', 0)}, overflowed {q.get('overflowed', 0)}", file=out)
    asa = calls["asa"]
    print(f"  calls table: {calls['calls']} calls, {calls['answered']} answered"
          + (f", average speed of answer {float(asa):.1f} s" if asa is not None else ""), file=out)
    if state.dialer:
        print("  dialer: " + ", ".join(f"{k} {v}" for k, v in state.dialer.items()), file=out)
    print(f"  journal: {total} events in PostgreSQL; top types: "
          + ", ".join(f"{r['type']} {r['n']}" for r in rows[:8]), file=out)
    counters = sorted((k, v) for k, v in sim.counters.items() if ":" not in k)   # not per route or type
    events = sum(v for k, v in sim.counters.items() if k.startswith("event:"))
    print("  simulated Asterisk: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counters)
          + f", ARI events {events}", file=out)
