"""Supervisor endpoints (snapshot, help requests, tickets, listen/whisper/barge, event stream) and admin
endpoints (queue and agent CRUD, memberships, agent tokens). Directory writes fire NOTIFY callcore_config,
which makes running services reload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callcore.directory import records, store
from callcore.directory.model import agent_json, build_agent, build_queue, check_int, check_name, queue_json
from callcore.directory.report import parse_time, queue_report
from callcore.errors import InputError
from callcore.http import context as ctx
from callcore.http.context import body, reply
from callcore.http.errors import BadRequest
from callcore.http.operator import text_field
from callcore.http.sse import SUPERVISORS, stream

SUPERVISE_MODES = ("listen", "whisper", "barge")


def _int_param(request: web.Request, key: str) -> int:
    return ctx.int64(request.match_info.get(key) or request.query.get(key, ""), key)


def _bool_query(request: web.Request, key: str, default: bool) -> bool:
    raw = request.query.get(key)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise BadRequest(f"must be true or false, got {raw!r}", field=key)


# --- supervisor --------------------------------------------------------------------------------


async def snapshot(request: web.Request) -> web.Response:
    return ctx.reply_plain(ctx.acd(request).snapshot())


async def list_help(request: web.Request) -> web.Response:
    everything = _bool_query(request, "all", False)
    items = await records.list_help_requests(ctx.pool(request), open_only=not everything,
                                             agent_id=request.query.get("agent_id"))
    return reply({"help_requests": [h.to_json() for h in items]})


async def answer_help(request: web.Request) -> web.Response:
    data = await body(request, ("note",))
    note = text_field(data, "note", required=True) or ""
    answered = await records.answer_help_request(ctx.pool(request), _int_param(request, "request_id"),
                                                 answered_by=ctx.principal(request).name, note=note)
    event = {"event": "help_answer", **answered.to_json()}
    ctx.hub(request).publish(answered.agent_id, event)
    ctx.hub(request).publish(SUPERVISORS, event)
    return reply(answered.to_json())


async def all_tickets(request: web.Request) -> web.Response:
    q = request.query
    items = await records.list_tickets(ctx.pool(request), agent_id=q.get("agent_id"),
                                       call_id=q.get("call_id"), status=q.get("status"))
    return reply({"tickets": [t.to_json() for t in items]})


async def close_ticket(request: web.Request) -> web.Response:
    return reply((await records.close_ticket(ctx.pool(request), _int_param(request, "ticket_id"))).to_json())


async def supervise(request: web.Request) -> web.Response:
    data = await body(request, ("agent_id", "mode", "endpoint"))
    aid = check_name(data.get("agent_id"), "agent_id")
    mode = data.get("mode")
    if mode not in SUPERVISE_MODES:
        raise InputError(f"must be one of {', '.join(SUPERVISE_MODES)}", field="mode")
    endpoint = text_field(data, "endpoint", required=True, max_len=200) or ""
    return reply(await ctx.acd(request).supervise(aid, str(mode), endpoint))


SL_THRESHOLD_MAX = 86_400  # seconds: what the OpenAPI document declares


async def report_queues(request: web.Request) -> web.Response:
    q = request.query
    if "since" not in q:
        raise BadRequest("is required (ISO 8601)", field="since")
    since = parse_time(q["since"], "since")
    until = parse_time(q["until"], "until") if "until" in q else max(since, datetime.now(UTC))
    threshold = None
    if "sl_threshold" in q:
        try:
            threshold = float(q["sl_threshold"])
        except ValueError:
            raise BadRequest("must be a number of seconds", field="sl_threshold") from None
        if not 0 <= threshold <= SL_THRESHOLD_MAX:  # also refuses nan
            raise BadRequest(f"must be between 0 and {SL_THRESHOLD_MAX} seconds", field="sl_threshold")
    async with ctx.pool(request).acquire() as conn:
        reports = await queue_report(conn, since, until, queue=q.get("queue"), sl_threshold=threshold)
    return reply({"since": since.isoformat(), "until": until.isoformat(),
                  "queues": [r.to_json() for r in reports]})


async def list_calls(request: web.Request) -> web.Response:
    q = request.query
    if "since" not in q:
        raise BadRequest("is required (ISO 8601)", field="since")
    since = parse_time(q["since"], "since")
    until = parse_time(q["until"], "until") if "until" in q else datetime.now(UTC)
    limit = _int_param(request, "limit") if "limit" in q else 1000
    if limit < 1:
        raise BadRequest("must be at least 1", field="limit")
    calls = await records.list_calls(ctx.pool(request), since=since, until=until, queue=q.get("queue"),
                                     outcome=q.get("outcome"), limit=min(limit, 10_000))
    return reply({"calls": [c.to_json() for c in calls]})


async def supervisor_events(request: web.Request) -> web.StreamResponse:
    hub = ctx.hub(request)
    return await stream(request, [hub.subscribe(SUPERVISORS)], name="supervisors", hub=hub)


# --- admin: queues -----------------------------------------------------------------------------


async def list_queues(request: web.Request) -> web.Response:
    return reply({"queues": [queue_json(q) for q in await store.list_queues(ctx.pool(request))]})


async def create_queue(request: web.Request) -> web.Response:
    spec = build_queue(await body(request))
    return reply(queue_json(await store.create_queue(ctx.pool(request), spec)), status=201)


async def get_queue(request: web.Request) -> web.Response:
    return reply(queue_json(await store.get_queue(ctx.pool(request), request.match_info["name"])))


async def update_queue(request: web.Request) -> web.Response:
    spec = await store.update_queue(ctx.pool(request), request.match_info["name"], await body(request))
    return reply(queue_json(spec))


async def delete_queue(request: web.Request) -> web.Response:
    await store.delete_queue(ctx.pool(request), request.match_info["name"])
    return reply({"deleted": request.match_info["name"]})


# --- admin: agents -----------------------------------------------------------------------------


async def list_agents(request: web.Request) -> web.Response:
    return reply({"agents": [agent_json(a) for a in await store.list_agents(ctx.pool(request))]})


async def create_agent(request: web.Request) -> web.Response:
    spec = build_agent(await body(request))
    return reply(agent_json(await store.create_agent(ctx.pool(request), spec)), status=201)


async def get_agent(request: web.Request) -> web.Response:
    return reply(agent_json(await store.get_agent(ctx.pool(request), request.match_info["agent_id"])))


async def update_agent(request: web.Request) -> web.Response:
    spec = await store.update_agent(ctx.pool(request), request.match_info["agent_id"], await body(request))
    return reply(agent_json(spec))


async def delete_agent(request: web.Request) -> web.Response:
    await store.delete_agent(ctx.pool(request), request.match_info["agent_id"])
    return reply({"deleted": request.match_info["agent_id"]})


async def set_membership(request: web.Request) -> web.Response:
    data: dict[str, Any] = await body(request, ("penalty",))
    penalty = check_int(data.get("penalty", 0), "penalty", hi=1000)
    aid, queue = request.match_info["agent_id"], request.match_info["queue"]
    await store.set_membership(ctx.pool(request), aid, queue, penalty)
    return reply(agent_json(await store.get_agent(ctx.pool(request), aid)))


async def remove_membership(request: web.Request) -> web.Response:
    aid, queue = request.match_info["agent_id"], request.match_info["queue"]
    await store.remove_membership(ctx.pool(request), aid, queue)
    return reply(agent_json(await store.get_agent(ctx.pool(request), aid)))


async def issue_token(request: web.Request) -> web.Response:
    aid = request.match_info["agent_id"]
    token = await store.issue_agent_token(ctx.pool(request), aid)
    return reply({"agent_id": aid, "token": token}, status=201)
