"""What the desktop and wallboard read and write besides the ACD: help chat messages, the department
directory, calls flagged for review, and a caller's history (earlier calls, dispositions, tickets)."""

from __future__ import annotations

from typing import Any

from callcore.directory.records import jsonable
from callcore.errors import InputError, NotFound
from callcore.store.db import Database
from callcore.web.sqlload import sql

FLAG_REASONS = ("abusive", "threat", "quality", "repeat", "other")
MAX_TEXT = 4000


def _row(row: Any) -> dict[str, Any]:
    return dict(jsonable(dict(row)))


def text(value: Any, fld: str, *, max_len: int = MAX_TEXT, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError("must be a non-empty string", field=fld)
    if len(value) > max_len:
        raise InputError(f"must be at most {max_len} characters", field=fld)
    if "\x00" in value:
        raise InputError("must not contain U+0000", field=fld)
    return value


# --- help chat ---------------------------------------------------------------------------------


async def add_message(db: Database, request_id: int, *, sender: str, role: str, body: Any) -> dict[str, Any]:
    row = await db.fetchrow(sql("help_message_insert"), request_id, sender, role, text(body, "text"))
    if row is None:
        raise NotFound(f"help request {request_id} does not exist")
    return _row(row)


async def messages(db: Database, request_id: int) -> list[dict[str, Any]]:
    return [_row(r) for r in await db.fetch(sql("help_message_list"), request_id)]


async def help_owner(db: Database, request_id: int) -> str:
    owner = await db.fetchval("SELECT agent_id FROM help_requests WHERE id = $1", request_id)
    if owner is None:
        raise NotFound(f"help request {request_id} does not exist")
    return str(owner)


async def open_threads(db: Database, *, agent_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    return [_row(r) for r in await db.fetch(sql("help_open_threads"), agent_id, limit)]


# --- departments -------------------------------------------------------------------------------


async def departments(db: Database, projects: list[str] | None = None) -> list[dict[str, Any]]:
    return [_row(r) for r in await db.fetch(sql("department_list"), projects)]


async def department(db: Database, department_id: int) -> dict[str, Any]:
    row = await db.fetchrow(sql("department_get"), department_id)
    if row is None:
        raise NotFound(f"department {department_id} does not exist")
    return _row(row)


async def save_department(db: Database, data: dict[str, Any]) -> dict[str, Any]:
    for key in data:
        if key not in ("project", "name", "phone", "hours", "transfer_queue"):
            raise InputError("unknown field", field=key)
    queue = data.get("transfer_queue")
    if queue is not None:
        text(queue, "transfer_queue", max_len=64)
        if await db.fetchval("SELECT 1 FROM queues WHERE name = $1", queue) is None:
            raise InputError(f"queue {queue!r} does not exist", field="transfer_queue")
    row = await db.fetchrow(sql("department_upsert"), text(data.get("project", ""), "project", max_len=64,
                                                           required=False),
                            text(data.get("name"), "name", max_len=200), text(data.get("phone"), "phone", max_len=64),
                            text(data.get("hours", ""), "hours", max_len=200, required=False), queue)
    return _row(row)


async def delete_department(db: Database, department_id: int) -> None:
    if await db.fetchval(sql("department_delete"), department_id) is None:
        raise NotFound(f"department {department_id} does not exist")


# --- flagged calls -----------------------------------------------------------------------------


async def flag_call(db: Database, *, agent_id: str, call_id: str | None, caller_number: str, reason: Any,
                    note: str) -> dict[str, Any]:
    if reason not in FLAG_REASONS:
        raise InputError(f"must be one of {', '.join(FLAG_REASONS)}", field="reason")
    return _row(await db.fetchrow(sql("flag_insert"), call_id, agent_id, caller_number, reason, note))


async def flags(db: Database, *, open_only: bool = True, limit: int = 200) -> list[dict[str, Any]]:
    return [_row(r) for r in await db.fetch(sql("flag_list"), open_only, limit)]


async def review_flag(db: Database, flag_id: int, reviewer: str) -> dict[str, Any]:
    row = await db.fetchrow(sql("flag_review"), flag_id, reviewer)
    if row is None:
        raise NotFound(f"flagged call {flag_id} does not exist")
    return _row(row)


# --- caller history ----------------------------------------------------------------------------


async def caller_history(db: Database, number: str, *, exclude_call: str | None = None,
                         limit: int = 20) -> dict[str, Any]:
    """Earlier calls of ``number`` (newest first, with dispositions) and its tickets; ``repeat_open`` when
    the caller called before and has an open ticket (the problem is not solved yet)."""
    if not number:
        return {"number": number, "calls": [], "tickets": [], "open_tickets": 0, "repeat_open": False}
    calls = [_row(r) for r in await db.fetch(sql("history_calls"), number, exclude_call, limit)]
    tickets = [_row(r) for r in await db.fetch(sql("history_tickets"), number, limit)]
    open_tickets = sum(1 for t in tickets if t["status"] == "open")
    return {"number": number, "calls": calls, "tickets": tickets, "open_tickets": open_tickets,
            "repeat_open": open_tickets > 0 and bool(calls)}
