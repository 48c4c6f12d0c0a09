"""One exception root for everything callcore raises on purpose.

Adapters translate protocol and driver failures into these classes; only the HTTP layer maps them to
status codes.
"""

from __future__ import annotations


class CallcoreError(Exception):
    """Root of every error callcore raises deliberately."""


class ConfigError(CallcoreError):
    """A setting is missing or has a bad value. The message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class InputError(CallcoreError):
    """Bad input from a person or a file; says what is wrong and where (file, line, field)."""

    def __init__(self, problem: str, *, where: str | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.where = where
        self.field = field
        parts = [p for p in (where, field) if p]
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class NotFound(CallcoreError):
    """A domain object (queue, agent, campaign, call ...) does not exist."""


class Conflict(CallcoreError):
    """The request clashes with the current state (agent already on a call, duplicate name ...)."""


class Unavailable(CallcoreError):
    """A dependency (Asterisk, PostgreSQL, AMI) cannot be reached right now."""


# --- ARI -------------------------------------------------------------------------------------------


class AriError(CallcoreError):
    """An ARI request failed. ``status`` is the HTTP status (0 for network failures)."""

    def __init__(self, message: str, *, status: int = 0, method: str = "", path: str = "") -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        where = f"{method} {path}".strip()
        super().__init__(f"ARI {where} -> {status}: {message}" if where else message)


class AriBadRequest(AriError):
    """400: bad parameters (also 'Channel not found' in bridge addChannel)."""


class AriUnauthorized(AriError):
    """401: wrong ARI credentials."""


class AriForbidden(AriError):
    """403."""


class AriNotFound(AriError):
    """404: the channel/bridge/playback is gone. For a channel that already hung up this is ordinary."""


class AriConflict(AriError):
    """409: e.g. channel not in Stasis, duplicate id or recording name."""


class AriUnprocessable(AriError):
    """422: e.g. channel not in Stasis for bridge operations, unknown recording format."""


class AriServerError(AriError):
    """5xx: Asterisk failed (e.g. 'Allocation failed' for an unknown endpoint)."""


class AriUnavailable(AriError, Unavailable):
    """Asterisk could not be reached (connection refused, timeout, dropped connection)."""


# --- AMI / AGI / store -----------------------------------------------------------------------------


class AmiError(CallcoreError):
    """An AMI action failed or AMI could not be used."""


class AmiAuthError(AmiError):
    """AMI login was refused: wrong username or secret."""


class AgiError(CallcoreError):
    """A FastAGI session failed (protocol violation, hangup, timeout)."""


class AgiHangup(AgiError):
    """The channel hung up during an AGI session."""


class StoreError(CallcoreError):
    """A PostgreSQL operation failed."""


class MigrationError(StoreError):
    """A migration cannot be applied (e.g. an applied migration was changed)."""


# The classes below are what ``callcore.store.db`` turns driver errors into (its ``ERROR_TABLE``); nothing
# outside ``callcore.store`` sees an asyncpg exception.


class DatabaseUnavailable(StoreError, Unavailable):
    """PostgreSQL cannot be used right now (connection refused or lost, timeout, server shutting down or out
    of connections, serialization failure or deadlock): retrying later can succeed."""


class UniqueViolation(StoreError, Conflict):
    """A row with the same key already exists. ``constraint`` names the unique constraint when known."""

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        self.constraint = constraint
        super().__init__(message)


class ReferenceMissing(StoreError, NotFound):
    """A foreign key points at a row that does not exist."""


class DataRejected(StoreError, InputError):
    """PostgreSQL refused a value (check or not-null constraint, bad text or number for the column type).
    ``field`` names the column or constraint when PostgreSQL said which."""

    def __init__(self, problem: str, *, where: str | None = None, field: str | None = None) -> None:
        InputError.__init__(self, problem, where=where, field=field)


class SchemaMissing(StoreError):
    """A table or column the query needs does not exist (migrations not applied)."""
