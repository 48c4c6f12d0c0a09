"""``callcore db migrate | status``."""

from __future__ import annotations

import argparse
import asyncio

from callcore.config import load_settings


async def _status() -> int:
    from callcore.store.migrate import status
    from callcore.store.pg import resolve_database

    settings = load_settings()
    resolved = await resolve_database(settings.database_url.reveal(), purpose="service")
    try:
        print(f"database: {resolved.detail}")
        rows = await status(resolved.dsn)
        for row in rows:
            when = f"  {row.applied_at:%Y-%m-%d %H:%M:%S}" if row.applied_at else ""
            print(f"{row.version:04d} {row.name:32} {row.state}{when}")
        return 0 if all(r.state == "applied" for r in rows) else 1
    finally:
        await resolved.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callcore db", description="Database schema management.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="apply pending migrations (safe to run from several instances at once)")
    sub.add_parser("status", help="list migrations: applied, pending, changed (refused) or unknown")
    args = parser.parse_args(argv)
    import sys

    from callcore.logs import configure_logging

    settings = load_settings()
    # the command's output is stdout; log lines go to stderr (info ones too: they say what was migrated)
    configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
    if args.cmd == "migrate":
        from callcore.store.migrate import cli_migrate

        return asyncio.run(cli_migrate(settings))
    return asyncio.run(_status())
