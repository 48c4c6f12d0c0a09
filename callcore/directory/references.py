"""References between configuration objects: a queue's overflow queue, a campaign's queue, a DID route's
queue. Writes refuse a reference to a queue that does not exist (``require_queues``); ``dangling`` lists the
ones that exist anyway (made before these checks, or by hand in SQL), for ``callcore doctor``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from callcore.errors import InputError
from callcore.store.db import Database
from callcore.store.sqlfiles import load_sql

PKG = "callcore.directory"


@dataclass(frozen=True, slots=True)
class Dangling:
    kind: str      # "queue overflow", "campaign", "DID route", "DID after-hours route"
    owner: str     # the queue name, campaign name or DID holding the reference
    missing: str   # the queue it names

    def __str__(self) -> str:
        return f"{self.kind} {self.owner!r} names queue {self.missing!r}, which does not exist"


async def require_queues(db: Database, refs: Iterable[tuple[str, str | None]]) -> None:
    """``refs``: (field, queue name or None/''); InputError naming the field of the first missing queue."""
    wanted = [(f, q) for f, q in refs if q]
    if not wanted:
        return
    rows = await db.fetch(load_sql(PKG, "queues_existing"), sorted({q for _f, q in wanted}))
    found = {r["name"] for r in rows}
    for fld, queue in wanted:
        if queue not in found:
            raise InputError(f"queue {queue!r} does not exist (create it first)", field=fld)


async def dangling(db: Database) -> list[Dangling]:
    return [Dangling(r["kind"], r["owner"], r["missing"]) for r in await db.fetch(load_sql(PKG, "dangling_references"))]
