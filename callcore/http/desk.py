"""Operator desktop endpoints: start-up view, call card (caller history, script in sections), department
directory and transfer there, flagging a call, hold/resume/hang-up, and the help chat."""

from __future__ import annotations

import time
from typing import Any

import structlog
from aiohttp import web

from callcore.directory import store
from callcore.errors import Conflict, InputError, NotFound, Unavailable
from callcore.http import context as ctx
from callcore.http.context import agent_id, body, reply
from callcore.http.operator import _call_of, text_field
from callcore.http.preview import DIALER
from callcore.http.sse import SUPERVISORS
from callcore.store.dberrors import is_unavailable
from callcore.web import records
from callcore.web.script import sections

log = structlog.get_logger(__name__)


def _int(raw: Any, fld: str) -> int:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)   # JSON's 7.0 is the integer 7
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        try:
            value = int(str(raw))
        except ValueError:
            raise InputError(f"must be an integer, got {raw!r}", field=fld) from None
    if not 1 <= value <= 2**63 - 1:
        raise InputError("must be a positive 64-bit integer", field=fld)
    return value


def _campaigns(request: web.Request, queues: dict[str, int]) -> list[dict[str, Any]]:
    dialer: Any = request.app.get(DIALER)
    if dialer is None:
        return []
    out = []
    for name, runner in sorted(dict(dialer.runners).items()):
        s = runner.settings
        if s.queue in queues:
            out.append({"name": name, "queue": s.queue, "mode": s.mode.value, "state": runner.campaign.state,
                        "script": s.script})
    return out


async def _projects(request: web.Request, aid: str) -> dict[str, Any]:
    db = request.app[ctx.POOL]
    memberships: dict[str, int] = {}
    if db is not None:
        try:
            memberships = dict((await store.get_agent(db, aid)).memberships)
        except NotFound:
            raise
        except Exception as exc:  # the desktop still opens while PostgreSQL is away
            log.warning("desk_memberships_unavailable", agent_id=aid, error=repr(exc))
    return {"queues": sorted(memberships), "campaigns": _campaigns(request, memberships)}


async def _card(request: web.Request, aid: str) -> dict[str, Any] | None:
    """The current (or just-ended) call with the caller's history and the script in sections."""
    call = await _call_of(request, aid)
    if not call:
        return None
    if "script" in call:
        call.update(sections(str(call.get("script") or "")))
    db = request.app[ctx.POOL]
    number = str(call.get("caller_number") or "")
    if db is not None:
        try:
            call["history"] = await records.caller_history(db, number, exclude_call=call.get("call_id"))
        except Exception as exc:
            log.warning("caller_history_unavailable", error=repr(exc))
            call["history"] = None
    return call


async def desk(request: web.Request) -> web.Response:
    aid = agent_id(request)
    settings = request.app[ctx.SETTINGS]
    projects = await _projects(request, aid)
    db = request.app[ctx.POOL]
    deps: list[dict[str, Any]] | None = []
    if db is not None:
        try:
            deps = await records.departments(db, projects["queues"] + [c["name"] for c in projects["campaigns"]])
        except Exception as exc:  # null: not known right now (PostgreSQL away); the desktop still opens
            if not is_unavailable(exc):
                raise
            log.warning("desk_departments_unavailable", agent_id=aid, error=repr(exc))
            deps = None
    return reply({"agent": ctx.acd(request).agent_state(aid),
                  "pause_reasons": [r.strip() for r in settings.pause_reasons.split(",") if r.strip()],
                  "projects": projects, "call": await _card(request, aid), "departments": deps,
                  "flag_reasons": list(records.FLAG_REASONS)})


async def call_card(request: web.Request) -> web.Response:
    return reply({"call": await _card(request, agent_id(request))})


async def departments(request: web.Request) -> web.Response:
    aid = agent_id(request)
    projects = await _projects(request, aid)
    names = projects["queues"] + [c["name"] for c in projects["campaigns"]]
    return reply({"departments": await records.departments(ctx.pool(request), names)})


async def transfer_department(request: web.Request) -> web.Response:
    """Blind transfer to a department: its queue when it has one, else its phone number."""
    aid = agent_id(request)
    data = await body(request, ("department_id",))
    dep = await records.department(ctx.pool(request), _int(data.get("department_id"), "department_id"))
    port = ctx.acd(request)
    if dep["transfer_queue"]:
        result = await port.transfer(aid, queue=dep["transfer_queue"])
    else:
        result = await port.transfer(aid, number=dep["phone"])
    return reply({**result, "department": dep})


async def consult(request: web.Request) -> web.Response:
    """Attended transfer, first step: a department (its phone number), a number, or a colleague."""
    aid = agent_id(request)
    data = await body(request, ("department_id", "number", "agent"))
    given = [k for k in ("department_id", "number", "agent") if data.get(k) is not None]
    if len(given) != 1:
        raise InputError("give exactly one of 'department_id', 'number' or 'agent'", field="number")
    number = text_field(data, "number", max_len=64)
    colleague = text_field(data, "agent", max_len=64)
    if given[0] == "department_id":
        dep = await records.department(ctx.pool(request), _int(data["department_id"], "department_id"))
        number = str(dep["phone"])
    return reply(await ctx.acd(request).consult(aid, number=number, agent=colleague))


async def consult_complete(request: web.Request) -> web.Response:
    return reply(await ctx.acd(request).call_control(agent_id(request), "complete"))


async def consult_return(request: web.Request) -> web.Response:
    return reply(await ctx.acd(request).call_control(agent_id(request), "return"))


async def dial(request: web.Request) -> web.Response:
    """Manual dial on a preview campaign the agent works on: the number is normalised and the campaign's
    compliance guards apply (do-not-call, calling window in the number's time zones, daily attempts per
    number, abandonment lockout) before anything is dialled; a refusal is a 409 naming the reason."""
    from callcore.dialer import dnc
    from callcore.dialer.campaign import Lead, Mode, dial_refusal
    from callcore.dialer.phones import BadPhone, PhoneNormalizer

    aid = agent_id(request)
    data = await body(request, ("number", "campaign"))
    raw = text_field(data, "number", required=True, max_len=64) or ""
    campaign = text_field(data, "campaign", required=True, max_len=200) or ""
    dialer: Any = request.app.get(DIALER)
    if dialer is None:
        raise Unavailable("the dialer is not running in this process")
    runner = dialer.runner(campaign)  # NotFound unless running here
    settings = runner.settings
    if settings.mode is not Mode.PREVIEW:
        raise Conflict(f"campaign {campaign} is {settings.mode.value}: manual dial is allowed on preview campaigns")
    phone = PhoneNormalizer(request.app[ctx.SETTINGS].phone_region).normalize(raw)
    if isinstance(phone, BadPhone):
        raise InputError(phone.reason, field="number")
    db = ctx.pool(request)
    now = time.time()
    on_dnc = bool(await dnc.blocked(db, [phone.e164]))
    times, abandoned = await dialer.store.number_history([phone.e164], now, settings.abandon_lockout)
    lead = Lead("manual", phone.e164, tuple(phone.tz), attempt_times=tuple(times.get(phone.e164, ())),
                last_abandoned_at=abandoned.get(phone.e164))
    refusal = dial_refusal(settings, lead, now, on_dnc)
    if refusal is not None:
        raise Conflict(f"{phone.e164} may not be dialled now: {refusal.code.value} ({refusal.detail})")
    endpoint = str(getattr(dialer, "endpoint_template", "PJSIP/{number}@trunk")).format(number=phone.e164)
    return reply(await ctx.acd(request).dial(aid, number=phone.e164, queue=settings.queue, endpoint=endpoint,
                                             caller_id=settings.caller_id))


async def flag(request: web.Request) -> web.Response:
    aid = agent_id(request)
    data = await body(request, ("reason", "note", "call_id"))
    call = await _call_of(request, aid)
    call_id = text_field(data, "call_id", max_len=128) or call.get("call_id")
    if not call_id:
        raise Conflict("no current call: give call_id")
    flagged = await records.flag_call(ctx.pool(request), agent_id=aid, call_id=str(call_id),
                                      caller_number=str(call.get("caller_number") or ""),
                                      reason=data.get("reason"), note=text_field(data, "note", max_len=2000) or "")
    ctx.hub(request).publish(SUPERVISORS, {"event": "call_flagged", **flagged})
    return reply(flagged, status=201)


async def hold(request: web.Request) -> web.Response:
    return reply(await ctx.acd(request).call_control(agent_id(request), "hold"))


async def resume(request: web.Request) -> web.Response:
    return reply(await ctx.acd(request).call_control(agent_id(request), "resume"))


async def hangup(request: web.Request) -> web.Response:
    return reply(await ctx.acd(request).call_control(agent_id(request), "hangup"))


# --- help chat (agent side) ---------------------------------------------------------------------


async def my_help(request: web.Request) -> web.Response:
    aid = agent_id(request)
    return reply({"help_requests": await records.open_threads(ctx.pool(request), agent_id=aid)})


async def _own_request(request: web.Request, aid: str) -> int:
    rid = _int(request.match_info["request_id"], "request_id")
    if await records.help_owner(ctx.pool(request), rid) != aid:
        raise NotFound(f"help request {rid} does not exist")  # other agents' requests stay invisible
    return rid


async def my_messages(request: web.Request) -> web.Response:
    aid = agent_id(request)
    rid = await _own_request(request, aid)
    return reply({"messages": await records.messages(ctx.pool(request), rid)})


async def post_my_message(request: web.Request) -> web.Response:
    aid = agent_id(request)
    rid = await _own_request(request, aid)
    data = await body(request, ("text",))
    msg = await records.add_message(ctx.pool(request), rid, sender=aid, role="agent", body=data.get("text"))
    event = {"event": "help_message", "agent_id": aid, **msg}
    ctx.hub(request).publish(SUPERVISORS, event)
    ctx.hub(request).publish(aid, event)
    return reply(msg, status=201)


# --- help chat (supervisor side) ----------------------------------------------------------------


async def threads(request: web.Request) -> web.Response:
    return reply({"help_requests": await records.open_threads(ctx.pool(request))})


async def thread_messages(request: web.Request) -> web.Response:
    rid = _int(request.match_info["request_id"], "request_id")
    await records.help_owner(ctx.pool(request), rid)
    return reply({"messages": await records.messages(ctx.pool(request), rid)})


async def post_supervisor_message(request: web.Request) -> web.Response:
    rid = _int(request.match_info["request_id"], "request_id")
    db = ctx.pool(request)
    owner = await records.help_owner(db, rid)
    data = await body(request, ("text",))
    who = ctx.principal(request)
    msg = await records.add_message(db, rid, sender=who.name, role=who.role, body=data.get("text"))
    event = {"event": "help_message", "agent_id": owner, **msg}
    ctx.hub(request).publish(owner, event)
    ctx.hub(request).publish(SUPERVISORS, event)
    return reply(msg, status=201)


# --- supervisor: flags, departments, caller history ---------------------------------------------


async def list_flags(request: web.Request) -> web.Response:
    everything = request.query.get("all", "false").lower() in ("1", "true", "yes")
    return reply({"flags": await records.flags(ctx.pool(request), open_only=not everything)})


async def review_flag(request: web.Request) -> web.Response:
    flagged = await records.review_flag(ctx.pool(request), _int(request.match_info["flag_id"], "flag_id"),
                                        ctx.principal(request).name)
    ctx.hub(request).publish(SUPERVISORS, {"event": "flag_reviewed", **flagged})
    return reply(flagged)


async def all_departments(request: web.Request) -> web.Response:
    return reply({"departments": await records.departments(ctx.pool(request))})


async def save_department(request: web.Request) -> web.Response:
    return reply(await records.save_department(ctx.pool(request), await body(request)), status=201)


async def delete_department(request: web.Request) -> web.Response:
    dep_id = _int(request.match_info["department_id"], "department_id")
    await records.delete_department(ctx.pool(request), dep_id)
    return reply({"deleted": dep_id})


async def caller_history(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    return reply(await records.caller_history(ctx.pool(request), number, limit=100))
