"""The one door to PostgreSQL: ``Database``, and the one table that turns driver errors into callcore's.

Every query of the product runs through a :class:`Database` (a pool, or one connection of it): ``fetch``,
``fetchrow``, ``fetchval``, ``execute``, ``executemany``, ``copy`` and ``transaction``. The SQL text still
comes from ``.sql`` files (``callcore.store.sqlfiles.load_sql``). Rows are read-only mappings
(``row["column"]``); ``fetch_as``/``fetchrow_as`` convert them into typed objects (msgspec structs or
dataclasses) and say which column did not fit.

An asyncpg, OS or timeout error never leaves this module: :data:`ERROR_TABLE` maps it, first match wins,
to a subclass of :class:`callcore.errors.StoreError`:

==========================================================  ================================================
driver error                                                 callcore error
==========================================================  ================================================
unique violation (23505)                                     ``UniqueViolation`` (a ``Conflict``)
foreign-key violation (23503)                                ``ReferenceMissing`` (a ``NotFound``)
check (23514) / not-null (23502) violation, data error (22)  ``DataRejected`` (an ``InputError``)
undefined table (42P01) / column (42703)                     ``SchemaMissing``
connection errors (08), resources (53), operator intervention  ``DatabaseUnavailable`` (an ``Unavailable``)
(57: shutdown, cannot connect now, statement timeout), system
errors (58), serialization failure (40001), deadlock (40P01),
driver interface/internal errors, ``OSError``, ``TimeoutError``
any other PostgreSQL error                                   ``StoreError``
==========================================================  ================================================

``translate(exc)`` applies the table to an exception caught elsewhere (``None`` when it is not a database
error). Only ``callcore.store`` imports asyncpg (tests/test_import_direction.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import msgspec

from callcore.errors import (
    CallcoreError,
    DatabaseUnavailable,
    DataRejected,
    ReferenceMissing,
    SchemaMissing,
    StoreError,
    UniqueViolation,
)

Row = Mapping[str, Any]
T = TypeVar("T")


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    detail = getattr(exc, "detail", None)
    return f"{text} ({detail})" if detail and isinstance(detail, str) and detail not in text else text


def _unique(exc: BaseException) -> CallcoreError:
    return UniqueViolation(_message(exc), constraint=getattr(exc, "constraint_name", None))


def _reference(exc: BaseException) -> CallcoreError:
    return ReferenceMissing(_message(exc))


def _rejected(exc: BaseException) -> CallcoreError:
    field = getattr(exc, "column_name", None) or getattr(exc, "constraint_name", None)
    return DataRejected(_message(exc), field=field)


def _schema(exc: BaseException) -> CallcoreError:
    return SchemaMissing(_message(exc))


def _unavailable(exc: BaseException) -> CallcoreError:
    return DatabaseUnavailable(f"PostgreSQL unavailable: {type(exc).__name__}: {_message(exc)}")


def _store(exc: BaseException) -> CallcoreError:
    return StoreError(_message(exc))


Translation = Callable[[BaseException], CallcoreError]

#: Driver error class -> constructor of the callcore error; first match (``isinstance``) wins, so every
#: class comes before its bases (a test checks that no entry is shadowed by an earlier one).
ERROR_TABLE: tuple[tuple[type[BaseException], Translation], ...] = (
    (asyncpg.UniqueViolationError, _unique),
    (asyncpg.ForeignKeyViolationError, _reference),
    (asyncpg.CheckViolationError, _rejected),
    (asyncpg.NotNullViolationError, _rejected),
    (asyncpg.DataError, _rejected),
    (asyncpg.UndefinedTableError, _schema),
    (asyncpg.UndefinedColumnError, _schema),
    (asyncpg.PostgresConnectionError, _unavailable),
    (asyncpg.InsufficientResourcesError, _unavailable),
    (asyncpg.OperatorInterventionError, _unavailable),
    (asyncpg.PostgresSystemError, _unavailable),
    (asyncpg.SerializationError, _unavailable),
    (asyncpg.DeadlockDetectedError, _unavailable),
    (asyncpg.InterfaceError, _unavailable),
    (asyncpg.InternalClientError, _unavailable),
    (OSError, _unavailable),  # TimeoutError and ConnectionError included
    (asyncpg.PostgresError, _store),
)


def translate(exc: BaseException) -> CallcoreError | None:
    """The callcore error for a database failure (see :data:`ERROR_TABLE`); the exception itself when it
    is already a CallcoreError, ``None`` for anything else."""
    if isinstance(exc, CallcoreError):
        return exc
    for cls, make in ERROR_TABLE:
        if isinstance(exc, cls):
            return make(exc)
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Re-raise database failures inside the block as callcore errors (chained to the driver's)."""
    try:
        yield
    except Exception as exc:
        mapped = translate(exc)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc


def convert_row(row: Row, cls: type[T]) -> T:
    """One row as ``cls`` (a msgspec struct, dataclass or TypedDict); StoreError naming the column when a
    value does not fit."""
    try:
        return msgspec.convert(dict(row), cls, strict=False)
    except msgspec.ValidationError as exc:
        raise StoreError(f"row does not fit {cls.__name__}: {exc}") from exc


class Database:
    """A pool, or one connection (inside ``acquire``/``transaction``), behind callcore's error table.

    ``timeout`` (seconds) applies to every statement that does not pass its own.
    """

    def __init__(self, target: Any, *, timeout: float | None = None) -> None:
        self._target = target
        self._timeout = timeout

    @property
    def raw(self) -> Any:
        """The asyncpg pool or connection (for ``callcore.store`` modules only)."""
        return self._target

    @property
    def is_connection(self) -> bool:
        return not hasattr(self._target, "acquire")

    def _t(self, timeout: float | None) -> float | None:
        return self._timeout if timeout is None else timeout

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Row]:
        async with translated():
            rows: list[Row] = await self._target.fetch(query, *args, timeout=self._t(timeout))
        return rows

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Row | None:
        async with translated():
            row: Row | None = await self._target.fetchrow(query, *args, timeout=self._t(timeout))
        return row

    async def fetchone(self, query: str, *args: Any, timeout: float | None = None) -> Row:
        """The one row a statement always returns (an aggregate, ``INSERT ... RETURNING``); StoreError when
        there is none."""
        row = await self.fetchrow(query, *args, timeout=timeout)
        if row is None:
            raise StoreError(f"no row returned by: {query.strip().splitlines()[0][:80]}")
        return row

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        async with translated():
            return await self._target.fetchval(query, *args, column=column, timeout=self._t(timeout))

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        async with translated():
            status: str = await self._target.execute(query, *args, timeout=self._t(timeout))
        return status

    async def executemany(self, query: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None) -> None:
        async with translated():
            await self._target.executemany(query, args, timeout=self._t(timeout))

    async def copy(self, table: str, records: Iterable[Sequence[Any]], *, columns: Sequence[str],
                   schema: str | None = None, timeout: float | None = None) -> int:
        """``COPY table (columns) FROM STDIN`` of ``records``; the number of rows copied."""
        async with translated():
            status: str = await self._target.copy_records_to_table(
                table, records=records, columns=list(columns), schema_name=schema, timeout=self._t(timeout))
        return int(status.rsplit(" ", 1)[-1]) if status else 0

    async def copy_stream(self, table: str, source: AsyncIterator[bytes], *, columns: Sequence[str],
                          format: str = "text", timeout: float | None = None) -> int:
        """``COPY table (columns) FROM STDIN`` of data already in COPY ``format`` (``text``, ``csv`` or
        ``binary``), read from ``source`` as it is produced; the number of rows copied."""
        async with translated():
            status: str = await self._target.copy_to_table(table, source=source, columns=list(columns),
                                                           format=format, timeout=self._t(timeout))
        return int(status.rsplit(" ", 1)[-1]) if status else 0

    async def cursor(self, query: str, *args: Any, prefetch: int = 1000) -> AsyncIterator[Row]:
        """Rows streamed ``prefetch`` at a time (a connection inside a transaction)."""
        async with translated():
            async for row in self._target.cursor(query, *args, prefetch=prefetch):
                yield row

    async def fetch_as(self, cls: type[T], query: str, *args: Any, timeout: float | None = None) -> list[T]:
        return [convert_row(r, cls) for r in await self.fetch(query, *args, timeout=timeout)]

    async def fetchrow_as(self, cls: type[T], query: str, *args: Any, timeout: float | None = None) -> T | None:
        row = await self.fetchrow(query, *args, timeout=timeout)
        return None if row is None else convert_row(row, cls)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Database]:
        """One connection of the pool (this database itself when it already is a connection)."""
        if self.is_connection:
            yield self
            return
        async with translated(), self._target.acquire() as conn:
            yield Database(conn, timeout=self._timeout)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """A connection inside a transaction: committed when the block ends, rolled back when it raises."""
        async with self.acquire() as db, translated(), db._target.transaction():
            yield db

    async def close(self) -> None:
        await self._target.close()

    def is_closed(self) -> bool:
        closed: bool = self._target.is_closed() if self.is_connection else self._target._closed
        return closed

    async def listen(self, channel: str, callback: Callable[[Any, int, str, str], None]) -> None:
        """``LISTEN channel`` on this connection; ``callback(connection, pid, channel, payload)``."""
        async with translated():
            await self._target.add_listener(channel, callback)

    def on_terminate(self, callback: Callable[[Any], None]) -> None:
        """``callback(connection)`` when this connection is closed by the server or the network."""
        self._target.add_termination_listener(callback)

    async def unlisten(self, channel: str, callback: Callable[[Any, int, str, str], None]) -> None:
        async with translated():
            await self._target.remove_listener(channel, callback)

    def terminate(self) -> None:
        self._target.terminate()


def database(target: Database | Any, *, timeout: float | None = None) -> Database:
    """``target`` as a Database (an asyncpg pool or connection is wrapped, a Database returned as is)."""
    return target if isinstance(target, Database) else Database(target, timeout=timeout)


async def open_pool(dsn: str, size: int, *, timeout: float | None = None, lazy: bool = False) -> Database:
    """A pool of at most ``size`` connections (json/jsonb as Python objects); DatabaseUnavailable when
    PostgreSQL cannot be reached. ``lazy``: open no connection now (the pool exists while PostgreSQL is
    down, and connects when first used)."""
    from callcore.store.pg import create_pool

    async with translated():
        pool = await create_pool(dsn, size, lazy=lazy)
    return Database(pool, timeout=timeout)


async def connect(dsn: str, *, timeout: float | None = None, codecs: bool = True) -> Database:
    """One connection (json/jsonb codecs unless ``codecs=False``); DatabaseUnavailable when unreachable."""
    from callcore.store import pg

    async with translated():
        conn = await (pg.connect(dsn) if codecs else asyncpg.connect(dsn, timeout=pg.CONNECT_TIMEOUT))
    return Database(conn, timeout=timeout)


__all__ = ["ERROR_TABLE", "Database", "Row", "connect", "convert_row", "database", "open_pool", "translate",
           "translated"]
