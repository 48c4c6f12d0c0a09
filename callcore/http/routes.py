"""Every API route in one table; the application registers it and the OpenAPI document describes it,
so the two cannot drift apart."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcore.http import operator as op
from callcore.http import preview as pv
from callcore.http import supervisor as sv
from callcore.http.errors import PROBLEM_JSON, problem_schema

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v1"


def obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}
B = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
FREE = {"type": "object", "additionalProperties": True}
LEVELS = {"type": "object", "additionalProperties": I}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    role: str | None  # None: no token needed
    summary: str
    body: dict[str, Any] | None = None
    query: tuple[tuple[str, str], ...] = ()
    response: dict[str, Any] | None = None
    status: int = 200
    sse: bool = False


AGENT = f"{API}/agents/{{agent_id}}"

ROUTES: tuple[Route, ...] = (
    # operator
    Route("POST", f"{AGENT}/preview/next", pv.next_lead, "agent",
          "Preview dialing: reserve and show the next lead of a running campaign",
          obj({"campaign": S}, ("campaign",)), response=FREE),
    Route("POST", f"{AGENT}/preview/call", pv.call_lead, "agent",
          "Preview dialing: call the lead (compliance guards apply); the customer is connected to this agent",
          obj({"campaign": S, "lead_id": I}, ("campaign", "lead_id")), response=FREE),
    Route("POST", f"{AGENT}/preview/skip", pv.skip_lead, "agent", "Preview dialing: pass on the lead",
          obj({"campaign": S, "lead_id": I}, ("campaign", "lead_id")), response=FREE),
    Route("POST", f"{AGENT}/login", op.login, "agent", "Log the agent in",
          obj({"endpoint": S}), response=ref("AgentState")),
    Route("POST", f"{AGENT}/logout", op.logout, "agent", "Log the agent out", response=ref("AgentState")),
    Route("POST", f"{AGENT}/pause", op.pause, "agent", "Pause with a reason",
          obj({"reason": S}, ("reason",)), response=ref("AgentState")),
    Route("POST", f"{AGENT}/ready", op.ready, "agent", "Become available", response=ref("AgentState")),
    Route("GET", f"{AGENT}/state", op.state, "agent", "Current agent state", response=ref("AgentState")),
    Route("GET", f"{AGENT}/call", op.current_call, "agent",
          "Current call: caller number and name, queue, wait time, caller data, rendered script",
          response=obj({"call": {"oneOf": [FREE, {"type": "null"}]}})),
    Route("POST", f"{AGENT}/disposition", op.disposition, "agent",
          "Disposition of the last call; ends wrap-up",
          obj({"code": S, "notes": S, "callback_at": {"oneOf": [N, TIME]}}, ("code",)), response=FREE),
    Route("POST", f"{AGENT}/transfer", op.transfer, "agent",
          "Blind transfer of the caller to a queue or number",
          obj({"queue": S, "number": S}), response=FREE),
    Route("POST", f"{AGENT}/tickets", op.create_ticket, "agent",
          "Open a ticket (complaint, claim or request) tied to the current call",
          obj({"type": {"enum": ["complaint", "claim", "request"]}, "text": S, "call_id": S,
               "caller_number": S}, ("type", "text")), response=ref("Ticket"), status=201),
    Route("GET", f"{AGENT}/tickets", op.list_tickets, "agent", "The agent's tickets",
          query=(("status", "open or closed"),),
          response=obj({"tickets": {"type": "array", "items": ref("Ticket")}})),
    Route("POST", f"{AGENT}/help", op.ask_help, "agent", "Ask a supervisor for help",
          obj({"text": S, "call_id": S}, ("text",)), response=ref("HelpRequest"), status=201),
    Route("GET", f"{AGENT}/events", op.events, "agent",
          "Server-sent events: state changes, call offers, answers to help requests", sse=True),
    # supervisor
    Route("GET", f"{API}/snapshot", sv.snapshot, "supervisor", "Queues and agents right now", response=FREE),
    Route("GET", f"{API}/help-requests", sv.list_help, "supervisor", "Help requests (open ones by default)",
          query=(("all", "true: include answered requests"), ("agent_id", "only this agent's")),
          response=obj({"help_requests": {"type": "array", "items": ref("HelpRequest")}})),
    Route("POST", f"{API}/help-requests/{{request_id}}/answer", sv.answer_help, "supervisor",
          "Answer a help request (pushed to the agent's event stream)", obj({"note": S}, ("note",)),
          response=ref("HelpRequest")),
    Route("GET", f"{API}/tickets", sv.all_tickets, "supervisor", "All tickets",
          query=(("status", "open or closed"), ("agent_id", "filter"), ("call_id", "filter")),
          response=obj({"tickets": {"type": "array", "items": ref("Ticket")}})),
    Route("POST", f"{API}/tickets/{{ticket_id}}/close", sv.close_ticket, "supervisor", "Close a ticket",
          response=ref("Ticket")),
    Route("POST", f"{API}/supervise", sv.supervise, "supervisor",
          "Listen, whisper or barge on an agent's call",
          obj({"agent_id": S, "mode": {"enum": list(sv.SUPERVISE_MODES)}, "endpoint": S},
              ("agent_id", "mode", "endpoint")), response=FREE),
    Route("GET", f"{API}/reports/queues", sv.report_queues, "supervisor",
          "Offered, answered, abandoned, ASA, AHT, abandonment rate and service level per queue",
          query=(("since", "start, ISO 8601 (required)"), ("until", "end, exclusive (default now)"),
                 ("queue", "only this queue"), ("sl_threshold", "seconds (default: per queue)")),
          response=obj({"since": TIME, "until": TIME, "queues": {"type": "array", "items": FREE}})),
    Route("GET", f"{API}/calls", sv.list_calls, "supervisor", "Call records, e.g. abandoned calls to call back",
          query=(("since", "start, ISO 8601 (required)"), ("until", "end, exclusive (default now)"),
                 ("queue", "only this queue"), ("outcome", "answered, abandoned, overflowed, ..."),
                 ("limit", "at most this many (default 1000, max 10000)")),
          response=obj({"calls": {"type": "array", "items": FREE}})),
    Route("GET", f"{API}/supervisor/events", sv.supervisor_events, "supervisor",
          "Server-sent events: new and answered help requests", sse=True),
    # admin
    Route("GET", f"{API}/queues", sv.list_queues, "supervisor", "All queues",
          response=obj({"queues": {"type": "array", "items": ref("Queue")}})),
    Route("POST", f"{API}/queues", sv.create_queue, "admin", "Create a queue", ref("Queue"),
          response=ref("Queue"), status=201),
    Route("GET", f"{API}/queues/{{name}}", sv.get_queue, "supervisor", "One queue", response=ref("Queue")),
    Route("PATCH", f"{API}/queues/{{name}}", sv.update_queue, "admin", "Change queue settings", ref("Queue"),
          response=ref("Queue")),
    Route("DELETE", f"{API}/queues/{{name}}", sv.delete_queue, "admin", "Delete a queue", response=FREE),
    Route("GET", f"{API}/agents", sv.list_agents, "supervisor", "All agents",
          response=obj({"agents": {"type": "array", "items": ref("Agent")}})),
    Route("POST", f"{API}/agents", sv.create_agent, "admin", "Create an agent", ref("Agent"),
          response=ref("Agent"), status=201),
    Route("GET", AGENT, sv.get_agent, "supervisor", "One agent", response=ref("Agent")),
    Route("PATCH", AGENT, sv.update_agent, "admin", "Change an agent (memberships, when given, replace all)",
          ref("Agent"), response=ref("Agent")),
    Route("DELETE", AGENT, sv.delete_agent, "admin", "Delete an agent", response=FREE),
    Route("PUT", f"{AGENT}/memberships/{{queue}}", sv.set_membership, "admin",
          "Add to a queue with a penalty",
          obj({"penalty": I}), response=ref("Agent")),
    Route("DELETE", f"{AGENT}/memberships/{{queue}}", sv.remove_membership, "admin", "Remove from a queue",
          response=ref("Agent")),
    Route("POST", f"{AGENT}/token", sv.issue_token, "admin", "Issue a new agent token (shown once)",
          response=obj({"agent_id": S, "token": S}), status=201),
)

# Served outside the table's auth (documented too).
PUBLIC_PATHS = {"/healthz": "Process is alive",
                "/readyz": "Ready: ARI connected and database reachable (or journal spilling)",
                "/metrics": "Prometheus metrics", f"{API}/openapi.json": "This document"}

SCHEMAS: dict[str, Any] = {
    "Problem": problem_schema(),
    "AgentState": FREE,
    "Queue": obj({"name": S, "strategy": S, "weight": I, "moh_class": S, "announce_position_every": N,
                  "announce_holdtime": B, "max_wait": N, "overflow": {"type": ["string", "null"]},
                  "join_empty": S, "leave_empty": S, "max_len": I, "callback_digit": S, "wrapup_time": N,
                  "ring_timeout": N, "max_no_answer": I, "service_level_threshold": N, "recording": S,
                  "script": S, "dispositions": {"type": "array", "items": S},
                  "skills": {"type": "array", "items": {"oneOf": [S, FREE]}}, "voicemail_context": S,
                  "transfer_context": S}),
    "Agent": obj({"id": S, "name": S, "endpoint": S, "skills": LEVELS, "memberships": LEVELS}),
    "Ticket": obj({"id": I, "call_id": S, "agent_id": S, "type": S, "text": S, "caller_number": S,
                   "status": S, "created_at": TIME}),
    "HelpRequest": obj({"id": I, "agent_id": S, "call_id": S, "text": S, "created_at": TIME,
                        "answered_by": S, "answer_note": S, "answered_at": TIME}),
}

ERRORS = {"400": "Malformed request", "401": "Missing or unknown token", "403": "Role does not allow this",
          "404": "Not found", "409": "Conflicts with the current state", "422": "Invalid field",
          "503": "A dependency is unavailable"}


def _operation(route: Route) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": S}
              for p in re.findall(r"{(\w+)}", route.path)]
    params += [{"name": n, "in": "query", "required": False, "description": d, "schema": S}
               for n, d in route.query]
    module = route.handler.__module__.rsplit(".", 1)[-1]
    op: dict[str, Any] = {"operationId": f"{module}_{route.handler.__name__}",
                          "summary": route.summary, "tags": [route.role or "public"],
                          "security": [{"bearer": []}], "x-role": route.role}
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    if route.sse:
        ok = {"description": "text/event-stream", "content": {"text/event-stream": {"schema": S}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": route.response or FREE}}}
    op["responses"] = {str(route.status): ok} | {
        code: {"description": text, "content": {PROBLEM_JSON: {"schema": ref("Problem")}}}
        for code, text in ERRORS.items()}
    return op


def openapi() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, summary in PUBLIC_PATHS.items():
        paths[path] = {"get": {"operationId": path.strip("/").replace("/", "_").replace(".", "_"),
                               "summary": summary, "tags": ["public"], "security": [],
                               "responses": {"200": {"description": "OK"},
                                             "503": {"description": "Not ready"}}}}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {"openapi": "3.1.0",
            "info": {"title": "callcore operator and supervisor API", "version": "1"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": SCHEMAS},
            "paths": paths}


# The desktop's and wallboard's routes (their own module, imported last: it builds on the helpers above).
from callcore.http.webroutes import web_routes  # noqa: E402
from callcore.web.pages import PAGES  # noqa: E402

ROUTES = ROUTES + web_routes(Route)
PUBLIC_PATHS.update(PAGES)
