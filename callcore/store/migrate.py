"""Schema migrations: ``sql/migrations/NNNN_name.sql`` applied in order, each in its own transaction.

The runner holds a PostgreSQL advisory lock while it works, so several instances starting at once are safe:
the first applies, the others wait and then find nothing left to do. Every applied migration is recorded in
``schema_migrations`` (version, name, sha256 checksum, applied_at). A migration that was applied and whose
file changed since is refused, as are gaps and duplicate numbers.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from callcore.errors import CallcoreError, MigrationError
from callcore.store.sqlfiles import migrations_dir

if TYPE_CHECKING:
    import asyncpg

    from callcore.config import Settings

log = structlog.get_logger(__name__)

# Arbitrary, fixed 64-bit key shared by every callcore instance ("callcore" in ASCII, as a number).
ADVISORY_LOCK_KEY = 0x63616C6C636F7265
FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str

    @property
    def label(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class MigrationState:
    version: int
    name: str
    state: str  # "applied", "pending" or "changed"
    applied_at: datetime | None


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """Migrations in ``directory`` (default: ``migrations_dir()/migrations``), ordered and validated."""
    directory = directory or migrations_dir() / "migrations"
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        m = FILE_NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path}: migration files must be named NNNN_name.sql (lower case)")
        version = int(m["version"])
        if version in found:
            raise MigrationError(f"duplicate migration number {version:04d}: {found[version].path.name} "
                                 f"and {path.name}")
        data = path.read_bytes()
        try:
            sql = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MigrationError(f"{path}: not UTF-8 ({exc})") from None
        found[version] = Migration(version, m["name"], path, sql, checksum(data))
    ordered = [found[v] for v in sorted(found)]
    for expected, mig in enumerate(ordered, start=1):
        if mig.version != expected:
            raise MigrationError(f"missing migration number {expected:04d} (next file is {mig.path.name})")
    return ordered


@asynccontextmanager
async def _connection(conn_or_dsn: asyncpg.Connection | str) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn_or_dsn, str):
        from callcore.store.db import translate
        from callcore.store.pg import connect

        try:
            conn = await connect(conn_or_dsn)
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise type(mapped)(f"cannot connect to PostgreSQL: {mapped}") from exc
        try:
            yield conn
        finally:
            await conn.close()
    else:
        yield conn_or_dsn


async def _applied(conn: asyncpg.Connection) -> dict[int, Any]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name, checksum, applied_at FROM schema_migrations")
    return {r["version"]: r for r in rows}


def _check_applied(applied: dict[int, Any], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    for version in sorted(applied):
        row = applied[version]
        mig = by_version.get(version)
        if mig is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{row['name']} which is not among the files "
                "(is this an older callcore than the one that migrated the database?)")
        if row["checksum"] != mig.checksum:
            raise MigrationError(
                f"migration {mig.path} was changed after it was applied: recorded checksum "
                f"{row['checksum']}, file checksum {mig.checksum}; add a new migration instead")


async def migrate(conn_or_dsn: asyncpg.Connection | str, *, directory: Path | None = None) -> list[str]:
    """Apply every pending migration; return the file names applied (empty when up to date)."""
    known = discover(directory)
    done: list[str] = []
    async with _connection(conn_or_dsn) as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
        try:
            await conn.execute(CREATE_TABLE)
            applied = await _applied(conn)
            _check_applied(applied, known)
            for mig in known:
                if mig.version in applied:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(mig.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                            mig.version, mig.name, mig.checksum)
                except Exception as exc:
                    if isinstance(exc, MigrationError):
                        raise
                    raise MigrationError(f"migration {mig.path.name} failed: {exc}") from exc
                log.info("migration_applied", version=mig.version, name=mig.name)
                done.append(mig.label)
        finally:
            if not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    return done


async def status(conn_or_dsn: asyncpg.Connection | str, *,
                 directory: Path | None = None) -> list[MigrationState]:
    """State of every known migration, plus applied ones no file matches (state ``"unknown"``)."""
    known = discover(directory)
    async with _connection(conn_or_dsn) as conn:
        applied = await _applied(conn)
    out: list[MigrationState] = []
    for mig in known:
        row = applied.pop(mig.version, None)
        if row is None:
            out.append(MigrationState(mig.version, mig.name, "pending", None))
        else:
            state = "applied" if row["checksum"] == mig.checksum else "changed"
            out.append(MigrationState(mig.version, mig.name, state, row["applied_at"]))
    for version, row in sorted(applied.items()):
        out.append(MigrationState(version, row["name"], "unknown", row["applied_at"]))
    return out


async def cli_migrate(settings: Settings) -> int:
    """``callcore db migrate``: apply pending migrations, print what was done; exit code 0 or 1."""
    from callcore.store.pg import resolve_database

    try:
        resolved = await resolve_database(settings.database_url.reveal(), purpose="service")
    except CallcoreError as exc:
        print(f"callcore db migrate: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"database: {resolved.detail}")
        applied = await migrate(resolved.dsn)
        for name in applied:
            print(f"applied {name}")
        if not applied:
            print("schema is up to date")
        return 0
    except CallcoreError as exc:
        print(f"callcore db migrate: {exc}", file=sys.stderr)
        return 1
    finally:
        await resolved.stop()
