"""AMD campaigns run by the whole service against the simulated Asterisk: the call is originated into the
app (``amd-dial``) and continued into ``dialer-amd`` once answered, so a person is connected to the operator,
a machine is hung up, and a busy customer's end (the channel never reaches Stasis) is recorded as busy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_service_outbound import prepare
from test_service_runtime import service_settings, start, until

from callcore.dialer.campaign import Mode
from callcore.sim import EndpointBehaviour, SimAsterisk

pytestmark = pytest.mark.postgres


async def make_amd(dsn: str) -> None:
    from callcore.store.pg import create_pool

    pool = await create_pool(dsn, 1)
    try:
        await pool.execute("UPDATE campaigns SET settings = jsonb_set(settings::jsonb, '{amd}', 'true')")
    finally:
        await pool.close()


@pytest.mark.parametrize(("behaviour", "outcome"), [
    (EndpointBehaviour(answer_delay=0.1, p_answer=1.0, talk_time=0.5, amd_delay=0.3), "human"),
    (EndpointBehaviour(answer_delay=0.1, p_answer=1.0, p_machine=1.0, talk_time=5.0, amd_delay=0.3), "machine"),
    (EndpointBehaviour(p_busy=1.0, reject_delay=0.0), "busy"),
])
async def test_amd_campaign_call_ends_with_its_outcome(pg_dsn: str, tmp_path: Path, behaviour: EndpointBehaviour,
                                                       outcome: str) -> None:
    import asyncpg

    await prepare(pg_dsn, tmp_path, ["+12025550131"], Mode.PROGRESSIVE)
    await make_amd(pg_dsn)
    async with SimAsterisk(seed=8, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", behaviour)
        run = await start(service_settings(sim, tmp_path), pg_dsn)
        svc = run.service
        try:
            assert svc.acd is not None and svc.dialer is not None
            await svc.acd.login("a1")
            await until(lambda: "spring" in svc.dialer.runners and svc.dialer.runners["spring"].settings.amd,
                        "AMD campaign running", timeout=15)
            conn = await asyncpg.connect(pg_dsn)
            try:
                async def ended() -> bool:
                    return bool(await conn.fetchval("SELECT count(*) FROM dial_attempts WHERE outcome IS NOT NULL"))
                for _ in range(300):
                    if await ended():
                        break
                    await asyncio.sleep(0.05)
                row = await conn.fetchrow("SELECT * FROM dial_attempts")
            finally:
                await conn.close()
        finally:
            await run.shutdown()
    assert row is not None and row["outcome"] == outcome, dict(row) if row else None
    if outcome == "human":
        assert row["amd_status"] == "HUMAN" and row["agent_id"] == "a1", dict(row)
    if outcome == "busy":
        assert row["q850_cause"] == 17, dict(row)
