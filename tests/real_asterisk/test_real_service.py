"""The whole service (``Service``, as ``callcore run`` starts it: ARI, ACD, dialer, FastAGI, AMI, journal,
HTTP, PostgreSQL) against a real Asterisk configured from asterisk-config/ (the lab of
tests/real_asterisk/labconfig.py) with SIPp phones, callers and customers.

Covered: an inbound call routed by FastAGI, queued and connected to the operator's ringing phone; a caller
abandoning in the queue; progressive campaign calls, with AMD (originated into ``dialer-amd``) and without,
answered, busy and unanswered, whose attempts end with their outcome; supervisor listen on a call;
a ``*55`` persistent session that survives an ARI websocket drop and a service restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from pgproxy import Proxy

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.config import Secret, Settings
from callcore.dialer.compliance import CallingWindow
from callcore.service.app import Service
from real_asterisk.lab import AriLab, LabConfig, clean_asterisk, phone, run_sipp, scenario, stop, succeeded

pytestmark = pytest.mark.postgres

AGENT, AGENT_ENDPOINT = "1001", "agent1001"
SUPERVISOR_ENDPOINT = "agent1002"
PHONE_PORT, LOGIN_PORT, SUPERVISOR_PORT, CALLER_PORT = 5070, 5071, 5072, 5061
TOKEN = "lab-admin-token"
Proc = asyncio.subprocess.Process


async def until(cond: Callable[[], Any], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(0.05)


async def until_async(cond: Callable[[], Any], what: str, limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = await cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(0.1)


class Running:
    """One service instance under test."""

    def __init__(self, service: Service, task: asyncio.Task[None], stop_event: asyncio.Event) -> None:
        self.service, self.task, self.stop_event = service, task, stop_event

    @property
    def acd(self) -> Any:
        assert self.service.acd is not None
        return self.service.acd

    def agent(self, agent_id: str = AGENT) -> dict[str, Any]:
        return dict(self.acd.agent_state(agent_id))

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.service.http_port}/api/v1{path}"
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http, \
                http.request(method, url, json=body) as r:
            return r.status, (await r.json() if r.content_type.endswith("json") else await r.text())

    async def shutdown(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 30)


async def start(settings: Settings, dsn: str) -> Running:
    service = Service(settings, dsn=dsn)
    stop_event = asyncio.Event()
    task = asyncio.create_task(service.run(stop_event), name="real-asterisk-service")
    waiter = asyncio.create_task(service.started.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert waiter in done, "service did not start"
    assert service.ari is not None
    await service.ari.wait_connected(10)
    return Running(service, task, stop_event)


def settings(cfg: LabConfig, tmp_path: Path, ari_url: str | None = None) -> Settings:
    cfg.need_ami()
    return cfg.settings(ari_url=ari_url or cfg.ari_url, http_port=0, state_dir=str(tmp_path / "state"),
                        journal_spill_dir=str(tmp_path / "spill"), journal_flush_interval=0.05,
                        api_tokens=Secret(f"{TOKEN}=admin:lab"))


async def seed(dsn: str, cfg: LabConfig) -> None:
    from callcore.directory import store
    from callcore.store.pg import create_pool

    pool = await create_pool(dsn, 1)
    try:
        await store.create_queue(pool, QueueConfig(name="sales", wrapup_time=0.5, ring_timeout=15.0))
        await store.create_agent(pool, AgentConfig(id=AGENT, name="Anna", endpoint=f"PJSIP/{AGENT_ENDPOINT}",
                                                   memberships={"sales": 0}))
        await pool.execute("INSERT INTO did_routes (did, queue, priority, note) VALUES ($1, 'sales', 0, 'lab')",
                           cfg.did)
    finally:
        await pool.close()


@pytest.fixture
async def observer(lab_config: LabConfig) -> AsyncIterator[AriLab]:
    """REST calls and every channel's events, through an application of its own (callcore's belongs to
    the service under test)."""
    async with AriLab(lab_config, app="callcore-lab-observer", subscribe_all=True) as lab:
        await clean_asterisk(lab)
        yield lab
        await clean_asterisk(lab)


@pytest.fixture
async def seeded(pg_dsn: str, lab_config: LabConfig) -> str:
    lab_config.need_agent()
    lab_config.need_ami()
    await seed(pg_dsn, lab_config)
    return pg_dsn


async def call_in(sipp: str, cfg: LabConfig, hold_ms: int) -> Proc:
    """A caller from the trunk's address to the routed DID, hanging up ``hold_ms`` after the answer."""
    return await run_sipp(sipp, cfg, "-sf", scenario("caller.xml"), "-s", cfg.did, "-p", str(CALLER_PORT),
                          "-recv_timeout", str(hold_ms))


async def rows(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def channels(ari: AriLab) -> list[dict[str, Any]]:
    status, body = await ari.rest("GET", "/channels")
    assert status == 200
    return list(body)


async def test_inbound_call_queued_and_connected_to_the_ringing_operator(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path) -> None:
    async with phone(sipp, lab_config, observer, AGENT_ENDPOINT, PHONE_PORT):
        run = await start(settings(lab_config, tmp_path), seeded)
        caller: Proc | None = None
        try:
            await until(lambda: run.agent()["registered"] is True, "the phone's registration seen through AMI")
            await run.acd.login(AGENT)
            caller = await call_in(sipp, lab_config, 3000)
            await until(lambda: run.agent()["state"] == "on_call", "the operator connected")
            call_id = run.agent()["call_id"]
            await succeeded(caller, "the caller", 30)
            await until(lambda: run.agent()["state"] in ("wrap_up", "available"), "the call ended")
            await until_async(lambda: rows(seeded, "SELECT 1 FROM calls WHERE call_id = $1 AND ended_at IS NOT "
                                                   "NULL", call_id), "the call projected", 10)
        finally:
            if caller is not None:
                await stop(caller)
            await run.shutdown()
    call = (await rows(seeded, "SELECT * FROM calls WHERE call_id = $1", call_id))[0]
    assert call["queue"] == "sales" and call["agent_id"] == AGENT and call["outcome"] == "answered"
    assert call["answered_at"] is not None and call["ended_at"] > call["answered_at"]


async def test_caller_abandons_while_queued(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path) -> None:
    """No operator logged in: the caller is answered into the queue (hold music), hangs up after 2 s; the
    call is recorded as abandoned in the queue."""
    run = await start(settings(lab_config, tmp_path), seeded)
    try:
        caller = await call_in(sipp, lab_config, 2000)
        await succeeded(caller, "the caller", 30)
        await until(lambda: run.acd.snapshot()["queues"]["sales"]["abandoned"] >= 1, "the abandon counted", 10)
        ended = await until_async(lambda: rows(seeded, "SELECT * FROM calls WHERE ended_at IS NOT NULL"),
                                  "the call projected", 10)
    finally:
        await run.shutdown()
    assert ended[0]["queue"] == "sales" and ended[0]["outcome"] == "abandoned", dict(ended[0])
    assert ended[0]["answered_at"] is None and ended[0]["agent_id"] is None


def open_window() -> CallingWindow:
    now = datetime.now(UTC)
    return CallingWindow((now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
                         (now + timedelta(hours=2)).time().replace(second=0, microsecond=0))


async def campaign(dsn: str, tmp_path: Path, number: str, amd: bool) -> None:
    from callcore.dialer.campaign import CampaignSettings, Mode
    from callcore.dialer.store import DialerStore
    from callcore.dialer.upload import UploadOptions, upload_leads
    from callcore.store.pg import connect, create_pool

    pool = await create_pool(dsn, 1)
    try:
        dialer = DialerStore(pool)
        await dialer.create_campaign("lab", CampaignSettings(
            caller_id="+15550000000", queue="sales", mode=Mode.PROGRESSIVE, window=open_window(), amd=amd,
            ring_timeout=15.0, max_attempts=1, connect_grace=10.0))
        csv = tmp_path / "leads.csv"
        csv.write_text(f"phone,name,tz\n{number},Lab Customer,UTC\n", encoding="utf-8")
        conn = await connect(dsn)
        try:
            report = await upload_leads(conn, "lab", csv, UploadOptions(region="US", tz_column="tz"))
        finally:
            await conn.close()
        assert report.inserted == 1, report
        await dialer.change_state("lab", "start")
    finally:
        await pool.close()


CUSTOMER = "+12025550143"


async def one_campaign_call(sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path,
                            amd: bool, customer_scenario: str, sipp_args: Sequence[str] = ()) -> Any:
    """A one-lead progressive campaign dialling the SIPp customer behind the trunk (``customer_scenario``),
    the operator's phone registered and logged in; returns the attempt once it has its outcome."""
    await campaign(seeded, tmp_path, CUSTOMER, amd)
    customer = await run_sipp(sipp, lab_config, "-sf", scenario(customer_scenario), *sipp_args,
                              "-p", str(lab_config.trunk_port), limit=90)
    try:
        async with phone(sipp, lab_config, observer, AGENT_ENDPOINT, PHONE_PORT):
            run = await start(settings(lab_config, tmp_path), seeded)
            try:
                await until(lambda: run.agent()["registered"] is True, "the phone's registration")
                await run.acd.login(AGENT)
                attempts = await until_async(lambda: rows(seeded, "SELECT * FROM dial_attempts"), "the dial", 20)
                assert attempts[0]["number"] == CUSTOMER
                ended = await until_async(
                    lambda: rows(seeded, "SELECT * FROM dial_attempts WHERE outcome IS NOT NULL"),
                    "the attempt's outcome (dial_attempts.outcome stays NULL when the AMD channel's end is "
                    "never seen)", 45)
            finally:
                await run.shutdown()
    finally:
        await stop(customer)
    return ended[0]


@pytest.mark.parametrize("amd", [True, False], ids=["amd", "no-amd"])
@pytest.mark.parametrize(("customer_scenario", "outcome"), [
    ("trunk_answer.xml", "human"), ("trunk_busy.xml", "busy"), ("trunk_noanswer.xml", "no-answer")])
async def test_campaign_attempt_ends_with_an_outcome(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path,
        customer_scenario: str, outcome: str, amd: bool) -> None:
    """A progressive campaign's call. With AMD it is originated into ``dialer-amd`` (AMD() then Stasis):
    answered, AMD hears no audio and says NOTSURE, taken as a person and connected to the operator; busy
    and no answer, the channel never reaches Stasis and its end is only seen through the application's
    subscription to it. Without AMD it is originated into Stasis directly. Either way the attempt must be
    recorded with its outcome, an answered one with its operator, and the lead must leave ``dialing``."""
    hold = ["-recv_timeout", "8000"] if customer_scenario == "trunk_answer.xml" else []
    attempt = await one_campaign_call(sipp, lab_config, observer, seeded, tmp_path, amd, customer_scenario, hold)
    assert attempt["outcome"] == outcome and attempt["ended_at"] is not None, dict(attempt)
    if outcome == "human":
        assert attempt["agent_id"] == AGENT, dict(attempt)
    if outcome == "human" and amd:
        assert attempt["amd_status"] in ("HUMAN", "NOTSURE"), dict(attempt)
    lead = (await rows(seeded, "SELECT state, attempts FROM leads"))[0]
    assert lead["state"] != "dialing" and lead["attempts"] == 1, dict(lead)
    types = {r["type"] for r in await rows(seeded, "SELECT DISTINCT type FROM events")}
    assert {"dialer.attempt_started", "dialer.attempt_ended"} <= types
    if outcome == "human":
        assert "call.answered" in types


async def test_customer_hanging_up_during_amd_is_an_answered_abandon(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path) -> None:
    """The customer picks up and hangs up 700 ms later, while AMD() still listens to the initial silence:
    the attempt is answered (its answer time kept) and abandoned (no operator reached them), never
    ``failed`` with cause 0, and the lead leaves ``dialing``."""
    attempt = await one_campaign_call(sipp, lab_config, observer, seeded, tmp_path, True,
                                      "trunk_answer_hangup.xml")
    assert attempt["outcome"] == "abandoned" and attempt["answered_at"] is not None, dict(attempt)
    assert attempt["amd_status"] is None, dict(attempt)
    lead = (await rows(seeded, "SELECT state, attempts FROM leads"))[0]
    assert lead["state"] != "dialing" and lead["attempts"] == 1, dict(lead)
    types = {r["type"] for r in await rows(seeded, "SELECT DISTINCT type FROM events")}
    assert {"dialer.amd_started", "dialer.attempt_ended"} <= types and "call.answered" not in types


async def test_supervisor_listens_to_a_call(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path) -> None:
    """Supervisor listen: a snoop on the operator's leg and the supervisor's phone rung and bridged with
    it; nothing of the supervision left once the call ends."""
    async with phone(sipp, lab_config, observer, AGENT_ENDPOINT, PHONE_PORT), \
            phone(sipp, lab_config, observer, SUPERVISOR_ENDPOINT, SUPERVISOR_PORT):
        run = await start(settings(lab_config, tmp_path), seeded)
        caller: Proc | None = None
        try:
            await until(lambda: run.agent()["registered"] is True, "the phone's registration")
            await run.acd.login(AGENT)
            caller = await call_in(sipp, lab_config, 12000)
            await until(lambda: run.agent()["state"] == "on_call", "the operator connected")
            status, body = await run.api("POST", "/supervise", {"agent_id": AGENT, "mode": "listen",
                                                                "endpoint": f"PJSIP/{SUPERVISOR_ENDPOINT}"})
            assert status == 200, body
            leg = body["leg_id"]
            bridge = f"callcore-sup-{leg}"

            async def supervised() -> bool:
                status, b = await observer.rest("GET", f"/bridges/{bridge}")
                return status == 200 and len(b["channels"]) == 2

            await until_async(supervised, f"the supervisor's phone and the snoop in bridge {bridge} (the "
                                          "supervisor leg is refused when its id is a prefix of the snoop's)", 15)
            names = {c["id"]: c["name"] for c in await channels(observer)}
            assert leg in names and names[leg].startswith(f"PJSIP/{SUPERVISOR_ENDPOINT}-")
            assert any(n.startswith("Snoop/") for n in names.values())
            await succeeded(caller, "the caller", 30)
            caller = None

            async def cleaned() -> bool:
                left = [c["name"] for c in await channels(observer)]
                return not any(n.startswith(("Snoop/", f"PJSIP/{SUPERVISOR_ENDPOINT}-")) for n in left)

            await until_async(cleaned, "the snoop and the supervisor's leg gone after the call", 15)
        finally:
            if caller is not None:
                await stop(caller)
            await run.shutdown()


async def test_star55_session_survives_websocket_drop_and_service_restart(
        sipp: str, lab_config: LabConfig, observer: AriLab, seeded: str, tmp_path: Path) -> None:
    """The operator dials *55 (Stasis(callcore,agent-login,agent1001): the endpoint name, as the shipped
    dialplan passes it); calls are bridged into the session; the ARI websocket is cut and comes back, then
    the service is restarted: the session must stay up, the operator logged in, and calls keep coming."""
    host, _, port = lab_config.ari_url.removeprefix("http://").partition(":")
    proxy = Proxy(host, int(port or 80))
    await proxy.start()
    url = f"http://127.0.0.1:{proxy.listen_port}"
    login: Proc | None = None
    run: Running | None = None
    try:
        async with phone(sipp, lab_config, observer, AGENT_ENDPOINT, PHONE_PORT):
            run = await start(settings(lab_config, tmp_path, url), seeded)
            await until(lambda: run is not None and run.agent()["registered"] is True, "the phone's registration")
            login = await run_sipp(sipp, lab_config, "-sf", scenario("login.xml"), "-s", "*55",
                                   "-set", "user", AGENT_ENDPOINT, "-recv_timeout", "600000",
                                   "-au", AGENT_ENDPOINT, "-ap", lab_config.agent_password,
                                   "-p", str(LOGIN_PORT), local_ip=lab_config.phone_ip, limit=0)
            await until(lambda: run is not None and run.agent()["mode"] == "session"
                        and run.agent()["state"] == "available", "the *55 session logged the operator in")
            session = [c for c in await channels(observer) if c["name"].startswith(f"PJSIP/{AGENT_ENDPOINT}-")]
            assert len(session) == 1, session
            session_id = session[0]["id"]

            async def answered_call(r: Running, what: str) -> None:
                caller = await call_in(sipp, lab_config, 2000)
                try:
                    await until(lambda: r.agent()["state"] == "on_call", f"{what}: call connected to the session")
                    await succeeded(caller, f"{what}: the caller", 30)
                finally:
                    await stop(caller)
                await until(lambda: r.agent()["state"] == "available", f"{what}: operator available again")

            await answered_call(run, "before any fault")

            proxy.cut()  # the websocket (and every REST connection) drops
            ari = run.service.ari
            assert ari is not None
            await until(lambda: not ari.connected, "the service noticing the websocket drop", 10)
            await asyncio.sleep(1.0)
            proxy.restore()
            await ari.wait_connected(20)
            await asyncio.sleep(1.0)  # the reconnect snapshot is resynchronised
            status, _ = await observer.rest("GET", f"/channels/{session_id}")
            assert status == 200, "the *55 session channel was hung up after the websocket drop"
            assert run.agent()["mode"] == "session" and run.agent()["state"] == "available", run.agent()
            await answered_call(run, "after the websocket drop")

            await run.shutdown()
            run = None
            status, _ = await observer.rest("GET", f"/channels/{session_id}")
            assert status == 200, "the *55 session channel was hung up by the service's shutdown"
            run = await start(settings(lab_config, tmp_path, url), seeded)
            await asyncio.sleep(2.0)
            status, _ = await observer.rest("GET", f"/channels/{session_id}")
            assert status == 200, "the *55 session channel was hung up after the service restart"
            await until(lambda: run is not None and run.agent()["mode"] == "session"
                        and run.agent()["state"] == "available", "the session re-adopted after the restart")
            await answered_call(run, "after the restart")

            assert (await observer.rest("DELETE", f"/channels/{session_id}"))[0] == 204
            await succeeded(login, "the *55 phone", 15)
            login = None
            await until(lambda: run is not None and run.agent()["state"] == "logged_out",
                        "the operator logged out when the session ended")
    finally:
        if login is not None:
            await stop(login)
        if run is not None:
            await run.shutdown()
        await proxy.close()
    bridges = (await observer.rest("GET", "/bridges"))[1]
    assert not [b for b in bridges if str(b["id"]).startswith("callcore-agent-")], bridges
