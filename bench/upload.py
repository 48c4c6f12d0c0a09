"""Lead upload throughput as a campaign manager runs it: ``callcore campaign upload`` in its own process on
a generated 200,000-row CSV (duplicates, invalid and foreign numbers, numbers on the do-not-call list),
against ``psql \\copy`` of the same file into a plain table, measured in the same run on the same server.

Usage: .venv/bin/python bench/upload.py [--rows N] [--repeat N] [--workers N] [--keep FILE]
Each run uploads into a fresh campaign (a new campaign sees no number twice, so every run does the whole
work). Prints every run and the summary the CLI printed (rate and time split); the last line is one JSON
object: cli_rows_per_s (best CLI run, process start to exit), copy_rows_per_s (best \\copy),
ratio (best \\copy time / best CLI time), and the best run's split (read, normalise, COPY and SQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from callcore.store.migrate import migrate
from callcore.store.pg import quote_ident, resolve_database, with_database

REPO = Path(__file__).resolve().parents[1]
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


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("phone,name,city,email\n")
        for r in rows:
            fh.write(",".join(r) + "\n")


async def _run(*argv: str, env: dict[str, str] | None = None) -> tuple[float, str, str]:
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return seconds, out.decode(), err.decode()


def _split(summary: str) -> dict[str, float]:
    m = re.search(r"rate: [\d,]+ rows/s \(([\d.]+) s: read ([\d.]+) s, normalise ([\d.]+) s, COPY and SQL "
                  r"([\d.]+) s", summary)
    if not m:
        return {}
    return dict(zip(("upload_s", "read_s", "normalise_s", "copy_sql_s"), map(float, m.groups()), strict=True))


async def run(rows_n: int, repeat: int, workers: int | None, keep: Path | None) -> dict[str, object]:
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql is needed for the \\copy baseline")
    resolved = await resolve_database("", purpose="test")
    name = f"callcore_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(resolved.dsn)
    await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    await admin.close()
    dsn = with_database(resolved.dsn, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env.update(CALLCORE_DATABASE_URL=dsn, CALLCORE_LOG_LEVEL="warning", CALLCORE_PHONE_REGION="RU")
    try:
        await migrate(dsn)
        rows, dnc = make_rows(rows_n, random.Random(7))
        with tempfile.TemporaryDirectory() as tmp:
            path = keep or Path(tmp) / "leads.csv"
            write_csv(path, rows)
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("INSERT INTO queues (name) VALUES ('sales') ON CONFLICT DO NOTHING")
                await conn.executemany("INSERT INTO dnc (phone_e164, source) VALUES ($1, 'bench') "
                                       "ON CONFLICT DO NOTHING", [(d,) for d in dnc])
            finally:
                await conn.close()
            cli_times: list[float] = []
            copy_times: list[float] = []
            splits: list[dict[str, float]] = []
            callcore = [sys.executable, "-m", "callcore"]
            for n in range(repeat):
                await _run(*callcore, "campaign", "create", f"bench{n}", "--mode", "predictive", "--queue",
                           "sales", "--caller-id", "+74950000000", env=env)
                extra = ["--workers", str(workers)] if workers is not None else []
                seconds, out, _ = await _run(*callcore, "campaign", "upload", f"bench{n}", str(path), *extra,
                                             env=env)
                cli_times.append(seconds)
                splits.append(_split(out))
                if n == 0:
                    print(out.rstrip(), file=sys.stderr)
                table = f"raw{n}"
                await _run(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                           f"CREATE TABLE {table} (phone text, name text, city text, email text)")
                seconds, _, _ = await _run(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                                           f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)")
                copy_times.append(seconds)
                print(f"run {n + 1}: callcore campaign upload {cli_times[-1]:.2f} s, psql \\copy "
                      f"{copy_times[-1]:.2f} s", file=sys.stderr)
    finally:
        admin = await asyncpg.connect(resolved.dsn)
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        await admin.close()
        await resolved.stop()
    best = min(range(repeat), key=lambda i: cli_times[i])
    cli_s, copy_s = cli_times[best], min(copy_times)
    print(f"rows {rows_n}: best CLI upload {cli_s:.2f} s ({rows_n / cli_s:,.0f} rows/s), best psql \\copy "
          f"{copy_s:.2f} s ({rows_n / copy_s:,.0f} rows/s), ratio {copy_s / cli_s:.3f} (of {repeat} runs)",
          file=sys.stderr)
    return {"rows": rows_n, "cli_rows_per_s": round(rows_n / cli_s), "copy_rows_per_s": round(rows_n / copy_s),
            "ratio": round(copy_s / cli_s, 3), "cpus": len(os.sched_getaffinity(0)), **splits[best]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    ap.add_argument("--workers", type=int, default=None, help="passed to campaign upload --workers")
    ap.add_argument("--keep", type=Path, help="write the generated CSV here (and keep it)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.rows, max(1, args.repeat), args.workers, args.keep))))


if __name__ == "__main__":
    main()
