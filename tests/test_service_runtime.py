"""The whole service (ARI, ACD, journal, projector, HTTP) against the simulated Asterisk and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pgproxy import Proxy

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.config import Secret, Settings, load_settings
from callcore.service.app import Service
from callcore.sim import EndpointBehaviour, SimAsterisk

pytestmark = pytest.mark.postgres


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def seed(dsn: str) -> None:
    from callcore.directory import store
    from callcore.store.db import open_pool

    pool = await open_pool(dsn, 1)
    try:
        await store.create_queue(pool, QueueConfig(name="sales", wrapup_time=0.2, ring_timeout=5.0))
        await store.create_agent(pool, AgentConfig(id="a1", name="Ann", endpoint="PJSIP/a1",
                                                   memberships={"sales": 0}))
    finally:
        await pool.close()


def service_settings(sim: SimAsterisk, tmp_path: Path) -> Settings:
    return load_settings({}).replace(
        ari_url=sim.ari_url, http_port=0, agi_port=0, journal_spill_dir=str(tmp_path / "spill"),
        journal_flush_interval=0.05, api_tokens=Secret("test-admin-token=admin:test"))


class Running:
    def __init__(self, service: Service, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.service, self.task, self.stop = service, task, stop

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 20)


async def start(settings: Settings, dsn: str) -> Running:
    service = Service(settings, dsn=dsn)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop), name="service-under-test")
    waiter = asyncio.create_task(service.started.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    assert waiter in done, "service did not start"
    assert service.ari is not None
    await service.ari.wait_connected(10)
    return Running(service, task, stop)


def scraped(text: str, sample: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent; metrics are per process)."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(seed=3, agents=["PJSIP/a1"]) as s:
        s.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        yield s


async def http_get(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer test-admin-token"}) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else await r.text())


async def test_inbound_call_is_routed_journaled_and_projected(sim: SimAsterisk, pg_dsn: str,
                                                              tmp_path: Path) -> None:
    import asyncpg

    await seed(pg_dsn)
    run = await start(service_settings(sim, tmp_path), pg_dsn)
    svc = run.service
    assert svc.acd is not None and svc.http_port is not None
    try:
        status, ready = await http_get(svc.http_port, "/readyz")
        assert status == 200 and ready["ready"] is True
        await svc.acd.login("a1")
        _, text = await http_get(svc.http_port, "/metrics")
        before = scraped(text, 'callcore_queue_calls_answered_total{queue="sales"}')
        caller = await sim.inject_call(queue="sales", caller_number="+15551230001", caller_name="Bob")
        await until(lambda: sim.counters.get("calls_bridged", 0) == 1, "the caller bridged to the agent")
        _, snap = await http_get(svc.http_port, "/api/v1/snapshot")
        assert snap["agents"]["a1"]["state"] == "on_call"
        _, text = await http_get(svc.http_port, "/metrics")
        assert scraped(text, 'callcore_queue_calls_answered_total{queue="sales"}') == before + 1
        await sim.hangup(caller)
        await until(lambda: svc.acd is not None and svc.acd.agent_state("a1")["state"] == "available",
                    "wrap-up over")
    finally:
        await run.shutdown()
    conn = await asyncpg.connect(pg_dsn)
    try:
        types = {r["type"] for r in await conn.fetch("SELECT DISTINCT type FROM events")}
        call = await conn.fetchrow("SELECT * FROM calls WHERE call_id = $1", caller)
        state = await conn.fetchval("SELECT state FROM agent_state WHERE agent_id = 'a1'")
    finally:
        await conn.close()
    assert {"call.queued", "call.offered", "call.answered", "call.ended", "agent.state",
            "ari.StasisStart", "ari.ChannelEnteredBridge", "service.started"} <= types
    assert call is not None and call["agent_id"] == "a1" and call["answered_at"] is not None
    assert call["outcome"] == "answered" and call["ended_at"] is not None
    assert state == "available"


async def test_calls_keep_flowing_while_the_database_is_down(sim: SimAsterisk, pg_dsn: str,
                                                             tmp_path: Path) -> None:
    import asyncpg

    await seed(pg_dsn)
    parts = pg_dsn.split("@", 1)[1].split("/", 1)[0]
    host, _, port = parts.partition(":")
    proxy = Proxy(host, int(port or 5432))
    await proxy.start()
    run = await start(service_settings(sim, tmp_path), proxy.dsn(pg_dsn))
    svc = run.service
    assert svc.acd is not None and svc.http_port is not None and svc.journal is not None
    try:
        await svc.acd.login("a1")
        proxy.cut()
        callers = []
        for n in range(3):
            callers.append(await sim.inject_call(queue="sales", caller_number=f"+1555123000{n}"))
            await until(functools.partial(lambda k: sim.counters.get("calls_bridged", 0) == k + 1, n),
                        f"call {n} bridged")
            await sim.hangup(callers[-1])
            await until(lambda: svc.acd is not None and svc.acd.agent_state("a1")["state"] == "available",
                        "agent available again")
        status, ready = await http_get(svc.http_port, "/readyz")
        assert ready["checks"]["database_reachable"] is False
        assert status == 200, ready  # the journal holds the events: the service still serves calls
        proxy.restore()
        await until(lambda: svc.journal is not None and svc.journal.health()["db_ok"]
                    and svc.journal.health()["buffered"] == 0, "journal caught up", timeout=20)
        await until(lambda: svc.sink is not None and svc.sink.pending == 0, "tables caught up", timeout=20)
    finally:
        await run.shutdown()
        await proxy.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        answered = await conn.fetchval("SELECT count(*) FROM events WHERE type = 'call.answered'")
        dupes = await conn.fetchval("SELECT count(*) - count(DISTINCT event_key) FROM events")
        rows = await conn.fetchval("SELECT count(*) FROM calls WHERE answered_at IS NOT NULL")
    finally:
        await conn.close()
    assert answered == 3 and dupes == 0 and rows == 3


async def test_restart_while_database_is_down_routes_with_cached_configuration(
        sim: SimAsterisk, pg_dsn: str, tmp_path: Path) -> None:
    await seed(pg_dsn)
    parts = pg_dsn.split("@", 1)[1].split("/", 1)[0]
    host, _, port = parts.partition(":")
    proxy = Proxy(host, int(port or 5432))
    await proxy.start()
    settings = service_settings(sim, tmp_path)
    try:
        first = await start(settings, proxy.dsn(pg_dsn))
        await first.shutdown()
        proxy.cut()
        second = await start(settings, proxy.dsn(pg_dsn))
        try:
            acd = second.service.acd
            assert acd is not None and "sales" in acd.snapshot()["queues"]
            await acd.login("a1")
            await sim.inject_call(queue="sales", caller_number="+15551239999")
            await until(lambda: sim.counters.get("calls_bridged", 0) == 1, "bridged with cached config")
        finally:
            await second.shutdown()
    finally:
        await proxy.close()
    assert list((tmp_path / "spill").glob("*")), "events taken while PostgreSQL was down were spilled"


async def test_agent_whose_phone_is_unregistered_is_not_offered_calls(sim: SimAsterisk, pg_dsn: str,
                                                                      tmp_path: Path) -> None:
    from callcore.sim.ami import SimAmi

    await seed(pg_dsn)
    ami = SimAmi(endpoints=["a1"])
    await ami.start()
    ami.set_registered("a1", False)
    settings = service_settings(sim, tmp_path).replace(
        ami_enabled=True, ami_port=ami.port, ami_ping_interval=0.5)
    run = await start(settings, pg_dsn)
    svc = run.service
    try:
        acd = svc.acd
        assert acd is not None
        await acd.login("a1")
        await until(lambda: svc.ami is not None and svc.ami.registered("a1") is False, "AMI sees the phone")
        await until(lambda: acd.agent_state("a1")["registered"] is False, "ACD knows the phone is unregistered")
        await sim.inject_call(queue="sales", caller_number="+15551230042")
        await asyncio.sleep(0.5)
        assert sim.counters.get("channels_originated", 0) == 0, "an unregistered phone must not be rung"
        ami.set_registered("a1", True)
        await until(lambda: sim.counters.get("calls_bridged", 0) == 1, "offered once the phone registered")
        _, ready = await http_get(svc.http_port or 0, "/readyz")
        assert ready["checks"]["ami"]["connected"] is True
    finally:
        await run.shutdown()
        await ami.stop()


async def test_queue_and_agent_created_over_the_api_route_calls_without_a_restart(
        sim: SimAsterisk, pg_dsn: str, tmp_path: Path) -> None:
    await seed(pg_dsn)
    sim.set_endpoint("PJSIP/b2", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
    run = await start(service_settings(sim, tmp_path), pg_dsn)
    svc = run.service
    acd = svc.acd
    assert acd is not None and svc.http_port is not None
    base = f"http://127.0.0.1:{svc.http_port}/api/v1"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-admin-token"}) as http:
            async with http.post(f"{base}/queues", json={"name": "billing", "wrapup_time": 0.1}) as r:
                assert r.status in (200, 201), await r.text()
            async with http.post(f"{base}/agents", json={"id": "b2", "name": "Bea", "endpoint": "PJSIP/b2",
                                                         "memberships": {"billing": 0}}) as r:
                assert r.status in (200, 201), await r.text()
            async with http.post(f"{base}/queues", json={"name": "bad", "strategy": "loudest"}) as r:
                assert r.status in (400, 422) and (await r.json())["field"] == "strategy"
        await until(lambda: "billing" in acd.snapshot()["queues"] and "b2" in acd.snapshot()["agents"],
                    "the running ACD reloaded (LISTEN/NOTIFY)")
        await acd.login("b2")
        await sim.inject_call(queue="billing", caller_number="+15551230077")
        await until(lambda: acd.agent_state("b2")["state"] == "on_call", "billing call connected to b2")
    finally:
        await run.shutdown()


async def test_agent_update_endpoint_from_the_cli_reaches_the_live_agent(
        sim: SimAsterisk, pg_dsn: str, tmp_path: Path) -> None:
    import io

    import asyncpg

    from callcore.directory.cli import agent_main

    await seed(pg_dsn)
    sim.set_endpoint("PJSIP/a1-desk", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
    run = await start(service_settings(sim, tmp_path), pg_dsn)
    svc = run.service
    acd = svc.acd
    assert acd is not None
    try:
        await acd.login("a1")

        async def runner(action: Callable[[Any], Any]) -> None:
            conn = await asyncpg.connect(pg_dsn)
            try:
                await action(conn)
            finally:
                await conn.close()

        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(agent_main, ["update", "a1", "--endpoint", "PJSIP/a1-desk"], out=out,
                                       err=err, runner=runner)
        assert code == 0, err.getvalue()
        await until(lambda: acd.agent_state("a1").get("endpoint") == "PJSIP/a1-desk",
                    "the logged-in agent took the new endpoint (LISTEN/NOTIFY)")
        await sim.inject_call(queue="sales", caller_number="+15551230099")
        await until(lambda: acd.agent_state("a1")["state"] == "on_call", "the call rang the new endpoint")
    finally:
        await run.shutdown()
