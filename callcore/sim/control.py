"""The simulator's own HTTP control API under ``/_sim/`` (JSON, no authentication)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcore.agi.names import CONTEXT_INBOUND
from callcore.sim.behaviour import EndpointBehaviour
from callcore.sim.core import RestError

if TYPE_CHECKING:
    from callcore.sim.server import SimAsterisk

BEHAVIOUR_FIELDS = set(EndpointBehaviour.__dataclass_fields__)


def behaviour_from_json(data: dict[str, Any]) -> EndpointBehaviour:
    unknown = set(data) - BEHAVIOUR_FIELDS
    if unknown:
        raise RestError(400, f"unknown behaviour fields: {', '.join(sorted(unknown))}")
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return EndpointBehaviour(**fields)
    except (TypeError, ValueError) as exc:
        raise RestError(400, str(exc)) from None


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise RestError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise RestError(400, "body must be a JSON object")
    return data


def add_control_routes(app: web.Application, sim: SimAsterisk) -> None:
    r = app.router

    def guarded(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result: web.StreamResponse = await fn(request)
            except RestError as err:
                return web.json_response(err.body, status=err.status)
            return result

        return handler

    async def inject(request: web.Request) -> web.Response:
        d = await _json(request)
        args = d.get("args")
        if args is not None and (
            not isinstance(args, list) or not args or not all(isinstance(a, str | int) for a in args)
        ):
            raise RestError(400, "args must be a non-empty list of strings")
        if args is None and not d.get("queue"):
            raise RestError(400, "queue (or args) is required")
        try:
            cid = await sim.inject_call(
                queue=str(d["queue"]) if d.get("queue") else None,
                caller_number=str(d.get("caller_number", "")),
                caller_name=str(d.get("caller_name", "")),
                priority=d.get("priority"),
                patience=d.get("patience"),
                talk_time=d.get("talk_time"),
                exten=str(d.get("exten", "100")),
                answered=bool(d.get("answered")),
                args=[str(a) for a in args] if args is not None else None,
                context=str(d.get("context", CONTEXT_INBOUND)),
                endpoint=str(d["endpoint"]) if d.get("endpoint") else None,
            )
        except ValueError as exc:
            raise RestError(400, str(exc)) from None
        return web.json_response({"channel_id": cid}, status=201)

    async def agent_login(request: web.Request) -> web.Response:
        d = await _json(request)
        if not d.get("endpoint"):
            raise RestError(400, "endpoint is required")
        agent = d.get("agent_id")
        cid = await sim.inject_agent_login(str(d["endpoint"]), str(agent) if agent else None)
        return web.json_response({"channel_id": cid}, status=201)

    async def calls(request: web.Request) -> web.Response:
        return web.json_response(sim.list_calls())

    async def hangup(request: web.Request) -> web.Response:
        await sim.hangup(request.match_info["channelId"])
        return web.Response(status=204)

    async def dtmf(request: web.Request) -> web.Response:
        d = await _json(request)
        await sim.send_dtmf(request.match_info["channelId"], str(d.get("digits", "")))
        return web.Response(status=204)

    async def endpoint(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        sim.set_endpoint(name, behaviour_from_json(await _json(request)))
        return web.Response(status=204)

    async def counters(request: web.Request) -> web.Response:
        return web.json_response(sim.counters)

    async def drop(request: web.Request) -> web.Response:
        await sim.drop_websockets()
        return web.Response(status=204)

    async def restart(request: web.Request) -> web.Response:
        d = await _json(request)
        sim.restart_soon(float(d.get("down_for", 1.0)))
        return web.json_response({"restarting": True}, status=202)

    async def rest_fault(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            sim.clear_rest_faults()
            return web.Response(status=204)
        d = await _json(request)
        sim.add_rest_fault(
            str(d.get("prefix", "/ari")),
            delay=float(d.get("delay", 0.0)),
            status=int(d.get("status", 0)),
            count=d.get("count"),
        )
        return web.Response(status=204)

    async def arrivals(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            await sim.stop_arrivals()
            return web.Response(status=204)
        d = await _json(request)
        pat, talk = d.get("patience", 60.0), d.get("talk_time", (30.0, 120.0))
        sim.start_arrivals(
            float(d.get("rate_per_s", 1.0)),
            list(d.get("queues", ["sales"])),
            patience=tuple(pat) if isinstance(pat, list) else pat,
            talk_time=tuple(talk) if isinstance(talk, list) else talk,
        )
        return web.Response(status=204)

    r.add_post("/_sim/calls", guarded(inject))
    r.add_get("/_sim/calls", guarded(calls))
    r.add_post("/_sim/agent-login", guarded(agent_login))
    r.add_delete("/_sim/calls/{channelId}", guarded(hangup))
    r.add_post("/_sim/calls/{channelId}/dtmf", guarded(dtmf))
    r.add_put("/_sim/endpoints/{name:.+}", guarded(endpoint))
    r.add_get("/_sim/counters", guarded(counters))
    r.add_post("/_sim/faults/drop_websockets", guarded(drop))
    r.add_post("/_sim/faults/restart", guarded(restart))
    r.add_post("/_sim/faults/rest", guarded(rest_fault))
    r.add_delete("/_sim/faults/rest", guarded(rest_fault))
    r.add_post("/_sim/arrivals", guarded(arrivals))
    r.add_delete("/_sim/arrivals", guarded(arrivals))
