"""Database fixtures of the directory/http/report tests.

``dir_dsn`` uses the shared ``pg_dsn`` fixture when the suite provides one; otherwise it creates a
private database on the local server (CALLCORE_TEST_PG, default postgresql://postgres@127.0.0.1:5432/postgres),
applies ``sql/migrations`` and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

MIGRATIONS = Path(__file__).resolve().parents[1] / "sql" / "migrations"
ADMIN_DSN = os.environ.get("CALLCORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

EVENTS_FALLBACK = """
CREATE TABLE IF NOT EXISTS events (
    id bigserial PRIMARY KEY, ts timestamptz NOT NULL, type text NOT NULL, call_id text, channel_id text,
    agent_id text, queue text, campaign_id text, payload jsonb NOT NULL DEFAULT '{}'::jsonb)
"""


async def _create(name: str) -> str:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(dsn)
    try:
        for path in sorted(MIGRATIONS.glob("*.sql")):
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute(EVENTS_FALLBACK)
    finally:
        await conn.close()
    return dsn


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def dir_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    try:
        yield str(request.getfixturevalue("pg_dsn"))
        return
    except pytest.FixtureLookupError:
        pass
    name = f"callcore_dirtest_{uuid.uuid4().hex[:12]}"
    try:
        dsn = asyncio.run(_create(name))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_DSN}: {exc}")
    try:
        yield dsn
    finally:
        asyncio.run(_drop(name))


@pytest.fixture
async def dir_pool(dir_dsn: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(dir_dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
