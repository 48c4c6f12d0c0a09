"""Operator endpoints: session, state, current call, disposition, tickets, transfer, help, event stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from callcore.directory import records, store
from callcore.errors import InputError, NotFound
from callcore.http import context as ctx
from callcore.http.context import agent_id, body, reply
from callcore.http.sse import SUPERVISORS, stream
from callcore.store.dberrors import is_unavailable

log = structlog.get_logger(__name__)


def text_field(data: dict[str, Any], key: str, *, required: bool = False,
               max_len: int = 10_000) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError("is required", field=key)
        return None
    if not isinstance(value, str):
        raise InputError("must be a string", field=key)
    if required and not value.strip():
        raise InputError("must not be empty", field=key)
    if len(value) > max_len:
        raise InputError(f"must be at most {max_len} characters", field=key)
    return value


def epoch_field(data: dict[str, Any], key: str) -> float | None:
    """A time as epoch seconds or ISO 8601 with a timezone."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InputError("must be epoch seconds or an ISO 8601 time", field=key) from None
        if parsed.tzinfo is None:
            raise InputError("must include a timezone offset", field=key)
        return parsed.timestamp()
    raise InputError("must be epoch seconds or an ISO 8601 time", field=key)


PERSIST_TIMEOUT = 1.0


async def _persist_state(request: web.Request, aid: str, state: dict[str, Any]) -> None:
    """Keep the agent's state (and pause reason) in PostgreSQL so that it survives a restart."""
    db = request.app[ctx.POOL]
    if db is None or "state" not in state:
        return
    since = state.get("since")
    when = datetime.fromtimestamp(float(since), UTC) if isinstance(since, int | float) else datetime.now(UTC)
    try:
        # the ACD has already changed the state; a slow or absent database must not hold up the operator
        # (the service's journal projection writes the same row again once PostgreSQL is back)
        async with asyncio.timeout(PERSIST_TIMEOUT):
            await store.save_agent_state(db, aid, str(state["state"]), state.get("pause_reason") or None, when,
                                         instance=request.app[ctx.SETTINGS].instance_id)
    except Exception as exc:
        log.warning("agent_state_not_saved", agent_id=aid, error=repr(exc))


async def login(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("endpoint",))
    endpoint = text_field(data, "endpoint", max_len=200)
    state = await ctx.acd(request).login(aid, endpoint=endpoint or None)
    await _persist_state(request, aid, state)
    return reply(state)


async def logout(request: web.Request) -> web.Response:
    aid = agent_id(request)
    state = await ctx.acd(request).logout(aid)
    await _persist_state(request, aid, state)
    return reply(state)


async def pause(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("reason",))
    reason = text_field(data, "reason", required=True, max_len=200) or ""
    state = await ctx.acd(request).pause(aid, reason)
    await _persist_state(request, aid, state)
    return reply(state)


async def ready(request: web.Request) -> web.Response:
    aid = agent_id(request)
    state = await ctx.acd(request).ready(aid)
    await _persist_state(request, aid, state)
    return reply(state)


async def state(request: web.Request) -> web.Response:
    return reply(ctx.acd(request).agent_state(agent_id(request)))


async def current_call(request: web.Request) -> web.Response:
    return reply({"call": ctx.acd(request).current_call(agent_id(request))})


async def disposition(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("code", "notes", "callback_at"))
    code = text_field(data, "code", required=True, max_len=64) or ""
    notes = text_field(data, "notes") or ""
    callback_at = epoch_field(data, "callback_at")
    port = ctx.acd(request)
    before = port.agent_state(aid).get("call_id")  # the call being wrapped up
    result = await port.disposition(aid, code, notes, callback_at)
    call_id = result.get("call_id") or before
    db = request.app[ctx.POOL]
    if db is not None and call_id:
        when = None if callback_at is None else datetime.fromtimestamp(callback_at, UTC)
        try:
            await records.record_disposition(db, call_id=str(call_id), code=code, notes=notes,
                                             callback_at=when)
        except NotFound:
            log.info("disposition_without_call_record", call_id=call_id)
        except Exception as exc:  # journaled by the ACD: the projection writes it once PostgreSQL is back
            if not is_unavailable(exc):
                raise
            log.warning("disposition_recorded_later", call_id=call_id, error=repr(exc))
    return reply(result)


async def transfer(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("queue", "number"))
    queue = text_field(data, "queue", max_len=64)
    number = text_field(data, "number", max_len=64)
    if (queue is None) == (number is None):
        raise InputError("give exactly one of 'queue' or 'number'", field="queue" if queue else "number")
    return reply(await ctx.acd(request).transfer(aid, queue=queue, number=number))


async def _call_of(request: web.Request, aid: str) -> dict[str, Any]:
    """The agent's current call, or the call it is wrapping up (caller data from the call record)."""
    if request.app[ctx.ACD] is None:
        return {}
    port = ctx.acd(request)
    call = port.current_call(aid)
    if call:
        return dict(call)
    call_id = port.agent_state(aid).get("call_id")
    if not call_id:
        return {}
    try:
        rec = await records.get_call(ctx.pool(request), str(call_id))
    except NotFound:
        return {"call_id": call_id}
    except Exception as exc:  # the caller's details are in PostgreSQL only; the call id is enough to go on
        if not is_unavailable(exc):
            raise
        return {"call_id": call_id}
    return {"call_id": call_id, "caller_number": rec.caller_number, "caller_name": rec.caller_name}


async def create_ticket(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("type", "text", "call_id", "caller_number"))
    call = await _call_of(request, aid)
    ticket = await records.create_ticket(
        ctx.pool(request), agent_id=aid,
        type=text_field(data, "type", required=True, max_len=20) or "",
        text=text_field(data, "text", required=True) or "",
        call_id=text_field(data, "call_id", max_len=128) or call.get("call_id"),
        caller_number=text_field(data, "caller_number", max_len=64) or str(call.get("caller_number") or ""))
    ctx.hub(request).publish(SUPERVISORS, {"event": "ticket_created", **ticket.to_json()})
    return reply(ticket.to_json(), status=201)


async def list_tickets(request: web.Request) -> web.Response:
    aid = agent_id(request)
    tickets = await records.list_tickets(ctx.pool(request), agent_id=aid, status=request.query.get("status"))
    return reply({"tickets": [t.to_json() for t in tickets]})


async def ask_help(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("text", "call_id"))
    call = await _call_of(request, aid)
    req = await records.create_help_request(
        ctx.pool(request), agent_id=aid, text=text_field(data, "text", required=True) or "",
        call_id=text_field(data, "call_id", max_len=128) or call.get("call_id"))
    ctx.hub(request).publish(SUPERVISORS, {"event": "help_request", **req.to_json()})
    return reply(req.to_json(), status=201)


async def events(request: web.Request) -> web.StreamResponse:
    """State changes and call offers from the ACD, plus supervisors' answers to help requests."""
    aid = agent_id(request)
    sources = [ctx.hub(request).subscribe(aid)]
    if request.app[ctx.ACD] is not None:
        sources.append(ctx.acd(request).events(aid))
    return await stream(request, sources, name=f"agent-{aid}", hub=ctx.hub(request))


__all__ = ["ask_help", "create_ticket", "current_call", "disposition", "events", "list_tickets",
           "login", "logout", "pause", "ready", "state", "transfer"]
