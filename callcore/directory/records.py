"""Tickets, help requests and call records in PostgreSQL (``db``: a ``callcore.store.db.Database``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeAlias

from callcore.directory.model import TICKET_TYPES
from callcore.directory.sqlload import sql
from callcore.errors import Conflict, InputError, NotFound
from callcore.store.db import Database

Db: TypeAlias = Database

MAX_TEXT = 10_000


def jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 strings, recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    call_id: str | None
    agent_id: str
    type: str
    text: str
    caller_number: str
    status: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return dict(jsonable(asdict(self)))


@dataclass(frozen=True, slots=True)
class HelpRequest:
    id: int
    agent_id: str
    call_id: str | None
    text: str
    created_at: datetime
    answered_by: str | None
    answer_note: str | None
    answered_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return dict(jsonable(asdict(self)))


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    queue: str | None
    channel_id: str | None
    caller_number: str
    caller_name: str
    entered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    agent_id: str | None
    outcome: str | None
    recording_name: str | None
    disposition_code: str | None
    disposition_notes: str | None
    callback_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return dict(jsonable(asdict(self)))


def _text(value: Any, fld: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("must be a non-empty string", field=fld)
    if len(value) > MAX_TEXT:
        raise InputError(f"must be at most {MAX_TEXT} characters", field=fld)
    return value


def _row(cls: type[Any], row: Mapping[str, Any] | None) -> Any:
    return None if row is None else cls(**dict(row))


# --- tickets -----------------------------------------------------------------------------------


async def create_ticket(db: Db, *, agent_id: str, type: str, text: str, call_id: str | None = None,
                        caller_number: str = "") -> Ticket:
    if type not in TICKET_TYPES:
        raise InputError(f"must be one of {', '.join(TICKET_TYPES)}, got {type!r}", field="type")
    row = await db.fetchrow(sql("ticket_insert"), call_id, agent_id, type, _text(text, "text"), caller_number)
    ticket: Ticket = _row(Ticket, row)
    return ticket


async def list_tickets(db: Db, *, agent_id: str | None = None, call_id: str | None = None,
                       status: str | None = None, limit: int = 500) -> list[Ticket]:
    if status not in (None, "open", "closed"):
        raise InputError(f"must be open or closed, got {status!r}", field="status")
    rows = await db.fetch(sql("ticket_list"), agent_id, call_id, status, limit)
    return [Ticket(**dict(r)) for r in rows]


async def close_ticket(db: Db, ticket_id: int) -> Ticket:
    row = await db.fetchrow(sql("ticket_close"), ticket_id)
    if row is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    ticket: Ticket = _row(Ticket, row)
    return ticket


# --- help requests -----------------------------------------------------------------------------


async def create_help_request(db: Db, *, agent_id: str, text: str, call_id: str | None = None) -> HelpRequest:
    req: HelpRequest = _row(HelpRequest, await db.fetchrow(sql("help_insert"), agent_id, call_id,
                                                            _text(text, "text")))
    return req


async def list_help_requests(db: Db, *, open_only: bool = True, agent_id: str | None = None,
                             limit: int = 500) -> list[HelpRequest]:
    rows = await db.fetch(sql("help_list"), open_only, agent_id, limit)
    return [HelpRequest(**dict(r)) for r in rows]


async def answer_help_request(db: Db, request_id: int, *, answered_by: str, note: str) -> HelpRequest:
    """Mark a help request answered; Conflict if someone answered it already."""
    row = await db.fetchrow(sql("help_answer"), request_id, answered_by, _text(note, "note"))
    if row is None:
        if await db.fetchrow(sql("help_get"), request_id) is None:
            raise NotFound(f"help request {request_id} does not exist")
        raise Conflict(f"help request {request_id} was already answered")
    req: HelpRequest = _row(HelpRequest, row)
    return req


# --- call records ------------------------------------------------------------------------------


async def record_call_entered(db: Db, *, call_id: str, queue: str | None, entered_at: datetime,
                              channel_id: str | None = None, caller_number: str = "",
                              caller_name: str = "") -> None:
    await db.execute(sql("call_enter"), call_id, queue, channel_id, caller_number, caller_name, entered_at)


async def _update(db: Db, name: str, call_id: str, *args: Any) -> None:
    if await db.fetchval(sql(name), call_id, *args) is None:
        raise NotFound(f"call {call_id!r} does not exist")


async def record_call_answered(db: Db, *, call_id: str, agent_id: str, answered_at: datetime) -> None:
    await _update(db, "call_answer", call_id, agent_id, answered_at)


async def record_call_ended(db: Db, *, call_id: str, ended_at: datetime, outcome: str) -> None:
    """``outcome``: answered, abandoned, overflowed, transferred, timeout, callback ..."""
    await _update(db, "call_end", call_id, ended_at, outcome)


async def record_disposition(db: Db, *, call_id: str, code: str, notes: str = "",
                             callback_at: datetime | None = None) -> None:
    await _update(db, "call_disposition", call_id, code, notes, callback_at)


async def record_recording(db: Db, *, call_id: str, recording_name: str) -> None:
    await _update(db, "call_recording", call_id, recording_name)


async def get_call(db: Db, call_id: str) -> CallRecord:
    row = await db.fetchrow(sql("call_get"), call_id)
    if row is None:
        raise NotFound(f"call {call_id!r} does not exist")
    rec: CallRecord = _row(CallRecord, row)
    return rec


OUTCOMES = ("answered", "abandoned", "overflowed", "transferred", "callback", "refused")


async def list_calls(db: Db, *, since: datetime, until: datetime, queue: str | None = None,
                     outcome: str | None = None, limit: int = 10_000) -> list[CallRecord]:
    """Call records that entered in ``[since, until)``, e.g. every abandoned call of a queue."""
    if outcome is not None and outcome not in OUTCOMES:
        raise InputError(f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}", field="outcome")
    rows = await db.fetch(sql("call_list"), since, until, queue, outcome, limit)
    return [CallRecord(**dict(r)) for r in rows]


async def refresh_calls(db: Db, *, since: datetime | None) -> int:
    """Rebuild call records from the journal for calls with events since ``since`` (all when None).

    Returns the number of call records written. Safe to run repeatedly (e.g. every minute).
    """
    status = await db.execute(sql("calls_refresh"), since)
    return int(str(status).rsplit(" ", 1)[-1])
