"""Lead files that cannot be read exactly are refused whole, with the line; the reject file reads like the
input (same delimiter)."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcore.dialer.csvread import RowReader, detect_format
from callcore.dialer.upload import UploadOptions, upload_leads
from callcore.errors import InputError


def _rows(n: int, bad_line: int | None = None) -> str:
    lines = ["phone,name"]
    for i in range(2, n + 2):
        name = f"Client {i}"
        if i == bad_line:
            name = '"Client with an open quote'
        lines.append(f"+7916{i:07d},{name}")
    return "\n".join(lines) + "\n"


def test_unterminated_quote_is_an_error_naming_the_line(tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text(_rows(30, bad_line=27))
    with RowReader(p, detect_format(p)) as r, pytest.raises(InputError) as exc:
        list(r)
    assert exc.value.where == f"{p}:27"
    assert "never closed" in exc.value.problem


def test_unterminated_quote_in_batches_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text(_rows(30, bad_line=27))
    with RowReader(p, detect_format(p)) as r, pytest.raises(InputError) as exc:
        list(r.batches(7))
    assert exc.value.where == f"{p}:27"


def test_text_after_a_closing_quote_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text('phone;name\n+79161234567;"Ivan" Petrov\n')
    with RowReader(p, detect_format(p)) as r, pytest.raises(InputError) as exc:
        list(r)
    assert exc.value.where == f"{p}:2" and "closing quote" in exc.value.problem


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[Any]:
    from callcore.store.pg import connect

    c = await connect(pg_dsn)
    await c.execute("INSERT INTO campaigns (name, mode, queue, caller_id) "
                    "VALUES ('spring', 'predictive', 'sales', '+74950000000')")
    try:
        yield c
    finally:
        await c.close()


@pytest.mark.postgres
async def test_a_file_with_an_unterminated_quote_loads_nothing(conn: Any, tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text(_rows(20_000, bad_line=19_997))
    with pytest.raises(InputError) as exc:
        await upload_leads(conn, "spring", p, UploadOptions(chunk_rows=1000, batch_size=500))
    assert exc.value.where == f"{p}:19997"
    assert await conn.fetchval("SELECT count(*) FROM leads") == 0
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0


@pytest.mark.postgres
async def test_reject_file_uses_the_input_delimiter(conn: Any, tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text("phone;name\n+79161234567;Ivan, the first\n123;Bad\n")
    rejects = tmp_path / "rejects.csv"
    await upload_leads(conn, "spring", p, UploadOptions(reject_file=rejects))
    text = rejects.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "line;reason;field;value;detail"
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[1][:3] == ["3", "invalid-number", "phone"]


@pytest.mark.postgres
async def test_the_summary_ends_with_the_rate_and_time_split(conn: Any, tmp_path: Path) -> None:
    p = tmp_path / "leads.csv"
    p.write_text(_rows(3000))
    report = await upload_leads(conn, "spring", p, UploadOptions(workers=0))
    assert report.rows == 3000 and report.seconds > 0
    assert 0 < report.read_seconds + report.normalise_seconds <= report.seconds
    last = report.lines()[-1]
    assert last.startswith("rate: ") and "rows/s" in last and "read " in last and "normalise " in last
    assert "COPY and SQL" in last
