from __future__ import annotations

from typing import Any

from callcore.store.migrate import discover


async def test_pg_dsn_has_every_migration_applied(pg_pool: Any) -> None:
    versions = [r["version"] for r in await pg_pool.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in discover()]
    assert await pg_pool.fetchval("SELECT to_regclass('events') IS NOT NULL")


async def test_pool_decodes_jsonb_to_python(pg_pool: Any) -> None:
    value = await pg_pool.fetchval("SELECT $1::jsonb", {"a": [1, "x", None]})
    assert value == {"a": [1, "x", None]}
