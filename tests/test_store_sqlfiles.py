from __future__ import annotations

import pytest

from callcore.errors import StoreError
from callcore.store.sqlfiles import load_sql, migrations_dir


def test_load_sql_reads_package_file() -> None:
    text = load_sql("callcore.store", "journal_insert")
    assert "ON CONFLICT (event_key) DO NOTHING" in text


def test_load_sql_missing_file_names_it() -> None:
    with pytest.raises(StoreError, match=r"callcore/store/sql/no_such_query\.sql"):
        load_sql("callcore.store", "no_such_query")


def test_load_sql_missing_package_names_it() -> None:
    with pytest.raises(StoreError, match=r"callcore/nowhere/sql/x\.sql"):
        load_sql("callcore.nowhere", "x")


@pytest.mark.parametrize("name", ["", "../schema", "a/b", ".hidden"])
def test_load_sql_refuses_paths(name: str) -> None:
    with pytest.raises(StoreError):
        load_sql("callcore.store", name)


def test_migrations_dir_is_the_checkout_sql_directory() -> None:
    d = migrations_dir()
    assert (d / "migrations" / "0001_journal.sql").is_file()
    assert (d / "schema.sql").is_file()
