"""The database boundary: every driver error the product can meet maps to the documented callcore error, and
a real PostgreSQL produces those errors through ``Database``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import asyncpg
import msgspec
import pytest

from callcore.errors import (
    CallcoreError,
    Conflict,
    DatabaseUnavailable,
    DataRejected,
    InputError,
    NotFound,
    ReferenceMissing,
    SchemaMissing,
    StoreError,
    Unavailable,
    UniqueViolation,
)
from callcore.http.errors import ERROR_MAP
from callcore.store.db import ERROR_TABLE, Database, connect, translate, translated

# What the module documentation promises, class by class (subclasses included where the product meets them).
DOCUMENTED: list[tuple[type[BaseException], type[CallcoreError]]] = [
    (asyncpg.UniqueViolationError, UniqueViolation),
    (asyncpg.ForeignKeyViolationError, ReferenceMissing),
    (asyncpg.CheckViolationError, DataRejected),
    (asyncpg.NotNullViolationError, DataRejected),
    (asyncpg.DataError, DataRejected),
    (asyncpg.InvalidTextRepresentationError, DataRejected),
    (asyncpg.NumericValueOutOfRangeError, DataRejected),
    (asyncpg.DivisionByZeroError, DataRejected),
    (asyncpg.UndefinedTableError, SchemaMissing),
    (asyncpg.UndefinedColumnError, SchemaMissing),
    (asyncpg.PostgresConnectionError, DatabaseUnavailable),
    (asyncpg.ConnectionDoesNotExistError, DatabaseUnavailable),
    (asyncpg.ConnectionFailureError, DatabaseUnavailable),
    (asyncpg.InsufficientResourcesError, DatabaseUnavailable),
    (asyncpg.TooManyConnectionsError, DatabaseUnavailable),
    (asyncpg.OperatorInterventionError, DatabaseUnavailable),
    (asyncpg.CannotConnectNowError, DatabaseUnavailable),
    (asyncpg.AdminShutdownError, DatabaseUnavailable),
    (asyncpg.QueryCanceledError, DatabaseUnavailable),
    (asyncpg.PostgresSystemError, DatabaseUnavailable),
    (asyncpg.SerializationError, DatabaseUnavailable),
    (asyncpg.DeadlockDetectedError, DatabaseUnavailable),
    (asyncpg.InterfaceError, DatabaseUnavailable),
    (asyncpg.InternalClientError, DatabaseUnavailable),
    (asyncpg.exceptions.OutdatedSchemaCacheError, DatabaseUnavailable),
    (ConnectionRefusedError, DatabaseUnavailable),
    (OSError, DatabaseUnavailable),
    (TimeoutError, DatabaseUnavailable),
    (asyncpg.PostgresError, StoreError),
    (asyncpg.DuplicateDatabaseError, StoreError),
    (asyncpg.SyntaxOrAccessError, StoreError),
    (asyncpg.RaiseError, StoreError),
]


def make(cls: type[BaseException]) -> BaseException:
    return cls("boom")


@pytest.mark.parametrize(("driver", "ours"), DOCUMENTED, ids=[d.__name__ for d, _ in DOCUMENTED])
def test_every_driver_error_maps_as_documented(driver: type[BaseException], ours: type[CallcoreError]) -> None:
    got = translate(make(driver))
    assert type(got) is ours
    assert "boom" in str(got)


def test_every_table_entry_is_documented_and_none_is_shadowed() -> None:
    classes = [cls for cls, _ in ERROR_TABLE]
    assert set(classes) <= {d for d, _ in DOCUMENTED}
    for i, cls in enumerate(classes):
        earlier = [c for c in classes[:i] if issubclass(cls, c)]
        assert earlier == [], f"{cls.__name__} is shadowed by {earlier}"


def test_every_driver_error_the_code_names_is_documented() -> None:
    """Any asyncpg exception class named in callcore/ (the store catches a few itself) is in the table above,
    so the mapping of every class the product meets is asserted."""
    root = Path(__file__).resolve().parents[1] / "callcore"
    named = set()
    for path in root.rglob("*.py"):
        named |= set(re.findall(r"asyncpg\.(?:exceptions\.)?([A-Z]\w+Error)\b", path.read_text(encoding="utf-8")))
    documented = {d.__name__ for d, _ in DOCUMENTED}
    assert named and named <= documented, sorted(named - documented)


def test_the_callcore_errors_keep_their_meaning_for_callers_and_http() -> None:
    assert issubclass(UniqueViolation, Conflict) and issubclass(ReferenceMissing, NotFound)
    assert issubclass(DataRejected, InputError) and issubclass(DatabaseUnavailable, Unavailable)
    for cls in (UniqueViolation, ReferenceMissing, DataRejected, DatabaseUnavailable, SchemaMissing):
        assert issubclass(cls, StoreError)

    def status(exc: BaseException) -> int:
        return next(s for c, s, _, _ in ERROR_MAP if isinstance(exc, c))

    assert status(UniqueViolation("x")) == 409 and status(ReferenceMissing("x")) == 404
    assert status(DataRejected("x")) == 422 and status(DatabaseUnavailable("x")) == 503
    assert status(SchemaMissing("x")) == 503


def test_other_exceptions_are_not_database_errors() -> None:
    assert translate(ValueError("x")) is None and translate(KeyError("x")) is None
    err = Conflict("already")
    assert translate(err) is err


async def test_translated_chains_the_driver_error_and_leaves_others_alone() -> None:
    with pytest.raises(UniqueViolation) as info:
        async with translated():
            raise asyncpg.UniqueViolationError("dup")
    assert isinstance(info.value.__cause__, asyncpg.UniqueViolationError)
    with pytest.raises(ValueError):
        async with translated():
            raise ValueError("not ours")


@dataclasses.dataclass
class Thing:
    id: int
    name: str
    at: dt.datetime | None = None


class ThingStruct(msgspec.Struct):
    id: int
    name: str


async def test_a_real_server_raises_through_the_table(pg_pool: Database) -> None:
    db = pg_pool
    await db.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    await db.execute("CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent, "
                     "n int CHECK (n >= 0), label text NOT NULL DEFAULT '')")
    await db.execute("INSERT INTO parent VALUES (1)")
    with pytest.raises(UniqueViolation) as dup:
        await db.execute("INSERT INTO parent VALUES (1)")
    assert dup.value.constraint == "parent_pkey"
    with pytest.raises(ReferenceMissing):
        await db.execute("INSERT INTO child (id, parent, n) VALUES (1, 2, 0)")
    with pytest.raises(DataRejected) as neg:
        await db.execute("INSERT INTO child (id, parent, n) VALUES (1, 1, -1)")
    assert neg.value.field == "child_n_check"
    with pytest.raises(DataRejected) as null:
        await db.execute("INSERT INTO child (id, parent, n, label) VALUES (1, 1, 0, NULL)")
    assert null.value.field == "label"
    with pytest.raises(DataRejected):
        await db.fetchval("SELECT 'x'::int")
    with pytest.raises(SchemaMissing):
        await db.fetch("SELECT * FROM nowhere")
    with pytest.raises(DatabaseUnavailable):
        await db.fetchval("SELECT pg_sleep(1)", timeout=0.05)


async def test_transactions_roll_back_and_rows_convert_to_types(pg_pool: Database) -> None:
    db = pg_pool
    await db.execute("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, at timestamptz)")
    with pytest.raises(UniqueViolation):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1, 'a', now())")
            await tx.execute("INSERT INTO t VALUES (1, 'b', now())")
    assert await db.fetchval("SELECT count(*) FROM t") == 0
    async with db.transaction() as tx:
        assert await tx.copy("t", [(1, "a", None), (2, "b", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))],
                             columns=("id", "name", "at")) == 2
    things = await db.fetch_as(Thing, "SELECT id, name, at FROM t ORDER BY id")
    assert things == [Thing(1, "a"), Thing(2, "b", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]
    assert await db.fetchrow_as(ThingStruct, "SELECT id, name FROM t WHERE id = 2") == ThingStruct(2, "b")
    assert await db.fetchrow_as(ThingStruct, "SELECT id, name FROM t WHERE id = 3") is None
    with pytest.raises(StoreError, match="ThingStruct"):
        await db.fetch_as(ThingStruct, "SELECT name AS id, name FROM t")


async def test_an_unreachable_server_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable):
        await connect("postgresql://nobody@127.0.0.1:1/none")
