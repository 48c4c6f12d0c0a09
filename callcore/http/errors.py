"""HTTP status codes for CallcoreError subclasses, and the JSON error body.

Errors are answered as ``{"error": {"code": ..., "message": ..., "field": ...}}``. This module is the only
place where domain errors meet HTTP status codes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcore.errors import (
    AriError,
    CallcoreError,
    ConfigError,
    Conflict,
    InputError,
    NotFound,
    StoreError,
    Unavailable,
)


class BadRequest(InputError):
    """The request itself is malformed (not JSON, not an object, bad query parameter syntax)."""


class AuthRequired(CallcoreError):
    """No or unknown bearer token."""


class Forbidden(CallcoreError):
    """The caller's role does not allow the operation (or an agent acts for somebody else)."""


# (class, HTTP status, code); the first match wins, so subclasses come first.
ERROR_MAP: tuple[tuple[type[BaseException], int, str], ...] = (
    (BadRequest, 400, "bad_request"),
    (InputError, 422, "invalid"),
    (AuthRequired, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Unavailable, 503, "unavailable"),
    (StoreError, 503, "store_error"),
    (AriError, 502, "asterisk_error"),
    (ConfigError, 500, "config_error"),
    (CallcoreError, 500, "error"),
)

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type"}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(exc: CallcoreError) -> web.Response:
    status, code = next(((s, c) for cls, s, c in ERROR_MAP if isinstance(exc, cls)), (500, "error"))
    field = exc.field if isinstance(exc, InputError) else None
    message = exc.problem if isinstance(exc, InputError) else str(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(error_body(code, message, field), status=status, headers=headers)


def http_error_response(exc: web.HTTPException) -> web.Response:
    code = HTTP_CODES.get(exc.status, "http_error")
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return web.json_response(error_body(code, exc.reason), status=exc.status, headers=headers)
