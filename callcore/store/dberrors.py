"""Which driver failures mean "PostgreSQL cannot be reached right now".

``translate`` turns an asyncpg or socket error into the project's exception root: ``DatabaseUnavailable``
when the server is down, restarting, unreachable or out of connection slots (retry later), ``StoreError``
for any other PostgreSQL error, None when the exception is not a database failure at all.
"""

from __future__ import annotations

import asyncpg

from callcore.errors import CallcoreError, DatabaseUnavailable, StoreError

# the server is away, starting, stopping, or has no connection slot free: worth a retry later
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,                                    # refused, reset, unreachable (ConnectionError is an OSError)
    TimeoutError,                               # connect or query timeout
    asyncpg.PostgresConnectionError,            # class 08: connection dropped or rejected
    asyncpg.CannotConnectNowError,              # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,                 # 57P01
    asyncpg.CrashShutdownError,                 # 57P02
    asyncpg.TooManyConnectionsError,            # 53300
)
_CLIENT_BUGS = (asyncpg.exceptions.DataError, asyncpg.exceptions.ClientConfigurationError)


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, _UNAVAILABLE):
        return True
    # "connection is closed", "pool is closing": the connection went away under the query
    return isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, _CLIENT_BUGS)


def translate(exc: BaseException) -> CallcoreError | None:
    """The project's error for a driver failure (see the module doc); ``exc`` itself when it already is one."""
    if isinstance(exc, CallcoreError):
        return exc
    if is_unavailable(exc):
        return DatabaseUnavailable(f"PostgreSQL is unreachable: {_describe(exc)}")
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return StoreError(f"database error: {_describe(exc)}")
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
