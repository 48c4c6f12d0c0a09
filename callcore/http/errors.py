"""HTTP status codes for CallcoreError subclasses, and the error body: RFC 9457 problem details.

Every error the API answers is ``application/problem+json``::

    {"type": "urn:callcore:problem:invalid", "title": "Invalid field", "status": 422,
     "detail": "must be a string", "code": "invalid", "field": "reason"}

``type`` is a URN per problem kind (``about:blank`` for plain HTTP errors such as 404 of an unknown path or
405), ``title`` is the same for every problem of that kind, ``detail`` says what is wrong with this
request, and the extension members ``code`` (the kind as a short word) and ``field`` (the input field at
fault, or null) let programs react without parsing text. This module is the only place where domain errors
meet HTTP status codes. (No maintained problem-details package exists for aiohttp; the format is five
members, written here with a typed struct.)
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from callcore.errors import (
    AriError,
    CallcoreError,
    ConfigError,
    Conflict,
    DatabaseUnavailable,
    InputError,
    NotFound,
    StoreError,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:callcore:problem:"


class BadRequest(InputError):
    """The request itself is malformed (not JSON, not an object, bad query parameter syntax)."""


class AuthRequired(CallcoreError):
    """No or unknown bearer token."""


class Forbidden(CallcoreError):
    """The caller's role does not allow the operation (or an agent acts for somebody else)."""


class Problem(msgspec.Struct, frozen=True, omit_defaults=False):
    """An RFC 9457 problem details object with callcore's two extension members."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


# (class, HTTP status, code, title); the first match wins, so subclasses come first.
ERROR_MAP: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (BadRequest, 400, "bad_request", "Malformed request"),
    (InputError, 422, "invalid", "Invalid field"),
    (AuthRequired, 401, "unauthorized", "Missing or unknown token"),
    (Forbidden, 403, "forbidden", "Role does not allow this"),
    (NotFound, 404, "not_found", "Not found"),
    (Conflict, 409, "conflict", "Conflicts with the current state"),
    (DatabaseUnavailable, 503, "database_unavailable", "The database is unreachable"),
    (Unavailable, 503, "unavailable", "A dependency is unavailable"),
    (StoreError, 503, "store_error", "The database failed"),
    (AriError, 502, "asterisk_error", "Asterisk refused or failed"),
    (ConfigError, 500, "config_error", "Configuration error"),
    (CallcoreError, 500, "error", "Internal error"),
)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type"}

_encode = msgspec.json.Encoder().encode


def problem(status: int, code: str, title: str, detail: str, field: str | None = None, *,
            kind: str | None = None) -> Problem:
    """``kind``: the problem type URI (default: callcore's URN of ``code``)."""
    return Problem(kind or TYPE_PREFIX + code, title, status, detail, code, field)


def problem_response(p: Problem, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_encode(p), status=p.status, content_type=PROBLEM_JSON, headers=headers)


def classify(exc: CallcoreError) -> Problem:
    status, code, title = next(((s, c, t) for cls, s, c, t in ERROR_MAP if isinstance(exc, cls)),
                               (500, "error", "Internal error"))
    field = exc.field if isinstance(exc, InputError) else None
    detail = exc.problem if isinstance(exc, InputError) else str(exc)
    return problem(status, code, title, detail, field)


RETRY_AFTER = 5  # seconds a client waits before trying again after a 503


def error_response(exc: CallcoreError) -> web.Response:
    p = classify(exc)
    headers = ({"WWW-Authenticate": "Bearer"} if p.status == 401
               else {"Retry-After": str(RETRY_AFTER)} if p.status == 503 else None)
    return problem_response(p, headers)


def http_error_response(exc: web.HTTPException) -> web.Response:
    code = HTTP_CODES.get(exc.status, "http_error")
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    detail = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
    return problem_response(problem(exc.status, code, exc.reason, detail, kind="about:blank"), headers)


def internal_error() -> web.Response:
    return problem_response(problem(500, "internal", "Internal error",
                                    "the server failed to answer this request; it has been logged"))


def problem_schema() -> dict[str, Any]:
    """The OpenAPI schema of the body above."""
    s = {"type": "string"}
    return {"type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": {"type": {"type": "string", "format": "uri-reference"}, "title": s,
                           "status": {"type": "integer", "minimum": 400, "maximum": 599}, "detail": s,
                           "code": s, "field": {"type": ["string", "null"]}, "instance": s},
            "additionalProperties": True}
