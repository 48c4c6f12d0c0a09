"""CSV lead upload into PostgreSQL: counts, rejects, re-upload, dry run, atomicity."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import callcore.dialer.upload as upload_mod
from callcore.dialer.upload import DNC, DUP_CAMPAIGN, DUP_FILE, INVALID, UploadOptions, upload_leads
from callcore.errors import InputError, NotFound, StoreError

LEADS = """phone,name,city
+7 (916) 123-45-67,Иван,Москва
89161234568,Пётр,Казань
123,Bad,Nowhere
89161234567,Иван again,Москва
+1 212 555 0123,John,NYC
+7 916 000 00 01,Blocked,Москва
"""


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[Any]:
    from callcore.store.pg import connect

    c = await connect(pg_dsn)
    await c.execute("INSERT INTO campaigns (name, mode, queue, caller_id) "
                    "VALUES ('spring', 'predictive', 'sales', '+74950000000')")
    await c.execute("INSERT INTO dnc (phone_e164, source) VALUES ('+79160000001', 'regulator')")
    try:
        yield c
    finally:
        await c.close()


ZONES = "coalesce((SELECT z.zones FROM zone_sets z WHERE z.id = l.zone_set), l.tz)"


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "leads.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


async def test_upload_counts_rejects_and_reject_file(conn: Any, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    report = await upload_leads(conn, "spring", write(tmp_path, LEADS),
                                UploadOptions(region="RU", reject_file=rejects))
    assert report.rows == 6 and report.inserted == 3
    assert dict(report.rejected) == {INVALID: 1, DUP_FILE: 1, DNC: 1}
    rows = await conn.fetch(f"SELECT phone_e164, name, {ZONES} AS tz, data::text AS data, source_line, state, "
                            "upload_id FROM leads l ORDER BY id")
    assert [(r["phone_e164"], r["source_line"]) for r in rows] == [
        ("+79161234567", 2), ("+79161234568", 3), ("+12125550123", 6)]
    assert rows[0]["name"] == "Иван" and '"city": "Москва"' in rows[0]["data"]
    assert rows[2]["tz"] == ["America/New_York"] and rows[0]["state"] == "new"
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert sorted((int(r["line"]), r["reason"]) for r in lines) == [(4, INVALID), (5, DUP_FILE), (7, DNC)]
    dup = next(r for r in lines if r["reason"] == DUP_FILE)
    assert "line 2" in dup["detail"]
    up = await conn.fetchrow("SELECT * FROM uploads WHERE id = $1", report.upload_id)
    assert (up["rows_total"], up["inserted"], up["rejected"], up["dnc"]) == (6, 3, 3, 1)
    assert "rejected 3" in report.lines()[0]


async def test_reupload_never_duplicates(conn: Any, tmp_path: Path) -> None:
    path = write(tmp_path, LEADS)
    await upload_leads(conn, "spring", path)
    again = await upload_leads(conn, "spring", path)
    assert again.inserted == 0 and again.rejected[DUP_CAMPAIGN] == 3
    assert "already uploaded" in again.previous_upload
    assert await conn.fetchval("SELECT count(*) FROM leads") == 3


async def test_dry_run_loads_nothing_but_reports(conn: Any, tmp_path: Path) -> None:
    report = await upload_leads(conn, "spring", write(tmp_path, LEADS), UploadOptions(dry_run=True))
    assert report.inserted == 3 and report.rejected[DNC] == 1 and report.upload_id is None
    assert any("dry run" in line for line in report.lines())
    assert await conn.fetchval("SELECT count(*) FROM leads") == 0
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0


async def test_failed_upload_leaves_nothing_behind(conn: Any, tmp_path: Path, monkeypatch: Any) -> None:
    async def broken(*_a: Any) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(upload_mod, "_finish", broken)
    with pytest.raises(StoreError):
        await upload_leads(conn, "spring", write(tmp_path, LEADS))
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0
    assert await conn.fetchval("SELECT count(*) FROM leads") == 0


async def test_broken_csv_midway_names_line_and_keeps_existing_leads(conn: Any, tmp_path: Path) -> None:
    await upload_leads(conn, "spring", write(tmp_path, LEADS))
    big = "phone,name\n+79161111111,a\n" + '+79161111112,"' + "x" * 200_000 + '"\n'
    path = write(tmp_path, big, name="big.csv")
    with pytest.raises(InputError) as exc:
        await upload_leads(conn, "spring", path)
    assert exc.value.where == f"{path}:3"
    assert await conn.fetchval("SELECT count(*) FROM leads") == 3


async def test_cp1251_semicolon_file_with_column_map(conn: Any, tmp_path: Path) -> None:
    text = "Телефон;ФИО;Зона;Менеджер\r\n8 916 123-45-67;Иванов Иван;Europe/Moscow;Ольга\r\n"
    report = await upload_leads(conn, "spring", write(tmp_path, text, "cp1251"),
                                UploadOptions(column_map={"phone": "Телефон", "name": "ФИО"},
                                              tz_column="Зона"))
    assert report.fmt.encoding == "cp1251" and "Windows-1251" in report.fmt.note
    row = await conn.fetchrow(f"SELECT name, {ZONES} AS tz, data::text AS data FROM leads l")
    assert row["name"] == "Иванов Иван" and row["tz"] == ["Europe/Moscow"]
    assert "Ольга" in row["data"]


async def test_worker_processes_give_the_same_result(conn: Any, tmp_path: Path) -> None:
    lines = ["phone,name"] + [f"+7917{i:07d},n{i}" for i in range(3000)] + ["bad,x", "+79160000001,dnc"]
    report = await upload_leads(conn, "spring", write(tmp_path, "\n".join(lines) + "\n"),
                                UploadOptions(workers=2, batch_size=500))
    assert report.inserted == 3000 and dict(report.rejected) == {INVALID: 1, DNC: 1}
    assert await conn.fetchval("SELECT max(source_line) FROM leads") == 3001


async def test_unknown_campaign(conn: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await upload_leads(conn, "nope", write(tmp_path, LEADS))


async def test_header_only_file_loads_nothing_cleanly(conn: Any, tmp_path: Path) -> None:
    report = await upload_leads(conn, "spring", write(tmp_path, "phone,name\n"))
    assert (report.rows, report.inserted, report.rejected_total) == (0, 0, 0)
    assert await conn.fetchval("SELECT rows_total FROM uploads") == 0


CHUNKED = """phone,name
+79165550002,new
+79160000001,on the DNC list
+79165550001,already a lead
8 916 000-00-01,DNC number again
+79165550001,lead again
+79165550002,new again
bad,invalid
+79165550003,another new
+7 916 555 00 03,another new again
"""


@pytest.mark.parametrize(("chunk_rows", "batch_size"), [(1, 1), (2, 1), (3, 2), (20_000, 5000)])
async def test_chunks_do_not_change_reasons_details_or_order(conn: Any, tmp_path: Path, chunk_rows: int,
                                                              batch_size: int) -> None:
    await upload_leads(conn, "spring", write(tmp_path, "phone\n+79165550001\n", name="old.csv"))
    rejects = tmp_path / "rejects.csv"
    report = await upload_leads(conn, "spring", write(tmp_path, CHUNKED),
                                UploadOptions(chunk_rows=chunk_rows, batch_size=batch_size, reject_file=rejects))
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        got = sorted((int(r["line"]), r["reason"], r["detail"]) for r in csv.DictReader(fh))
    assert [(line, reason) for line, reason, _ in got] == [
        (3, DNC), (4, DUP_CAMPAIGN), (5, DUP_FILE), (6, DUP_FILE), (7, DUP_FILE), (8, INVALID), (10, DUP_FILE)]
    details = {line: detail for line, _, detail in got}
    assert details[4] == "+79165550001 is already a lead of the campaign (line 2 of old.csv)"
    assert details[5] == "+79160000001 is a duplicate of line 3"
    assert details[6] == "+79165550001 is a duplicate of line 4"
    assert details[7] == "+79165550002 is a duplicate of line 2"
    assert details[10] == "+79165550003 is a duplicate of line 9"
    rows = await conn.fetch("SELECT phone_e164, source_line FROM leads WHERE upload_id = $1 ORDER BY id",
                            report.upload_id)
    assert [(r["phone_e164"], r["source_line"]) for r in rows] == [("+79165550002", 2), ("+79165550003", 9)]
    assert (report.rows, report.inserted, report.rejected_total) == (9, 2, 7)
    stored = await conn.fetchrow("SELECT inserted, dup_in_file, dup_in_campaign, dnc FROM uploads WHERE id = $1",
                                 report.upload_id)
    assert tuple(stored) == (2, 4, 1, 1)


async def test_chunk_script_failing_midway_leaves_nothing_and_the_connection_usable(
        conn: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from callcore.errors import DataRejected
    from callcore.store.sqlfiles import load_sql as real

    failing = "SELECT 1 / (3 - (SELECT count(*) FROM upload_rows))"   # fails on the third chunk
    monkeypatch.setattr("callcore.dialer.upload_feed.load_sql",
                        lambda pkg, name: failing if name == "upload_chunk" else real(pkg, name))
    lines = ["phone"] + [f"+7917{i:07d}" for i in range(50)]
    with pytest.raises(DataRejected, match="division by zero"):   # translated at the database boundary
        await upload_leads(conn, "spring", write(tmp_path, "\n".join(lines) + "\n"),
                           UploadOptions(chunk_rows=1, batch_size=1))
    assert await conn.fetchval("SELECT count(*) FROM uploads") == 0
    monkeypatch.setattr("callcore.dialer.upload_feed.load_sql", real)
    report = await upload_leads(conn, "spring", write(tmp_path, LEADS))
    assert report.inserted == 3


async def test_tabs_newlines_and_backslashes_survive_the_copy(conn: Any, tmp_path: Path) -> None:
    text = 'phone,name,note\n+79161234567,"tab\there \\ back","two\nlines \\N and \\."\n'
    report = await upload_leads(conn, "spring", write(tmp_path, text))
    assert report.inserted == 1
    row = await conn.fetchrow("SELECT name, data->>'note' AS note FROM leads")
    assert (row["name"], row["note"]) == ("tab\there \\ back", "two\nlines \\N and \\.")


async def test_concurrent_uploads_adding_zone_sets_in_opposite_order_both_succeed(
        conn: Any, pg_dsn: str, tmp_path: Path) -> None:
    import asyncio

    from callcore.store.pg import connect

    await conn.execute("INSERT INTO campaigns (name, mode) VALUES ('autumn', 'predictive')")
    zones = ["Asia/Tokyo", "Europe/Lisbon", "America/Lima", "Africa/Cairo"]
    a = "phone,tz\n" + "".join(f"+7917{i:07d},{zones[i % 4]}\n" for i in range(8))
    b = "phone,tz\n" + "".join(f"+7918{i:07d},{zones[3 - i % 4]}\n" for i in range(8))
    other = await connect(pg_dsn)
    try:
        opts = UploadOptions(tz_column="tz", chunk_rows=1, batch_size=1)
        first, second = await asyncio.gather(
            upload_leads(conn, "spring", write(tmp_path, a, name="a.csv"), opts),
            upload_leads(other, "autumn", write(tmp_path, b, name="b.csv"), opts))
    finally:
        await other.close()
    assert (first.inserted, second.inserted) == (8, 8)
    assert await conn.fetchval("SELECT count(*) FROM zone_sets WHERE cardinality(zones) = 1") == 4
    got = await conn.fetch(f"SELECT phone_e164, {ZONES} AS tz FROM leads l ORDER BY phone_e164")
    assert [r["tz"] for r in got[:4]] == [[z] for z in zones]
