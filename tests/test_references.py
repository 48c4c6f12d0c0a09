"""References to queues that do not exist are refused where they are made, and `callcore doctor` lists the
ones already stored."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import pytest

from callcore.acd.core.model import Overflow, QueueConfig
from callcore.directory import store
from callcore.directory.references import dangling
from callcore.errors import InputError

pytestmark = pytest.mark.postgres


def runner(dsn: str) -> Callable[[Callable[[Any], Awaitable[None]]], Coroutine[Any, Any, None]]:
    async def run(action: Callable[[Any], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await action(conn)
        finally:
            await conn.close()

    return run


async def test_queue_overflow_to_a_missing_queue_is_refused(pg_pool: Any) -> None:
    with pytest.raises(InputError) as exc:
        await store.create_queue(pg_pool, QueueConfig("sales", overflow=Overflow("queue", "nowhere")))
    assert exc.value.field == "overflow" and "'nowhere' does not exist" in exc.value.problem
    await store.create_queue(pg_pool, QueueConfig("support"))
    await store.create_queue(pg_pool, QueueConfig("sales", overflow=Overflow("queue", "support")))
    with pytest.raises(InputError):
        await store.update_queue(pg_pool, "sales", {"overflow": "queue:gone"})
    assert (await store.get_queue(pg_pool, "sales")).overflow == Overflow("queue", "support")


def test_campaign_and_did_route_on_a_missing_queue_are_refused(pg_dsn: str) -> None:
    from callcore.agi.cli import route_main
    from callcore.dialer.cli import campaign_main

    err = io.StringIO()
    code = campaign_main(["create", "spring", "--queue", "nowhere", "--caller-id", "+74950000000"],
                         out=io.StringIO(), err=err, runner=runner(pg_dsn))
    assert code == 2 and "--queue" in err.getvalue() and "'nowhere' does not exist" in err.getvalue()
    err = io.StringIO()
    code = route_main(["did", "add", "+74951234567", "--queue", "nowhere"], out=io.StringIO(), err=err,
                      runner=runner(pg_dsn))
    assert code == 2 and "'nowhere' does not exist" in err.getvalue()


async def test_doctor_lists_dangling_references(pg_pool: Any, pg_dsn: str) -> None:
    await pg_pool.execute("INSERT INTO queues (name, overflow) VALUES ('sales', 'queue:gone')")
    await pg_pool.execute("INSERT INTO campaigns (name, mode, queue) VALUES ('spring', 'predictive', 'old')")
    await pg_pool.execute("INSERT INTO did_routes (did, queue) VALUES ('+74951234567', 'lost')")
    found = {(d.kind, d.owner, d.missing) for d in await dangling(pg_pool)}
    assert found == {("queue overflow", "sales", "gone"), ("campaign", "spring", "old"),
                     ("DID route", "+74951234567", "lost")}

    from callcore.config import Secret, load_settings
    from callcore.doctor import check_database

    checks = await check_database(load_settings({}).replace(database_url=Secret(pg_dsn)))
    refs = [c for c in checks if c.name == "References"]
    assert len(refs) == 3 and all(c.status == "fail" for c in refs)
    assert any("queue overflow 'sales' names queue 'gone'" in c.detail for c in refs)
