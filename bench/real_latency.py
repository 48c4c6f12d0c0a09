"""Time to agent on a real Asterisk: from the caller's INVITE reaching Asterisk to the agent's INVITE leaving
it, for callcore, Asterisk's own app_queue and a minimal ARI queue application, run interleaved.

Usage: ``.venv/bin/python bench/real_latency.py [--asterisk /path/sbin/asterisk] [--agents 20]
[--rates 2,10] [--seconds 20] [--rounds 2] [--hold-ms 500]``

The bench writes a private lab (``tests/real_asterisk/labconfig.py``: the shipped ``asterisk-config/``
with the placeholders filled) into a temporary directory with its own ports (SIP 5160, ARI 8188, AMI 5138,
FastAGI 4673), adds what only the comparison needs (``--agents`` operator endpoints, app_queue loaded, a
``queues.conf`` queue with the same operators as members, and two DIDs in ``[inbound]``), and starts its own
Asterisk from it. Then ``--agents`` SIPp operator phones register (``phone.xml`` + ``phone_calls.xml``:
ringing 300 ms, then answering) and stay up for the whole run, and three systems take calls in turn:

* ``callcore``: ``callcore run`` (journal, projector, metrics, API, AMI, FastAGI) on a fresh database:
  DID 5550100 -> FastAGI ``route`` -> ``Stasis(callcore,inbound,sales,0)``, one longest-idle queue in ring
  mode without wrap-up, the operators logged in over the API;
* ``app_queue``: DID 5550200 -> ``Queue(rtq)`` (strategy leastrecent, ringinuse no, wrapuptime 0, music
  on hold on the unanswered caller; the caller is answered when the operator answers). Not ``Answer()``
  first: it waits up to 500 ms for the caller's first media frame, which would measure the caller's media,
  not the queue (the callers send RTP from their ACK on all the same, as phones do);
* ``callcore-noagi``: the same ``callcore run``, but DID 5550400 enters ``Stasis(callcore,inbound,sales,0)``
  directly (the dialplan names the queue, no FastAGI ``route``): what the FastAGI step costs;
* ``minimal``: DID 5550300 -> ``Stasis(rtmin,inbound)``, ``bench/acd_baseline.py``'s application (answer,
  originate the longest-free operator, bridge on answer) as its own process.

Per round and rate, each system in turn (the order rotates every round) gets a SIPp caller at a constant
``rate`` calls/s for ``--seconds``, each call hanging up ``--hold-ms`` after the answer, so the operators
keep up and nobody waits for a free operator: the figure is the routing path, not queueing. Every SIPp
process traces its messages with timestamps (``-trace_msg``); time to agent is the caller's INVITE sent
-> the operator's phone receiving the INVITE for that call (same clock; loopback transit both ways is
included equally for every system). Calls are paired in order (the k-th caller INVITE of a segment with the
k-th new operator INVITE), which is exact while no caller waits and no operator is rung twice; the bench
counts segments where it cannot pair and leaves them out.

Printed per system and rate: calls measured, p50/p99 time to agent (ms), CPU ms per call of the system's
own process (callcore's ``callcore run``, the minimal application's process; app_queue runs inside Asterisk)
and of Asterisk, and the differences and ratios against app_queue measured in the same run. The machine's
load average is printed with each line; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import aiohttp
import asyncpg
from scale import REPO, Proc, admin_dsn, fresh_database, loadavg, pct, proc_cpu

SCENARIOS = REPO / "tests" / "real_asterisk" / "scenarios"
SIP_PORT, HTTP_PORT, AMI_PORT, AGI_PORT = 5160, 8188, 5138, 4673
PHONE_BASE_PORT = 5270
TRUNK_IP, PHONE_IP = "127.0.0.2", "127.0.0.1"
DIDS = {"callcore": "5550100", "app_queue": "5550200", "minimal": "5550300", "callcore-noagi": "5550400"}
SYSTEMS = ("callcore", "app_queue", "minimal", "callcore-noagi")
ADMIN = "rtlatency-admin-token"
MIN_APP = "rtmin"
DATABASE = "callcore_real_latency"


def endpoint(i: int) -> str:
    return f"agent{1001 + i}"


# --- the private lab ------------------------------------------------------------------------------------


def write_lab(out: Path, asterisk: Path, agents: int) -> dict[str, str]:
    from real_asterisk import labconfig  # type: ignore[import-not-found]

    prefix = asterisk.resolve().parents[1]
    datadir = prefix / "var" / "lib" / "asterisk"
    lab = labconfig.Lab(out, prefix / "lib" / "asterisk" / "modules",
                        datadir if datadir.exists() else Path("/var/lib/asterisk"),
                        SIP_PORT, HTTP_PORT, AMI_PORT, AGI_PORT)
    env: dict[str, str] = labconfig.write(lab)
    etc = out / "etc"
    pjsip = (etc / "pjsip.conf").read_text(encoding="utf-8")
    for i in range(agents):
        name = endpoint(i)
        if f"[{name}](agent-endpoint)" not in pjsip:
            pjsip += (f"\n[{name}](agent-endpoint)\nauth = {name}\naors = {name}\n"
                      f"callerid = \"Agent {1001 + i}\" <{1001 + i}>\n\n[{name}](agent-auth)\nusername = {name}\n"
                      f"password = {lab.agent_password}\n\n[{name}](agent-aor)\n")
    (etc / "pjsip.conf").write_text(pjsip, encoding="utf-8")
    modules = (etc / "modules.conf").read_text(encoding="utf-8")
    (etc / "modules.conf").write_text(re.sub(r"(?m)^noload => app_queue\.so$", "", modules), encoding="utf-8")
    members = "".join(f"member => PJSIP/{endpoint(i)}\n" for i in range(agents))
    (etc / "queues.conf").write_text(
        "[general]\npersistentmembers = no\nautofill = yes\nshared_lastcall = no\n\n"
        "[rtq]\nstrategy = leastrecent\nringinuse = no\ntimeout = 15\nretry = 1\nwrapuptime = 0\n"
        "joinempty = yes\nleavewhenempty = no\nmusicclass = default\nannounce-frequency = 0\n"
        "periodic-announce-frequency = 0\nannounce-position = no\n" + members, encoding="utf-8")
    ext = (etc / "extensions.conf").read_text(encoding="utf-8")
    extra = (f"exten => {DIDS['app_queue']},1,Queue(rtq)\n same => n,Hangup()\n"
             f"exten => {DIDS['minimal']},1,Stasis({MIN_APP},inbound)\n same => n,Hangup()\n"
             f"exten => {DIDS['callcore-noagi']},1,Stasis(callcore,inbound,sales,0)\n same => n,Hangup()\n")
    ext = ext.replace("[inbound]\n", "[inbound]\n" + extra, 1)
    (etc / "extensions.conf").write_text(ext, encoding="utf-8")
    logger = (etc / "logger.conf").read_text(encoding="utf-8")
    (etc / "logger.conf").write_text(re.sub(r"(?m)^dateformat = .*$", "dateformat = %F %T.%6q", logger),
                                     encoding="utf-8")
    return env


def caller_scenario(work: Path) -> Path:
    """The suite's ``caller.xml`` sending RTP (µ-law silence) from its ACK on, as a phone does: Asterisk's
    ``Answer()`` waits up to 500 ms for the caller's first media frame, which a caller without media
    never sends."""
    silence = work / "silence.ulaw"
    silence.write_bytes(b"\xff" * 8000)
    text = (SCENARIOS / "caller.xml").read_text(encoding="utf-8")
    media = f'  <nop><action><exec rtp_stream="{silence},-1,0"/></action></nop>\n'
    marker = "  <!-- in the call:"
    if marker not in text:
        raise RuntimeError("caller.xml changed: no in-call marker to add media after the ACK")
    out = work / "caller_media.xml"
    out.write_text(text.replace(marker, media + marker, 1), encoding="utf-8")
    return out


# --- SIPp traces ----------------------------------------------------------------------------------------

_ENTRY = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d[ \t]\d\d:\d\d:\d\d\.\d+)\s*$", re.M)


def _stamp(text: str) -> float:
    return datetime.strptime(text.replace("\t", " "), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def trace_invites(path: Path, direction: str) -> list[tuple[float, str]]:
    """(time, Call-ID) of each new INVITE (no To tag) ``direction`` ("sent"/"received") in a SIPp
    ``-trace_msg`` file; a retransmission (same Call-ID) counts once."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    marks = list(_ENTRY.finditer(text))
    out: list[tuple[float, str]] = []
    seen: set[str] = set()
    for k, m in enumerate(marks):
        body = text[m.end(): marks[k + 1].start() if k + 1 < len(marks) else len(text)]
        head = body.lstrip().split("\n", 1)
        if len(head) < 2 or direction not in head[0]:
            continue
        msg = head[1].lstrip()
        if not msg.startswith("INVITE "):
            continue
        to = re.search(r"(?im)^To:.*$", msg)
        if to and ";tag=" in to.group(0):
            continue  # a re-INVITE inside a call
        cid = re.search(r"(?im)^Call-ID:\s*(\S+)", msg)
        call_id = cid.group(1) if cid else f"?{k}"
        if call_id in seen:
            continue
        seen.add(call_id)
        out.append((_stamp(m.group(1)), call_id))
    return out


def pair(callers: list[float], agents: list[float]) -> list[float] | None:
    """Latencies (ms) of the k-th caller INVITE with the k-th operator INVITE; None when they do not pair
    (counts differ or an operator INVITE precedes its caller)."""
    if len(callers) != len(agents) or not callers:
        return None
    out = [(a - c) * 1000.0 for c, a in zip(sorted(callers), sorted(agents), strict=True)]
    return out if min(out) > 0 else None


# --- the three systems ----------------------------------------------------------------------------------


class Ari:
    def __init__(self, http: aiohttp.ClientSession, url: str, user: str, password: str) -> None:
        self.http, self.url = http, url
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}/ari{path}", headers=self.headers) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else None)

    async def idle(self, limit: float = 30.0) -> bool:
        """Wait until Asterisk has no channel left (every call of a segment ended)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                status, body = await self.get("/channels")
                if status == 200 and not body:
                    return True
            await asyncio.sleep(0.2)
        return False


async def seed_callcore(dsn: str, agents: int) -> None:
    from callcore.acd.core.model import AgentConfig, QueueConfig
    from callcore.directory import store
    from callcore.store.migrate import migrate
    from callcore.store.pg import create_pool

    await migrate(dsn)
    pool = await create_pool(dsn, 2)
    try:
        await store.create_queue(pool, QueueConfig(name="sales", strategy="longest-idle", wrapup_time=0.0,
                                                   ring_timeout=15.0))
        for i in range(agents):
            await store.create_agent(pool, AgentConfig(id=str(1001 + i), name=f"Operator {1001 + i}",
                                                       endpoint=f"PJSIP/{endpoint(i)}", memberships={"sales": 0}))
        await pool.execute("INSERT INTO did_routes (did, queue, priority, note) VALUES ($1, 'sales', 0, 'bench')",
                           DIDS["callcore"])
    finally:
        await pool.close()


def minimal_main(url: str, user: str, password: str, agents: int) -> None:
    """``--minimal-app``: bench/acd_baseline.py's application on the lab's operator endpoints."""
    from acd_baseline import serve

    asyncio.run(serve(url, user, password, MIN_APP, agents, [f"PJSIP/{endpoint(i)}" for i in range(agents)]))


@dataclass
class Segment:
    system: str
    rate: float
    latencies: list[float] = field(default_factory=list)
    offered: int = 0
    unpaired: bool = False
    cpu_own_ms: float = float("nan")
    cpu_asterisk_ms: float = float("nan")


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.env: dict[str, str] = {}
        self.procs: list[Proc] = []
        self.phones: list[subprocess.Popen[bytes]] = []
        self.asterisk: Proc | None = None
        self.callcore: Proc | None = None
        self.minimal: Proc | None = None
        self.stop_db: Any = None
        self.admin_dsn = ""
        self.caller_port = 5161
        self.files: list[Any] = []
        self.caller_xml = SCENARIOS / "caller.xml"

    def sipp(self, *args: str, local_ip: str, log: Path) -> subprocess.Popen[bytes]:
        fh = open(log, "ab")  # SIPp's stderr, closed at the end of the run
        self.files.append(fh)
        return subprocess.Popen([self.args.sipp, f"127.0.0.1:{SIP_PORT}", "-i", local_ip, "-nostdin", "-aa",
                                 *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fh,
                                cwd=self.work)

    async def start(self, http: aiohttp.ClientSession) -> Ari:
        lab = self.work / "lab"
        self.env = write_lab(lab, Path(self.args.asterisk), self.args.agents)
        self.caller_xml = caller_scenario(self.work)
        conf = lab / "etc" / "asterisk.conf"
        self.asterisk = Proc([self.args.asterisk, "-C", str(conf), "-f"], dict(os.environ),
                             self.work / "asterisk.log")
        self.asterisk.start()
        ari = Ari(http, self.env["CALLCORE_TEST_ARI_URL"], "callcore", self.env["CALLCORE_TEST_ARI_PASSWORD"])
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                if (await ari.get("/asterisk/info"))[0] == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"Asterisk did not start (see {self.work / 'asterisk.log'})")
        password = self.env["CALLCORE_TEST_AGENT_PASSWORD"]
        for i in range(self.args.agents):
            self.phones.append(self.sipp(
                "-sf", str(SCENARIOS / "phone.xml"), "-oocsf", str(SCENARIOS / "phone_calls.xml"),
                "-set", "expires", "300", "-s", endpoint(i), "-au", endpoint(i), "-ap", password,
                "-p", str(PHONE_BASE_PORT + i), "-m", "1", "-trace_msg",
                "-message_file", str(self.work / f"phone-{i}.msg"), local_ip=PHONE_IP,
                log=self.work / f"phone-{i}.err"))
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            states = [(await ari.get(f"/endpoints/PJSIP/{endpoint(i)}"))[1] for i in range(self.args.agents)]
            if all(isinstance(s, dict) and s.get("state") == "online" for s in states):
                break
            await asyncio.sleep(0.3)
        else:
            raise RuntimeError("the operators' phones did not all come online")
        await self.start_callcore(http)
        self.minimal = Proc([sys.executable, __file__, "--minimal-app", ari.url, "callcore",
                             self.env["CALLCORE_TEST_ARI_PASSWORD"], str(self.args.agents)],
                            {**os.environ, "PYTHONPATH": str(REPO)}, self.work / "minimal.log")
        self.minimal.start()
        for _ in range(100):
            if (await ari.get(f"/applications/{MIN_APP}"))[0] == 200:
                break
            await asyncio.sleep(0.1)
        return ari

    async def start_callcore(self, http: aiohttp.ClientSession) -> None:
        admin, self.stop_db = await admin_dsn()
        self.admin_dsn = admin
        dsn = await fresh_database(admin, DATABASE)
        await seed_callcore(dsn, self.args.agents)
        http_port = 8190
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
        env.update({
            "PYTHONPATH": str(REPO), "CALLCORE_DATABASE_URL": dsn,
            "CALLCORE_ARI_URL": self.env["CALLCORE_TEST_ARI_URL"], "CALLCORE_ARI_USER": "callcore",
            "CALLCORE_ARI_PASSWORD": self.env["CALLCORE_TEST_ARI_PASSWORD"],
            "CALLCORE_AMI_ENABLED": "true", "CALLCORE_AMI_HOST": "127.0.0.1", "CALLCORE_AMI_PORT": str(AMI_PORT),
            "CALLCORE_AMI_SECRET": self.env["CALLCORE_TEST_AMI_SECRET"],
            "CALLCORE_AGI_HOST": "127.0.0.1", "CALLCORE_AGI_PORT": str(AGI_PORT),
            "CALLCORE_HTTP_PORT": str(http_port), "CALLCORE_STATE_DIR": str(self.work / "callcore-state"),
            "CALLCORE_INSTANCE_ID": "rtlatency", "CALLCORE_API_TOKENS": f"{ADMIN}=admin:bench",
            "CALLCORE_LOG_LEVEL": "warning", "CALLCORE_LOG_FORMAT": "json",
        })
        argv = [sys.executable, "-m", "callcore", "run"]
        if self.args.profile:
            argv = [sys.executable, "-m", "cProfile", "-o", str(self.work / "callcore.prof"), "-m", "callcore", "run"]
        self.callcore = Proc(argv, env, self.work / "callcore.log")
        self.callcore.start()
        api = f"http://127.0.0.1:{http_port}"
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{api}/readyz") as r:
                    if r.status == 200:
                        break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"callcore did not become ready (see {self.work / 'callcore.log'})")
        auth = {"Authorization": f"Bearer {ADMIN}"}
        for i in range(self.args.agents):
            for _ in range(100):  # the login needs the phone's registration, seen through AMI
                async with http.post(f"{api}/api/v1/agents/{1001 + i}/login", json={}, headers=auth) as r:
                    if r.status == 200:
                        break
                    last = f"{r.status} {await r.text()}"
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"login of {1001 + i}: {last}")

    async def segment(self, ari: Ari, system: str, rate: float, n: int) -> Segment:
        seg = Segment(system, rate)
        tag = f"{system}-{rate:g}-{n}"
        caller_log = self.work / f"caller-{tag}.msg"
        own = {"callcore": self.callcore, "callcore-noagi": self.callcore, "minimal": self.minimal}.get(system)
        assert self.asterisk is not None
        count = max(1, int(rate * self.args.seconds))
        seg.offered = count
        started = time.time()
        cpu0 = proc_cpu(own.pid) if own else 0.0
        ast0 = proc_cpu(self.asterisk.pid)
        self.caller_port += 1
        caller = self.sipp("-sf", str(self.caller_xml), "-s", DIDS[system], "-p", str(self.caller_port),
                           "-r", f"{rate:g}", "-m", str(count), "-recv_timeout", str(self.args.hold_ms),
                           "-timeout", str(int(self.args.seconds * 4 + 30)), "-trace_msg",
                           "-message_file", str(caller_log), local_ip=TRUNK_IP,
                           log=self.work / f"caller-{tag}.err")
        await asyncio.to_thread(caller.wait)
        await ari.idle()
        if own:
            seg.cpu_own_ms = (proc_cpu(own.pid) - cpu0) * 1000.0 / count
        seg.cpu_asterisk_ms = (proc_cpu(self.asterisk.pid) - ast0) * 1000.0 / count
        callers = [t for t, _ in trace_invites(caller_log, "sent")]
        agents: list[float] = []
        for i in range(self.args.agents):
            agents += [t for t, _ in trace_invites(self.work / f"phone-{i}.msg", "received") if t >= started - 0.5]
        paired = pair(callers, agents)
        if paired is None:
            seg.unpaired = True
            print(f"  {system} {rate:g}/s: {len(callers)} caller INVITEs, {len(agents)} operator INVITEs: "
                  "not paired, left out", flush=True)
        else:
            seg.latencies = paired
        # the next segment reads only what arrives after it started
        await asyncio.sleep(0.5)
        return seg

    def rx(self, command: str) -> None:
        conf = self.work / "lab" / "etc" / "asterisk.conf"
        subprocess.run([self.args.asterisk, "-C", str(conf), "-rx", command], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def trace(self, ari: Ari, systems: list[str]) -> None:
        """A few calls per system at 1/s with Asterisk's SIP, ARI and AGI debug on: prints what happens
        between the caller's INVITE and the agent's INVITE (median call of each system)."""
        for command in ("pjsip set logger on", "ari set debug all on", "agi set debug on"):
            self.rx(command)
        seconds, self.args.seconds = self.args.seconds, 5.0
        log = self.work / "lab" / "log" / "lab.log"
        try:
            for system in systems:
                since = time.time()
                await self.segment(ari, system, 1.0, 99)
                calls = timelines(log, since, DIDS[system])
                if not calls:
                    print(f"trace {system}: no call found in {log}")
                    continue
                calls.sort(key=lambda c: c[-1][0])
                median = calls[len(calls) // 2]
                print(f"\ntrace {system}: {len(calls)} calls, INVITE in -> agent INVITE out "
                      f"{', '.join(f'{c[-1][0]:.1f}' for c in calls)} ms (with debug logging on); median call:")
                for ms, what in median:
                    print(f"  {ms:8.2f} ms  {what}")
        finally:
            self.args.seconds = seconds
            for command in ("pjsip set logger off", "ari set debug all off", "agi set debug off"):
                self.rx(command)

    async def close(self) -> None:
        for proc in (self.callcore, self.minimal):
            if proc is not None:
                await proc.stop()
        for p in self.phones:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self.asterisk is not None:
            await self.asterisk.stop()
        if self.admin_dsn:
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self.admin_dsn)
                try:
                    await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
                finally:
                    await conn.close()
        if self.stop_db is not None:
            await self.stop_db()
        for fh in self.files:
            fh.close()


_LOG_ENTRY = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\] ", re.M)


def timelines(log: Path, since: float, did: str) -> list[list[tuple[float, str]]]:
    """Per traced call: (ms since the caller's INVITE reached Asterisk, what happened) for every Asterisk log
    entry (pjsip logger, ARI debug, AGI debug, dialplan) up to the agent's INVITE leaving Asterisk."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    marks = list(_LOG_ENTRY.finditer(text))
    entries: list[tuple[float, str]] = []
    for k, m in enumerate(marks):
        t = _stamp(m.group(1))
        if t < since:
            continue
        body = text[m.end(): marks[k + 1].start() if k + 1 < len(marks) else len(text)]
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        entries.append((t, " | ".join(lines[:2])[:150]))
    calls: list[list[tuple[float, str]]] = []
    current: list[tuple[float, str]] | None = None
    start = 0.0
    for t, what in entries:
        if "Received SIP request" in what and f"INVITE sip:{did}@" in what:
            current, start = [(0.0, what)], t
            continue
        if current is None:
            continue
        current.append(((t - start) * 1000.0, what))
        if "Transmitting SIP request" in what and "INVITE sip:agent" in what:
            calls.append(current)
            current = None
    return calls


def summary(segments: list[Segment], system: str, rate: float) -> dict[str, Any]:
    mine = [s for s in segments if s.system == system and s.rate == rate]
    lat = [x for s in mine for x in s.latencies]
    own = [s.cpu_own_ms for s in mine if s.cpu_own_ms == s.cpu_own_ms]
    ast = [s.cpu_asterisk_ms for s in mine]
    return {"system": system, "rate": rate, "calls": len(lat), "offered": sum(s.offered for s in mine),
            "unpaired_segments": sum(s.unpaired for s in mine),
            "p50_ms": round(pct(lat, 0.5), 2), "p99_ms": round(pct(lat, 0.99), 2),
            "cpu_ms_per_call": round(sum(own) / len(own), 2) if own else None,
            "asterisk_cpu_ms_per_call": round(sum(ast) / len(ast), 2) if ast else None}


async def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="callcore-real-latency-"))
    bench = Bench(args, work)
    rates = [float(r) for r in args.rates.split(",")]
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    segments: list[Segment] = []
    print(f"work directory {work}; load average {loadavg()}", flush=True)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        try:
            ari = await bench.start(http)
            print(f"lab up: {args.agents} operators online, load average {loadavg()}", flush=True)
            for rnd in range(args.rounds):
                order = systems[rnd % len(systems):] + systems[:rnd % len(systems)]
                for rate in rates:
                    for system in order:
                        seg = await bench.segment(ari, system, rate, rnd)
                        segments.append(seg)
                        print(f"  round {rnd + 1} {system:9} {rate:g}/s: {len(seg.latencies)} calls, "
                              f"p50 {pct(seg.latencies, 0.5):.2f} ms, p99 {pct(seg.latencies, 0.99):.2f} ms, "
                              f"load {loadavg()}", flush=True)
            if args.trace:
                await bench.trace(ari, systems)
        finally:
            await bench.close()
    rows = [summary(segments, s, r) for r in rates for s in systems]
    print(f"\n{'system':14} {'rate':>5} {'calls':>5} {'p50 ms':>7} {'p99 ms':>7} {'own CPU ms/call':>15} "
          f"{'Asterisk CPU ms/call':>20}  vs app_queue")
    for row in rows:
        ref = next((r for r in rows if r["system"] == "app_queue" and r["rate"] == row["rate"]), None)
        vs = ""
        if ref and row["system"] != "app_queue" and row["calls"] and ref["calls"]:
            row["p50_diff_ms"] = round(row["p50_ms"] - ref["p50_ms"], 2)
            row["p99_diff_ms"] = round(row["p99_ms"] - ref["p99_ms"], 2)
            row["p50_ratio"] = round(row["p50_ms"] / ref["p50_ms"], 2)
            row["p99_ratio"] = round(row["p99_ms"] / ref["p99_ms"], 2)
            vs = (f"p50 {row['p50_diff_ms']:+.2f} ms ({row['p50_ratio']:.2f}x), "
                  f"p99 {row['p99_diff_ms']:+.2f} ms ({row['p99_ratio']:.2f}x)")
        own = "-" if row["cpu_ms_per_call"] is None else f"{row['cpu_ms_per_call']:.2f}"
        print(f"{row['system']:14} {row['rate']:>5g} {row['calls']:>5} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} "
              f"{own:>15} {row['asterisk_cpu_ms_per_call']:>20.2f}  {vs}")
    cc = [r for r in rows if r["system"] == "callcore" and "p50_diff_ms" in r]
    met = bool(cc) and all(r["p50_diff_ms"] <= 1.0 and r["p99_diff_ms"] <= 3.0 for r in cc)
    print(f"load average {loadavg()}; work directory {work}")
    print(json.dumps({"agents": args.agents, "hold_ms": args.hold_ms, "rounds": args.rounds, "rows": rows,
                      "target_met": met, "loadavg": loadavg()}))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--asterisk", default=os.environ.get("ASTERISK", "/work/build/ast22/sbin/asterisk"),
                   help="the Asterisk 22 binary (its prefix gives the modules directory)")
    p.add_argument("--sipp", default=shutil.which("sipp") or "sipp")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--rates", default="2,10", help="calls per second, comma-separated")
    p.add_argument("--seconds", type=float, default=20.0, help="length of one segment")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--hold-ms", type=int, default=500, help="talk time of each call after the answer")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--profile", action="store_true", help="run callcore under cProfile (work dir kept)")
    p.add_argument("--trace", action="store_true",
                   help="then a few calls per system with Asterisk's SIP/ARI/AGI debug: what lies between the INVITEs")
    p.add_argument("--keep", action="store_true", help="keep the work directory (traces, logs)")
    return p.parse_args(argv)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--minimal-app":
        minimal_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        raise SystemExit(0)
    parsed = parse(sys.argv[1:])
    if parsed.profile:
        parsed.keep = True
    raise SystemExit(asyncio.run(main(parsed)))
