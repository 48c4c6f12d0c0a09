"""Routes of the operator desktop and supervisor wallboard (sign-in, call card, departments, help chat,
call controls, wallboard stream, accounts); ``callcore.http.routes`` adds them to its table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from callcore.http import desk as dk
from callcore.http import session as ss
from callcore.http import wallboard as wbr

if TYPE_CHECKING:
    from callcore.http.routes import Route

API = "/api/v1"
AGENT = f"{API}/agents/{{agent_id}}"
S: dict[str, Any] = {"type": "string"}
I: dict[str, Any] = {"type": "integer"}  # noqa: E741
FREE: dict[str, Any] = {"type": "object", "additionalProperties": True}
TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": r"[^\s\x1c-\x1f\x85]"}
OPT: dict[str, Any] = {"type": ["string", "null"], "maxLength": 4000}
ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": (1 << 63) - 1}
QUEUE: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}



def obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


ARR = {"type": "array", "items": FREE}
SESSION = obj({"login": S, "role": S, "csrf": {"type": ["string", "null"]},
               "expires_at": {"type": ["number", "null"]}, "endpoint": S})
ACCOUNT = obj({"role": {"enum": ["agent", "supervisor", "admin"]},
               "password": {"type": "string", "minLength": 8, "maxLength": 1024},
               "endpoint": {"type": ["string", "null"], "maxLength": 200}}, ("password",))
DEPARTMENT = obj({"project": OPT, "name": TEXT, "phone": TEXT, "hours": OPT,
                  "transfer_queue": {"oneOf": [QUEUE, {"type": "null"}]}}, ("name", "phone"))

def web_routes(make: Callable[..., Route]) -> tuple[Route, ...]:
    """The table's rows, built with the ``Route`` class of ``callcore.http.routes`` (which calls this)."""
    return (
        make("POST", f"{API}/session", ss.sign_in, None,
              "Sign in with a login (an agent id) and password: sets the HttpOnly session cookie; returns the CSRF "
              "token to send as X-CSRF-Token",
              obj({"login": {**TEXT, "maxLength": 64}, "password": {**TEXT, "maxLength": 1024}}, ("login", "password")),
              response=SESSION),
        make("GET", f"{API}/session", ss.current, "agent", "Who is signed in (and the session's CSRF token)",
              response=SESSION),
        make("DELETE", f"{API}/session", ss.sign_out, "agent", "Sign out: the session ends everywhere",
              response=FREE),
        make("GET", f"{API}/accounts", ss.list_accounts, "admin", "Sign-in accounts (no password hashes)",
              response=obj({"accounts": ARR})),
        make("PUT", f"{API}/accounts/{{login}}", ss.set_account, "admin",
              "Create an account or set its password (argon2id); ends the account's sessions", ACCOUNT,
              response=FREE),
        make("DELETE", f"{API}/accounts/{{login}}", ss.delete_account, "admin", "Delete an account",
              response=FREE),
        make("GET", f"{AGENT}/desk", dk.desk, "agent",
              "Everything the desktop shows at start: state, pause reasons, projects, current call card, departments",
              response=FREE),
        make("GET", f"{AGENT}/call/card", dk.call_card, "agent",
              "The current call with the caller's history (calls, dispositions, tickets) and the script in sections",
              response=obj({"call": {"oneOf": [FREE, {"type": "null"}]}})),
        make("GET", f"{AGENT}/departments", dk.departments, "agent", "Department directory of the agent's projects",
              response=obj({"departments": ARR})),
        make("POST", f"{AGENT}/transfer/department", dk.transfer_department, "agent",
              "Blind transfer to a department (its queue, else its phone number)", obj({"department_id": ID},
                                                                                      ("department_id",)),
              response=FREE),
        make("POST", f"{AGENT}/consult", dk.consult, "agent",
             "Attended transfer: the caller on hold, ring a department, a number or a colleague",
             {"oneOf": [obj({"department_id": ID}, ("department_id",)),
                        obj({"number": {**TEXT, "maxLength": 64}}, ("number",)),
                        obj({"agent": {**QUEUE}}, ("agent",))]}, response=FREE),
        make("POST", f"{AGENT}/consult/complete", dk.consult_complete, "agent",
             "Attended transfer: hand the caller to the consulted party (wrap-up follows)", response=FREE),
        make("POST", f"{AGENT}/consult/return", dk.consult_return, "agent",
             "Attended transfer: end the consultation and talk to the caller again", response=FREE),
        make("POST", f"{AGENT}/dial", dk.dial, "agent",
             "Manual dial on a preview campaign (compliance guards apply; the customer is connected to the agent)",
             obj({"number": {**TEXT, "maxLength": 64}, "campaign": {**TEXT, "maxLength": 200}}, ("number", "campaign")),
             response=FREE),
        make("POST", f"{AGENT}/flag", dk.flag, "agent", "Flag the current call for review (e.g. abusive caller)",
              obj({"reason": {"enum": ["abusive", "threat", "quality", "repeat", "other"]}, "note": OPT,
                   "call_id": {"type": ["string", "null"], "maxLength": 128}}, ("reason",)), response=FREE, status=201),
        make("POST", f"{AGENT}/hold", dk.hold, "agent", "Put the caller on hold (music on hold)", response=FREE),
        make("POST", f"{AGENT}/resume", dk.resume, "agent", "Take the caller off hold", response=FREE),
        make("POST", f"{AGENT}/hangup", dk.hangup, "agent", "Hang up the current call (wrap-up follows)",
              response=FREE),
        make("GET", f"{AGENT}/help", dk.my_help, "agent", "The agent's open help conversations",
              response=obj({"help_requests": ARR})),
        make("GET", f"{AGENT}/help/{{request_id}}/messages", dk.my_messages, "agent",
              "Messages of one of the agent's help conversations", response=obj({"messages": ARR})),
        make("POST", f"{AGENT}/help/{{request_id}}/messages", dk.post_my_message, "agent",
              "Write in a help conversation (pushed to the supervisors)", obj({"text": TEXT}, ("text",)),
              response=FREE, status=201),
        make("GET", f"{API}/help-threads", dk.threads, "supervisor",
              "Open help conversations with message counts and who wrote last", response=obj({"help_requests": ARR})),
        make("GET", f"{API}/help-requests/{{request_id}}/messages", dk.thread_messages, "supervisor",
              "Messages of a help conversation", response=obj({"messages": ARR})),
        make("POST", f"{API}/help-requests/{{request_id}}/messages", dk.post_supervisor_message, "supervisor",
              "Answer in a help conversation (pushed to the agent)", obj({"text": TEXT}, ("text",)), response=FREE,
              status=201),
        make("GET", f"{API}/flags", dk.list_flags, "supervisor", "Calls flagged for review (open ones by default)",
              query=(("all", "true: include reviewed"),), response=obj({"flags": ARR})),
        make("POST", f"{API}/flags/{{flag_id}}/review", dk.review_flag, "supervisor", "Mark a flagged call reviewed",
              response=FREE),
        make("GET", f"{API}/departments", dk.all_departments, "supervisor", "The whole department directory",
              response=obj({"departments": ARR})),
        make("POST", f"{API}/departments", dk.save_department, "admin",
              "Add or change a department (name, phone, hours, project, transfer queue)", DEPARTMENT, response=FREE,
              status=201),
        make("DELETE", f"{API}/departments/{{department_id}}", dk.delete_department, "admin", "Delete a department",
              response=FREE),
        make("GET", f"{API}/callers/{{number}}/history", dk.caller_history, "supervisor",
              "A caller's earlier calls (dispositions) and tickets", response=FREE),
        make("GET", f"{API}/wallboard", wbr.wallboard, "supervisor",
              "The wallboard's figures right now: queues, campaigns, operators, alerts", response=FREE),
        make("GET", f"{API}/wallboard/events", wbr.wallboard_events, "supervisor",
              "Server-sent events: wallboard figures every 0.25 s (changed operators only) and supervisors' events",
              sse=True),
    )
