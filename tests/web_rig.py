"""A running service (simulated Asterisk, PostgreSQL, HTTP) seeded for the desktop and wallboard tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from test_service_runtime import Running, service_settings, start

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.sim import EndpointBehaviour, SimAsterisk

AGENT_PASSWORD = "operator-pass-1"
SUPERVISOR_PASSWORD = "supervisor-pass-1"
CALLER = "+15551230001"
SCRIPT = ("[greeting]\nHello {caller_name}, thank you for calling Acme support. My name is {agent_name}.\n"
          "[questions]\nMay I have your contract number, please?\nWhat happened, and since when?\n"
          "[answers]\nRefunds take up to 5 working days.\n"
          "[closing]\nIs there anything else I can help with? Thank you for calling, {caller_name}.\n"
          "[difficult]\nI understand you are upset; I am here to solve this with you.\n"
          "I will make sure this is escalated today.")


@dataclass
class Rig:
    sim: SimAsterisk
    run: Running
    dsn: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.run.service.http_port}"


async def seed(dsn: str, extra_agents: int = 0) -> None:
    from callcore.directory import records, store
    from callcore.store.db import open_pool
    from callcore.web import accounts
    from callcore.web import records as web_records

    pool = await open_pool(dsn, 2)
    try:
        await store.create_queue(pool, QueueConfig(name="support", wrapup_time=30.0, ring_timeout=8.0,
                                                   script=SCRIPT, dispositions=("solved", "escalated", "callback")))
        await store.create_queue(pool, QueueConfig(name="billing", wrapup_time=1.0))
        await store.create_queue(pool, QueueConfig(name="outbound", wrapup_time=30.0,
                                                   dispositions=("renewed", "not-interested")))
        await store.create_agent(pool, AgentConfig(id="2001", name="Anna Petrova", endpoint="PJSIP/2001",
                                                   memberships={"support": 0, "outbound": 5}))
        await store.create_agent(pool, AgentConfig(id="2002", name="Boris Ivanov", endpoint="PJSIP/2002",
                                                   memberships={"support": 0, "billing": 0}))
        await accounts.set_password(pool, "2001", "agent", AGENT_PASSWORD)
        await accounts.set_password(pool, "2002", "agent", AGENT_PASSWORD)
        await accounts.set_password(pool, "lead", "supervisor", SUPERVISOR_PASSWORD, endpoint="PJSIP/sup1")
        await web_records.save_department(pool, {"project": "support", "name": "Billing", "phone": "+15550100200",
                                                 "hours": "Mon-Fri 9-18", "transfer_queue": "billing"})
        await web_records.save_department(pool, {"name": "Legal", "phone": "+15550100300", "hours": "Mon-Fri 10-17"})
        # an earlier call of the same caller, with a disposition and a ticket still open
        await pool.execute(
            "INSERT INTO calls (call_id, queue, caller_number, caller_name, entered_at, answered_at, ended_at, "
            "agent_id, outcome, disposition_code, disposition_notes) VALUES ('old-1', 'support', $1, 'Ivan Smirnov', "
            "now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', '2002', 'answered', "
            "'escalated', 'Refund promised')", CALLER)
        await records.create_ticket(pool, agent_id="2002", type="complaint", text="Charged twice in March",
                                    call_id="old-1", caller_number=CALLER)
        await _campaign(dsn, pool)
        names = ("Ivanova", "Smirnov", "Kuznetsova", "Popov", "Vasilieva", "Petrov", "Sokolova", "Mikhailov")
        for n in range(extra_agents):
            queue = "support" if n % 2 == 0 else "billing"
            await store.create_agent(pool, AgentConfig(id=str(3000 + n), name=f"{names[n % 8]} {n // 8 + 1}",
                                                       endpoint=f"PJSIP/{3000 + n}", memberships={queue: 0}))
    finally:
        await pool.close()


async def _campaign(dsn: str, pool: Any) -> None:
    """A preview campaign on queue outbound with two leads (preview campaigns dial only when asked)."""
    import tempfile
    from datetime import time

    from callcore.dialer.campaign import CampaignSettings, Mode
    from callcore.dialer.compliance import CallingWindow
    from callcore.dialer.store import DialerStore
    from callcore.dialer.upload import UploadOptions, upload_leads
    from callcore.store.pg import connect

    window = CallingWindow(time(0, 0), time(23, 59))  # any local time: the tests run at any hour
    dialer = DialerStore(pool)
    await dialer.create_campaign("renewals", CampaignSettings(
        caller_id="+15550000000", queue="outbound", mode=Mode.PREVIEW, window=window,
        script="Good afternoon {name}, this is {agent_name} from Acme about renewing your {plan} plan."))
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "leads.csv"
        csv.write_text("phone,name,plan,tz\n+12025550141,Olga Sidorova,Gold,UTC\n", encoding="utf-8")
        conn = await connect(dsn)
        try:
            await upload_leads(conn, "renewals", csv, UploadOptions(region="US", tz_column="tz"))
        finally:
            await conn.close()
    await dialer.change_state("renewals", "start")


@asynccontextmanager
async def running(dsn: str, tmp_path: Path, *, extra_agents: int = 0) -> AsyncIterator[Rig]:
    await seed(dsn, extra_agents)
    async with SimAsterisk(seed=11, agents=["PJSIP/2001", "PJSIP/2002", "PJSIP/sup1"]) as sim:
        for ep in ("PJSIP/2001", "PJSIP/2002", "PJSIP/sup1"):
            sim.set_endpoint(ep, EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(answer_delay=0.3, p_answer=1.0, talk_time=60.0))
        run = await start(service_settings(sim, tmp_path), dsn)
        try:
            yield Rig(sim, run, dsn)
        finally:
            await run.shutdown()
