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
INT64_MAX = (1 << 63) - 1
ID = {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}   # directory.model.NAME_RE


NOT_BLANK = r"[^\s\x1c-\x1f\x85]"   # a character Python's str.strip() keeps


def text(max_len: int = 10_000) -> dict[str, Any]:
    """A required text: not only spaces, at most ``max_len`` characters."""
    return {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": NOT_BLANK}


def opt_text(max_len: int = 10_000) -> dict[str, Any]:
    """An optional text: null or absent means not given."""
    return {"type": ["string", "null"], "maxLength": max_len}


def str_max(max_len: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_len}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def levels(hi: int) -> dict[str, Any]:
    return {"type": "object", "propertyNames": NAME,
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": hi}}


LEVELS = levels(1000)
# Path parameters are described by name; query parameters by name unless the route gives a schema.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "agent_id": NAME, "name": NAME, "queue": NAME, "login": NAME,
    "ticket_id": ID, "request_id": ID, "department_id": ID, "flag_id": ID}
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "since": TIME, "until": TIME, "status": {"enum": ["open", "closed"]}, "all": B,
    "limit": {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
    "sl_threshold": {"type": "number", "minimum": 0, "maximum": sv.SL_THRESHOLD_MAX}, "queue": NAME, "agent_id": NAME,
    "outcome": {"enum": ["answered", "abandoned", "overflowed", "transferred", "callback", "refused"]}}
EMPTY = {"type": "string", "maxLength": 0}   # ``?name=`` means the parameter is not given
REQUIRED_QUERY = frozenset({"since"})


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
    body_required: bool = True   # False: the body may be left out (every field optional)
    events: dict[str, Any] | None = None   # SSE: event name -> schema of its JSON data


AGENT = f"{API}/agents/{{agent_id}}"

ROUTES: tuple[Route, ...] = (
    # operator
    Route("POST", f"{AGENT}/preview/next", pv.next_lead, "agent",
          "Preview dialing: reserve and show the next lead of a running campaign",
          obj({"campaign": text(200)}, ("campaign",)), response=FREE),
    Route("POST", f"{AGENT}/preview/call", pv.call_lead, "agent",
          "Preview dialing: call the lead (compliance guards apply); the customer is connected to this agent",
          obj({"campaign": text(200), "lead_id": ID}, ("campaign", "lead_id")), response=FREE),
    Route("POST", f"{AGENT}/preview/skip", pv.skip_lead, "agent", "Preview dialing: pass on the lead",
          obj({"campaign": text(200), "lead_id": ID}, ("campaign", "lead_id")), response=FREE),
    Route("POST", f"{AGENT}/login", op.login, "agent", "Log the agent in",
          obj({"endpoint": opt_text(200)}), response=ref("AgentState"), body_required=False),
    Route("POST", f"{AGENT}/logout", op.logout, "agent", "Log the agent out", response=ref("AgentState")),
    Route("POST", f"{AGENT}/pause", op.pause, "agent", "Pause with a reason",
          obj({"reason": text(200)}, ("reason",)), response=ref("AgentState")),
    Route("POST", f"{AGENT}/ready", op.ready, "agent", "Become available", response=ref("AgentState")),
    Route("GET", f"{AGENT}/state", op.state, "agent", "Current agent state", response=ref("AgentState")),
    Route("GET", f"{AGENT}/call", op.current_call, "agent",
          "Current call: caller number and name, queue, wait time, caller data, rendered script",
          response=obj({"call": {"oneOf": [FREE, {"type": "null"}]}})),
    Route("POST", f"{AGENT}/disposition", op.disposition, "agent",
          "Disposition of the last call; ends wrap-up",
          obj({"code": text(64), "notes": opt_text(), "callback_at": {"oneOf": [N, TIME]}}, ("code",)),
          response=FREE),
    Route("POST", f"{AGENT}/transfer", op.transfer, "agent",
          "Blind transfer of the caller to a queue or number",
          {"oneOf": [obj({"queue": text(64)}, ("queue",)), obj({"number": text(64)}, ("number",))]},
          response=FREE),
    Route("POST", f"{AGENT}/tickets", op.create_ticket, "agent",
          "Open a ticket (complaint, claim or request) tied to the current call",
          obj({"type": {"enum": ["complaint", "claim", "request"]}, "text": text(), "call_id": opt_text(128),
               "caller_number": opt_text(64)}, ("type", "text")), response=ref("Ticket"), status=201),
    Route("GET", f"{AGENT}/tickets", op.list_tickets, "agent", "The agent's tickets",
          query=(("status", "open or closed"),),
          response=obj({"tickets": {"type": "array", "items": ref("Ticket")}})),
    Route("POST", f"{AGENT}/help", op.ask_help, "agent", "Ask a supervisor for help",
          obj({"text": text(), "call_id": opt_text(128)}, ("text",)), response=ref("HelpRequest"), status=201),
    Route("GET", f"{AGENT}/events", op.events, "agent",
          "Server-sent events: state changes, call offers, answers to help requests", sse=True),
    # supervisor
    Route("GET", f"{API}/snapshot", sv.snapshot, "supervisor", "Queues and agents right now", response=FREE),
    Route("GET", f"{API}/help-requests", sv.list_help, "supervisor", "Help requests (open ones by default)",
          query=(("all", "true: include answered requests"), ("agent_id", "only this agent's")),
          response=obj({"help_requests": {"type": "array", "items": ref("HelpRequest")}})),
    Route("POST", f"{API}/help-requests/{{request_id}}/answer", sv.answer_help, "supervisor",
          "Answer a help request (pushed to the agent's event stream)", obj({"note": text()}, ("note",)),
          response=ref("HelpRequest")),
    Route("GET", f"{API}/tickets", sv.all_tickets, "supervisor", "All tickets",
          query=(("status", "open or closed"), ("agent_id", "filter"), ("call_id", "filter")),
          response=obj({"tickets": {"type": "array", "items": ref("Ticket")}})),
    Route("POST", f"{API}/tickets/{{ticket_id}}/close", sv.close_ticket, "supervisor", "Close a ticket",
          response=ref("Ticket")),
    Route("POST", f"{API}/supervise", sv.supervise, "supervisor",
          "Listen, whisper or barge on an agent's call",
          obj({"agent_id": NAME, "mode": {"enum": list(sv.SUPERVISE_MODES)}, "endpoint": text(200)},
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
    Route("POST", f"{API}/queues", sv.create_queue, "admin", "Create a queue", ref("NewQueue"),
          response=ref("Queue"), status=201),
    Route("GET", f"{API}/queues/{{name}}", sv.get_queue, "supervisor", "One queue", response=ref("Queue")),
    Route("PATCH", f"{API}/queues/{{name}}", sv.update_queue, "admin", "Change queue settings", ref("QueueChange"),
          response=ref("Queue")),
    Route("DELETE", f"{API}/queues/{{name}}", sv.delete_queue, "admin", "Delete a queue", response=FREE),
    Route("GET", f"{API}/agents", sv.list_agents, "supervisor", "All agents",
          response=obj({"agents": {"type": "array", "items": ref("Agent")}})),
    Route("POST", f"{API}/agents", sv.create_agent, "admin", "Create an agent", ref("NewAgent"),
          response=ref("Agent"), status=201),
    Route("GET", AGENT, sv.get_agent, "supervisor", "One agent", response=ref("Agent")),
    Route("PATCH", AGENT, sv.update_agent, "admin", "Change an agent (memberships, when given, replace all)",
          ref("AgentChange"), response=ref("Agent")),
    Route("DELETE", AGENT, sv.delete_agent, "admin", "Delete an agent", response=FREE),
    Route("PUT", f"{AGENT}/memberships/{{queue}}", sv.set_membership, "admin",
          "Add to a queue with a penalty",
          obj({"penalty": {"type": "integer", "minimum": 0, "maximum": 1000}}), response=ref("Agent"),
          body_required=False),
    Route("DELETE", f"{AGENT}/memberships/{{queue}}", sv.remove_membership, "admin", "Remove from a queue",
          response=ref("Agent")),
    Route("POST", f"{AGENT}/token", sv.issue_token, "admin", "Issue a new agent token (shown once)",
          response=obj({"agent_id": S, "token": S}), status=201),
)

# Served outside the table's auth (documented too).
PUBLIC_PATHS = {"/healthz": "Process is alive",
                "/readyz": "Ready: ARI connected and database reachable (or journal spilling)",
                "/metrics": "Prometheus metrics", f"{API}/openapi.json": "This document"}

CODES = r"^$|^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})(,[A-Za-z0-9][A-Za-z0-9_.-]{0,63})*$"
RECORDING = {"type": "string", "pattern": "^(none|all|percent:(100|[1-9]?[0-9]))$"}


def _queue_schema(required: tuple[str, ...] = ()) -> dict[str, Any]:
    from callcore.acd.core.model import EMPTY_POLICIES, STRATEGIES

    def secs(lo_exclusive: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number", "maximum": 86_400}
        out["exclusiveMinimum" if lo_exclusive else "minimum"] = 0
        return out

    def rng(lo: int, hi: int) -> dict[str, Any]:
        return {"type": "integer", "minimum": lo, "maximum": hi}

    skill = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:=-]{0,63}$"}
    return obj({"name": NAME, "strategy": {"enum": list(STRATEGIES)}, "weight": rng(-1000, 1000),
                "moh_class": str_max(80), "announce_position_every": secs(), "announce_holdtime": B,
                "max_wait": secs(), "overflow": nullable({"type": "string",
                                                          "pattern": r"^$|^(voicemail:\S+|dialplan:\S+,\S+)$"}),
                "join_empty": {"enum": list(EMPTY_POLICIES)}, "leave_empty": {"enum": list(EMPTY_POLICIES)},
                "max_len": rng(0, 100_000), "callback_digit": nullable({"type": "string", "pattern": "^[0-9*#]?$"}),
                "wrapup_time": secs(), "ring_timeout": secs(True), "max_no_answer": rng(0, 1000),
                "service_level_threshold": secs(True), "recording": RECORDING,
                "script": str_max(20_000),
                "dispositions": {"oneOf": [{"type": "array", "items": NAME, "uniqueItems": True},
                                           {"type": "string", "description": "codes separated by commas",
                                             "pattern": CODES}]},
                "skills": {"type": "array", "description": "each skill once; relaxation steps in increasing time",
                           "items": obj({"skill": skill, "min_level": rng(0, 100),
                                         "relax": {"type": "array", "maxItems": 1, "items": obj(
                                             {"after": secs(), "level": nullable(rng(0, 100))},
                                             ("after", "level"))}}, ("skill", "min_level")),
                           "maxItems": 1},
                "voicemail_context": str_max(80), "transfer_context": str_max(80)}, required)


def _agent_schema(required: tuple[str, ...] = ()) -> dict[str, Any]:
    return obj({"id": NAME, "name": str_max(200),
                "endpoint": {"type": "string", "pattern": r"^$|^[A-Za-z0-9]+/[!-~]{1,200}$"},
                "skills": {"type": "object",
                           "propertyNames": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:=-]{0,63}$"},
                           "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100}},
                "memberships": LEVELS}, required)


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    """An object schema without one property (a PATCH body cannot rename)."""
    return {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != key}}
SCHEMAS: dict[str, Any] = {
    "Problem": problem_schema(),
    "AgentState": FREE,
    "Queue": _queue_schema(),
    "NewQueue": _queue_schema(("name",)),
    "QueueChange": _without(_queue_schema(), "name"),
    "Agent": _agent_schema(),
    "NewAgent": _agent_schema(("id",)),
    "AgentChange": _without(_agent_schema(), "id"),
    "Ticket": obj({"id": I, "call_id": nullable(S), "agent_id": S, "type": S, "text": S, "caller_number": S,
                   "status": S, "created_at": TIME, "closed_at": nullable(TIME)}, extra=True),
    "HelpRequest": obj({"id": I, "agent_id": S, "call_id": nullable(S), "text": S, "created_at": TIME,
                        "answered_by": nullable(S), "answer_note": nullable(S), "answered_at": nullable(TIME)},
                       extra=True),
}

ERRORS = {"400": "Malformed request", "401": "Missing or unknown token", "403": "Role does not allow this",
          "404": "Not found", "409": "Conflicts with the current state", "413": "Body larger than 1 MiB",
          "422": "Invalid field", "502": "Asterisk refused or failed", "503": "A dependency is unavailable"}


def _operation(route: Route) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(p, S)}
              for p in re.findall(r"{(\w+)}", route.path)]
    params += [{"name": n, "in": "query", "required": True, "description": d, "schema": QUERY_SCHEMAS.get(n, S)}
               if n in REQUIRED_QUERY else
               {"name": n, "in": "query", "required": False, "description": d + " (empty: not given)",
                "schema": {"anyOf": [QUERY_SCHEMAS.get(n, S), EMPTY]}} for n, d in route.query]
    module = route.handler.__module__.rsplit(".", 1)[-1]
    op: dict[str, Any] = {"operationId": f"{module}_{route.handler.__name__}",
                          "summary": route.summary, "tags": [route.role or "public"],
                          "security": [{"bearer": []}] if route.role else [], "x-role": route.role}
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required,
                             "content": {"application/json": {"schema": route.body}}}
    if route.sse:
        ok = {"description": "Server-sent events: each `data:` line is one JSON object whose `event` member "
                             "names it (x-events lists them)",
              "content": {"text/event-stream": {"schema": {"type": "string"},
                                                "x-events": route.events or {"event": FREE}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": route.response or FREE}}}
    errors = {code: text for code, text in ERRORS.items() if route.role or code != "403"}
    op["responses"] = {str(route.status): ok} | {
        code: {"description": text, "content": {PROBLEM_JSON: {"schema": ref("Problem")}}}
        for code, text in errors.items()}
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
