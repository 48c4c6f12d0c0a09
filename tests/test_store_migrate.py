from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcore.config import Settings
from callcore.errors import MigrationError
from callcore.store.migrate import checksum, cli_migrate, discover, migrate, status


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


TWO = {
    "0001_first.sql": "CREATE TABLE a (id int PRIMARY KEY);",
    "0002_second.sql": "CREATE TABLE b (id int PRIMARY KEY, a int REFERENCES a(id));\n"
                       "INSERT INTO a VALUES (1);",
}


def test_discover_orders_by_number_and_ignores_other_files(tmp_path: Path) -> None:
    d = write(tmp_path, {**TWO, "README.md": "notes"})
    found = discover(d)
    assert [(m.version, m.name) for m in found] == [(1, "first"), (2, "second")]
    assert found[0].checksum == checksum(TWO["0001_first.sql"].encode())


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, "missing migration number 0002"),
        ({"0002_b.sql": ""}, "missing migration number 0001"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, "duplicate migration number 0001"),
        ({"0001_a.sql": "", "2_b.sql": ""}, "2_b.sql"),
        ({"0001_Upper.sql": ""}, "0001_Upper.sql"),
    ],
)
def test_discover_refuses_bad_sets(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(MigrationError, match=message):
        discover(write(tmp_path, files))


def test_repository_migrations_are_a_valid_set() -> None:
    found = discover()
    assert found and found[0].name == "journal"


async def test_applies_in_order_once_and_records_checksums(pg_empty_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    d = write(tmp_path, TWO)
    assert await migrate(pg_empty_dsn, directory=d) == ["0001_first.sql", "0002_second.sql"]
    assert await migrate(pg_empty_dsn, directory=d) == []
    conn = await asyncpg.connect(pg_empty_dsn)
    try:
        rows = await conn.fetch("SELECT version, name, checksum, applied_at FROM schema_migrations "
                                "ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(1, "first"), (2, "second")]
        assert rows[1]["checksum"] == checksum(TWO["0002_second.sql"].encode())
        assert all(r["applied_at"] is not None for r in rows)
        assert await conn.fetchval("SELECT count(*) FROM a") == 1
    finally:
        await conn.close()
    write(d, {"0003_third.sql": "ALTER TABLE a ADD COLUMN note text;"})
    assert await migrate(pg_empty_dsn, directory=d) == ["0003_third.sql"]
    states = await status(pg_empty_dsn, directory=d)
    assert [(s.version, s.state) for s in states] == [(1, "applied"), (2, "applied"), (3, "applied")]


async def test_changed_migration_is_refused_naming_file_and_checksums(pg_empty_dsn: str,
                                                                     tmp_path: Path) -> None:
    d = write(tmp_path, TWO)
    await migrate(pg_empty_dsn, directory=d)
    old = checksum(TWO["0002_second.sql"].encode())
    changed = TWO["0002_second.sql"] + "\n-- tweak\n"
    write(d, {"0002_second.sql": changed, "0003_third.sql": "CREATE TABLE c (id int);"})
    with pytest.raises(MigrationError) as info:
        await migrate(pg_empty_dsn, directory=d)
    text = str(info.value)
    assert "0002_second.sql" in text and old in text and checksum(changed.encode()) in text
    states = await status(pg_empty_dsn, directory=d)
    assert [s.state for s in states] == ["applied", "changed", "pending"]


async def test_failing_migration_rolls_back_and_is_not_recorded(pg_empty_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    d = write(tmp_path, {"0001_ok.sql": "CREATE TABLE ok (id int);",
                         "0002_bad.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();"})
    with pytest.raises(MigrationError, match=r"0002_bad\.sql"):
        await migrate(pg_empty_dsn, directory=d)
    conn = await asyncpg.connect(pg_empty_dsn)
    try:
        assert await conn.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


async def test_database_ahead_of_files_is_refused(pg_empty_dsn: str, tmp_path: Path) -> None:
    d = write(tmp_path, TWO)
    await migrate(pg_empty_dsn, directory=d)
    (d / "0002_second.sql").unlink()
    with pytest.raises(MigrationError, match="0002_second"):
        await migrate(pg_empty_dsn, directory=d)
    states = await status(pg_empty_dsn, directory=d)
    assert [(s.version, s.name, s.state) for s in states] == [(1, "first", "applied"),
                                                              (2, "second", "unknown")]


async def test_concurrent_runners_apply_each_migration_once(pg_empty_dsn: str, tmp_path: Path) -> None:
    import asyncpg

    # Non-idempotent statements: a second application would fail or double the rows.
    files = {f"{i:04d}_m{i}.sql": f"CREATE TABLE t{i} (id int);\nINSERT INTO t{i} VALUES ({i});"
             for i in range(1, 7)}
    d = write(tmp_path, files)
    results = await asyncio.gather(*(migrate(pg_empty_dsn, directory=d) for _ in range(3)))
    assert sorted(name for r in results for name in r) == sorted(files)
    conn = await asyncpg.connect(pg_empty_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 6
        assert await conn.fetchval("SELECT count(*) FROM t6") == 1
    finally:
        await conn.close()


async def test_repository_migrations_apply_and_are_idempotent(pg_empty_dsn: str) -> None:
    applied = await migrate(pg_empty_dsn)
    assert applied == [m.label for m in discover()]
    assert await migrate(pg_empty_dsn) == []


async def test_cli_migrate_reports_and_returns_exit_codes(pg_empty_dsn: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from callcore.config import Secret

    settings = Settings(database_url=Secret(pg_empty_dsn))
    assert await cli_migrate(settings) == 0
    out = capsys.readouterr().out
    assert "applied 0001_journal.sql" in out
    assert await cli_migrate(settings) == 0
    assert "up to date" in capsys.readouterr().out
    bad = Settings(database_url=Secret(pg_empty_dsn.rsplit("/", 1)[0] + "/cc_no_such_database_x"))
    assert await cli_migrate(bad) == 1
    assert "cannot connect" in capsys.readouterr().err
