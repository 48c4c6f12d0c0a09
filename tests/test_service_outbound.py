"""An outbound campaign run by the whole service: leads uploaded, dialled through the simulated Asterisk's
trunk, answered customers connected to an operator through the ACD, outcomes recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_service_runtime import service_settings, start, until

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.dialer.campaign import CampaignSettings, Mode
from callcore.dialer.compliance import CallingWindow
from callcore.sim import EndpointBehaviour, SimAsterisk

pytestmark = pytest.mark.postgres


def open_window() -> CallingWindow:
    now = datetime.now(UTC)
    return CallingWindow((now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
                         (now + timedelta(hours=2)).time().replace(second=0, microsecond=0))


async def prepare(dsn: str, tmp_path: Path, numbers: list[str], mode: Mode) -> None:
    from callcore.dialer.store import DialerStore
    from callcore.dialer.upload import UploadOptions, upload_leads
    from callcore.directory import store
    from callcore.store.db import open_pool
    from callcore.store.pg import connect

    pool = await open_pool(dsn, 2)
    try:
        await store.create_queue(pool, QueueConfig(name="outbound", wrapup_time=0.1, ring_timeout=5.0))
        await store.create_agent(pool, AgentConfig(id="a1", name="Ann", endpoint="PJSIP/a1",
                                                   memberships={"outbound": 0}))
        dialer = DialerStore(pool)
        await dialer.create_campaign("spring", CampaignSettings(
            caller_id="+15550000000", queue="outbound", mode=mode, window=open_window()))
        csv = tmp_path / "leads.csv"
        csv.write_text("phone,name,tz\n" + "".join(f"{n},Customer {i},UTC\n" for i, n in enumerate(numbers)),
                       encoding="utf-8")
        conn = await connect(dsn)
        try:
            report = await upload_leads(conn, "spring", csv, UploadOptions(region="US", tz_column="tz"))
        finally:
            await conn.close()
        assert report.inserted == len(numbers), report
        await dialer.change_state("spring", "start")
    finally:
        await pool.close()


async def test_progressive_campaign_connects_answered_customers_to_the_operator(
        pg_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    numbers = ["+12025550101", "+12025550102", "+12025550103"]
    await prepare(pg_dsn, tmp_path, numbers, Mode.PROGRESSIVE)
    async with SimAsterisk(seed=5, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.2, p_answer=1.0, talk_time=0.3))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.dialer is not None
            await svc.acd.login("a1")
            acd = svc.acd
            await until(lambda: acd.snapshot()["queues"]["outbound"]["answered"] >= 3,
                        "three customers connected", timeout=30)
            await until(lambda: not svc.dialer.runners["spring"].attempts, "attempts recorded", timeout=15)
        finally:
            await run.shutdown()
    conn = await asyncpg.connect(pg_dsn)
    try:
        outcomes = [r["outcome"] for r in await conn.fetch("SELECT outcome FROM dial_attempts")]
        types = {r["type"] for r in await conn.fetch("SELECT DISTINCT type FROM events")}
        answered = await conn.fetchval("SELECT count(*) FROM events WHERE type = 'call.answered' "
                                       "AND queue = 'outbound'")
    finally:
        await conn.close()
    assert sorted(outcomes) == ["human"] * 3, outcomes
    assert answered == 3
    assert {"dialer.connected", "call.answered"} <= types
    assert "dialer.abandoned" not in types  # progressive: one call per free operator, never abandoned


async def test_no_free_operator_within_grace_is_abandoned_to_safe_harbour(pg_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    await prepare(pg_dsn, tmp_path, ["+12025550111"], Mode.PROGRESSIVE)
    async with SimAsterisk(seed=6, agents=["PJSIP/a1"]) as sim:
        # the operator's phone never answers: the customer cannot be connected within 2 s
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=0.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.1, p_answer=1.0, talk_time=5.0))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.dialer is not None
            await svc.acd.login("a1")
            await until(lambda: "spring" in svc.dialer.runners and bool(svc.dialer.runners["spring"].attempts),
                        "dialled", timeout=15)
            await until(lambda: not svc.dialer.runners["spring"].attempts, "attempt ended", timeout=20)
            await asyncio.sleep(0.2)
        finally:
            await run.shutdown()
    conn = await asyncpg.connect(pg_dsn)
    try:
        row = await conn.fetchrow("SELECT outcome, abandoned FROM dial_attempts")
        types = {r["type"] for r in await conn.fetch("SELECT DISTINCT type FROM events")}
    finally:
        await conn.close()
    assert row is not None and row["abandoned"] is True, row
    assert "dialer.abandoned" in types


async def test_preview_operator_sees_the_lead_then_presses_call(pg_dsn: str, tmp_path: Path) -> None:
    import aiohttp
    import asyncpg

    await prepare(pg_dsn, tmp_path, ["+12025550121", "+12025550122"], Mode.PREVIEW)
    async with SimAsterisk(seed=7, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.2, p_answer=1.0, talk_time=0.5))
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        base = f"http://127.0.0.1:{svc.http_port}/api/v1/agents/a1"
        auth = {"Authorization": "Bearer test-admin-token"}
        try:
            assert svc.acd is not None and svc.dialer is not None
            await svc.acd.login("a1")
            await until(lambda: "spring" in svc.dialer.runners, "campaign running")
            async with aiohttp.ClientSession(headers=auth) as http:
                async with http.post(f"{base}/preview/next", json={"campaign": "spring"}) as r:
                    assert r.status == 200, await r.text()
                    lead = (await r.json())["lead"]
                assert lead["phone"] in ("+12025550121", "+12025550122") and lead["name"].startswith("Customer")
                async with http.post(f"{base}/preview/call", json={"campaign": "spring", "lead_id": "x"}) as r:
                    assert r.status in (400, 422) and (await r.json())["field"] == "lead_id"
                async with http.post(f"{base}/preview/call",
                                     json={"campaign": "spring", "lead_id": lead["lead_id"]}) as r:
                    assert r.status == 200, await r.text()
                    attempt = (await r.json())["attempt_id"]
                acd = svc.acd
                await until(lambda: acd.agent_state("a1")["state"] == "on_call", "customer connected to a1")
                async with http.get(f"{base}/call") as r:
                    call = (await r.json())["call"]
                assert call["call_id"] == attempt and call["data"]["lead_id"] == lead["lead_id"]
            await until(lambda: not svc.dialer.runners["spring"].attempts, "attempt recorded", timeout=15)
        finally:
            await run.shutdown()
    conn = await asyncpg.connect(pg_dsn)
    try:
        row = await conn.fetchrow("SELECT outcome, agent_id FROM dial_attempts WHERE id = $1", attempt)
    finally:
        await conn.close()
    assert row is not None and row["outcome"] == "human" and row["agent_id"] == "a1", row
