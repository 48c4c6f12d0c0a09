"""The do-not-call list: numbers (E.164) that are never dialled.

Checked when leads are uploaded (``callcore.dialer.upload``) and again right before every dial
(``blocked``). Numbers given by people are normalised with the same rules as lead files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from callcore.dialer.csvread import (
    PHONE_HEADERS,
    BadPhone,
    PhoneNormalizer,
    RowReader,
    detect_format,
)
from callcore.errors import InputError
from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

PKG = "callcore.dialer"
_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class DncEntry:
    phone_e164: str
    source: str
    added_at: datetime
    note: str


@dataclass(slots=True)
class DncImportReport:
    file: str
    rows: int = 0
    added: int = 0
    invalid: int = 0
    samples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.file}: {self.rows} numbers, {self.added} added to the do-not-call list, "
               f"{self.rows - self.added - self.invalid} already on it, {self.invalid} invalid"]
        out += [f"  {s}" for s in self.samples]
        return out


def normalize_number(raw: str, region: str = "RU") -> str:
    """E.164 form of a number typed by a person; InputError naming the number when it is not valid."""
    phone = PhoneNormalizer(region, cache_size=0).normalize(raw)
    if isinstance(phone, BadPhone):
        raise InputError(phone.reason, field="number")
    return phone.e164


async def add(conn: Database, numbers: Iterable[str], *, region: str = "RU", source: str = "manual",
              note: str = "") -> list[str]:
    """Put numbers on the list; returns those that were not on it yet (normalised)."""
    e164 = sorted({normalize_number(n, region) for n in numbers})
    rows = await conn.fetch(load_sql(PKG, "dnc_add"), e164, source, note)
    added = sorted(r["phone_e164"] for r in rows)
    log.info("dnc_added", count=len(added), source=source)
    return added


async def remove(conn: Database, numbers: Iterable[str], *, region: str = "RU") -> list[str]:
    """Take numbers off the list; returns those that were on it."""
    e164 = sorted({normalize_number(n, region) for n in numbers})
    rows = await conn.fetch(load_sql(PKG, "dnc_remove"), e164)
    removed = sorted(r["phone_e164"] for r in rows)
    log.info("dnc_removed", count=len(removed))
    return removed


async def check(conn: Database, number: str, *, region: str = "RU") -> DncEntry | None:
    """The list entry for ``number`` or None when it may be called."""
    rows = await conn.fetch(load_sql(PKG, "dnc_lookup"), [normalize_number(number, region)])
    if not rows:
        return None
    r = rows[0]
    return DncEntry(r["phone_e164"], r["source"], r["added_at"], r["note"])


async def blocked(conn: Database, e164_numbers: Sequence[str]) -> set[str]:
    """Which of these (already normalised) numbers are on the list: one query for a whole batch."""
    if not e164_numbers:
        return set()
    rows = await conn.fetch(load_sql(PKG, "dnc_lookup"), list(e164_numbers))
    return {r["phone_e164"] for r in rows}


async def count(conn: Any) -> int:
    return int(await conn.fetchval(load_sql(PKG, "dnc_count")))


async def import_file(conn: Database, path: Path, *, region: str = "RU", source: str = "import",
                      note: str = "") -> DncImportReport:
    """Load a file of numbers (one per line, or a CSV with a phone column; a header is optional) in one
    transaction. Invalid numbers are reported with their line and skipped."""
    norm = PhoneNormalizer(region)
    fmt = detect_format(path)
    report = DncImportReport(str(path))
    with RowReader(path, fmt) as reader:
        header = reader.header
        keys = [h.casefold() for h in header]
        col = next((keys.index(g) for g in PHONE_HEADERS if g in keys), None)
        rows: Iterable[tuple[int, list[str]]] = reader
        if col is None:
            col = 0
            if header and not isinstance(norm.normalize(header[0]), BadPhone):
                rows = _chain([(1, header)], reader)

        async with conn.transaction():
            await conn.execute(load_sql(PKG, "dnc_import_temp"))
            batch: list[tuple[str]] = []
            for line, fields in rows:
                report.rows += 1
                raw = fields[col] if col < len(fields) else ""
                phone = norm.normalize(raw)
                if isinstance(phone, BadPhone):
                    report.invalid += 1
                    if len(report.samples) < 20:
                        report.samples.append(f"{path}:{line}: {phone.reason}")
                    continue
                batch.append((phone.e164,))
                if len(batch) >= _BATCH:
                    await database(conn).copy("dnc_import", batch, columns=["phone_e164"])
                    batch = []
            if batch:
                await database(conn).copy("dnc_import", batch, columns=["phone_e164"])
            report.added = int(await conn.fetchval(load_sql(PKG, "dnc_import_insert"), source, note))
    log.info("dnc_imported", file=str(path), rows=report.rows, added=report.added, invalid=report.invalid)
    return report


def _chain(first: list[tuple[int, list[str]]],
           rest: Iterable[tuple[int, list[str]]]) -> Iterable[tuple[int, list[str]]]:
    yield from first
    yield from rest
