"""Preview dialing for operators: look at the next lead, then press Call (or skip it)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcore.errors import InputError, Unavailable
from callcore.http import context as ctx
from callcore.http.operator import text_field

DIALER = web.AppKey("dialer", object)


def _runner(request: web.Request, data: dict[str, Any]) -> Any:
    dialer: Any = request.app.get(DIALER)
    if dialer is None:
        raise Unavailable("the dialer is not running in this process")
    campaign = text_field(data, "campaign", required=True, max_len=200) or ""
    return dialer.runner(campaign)  # NotFound when the campaign is not running here


def _lead_id(data: dict[str, Any]) -> int:
    value = data.get("lead_id")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError("must be a positive integer", field="lead_id")
    return value


async def next_lead(request: web.Request) -> web.Response:
    aid = ctx.agent_id(request)
    data = await ctx.body(request, ("campaign",))
    lead = await _runner(request, data).next_lead(aid)
    if lead is None:
        return ctx.reply({"lead": None})
    return ctx.reply({"lead": {"lead_id": lead.id, "phone": lead.phone, "name": lead.name,
                               "time_zones": list(lead.zones), "data": lead.data, "attempts": lead.attempts,
                               "last_outcome": lead.last_outcome}})


async def call_lead(request: web.Request) -> web.Response:
    aid = ctx.agent_id(request)
    data = await ctx.body(request, ("campaign", "lead_id"))
    attempt = await _runner(request, data).call_lead(aid, _lead_id(data))
    return ctx.reply({"attempt_id": attempt})


async def skip_lead(request: web.Request) -> web.Response:
    aid = ctx.agent_id(request)
    data = await ctx.body(request, ("campaign", "lead_id"))
    await _runner(request, data).skip_lead(aid, _lead_id(data))
    return ctx.reply({"skipped": True})
