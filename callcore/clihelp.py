"""Plumbing shared by the ``callcore`` subcommands that work on the database.

A subcommand builds an ``Action`` (a coroutine function taking one database connection, a
``callcore.store.db.Database``) and hands it to ``run_action``, which runs it through a ``Runner``: ``with_db``
by default (the configured or discovered database, see ``callcore.store.pg.resolve_database``), or any
coroutine function with the same shape (tests pass one bound to their own DSN; a bare driver connection is
wrapped, so every error still goes through the boundary's table).

Exit codes: 0 done, 1 failed (not found, conflict, database trouble), 2 bad input or bad configuration
(the message names the field or the setting).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from callcore.errors import CallcoreError, ConfigError, InputError, SchemaMissing, StoreError

if TYPE_CHECKING:
    from callcore.store.db import Database

Db: TypeAlias = "Database"
Action = Callable[["Database"], Awaitable[None]]
Runner = Callable[[Callable[[Any], Awaitable[None]]], Coroutine[Any, Any, None]]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


async def with_db(action: Action, *, migrate_first: bool = False, tables: str = "callcore") -> None:
    """Run ``action`` on one connection to the configured (or discovered) database.

    ``migrate_first`` applies pending migrations before the action (idempotent, under the migration lock).
    ``tables`` names the missing tables in the hint given when the schema is absent.
    """
    from callcore.config import load_settings
    from callcore.logs import configure_logging
    from callcore.store.db import connect
    from callcore.store.migrate import migrate
    from callcore.store.pg import resolve_database

    settings = load_settings()
    # command output goes to stdout: logs go to stderr, and only warnings unless debugging
    configure_logging("debug" if settings.log_level == "debug" else "warning", settings.log_format,
                      stream=sys.stderr)
    resolved = await resolve_database(settings.database_url.reveal(), purpose="service")
    try:
        db = await connect(resolved.dsn, codecs=False)
    except StoreError as exc:
        await resolved.stop()
        raise StoreError(f"cannot use the database: {exc}") from exc
    try:
        if migrate_first:
            await migrate(db.raw)
        await action(db)
    except SchemaMissing:
        raise StoreError(f"the database has no {tables} tables: run 'callcore db migrate'") from None
    finally:
        await db.close()
        await resolved.stop()


def run_action(prog: str, action: Action, err: IO[str], runner: Runner | None = None) -> int:
    """Run ``action`` through ``runner`` (default ``with_db``); print a failure on ``err``; exit code."""
    from callcore.store.db import database

    async def on_database(conn: Any) -> None:
        await action(database(conn))

    try:
        asyncio.run((runner or with_db)(on_database))
    except (InputError, ConfigError) as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_USAGE
    except CallcoreError as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_FAILURE
    return EXIT_OK


def print_table(out: IO[str], header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, two spaces apart, header first."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")


def print_json(out: IO[str], data: Any) -> None:
    out.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
