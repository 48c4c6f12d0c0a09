"""``callcore campaign archive`` and ``campaign delete`` against PostgreSQL: archiving stops dialing and keeps
history; deleting is refused while calls are in progress and, without --force, once there is history."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callcore.dialer.campaign import CampaignSettings
from callcore.dialer.cli import campaign_main
from callcore.dialer.store import DialerStore
from callcore.dialer.upload import UploadOptions, upload_leads
from callcore.errors import Conflict

pytestmark = pytest.mark.postgres


def _runner(dsn: str) -> Any:
    async def runner(action: Any) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await action(conn)
        finally:
            await conn.close()
    return runner


async def cli(dsn: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(campaign_main, list(argv), runner=_runner(dsn), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def _campaign(conn: Any, name: str, phones: list[str]) -> int:
    store = DialerStore(conn)
    c = await store.create_campaign(name, CampaignSettings(caller_id="+74950000000", queue="sales"))
    for p in phones:
        await conn.execute("INSERT INTO leads (campaign_id, phone_e164) VALUES ($1, $2)", c.id, p)
    return c.id


async def test_archive_stops_dialing_keeps_history_and_cancels_pending_callbacks(pg_dsn: str,
                                                                                   tmp_path: Path) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("INSERT INTO queues (name) VALUES ('sales')")
        cid = await _campaign(conn, "spring", ["+79161234567", "+79161234568"])
        store = DialerStore(conn)
        await store.change_state("spring", "start")
        lead = await conn.fetchval("SELECT id FROM leads WHERE phone_e164 = '+79161234567'")
        now = time.time()
        await store.start_attempt("att-1", lead, cid, "+79161234567", "i1", now - 60)
        await store.finish_attempt("att-1", outcome="busy", ended_at=now - 50)
        await store.add_callback(due_at=now + 3600, lead_id=lead, campaign_id=cid, note="later")
        await conn.execute("INSERT INTO dnc (phone_e164) VALUES ('+79161234568')")

        code, out, err = await cli(pg_dsn, "archive", "spring")
        assert code == 0, err
        assert "archived (was running)" in out and "1 pending callbacks cancelled" in out
        assert "2 leads not yet done" in out
        assert [c.name for c in await store.running_campaigns()] == []
        assert await conn.fetchval("SELECT state FROM callbacks") == "cancelled"
        assert await conn.fetchval("SELECT count(*) FROM leads WHERE campaign_id = $1", cid) == 2
        assert await conn.fetchval("SELECT archived_at IS NOT NULL FROM campaigns WHERE id = $1", cid)

        code, _, err = await cli(pg_dsn, "start", "spring")
        assert code == 1 and "archived" in err and "never dialled again" in err
        code, _, err = await cli(pg_dsn, "archive", "spring")
        assert code == 1 and "already archived" in err
        code, out, err = await cli(pg_dsn, "report", "spring")
        assert code == 0 and "campaign spring (archived)" in out and "busy: 1" in out, err

        p = tmp_path / "more.csv"
        p.write_text("phone\n+79161230000\n")
        with pytest.raises(Conflict, match="archived"):
            await upload_leads(conn, "spring", p, UploadOptions(workers=0))
        assert await conn.fetchval("SELECT count(*) FROM leads WHERE campaign_id = $1", cid) == 2
        assert await conn.fetchval("SELECT count(*) FROM dnc") == 1
    finally:
        await conn.close()


async def test_delete_is_refused_while_running_or_calling_and_needs_force_with_history(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("INSERT INTO queues (name) VALUES ('sales')")
        store = DialerStore(conn)
        cid = await _campaign(conn, "spring", ["+79161234567", "+79161234568"])
        await conn.execute("INSERT INTO dnc (phone_e164) VALUES ('+79161234568')")
        lead = await conn.fetchval("SELECT id FROM leads WHERE phone_e164 = '+79161234567'")
        await store.change_state("spring", "start")

        code, _, err = await cli(pg_dsn, "delete", "spring", "--force")
        assert code == 1 and "is running: stop it first" in err

        await store.change_state("spring", "stop")
        await conn.execute("UPDATE leads SET state = 'dialing', claimed_by = 'i1' WHERE id = $1", lead)
        await store.start_attempt("att-1", lead, cid, "+79161234567", "i1", time.time())
        code, _, err = await cli(pg_dsn, "delete", "spring", "--force")
        assert code == 1 and "1 calls in progress" in err
        assert await conn.fetchval("SELECT count(*) FROM campaigns") == 1

        await store.finish_attempt("att-1", outcome="no-answer", ended_at=time.time())
        await conn.execute("UPDATE leads SET state = 'scheduled', claimed_by = NULL WHERE id = $1", lead)
        await store.add_callback(due_at=time.time() + 60, lead_id=lead, campaign_id=cid)
        code, _, err = await cli(pg_dsn, "delete", "spring")
        assert code == 1 and "has history (1 dial attempts, 2 leads)" in err
        assert "callcore campaign archive spring" in err and "--force" in err

        code, out, err = await cli(pg_dsn, "delete", "spring", "--force")
        assert code == 0, err
        assert "deleted with 2 leads, 1 dial attempts, 0 uploads and 1 callbacks" in out
        assert "do-not-call list is unchanged" in out
        for table in ("campaigns", "leads", "dial_attempts", "callbacks"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        assert await conn.fetchval("SELECT count(*) FROM dnc") == 1

        # leads but no dial attempt yet: no history, no --force needed; an archived campaign can go too
        await _campaign(conn, "autumn", ["+79161234567"])
        await store.archive_campaign("autumn")
        code, out, err = await cli(pg_dsn, "delete", "autumn")
        assert code == 0 and "deleted with 1 leads, 0 dial attempts" in out, err
        code, _, err = await cli(pg_dsn, "delete", "autumn")
        assert code == 1 and "does not exist" in err
    finally:
        await conn.close()
