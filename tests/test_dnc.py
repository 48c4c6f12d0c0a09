"""Do-not-call list: add/remove/check with normalisation, batch lookup, file import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcore.dialer import dnc
from callcore.errors import InputError


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[Any]:
    from callcore.store.pg import connect

    c = await connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


def test_normalize_number() -> None:
    assert dnc.normalize_number("8 (916) 123-45-67") == "+79161234567"
    assert dnc.normalize_number("+1 212 555 0123", "US") == "+12125550123"
    with pytest.raises(InputError) as exc:
        dnc.normalize_number("12")
    assert exc.value.field == "number"


async def test_add_check_remove(conn: Any) -> None:
    assert await dnc.add(conn, ["89161234567", "+7 916 123 45 67", "+79161234568"], note="asked") == [
        "+79161234567", "+79161234568"]
    assert await dnc.add(conn, ["+79161234567"]) == []
    entry = await dnc.check(conn, "8-916-123-45-67")
    assert entry is not None and entry.phone_e164 == "+79161234567" and entry.note == "asked"
    assert await dnc.blocked(conn, ["+79161234567", "+79990000000"]) == {"+79161234567"}
    assert await dnc.blocked(conn, []) == set()
    assert await dnc.remove(conn, ["89161234567", "89990000000"]) == ["+79161234567"]
    assert await dnc.check(conn, "89161234567") is None
    assert await dnc.count(conn) == 1
    with pytest.raises(InputError):
        await dnc.add(conn, ["not a number"])


async def test_import_plain_list_without_header(conn: Any, tmp_path: Path) -> None:
    p = tmp_path / "dnc.txt"
    p.write_text("89161234567\n+7 916 123 45 68\nbad\n\n89161234567\n", encoding="utf-8")
    report = await dnc.import_file(conn, p, source="regulator")
    assert (report.rows, report.added, report.invalid) == (4, 2, 1)
    assert report.samples == [f"{p}:3: not a phone number: 'bad' (The string supplied did not seem to be a "
                              "phone number.)"]
    entry = await dnc.check(conn, "+79161234568")
    assert entry is not None and entry.source == "regulator"


async def test_import_csv_with_phone_column_in_cp1251(conn: Any, tmp_path: Path) -> None:
    p = tmp_path / "dnc.csv"
    p.write_bytes("ФИО;Телефон\r\nИванов;89161234567\r\nПетров;89161234569\r\n".encode("cp1251"))
    await dnc.add(conn, ["89161234567"])
    report = await dnc.import_file(conn, p)
    assert (report.rows, report.added) == (2, 1)
    assert "1 already on it" in report.lines()[0]
