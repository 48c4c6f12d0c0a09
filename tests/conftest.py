"""Shared fixtures.

PostgreSQL: ``pg_server`` (session) is the admin DSN of a server: ``CALLCORE_TEST_DATABASE_URL`` when set,
else the local server on 127.0.0.1:5432 (trust auth), else a private throwaway cluster started from the
machine's PostgreSQL binaries and stopped at the end of the session (``CALLCORE_TEST_DATABASE_URL=private``
forces the private cluster). ``pg_dsn`` is a fresh database
``cc_test_<hex>`` with every migration applied, dropped afterwards: a clone (``CREATE DATABASE ... TEMPLATE``)
of ``pg_template``, a database migrated once per test run; ``pg_pool`` a ``callcore.store.db.Database``
(pool of 4) on it;
``pg_empty_dsn`` a fresh database with no migrations applied.
Tests using them are marked ``postgres`` automatically. asyncpg is only imported when they run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from callcore.store.db import Database

PG_FIXTURES = {"pg_server", "pg_template", "pg_dsn", "pg_pool", "pg_empty_dsn"}


def shared_dir() -> Path:
    """``/work/shared``-style reference material: CALLCORE_SHARED_DIR or ``<repo>/../shared``."""
    env = os.environ.get("CALLCORE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    from callcore.store.pg import resolve_database

    configured = os.environ.get("CALLCORE_TEST_DATABASE_URL", "")
    private = configured == "private"
    try:
        resolved = asyncio.run(resolve_database("" if private else configured, purpose="test",
                                                try_local=not private))
    except Exception as exc:
        pytest.skip(f"no PostgreSQL available for tests: {exc}")
    try:
        yield resolved.dsn
    finally:
        asyncio.run(resolved.stop())


@asynccontextmanager
async def fresh_database(admin_dsn: str, *, template: str | None = None) -> AsyncIterator[str]:
    """A new database ``cc_test_<hex>`` on the server of ``admin_dsn`` (empty, or a copy of ``template``);
    dropped on exit."""
    import asyncpg

    from callcore.store.pg import quote_ident, with_database

    name = f"cc_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}"
                            + (f" TEMPLATE {quote_ident(template)}" if template else ""))
    finally:
        await admin.close()
    try:
        yield with_database(admin_dsn, name)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await admin.close()


@pytest.fixture
async def pg_empty_dsn(pg_server: str) -> AsyncIterator[str]:
    async with fresh_database(pg_server) as dsn:
        yield dsn


async def _migrated_template(admin_dsn: str) -> str:
    import asyncpg

    from callcore.store.migrate import migrate
    from callcore.store.pg import quote_ident, with_database

    name = f"cc_template_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await admin.close()
    await migrate(with_database(admin_dsn, name))  # closes its connection: a template must have none
    return name


async def _drop(admin_dsn: str, name: str) -> None:
    import asyncpg

    from callcore.store.pg import quote_ident

    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """Name of a database with every migration applied, created once per test run (dropped at its end);
    ``pg_dsn`` clones it. Nothing may connect to it while it is cloned."""
    name = asyncio.run(_migrated_template(pg_server))
    try:
        yield name
    finally:
        asyncio.run(_drop(pg_server, name))


@pytest.fixture
async def pg_dsn(pg_server: str, pg_template: str) -> AsyncIterator[str]:
    async with fresh_database(pg_server, template=pg_template) as dsn:
        yield dsn


@pytest.fixture
async def pg_pool(pg_dsn: str) -> AsyncIterator[Database]:
    from callcore.store.db import open_pool

    db = await open_pool(pg_dsn, 4)
    try:
        yield db
    finally:
        await db.close()
