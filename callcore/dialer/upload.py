"""CSV lead upload.

The file is read twice, both times streamed: once for its sha256, encoding and delimiter
(``csvread.detect_format``), then row by row. Rows are cleaned in batches (phone -> E.164, time zones,
extra columns -> JSON) straight into COPY text, optionally in worker processes; a number seen on an
earlier line is rejected as a duplicate here (one dict entry per distinct number, about 100 bytes).
``upload_feed`` sends the rows in chunks: each is COPYed into a temporary table and then one SQL script
(``sql/upload_chunk.sql``) rejects the numbers on the DNC list, stores new time-zone sets once
(``zone_sets``) and ``INSERT ... ON CONFLICT DO NOTHING``s the rest into ``leads``; the lines it skips are
numbers the campaign already had. PostgreSQL works on one chunk while the next is cleaned. All of it
runs in one transaction: a failed upload leaves nothing behind and ``dry_run`` rolls back after
reporting. Every rejected line is reported with its line number, field and reason (and written to a
reject CSV).
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import msgspec
import structlog

from callcore.dialer.compliance import ZonePolicy, ZoneRule
from callcore.dialer.csvread import (
    BadPhone,
    Columns,
    FileFormat,
    PhoneNormalizer,
    RowReader,
    detect_format,
    parse_tz,
    resolve_columns,
)
from callcore.dialer.upload_feed import ChunkFeed, load_chunks
from callcore.errors import Conflict, InputError, NotFound
from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

PKG = "callcore.dialer"
INVALID = "invalid-number"
BAD_ROW = "bad-row"
BAD_TZ = "bad-timezone"
DUP_FILE = "duplicate-in-file"
DUP_CAMPAIGN = "duplicate-in-campaign"
DNC = "dnc"
REASONS = (INVALID, BAD_ROW, BAD_TZ, DUP_FILE, DUP_CAMPAIGN, DNC)
_COPY_COLUMNS = ("line", "phone_e164", "name", "zones", "data")
_POOL_MIN_BYTES = 4 << 20

Record = tuple[int, str, str]   # line, E.164, the row as a line of COPY text
ProgressFn = Callable[[int, int, int], None]


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    field: str
    value: str
    detail: str


@dataclass(frozen=True, slots=True)
class UploadOptions:
    region: str = "RU"
    column_map: Mapping[str, str] = field(default_factory=dict)
    tz_column: str | None = None
    dry_run: bool = False
    reject_file: Path | None = None
    batch_size: int = 5000
    chunk_rows: int = 10_000     # rows per COPY + SQL step; PostgreSQL checks one while the next is cleaned
    workers: int | None = None   # None: automatic (processes only for big files), 0: in this process


@dataclass(slots=True)
class UploadReport:
    campaign: str
    file: str
    fmt: FileFormat
    rows: int = 0
    inserted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False
    upload_id: int | None = None
    previous_upload: str = ""
    samples: list[Reject] = field(default_factory=list)
    reject_file: str = ""
    seconds: float = 0.0            # the whole upload, wall clock
    read_seconds: float = 0.0       # reading and splitting the CSV
    normalise_seconds: float = 0.0  # cleaning rows (phones, zones, COPY text); in this process
    ambiguous: int = 0              # leads with several possible time zones
    ambiguous_widest: int = 0
    ambiguous_sample: str = ""      # e.g. "+79161234567 (16 zones: Europe/Kaliningrad ... Asia/Kamchatka)"
    ambiguous_by_default: int = 0   # of them, those that can be in the campaign's default zone
    zones: ZoneRule | None = None   # the campaign's zone policy (shown)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        verb = "would insert" if self.dry_run else "inserted"
        out = [f"{self.file}: {self.rows} rows, {verb} {self.inserted} leads into campaign "
               f"{self.campaign!r}, rejected {self.rejected_total}",
               f"encoding {self.fmt.encoding}, delimiter {self.fmt.delimiter!r}, "
               f"sha256 {self.fmt.sha256[:16]}"]
        if self.fmt.note:
            out.append(f"note: {self.fmt.note}")
        if self.previous_upload:
            out.append(f"note: {self.previous_upload}")
        for reason in REASONS:
            if self.rejected[reason]:
                out.append(f"  {reason}: {self.rejected[reason]}")
        for r in self.samples:
            out.append(f"  {self.file}:{r.line}: {r.field}: {r.detail}")
        if self.rejected_total > len(self.samples):
            more = self.rejected_total - len(self.samples)
            out.append(f"  ... and {more} more" + (f" (see {self.reject_file})" if self.reject_file else ""))
        elif self.reject_file:
            out.append(f"rejected lines written to {self.reject_file}")
        if self.zones is not None:
            out.append(self.zones.text())
        if self.ambiguous:
            out.append(ambiguity_note(self.ambiguous, self.ambiguous_widest, self.ambiguous_sample, self.zones,
                                      self.ambiguous_by_default))
        if self.dry_run:
            out.append("dry run: nothing was loaded")
        if self.seconds > 0:
            db = max(0.0, self.seconds - self.read_seconds - self.normalise_seconds)
            out.append(f"rate: {self.rows / self.seconds:,.0f} rows/s ({self.seconds:.2f} s: read "
                       f"{self.read_seconds:.2f} s, normalise {self.normalise_seconds:.2f} s, COPY and SQL "
                       f"{db:.2f} s not overlapped with them)")
        return out


def ambiguity_note(n: int, widest: int, sample: str, rule: ZoneRule | None = None, by_default: int = 0) -> str:
    """What the campaign's zone policy makes of ``n`` leads with several possible time zones."""
    head = f"note: {n} leads have several possible time zones (up to {widest}, e.g. {sample})"
    if rule is not None and rule.policy is ZonePolicy.DEFAULT_ZONE:
        return (f"{head}: {by_default} of them can be in {rule.default_zone} and are dialled by its clock "
                f"(default-zone policy); the other {n - by_default} only while the calling window is open in "
                "all of their zones")
    if rule is not None and rule.policy is ZonePolicy.COLUMN:
        return (f"{head} and no zone in column {rule.zone_column!r}: each is dialled only while the calling "
                "window is open in all of its zones")
    return (f"{head}: each is dialled only while the calling window is open in all of its zones; give a "
            "time-zone column (--tz-column, or the campaign's --zones column) or a default zone (--zones "
            "default-zone) for the exact zone")


def ambiguity_sample(phone: str, zones: list[str]) -> str:
    shown = ", ".join(zones) if len(zones) <= 3 else f"{zones[0]} ... {zones[-1]}"
    return f"{phone}: {len(zones)} zones, {shown}"


# --- pure batch cleaning (also runs in worker processes) ---------------------------------------------

_NORMALIZERS: dict[str, PhoneNormalizer] = {}


def _normalizer(region: str) -> PhoneNormalizer:
    norm = _NORMALIZERS.get(region)
    if norm is None:
        norm = _NORMALIZERS[region] = PhoneNormalizer(region)
    return norm


_encode = msgspec.json.Encoder().encode
_ZONE_KEYS: dict[tuple[str, ...], str] = {}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def zone_key(zones: tuple[str, ...]) -> str:
    """The text a zone set travels as in COPY: names joined with ``|`` (never part of an IANA name)."""
    key = _ZONE_KEYS.get(zones)
    if key is None:
        key = _ZONE_KEYS[zones] = "|".join(zones)
    return key


def copy_field(text: str) -> str:
    """``text`` escaped for COPY's text format (backslash, tab, newline and carriage return)."""
    if "\\" in text or not text.isprintable():
        return text.translate(_COPY_ESCAPES)
    return text


@lru_cache(maxsize=64)
def _data_template(keys: tuple[str, ...]) -> str | None:
    """A ``str.format`` template writing the extra columns' JSON object (as msgspec does, COPY-escaped) for
    values that need no escaping; None when there are none or two columns share a name."""
    if not keys or len(set(keys)) != len(keys):
        return None
    parts = [("{" if i == 0 else '",') + copy_field(_encode(k).decode()) + ':"' for i, k in enumerate(keys)]
    return "".join(p.replace("{", "{{").replace("}", "}}") + "{}" for p in parts) + '"}}'


def clean_batch(rows: list[tuple[int, list[str]]], cols: Columns,
                region: str) -> tuple[list[Record], list[Reject]]:
    """Validate and normalise rows: ``(line, E.164, COPY text line)`` of the good ones (columns as in
    ``upload_temp_table.sql``) plus the rejected lines."""
    norm = _normalizer(region)
    normalize = norm.normalize
    records: list[Record] = []
    rejects: list[Reject] = []
    width, pcol, ncol, tcol, extra = cols.width, cols.phone, cols.name, cols.tz, cols.extra
    keys = tuple(key for _i, key in extra)
    idx = tuple(i for i, _key in extra)
    template = _data_template(keys)
    zone_keys = _ZONE_KEYS
    for line, fields in rows:
        if len(fields) != width:
            if len(fields) < width or any(f.strip() for f in fields[width:]):
                rejects.append(Reject(line, BAD_ROW, "row", "",
                                      f"has {len(fields)} fields, the header has {width}"))
                continue
        raw = fields[pcol]
        phone = normalize(raw)
        if isinstance(phone, BadPhone):
            rejects.append(Reject(line, INVALID, "phone", raw, phone.reason))
            continue
        zones = phone.tz
        if tcol is not None and fields[tcol].strip():
            given = parse_tz(fields[tcol])
            if isinstance(given, str):
                rejects.append(Reject(line, BAD_TZ, "tz", fields[tcol], given))
                continue
            zones = given
        name = copy_field(fields[ncol].strip()) if ncol is not None else ""
        if extra:
            values = [fields[i].strip() for i in idx]
            joined = "".join(values)
            if template is not None and joined.isprintable() and '"' not in joined and "\\" not in joined:
                data = template.format(*values)   # nothing to escape, in JSON or in COPY text
            else:
                data = copy_field(_encode(dict(zip(keys, values, strict=True))).decode())
        else:
            data = "{}"
        e164 = phone.e164
        zkey = zone_keys.get(zones) or zone_key(zones)
        records.append((line, e164, f"{line}\t{e164}\t{name}\t{zkey}\t{data}\n"))
    return records, rejects


# --- rejects -----------------------------------------------------------------------------------------


class RejectSink:
    """Counts rejects by reason, keeps the first few as samples and streams all to an optional CSV."""

    def __init__(self, path: Path | None, samples: int = 20, delimiter: str = ",") -> None:
        self.counts: Counter[str] = Counter()
        self.samples: list[Reject] = []
        self._max = samples
        self._fh = path.open("w", encoding="utf-8-sig", newline="") if path else None
        self._writer = csv.writer(self._fh, delimiter=delimiter) if self._fh else None
        if self._writer:
            self._writer.writerow(["line", "reason", "field", "value", "detail"])

    def add(self, r: Reject) -> None:
        self.counts[r.reason] += 1
        if len(self.samples) < self._max:
            self.samples.append(r)
        if self._writer:
            self._writer.writerow([r.line, r.reason, r.field, r.value, r.detail])

    def close(self) -> None:
        if self._fh:
            self._fh.close()


# --- the imperative shell ----------------------------------------------------------------------------


class _DryRun(Exception):
    pass


def _make_pool(workers: int | None, size: int) -> tuple[ProcessPoolExecutor | None, int]:
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        # PostgreSQL and this process need a core each: worker processes only pay off beyond that
        workers = min(cpus - 2, 4) if size >= _POOL_MIN_BYTES and cpus >= 4 else 0
    if workers <= 0:
        return None, 0
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx), workers


async def _campaign(conn: Database, name: str) -> tuple[int, ZoneRule]:
    row = await conn.fetchrow(load_sql(PKG, "campaign_get"), name)
    if row is None:
        raise NotFound(f"campaign {name!r} does not exist")
    return int(row["id"]), ZoneRule.from_json(json.loads(row["settings"]))


async def upload_leads(conn: Database, campaign: str, path: Path, options: UploadOptions | None = None, *,
                       progress: ProgressFn | None = None) -> UploadReport:
    """Load the lead file ``path`` into ``campaign`` (see the module doc). ``conn``: a database connection
    (``callcore.store.db``; a bare driver connection is wrapped)."""
    conn = database(conn)
    opts = options or UploadOptions()
    PhoneNormalizer(opts.region)  # validates the region before any work
    if opts.batch_size < 1:
        raise InputError("batch size must be at least 1", field="batch_size")
    if opts.chunk_rows < 1:
        raise InputError("chunk size must be at least 1 row", field="chunk_rows")
    fmt = detect_format(path)
    report = UploadReport(campaign, str(path), fmt, dry_run=opts.dry_run,
                          reject_file=str(opts.reject_file) if opts.reject_file else "")
    campaign_id, rule = await _campaign(conn, campaign)
    report.zones = rule
    tz_column = opts.tz_column
    if tz_column is None and rule.policy is ZonePolicy.COLUMN:
        tz_column = rule.zone_column   # the campaign names the column: it must be in the header
    prev = await conn.fetchrow(load_sql(PKG, "upload_previous"), campaign_id, fmt.sha256)
    if prev is not None:
        when = prev["created_at"].strftime("%Y-%m-%d %H:%M")
        report.previous_upload = (f"this file was already uploaded to the campaign at {when} "
                                  f"(upload #{prev['id']}); leads already present are skipped")
    started = time.perf_counter()
    sink = RejectSink(opts.reject_file, delimiter=fmt.delimiter)   # opens where the input file opens
    try:
        with RowReader(path, fmt) as reader:
            cols = resolve_columns(reader.header, dict(opts.column_map), tz_column, str(path))
            try:
                async with conn.transaction():
                    await _load(conn, campaign_id, reader, cols, opts, report, sink, progress)
                    if opts.dry_run:
                        raise _DryRun
            except _DryRun:
                report.upload_id = None
    finally:
        sink.close()
    report.rejected = sink.counts
    report.samples = sorted(sink.samples, key=lambda r: r.line)
    report.seconds = time.perf_counter() - started
    log.info("leads_uploaded", campaign=campaign, file=str(path), rows=report.rows, inserted=report.inserted,
             rejected=report.rejected_total, dry_run=opts.dry_run, encoding=fmt.encoding)
    return report


async def _load(conn: Database, campaign_id: int, reader: RowReader, cols: Columns, opts: UploadOptions,
                report: UploadReport, sink: RejectSink, progress: ProgressFn | None) -> None:
    fmt = reader.fmt
    state = await conn.fetchval(load_sql(PKG, "campaign_lock"), campaign_id)
    if state is None:
        raise NotFound(f"campaign #{campaign_id} was deleted")
    if state == "archived":
        raise Conflict(f"campaign {report.campaign!r} is archived: it takes no new leads")
    upload_id = await conn.fetchval(load_sql(PKG, "upload_begin"), campaign_id, reader.path.name, fmt.sha256,
                                    fmt.encoding, fmt.delimiter)
    report.upload_id = int(upload_id)
    await conn.execute(load_sql(PKG, "upload_temp_table"))
    await conn.execute(load_sql(PKG, "upload_params"), campaign_id, report.upload_id, reader.path.name)
    # Plans here are cheap; compiling them (JIT, misled by temp tables without statistics) is not.
    await conn.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
    pool, workers = _make_pool(opts.workers, fmt.size)
    if pool is not None:
        gc.freeze()   # forked workers must not walk (and so copy) the parent's heap in their collections
    try:
        feed = ChunkFeed(_cleaned(reader, cols, opts, pool, workers, report, sink, progress), opts.chunk_rows)
        await load_chunks(conn, feed, _COPY_COLUMNS)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            gc.unfreeze()
    await _finish(conn, report, sink)


async def _cleaned(reader: RowReader, cols: Columns, opts: UploadOptions, pool: ProcessPoolExecutor | None,
                   workers: int, report: UploadReport, sink: RejectSink,
                   progress: ProgressFn | None) -> AsyncIterator[tuple[bytes, int]]:
    """COPY data of the accepted rows in file order with their count, a batch at a time; rejects go to
    ``sink`` as their batch completes."""
    loop = asyncio.get_running_loop()
    pending: deque[asyncio.Future[tuple[list[Record], list[Reject]]]] = deque()
    seen: dict[str, int] = {}   # first line of every number (about 100 bytes per distinct number)
    depth = workers + 1 if pool is not None else 0
    clock = time.perf_counter
    batches = reader.batches(opts.batch_size)
    while True:
        t0 = clock()
        batch = next(batches, None)
        t1 = clock()
        report.read_seconds += t1 - t0
        if batch is None:
            break
        if pool is not None:
            pending.append(loop.run_in_executor(pool, clean_batch, batch, cols, opts.region))
        else:
            done: asyncio.Future[tuple[list[Record], list[Reject]]] = loop.create_future()
            done.set_result(clean_batch(batch, cols, opts.region))
            report.normalise_seconds += clock() - t1
            pending.append(done)
        while len(pending) > depth:
            yield _take(await pending.popleft(), report, sink, seen)
            if progress:
                progress(reader.bytes_read(), reader.fmt.size, report.rows)
    while pending:
        yield _take(await pending.popleft(), report, sink, seen)
    if progress:
        progress(reader.fmt.size, reader.fmt.size, report.rows)


def _take(cleaned: tuple[list[Record], list[Reject]], report: UploadReport, sink: RejectSink,
          seen: dict[str, int]) -> tuple[bytes, int]:
    """Rejects to ``sink``; the records whose number no earlier line had (``seen``: number -> first line)
    as COPY data."""
    records, rejects = cleaned
    for r in rejects:
        sink.add(r)
    report.rows += len(records) + len(rejects)
    fresh: list[str] = []
    keep = fresh.append
    first_line = seen.setdefault
    for line, e164, text in records:
        first = first_line(e164, line)
        if first == line:
            keep(text)
        else:
            sink.add(Reject(line, DUP_FILE, "phone", e164, f"{e164} is a duplicate of line {first}"))
    return "".join(fresh).encode(), len(fresh)


async def _finish(conn: Database, report: UploadReport, sink: RejectSink) -> None:
    async for r in conn.cursor(load_sql(PKG, "upload_rejects"), prefetch=5000):   # streamed, in line order
        sink.add(Reject(r["line"], r["reason"], "phone", r["phone_e164"], r["detail"]))
    report.inserted = int(await conn.fetchval(load_sql(PKG, "upload_inserted")))
    default = report.zones.default_zone if report.zones is not None else ""
    amb = await conn.fetchrow(load_sql(PKG, "upload_ambiguous_zones"), report.upload_id, default)
    if amb is not None and amb["n"]:
        report.ambiguous, report.ambiguous_widest = int(amb["n"]), int(amb["widest"])
        report.ambiguous_by_default = int(amb["by_default"])
        report.ambiguous_sample = ambiguity_sample(amb["sample"], list(amb["zones"]))
    c = sink.counts
    await conn.execute(load_sql(PKG, "upload_finish"), report.upload_id, report.rows, report.inserted,
                       sum(c.values()), c[INVALID] + c[BAD_ROW] + c[BAD_TZ], c[DUP_FILE], c[DUP_CAMPAIGN],
                       c[DNC])
