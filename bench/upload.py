"""Lead upload throughput: a generated 200,000-row CSV uploaded end to end into a temporary database,
against a plain COPY of the same rows already normalised.

Usage: .venv/bin/python bench/upload.py [--rows N] [--workers N] [--repeat N]
Prints figures; the last line is one JSON object with rows_per_s (best run), first_rows_per_s (the first
run, when the phone normaliser has not seen any of the numbers yet), copy_rows_per_s (best plain COPY)
and ratio (best plain COPY time / best upload time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from callcore.dialer.csvread import Phone, PhoneNormalizer
from callcore.dialer.upload import UploadOptions, upload_leads
from callcore.store.migrate import migrate
from callcore.store.pg import quote_ident, resolve_database, with_database

FIRST = ["Иван", "Пётр", "Анна", "Мария", "John", "Olga", "Сергей", "Елена"]
LAST = ["Иванов", "Петрова", "Smith", "Сидоров", "Кузнецова", "Brown"]
FOREIGN = ["+1 212 555 {:04d}", "+44 20 7946 {:04d}", "+49 30 1234 {:04d}", "+33 1 42 68 {:04d}"]


def make_rows(n: int, rng: random.Random) -> tuple[list[list[str]], list[str]]:
    """Rows (phone, name, city, email) and the numbers to put on the DNC list."""
    rows: list[list[str]] = []
    dnc: list[str] = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.10 and rows:
            phone = rng.choice(rows)[0]                                   # duplicate within the file
        elif kind < 0.15:
            phone = rng.choice(["12345", "abc", "+7 123", "8 (000) 000-00-00", ""])  # invalid
        elif kind < 0.25:
            phone = rng.choice(FOREIGN).format(rng.randrange(10000))
        else:
            sub = rng.randrange(10_000_000)
            code = rng.choice(["916", "926", "903", "495", "812", "343", "965"])
            fmt = rng.random()
            if fmt < 0.4:
                phone = f"+7{code}{sub:07d}"
            elif fmt < 0.7:
                phone = f"8{code}{sub:07d}"
            else:
                phone = f"+7 ({code}) {sub // 10000:03d}-{sub // 100 % 100:02d}-{sub % 100:02d}"
            if rng.random() < 0.03:
                dnc.append(f"+7{code}{sub:07d}")
        rows.append([phone, f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(["Москва", "Казань", "NYC"]),
                     f"user{i}@example.com"])
    return rows, dnc


async def run(rows_n: int, workers: int | None, repeat: int) -> dict[str, float]:
    resolved = await resolve_database("", purpose="test")
    name = f"callcore_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(resolved.dsn)
    await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    await admin.close()
    dsn = with_database(resolved.dsn, name)
    try:
        await migrate(dsn)
        rows, dnc = make_rows(rows_n, random.Random(7))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "leads.csv"
            with path.open("w", encoding="utf-8", newline="") as fh:
                fh.write("phone,name,city,email\n")
                for r in rows:
                    fh.write(",".join(r) + "\n")
            conn = await asyncpg.connect(dsn)
            try:
                await conn.executemany("INSERT INTO dnc (phone_e164, source) VALUES ($1, 'bench') "
                                       "ON CONFLICT DO NOTHING", [(d,) for d in dnc])
                norm = PhoneNormalizer("RU")
                records = []
                for i, r in enumerate(rows):
                    p = norm.normalize(r[0])
                    e164, tz = (p.e164, list(p.tz)) if isinstance(p, Phone) else (f"+7999{i:07d}", [])
                    records.append((1, e164, r[1], tz, json.dumps({"city": r[2], "email": r[3]}), "x", i + 2))
                upload_times: list[float] = []
                copy_times: list[float] = []
                for n in range(repeat):
                    await conn.execute("INSERT INTO campaigns (name, mode, queue, caller_id) "
                                       f"VALUES ('bench{n}', 'predictive', 'sales', '+74950000000')")
                    t0 = time.perf_counter()
                    report = await upload_leads(conn, f"bench{n}", path,
                                                UploadOptions(region="RU", workers=workers))
                    upload_times.append(time.perf_counter() - t0)
                    if n == 0:
                        for line in report.lines()[:6]:
                            print(line, file=sys.stderr)
                    await conn.execute(f"CREATE TABLE baseline{n} (campaign_id bigint, phone_e164 text, "
                                       "name text, tz text[], data jsonb, source_file text, source_line int)")
                    t0 = time.perf_counter()
                    async with conn.transaction():
                        await conn.copy_records_to_table(
                            f"baseline{n}", records=records,
                            columns=["campaign_id", "phone_e164", "name", "tz", "data", "source_file",
                                     "source_line"])
                    copy_times.append(time.perf_counter() - t0)
                    print(f"run {n + 1}: upload {upload_times[-1]:.2f} s, plain COPY {copy_times[-1]:.2f} s",
                          file=sys.stderr)
            finally:
                await conn.close()
        upload_s, copy_s = min(upload_times), min(copy_times)
        print(f"rows {rows_n}: best upload {upload_s:.2f} s, best plain COPY {copy_s:.2f} s "
              f"(of {repeat} runs)", file=sys.stderr)
        return {"rows_per_s": round(rows_n / upload_s), "first_rows_per_s": round(rows_n / upload_times[0]),
                "copy_rows_per_s": round(rows_n / copy_s), "ratio": round(copy_s / upload_s, 3)}
    finally:
        admin = await asyncpg.connect(resolved.dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
        await resolved.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: automatic)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is reported")
    args = ap.parse_args()
    result = asyncio.run(run(args.rows, args.workers, max(1, args.repeat)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
