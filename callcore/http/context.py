"""What handlers share: application keys, the caller's identity, JSON bodies and responses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from callcore.acd.ports import AcdPort
from callcore.config import Settings
from callcore.errors import InputError, NotFound, Unavailable
from callcore.http.errors import BadRequest, Forbidden
from callcore.http.sse import EventHub
from callcore.store.db import Database

ROLES = ("agent", "supervisor", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: role agent|supervisor|admin and a name (the agent id for agents)."""

    role: str
    name: str

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ACD = web.AppKey("acd", object)
POOL: web.AppKey[Database | None] = web.AppKey("pool")  # None when no database is configured
SETTINGS = web.AppKey("settings", Settings)
HUB = web.AppKey("hub", EventHub)
HEALTH = web.AppKey("health", object)
METRICS = web.AppKey("metrics", object)
STATIC_TOKENS = web.AppKey("static_tokens", dict)
PRINCIPAL = web.RequestKey("principal", Principal)
BODY_REQUIRED = web.RequestKey("body_required", bool)


def acd(request: web.Request) -> AcdPort:
    port = request.app[ACD]
    if port is None:
        raise Unavailable("the ACD is not running in this process")
    result: AcdPort = port  # type: ignore[assignment]
    return result


def pool(request: web.Request) -> Database:
    db = request.app[POOL]
    if db is None:
        raise Unavailable("no database configured")
    return db


def hub(request: web.Request) -> EventHub:
    return request.app[HUB]


def health_fn(request: web.Request) -> Callable[[], dict[str, Any]]:
    fn: Callable[[], dict[str, Any]] = request.app[HEALTH]  # type: ignore[assignment]
    return fn


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def agent_id(request: web.Request) -> str:
    """The ``{agent_id}`` of the path; an agent may only name itself."""
    wanted = request.match_info["agent_id"]
    who = principal(request)
    if who.role == "agent" and who.name != wanted:
        raise Forbidden(f"agent {who.name!r} may not act for agent {wanted!r}")
    return wanted


INT64_MAX = (1 << 63) - 1
MAX_DEPTH = 32


def check_text(value: str, where: str) -> str:
    """PostgreSQL text cannot hold U+0000: refused here rather than failing when it is stored."""
    if "\x00" in value:
        raise BadRequest("must not contain U+0000 (NUL)", field=where)
    return value


INT_PATH_PARAMS = frozenset({"ticket_id", "request_id", "department_id", "flag_id"})   # bigint ids
NAME_PATH_PARAMS = frozenset({"agent_id", "name", "queue", "login"})
NAME_QUERY = frozenset({"agent_id", "queue"})
BOOL_QUERY = frozenset({"all"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")   # directory.model.NAME_RE


def int64(raw: str, key: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"must be an integer, got {raw!r}", field=key) from None
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise BadRequest(f"must be a 64-bit integer, got {raw!r}", field=key)
    return value


def without_empty_query(request: web.Request) -> web.Request:
    """``?queue=&status=`` means the same as leaving them out (as HTML forms send unset fields)."""
    query = request.query
    if all(v != "" for v in query.values()):
        return request
    kept = [(k, v) for k, v in query.items() if v != ""]
    return request.clone(rel_url=request.rel_url.with_query(kept))


def check_request_text(request: web.Request) -> None:
    """Path and query values: no U+0000 anywhere; integer ids within int64 (before any handler runs)."""
    for key, value in request.match_info.items():
        check_text(value, key)
        if key in INT_PATH_PARAMS:
            int64(value, key)
        elif key in NAME_PATH_PARAMS and not _NAME.match(value):
            raise NotFound(f"no {key.replace('_', ' ')} {value!r} (names are 1-64 letters, digits, '_', '.' or '-')")
    for key, value in request.query.items():
        check_text(key, key)
        check_text(value, key)
        if key in NAME_QUERY and not _NAME.match(value):
            raise BadRequest(f"must be a name (1-64 letters, digits, '_', '.' or '-'), got {value!r}", field=key)
        if key in BOOL_QUERY and value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise BadRequest(f"must be true or false, got {value!r}", field=key)


def _check_json(value: Any, where: str, depth: int) -> None:
    """Strings without U+0000 and integers PostgreSQL's bigint can hold, at every depth (``where``: the
    field's path, e.g. ``skills.lang``)."""
    if depth > MAX_DEPTH:
        raise BadRequest(f"nested more than {MAX_DEPTH} levels deep", field=where or None)
    if isinstance(value, str):
        check_text(value, where or "body")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise InputError("is beyond the 64-bit integer range", field=where or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else key
            check_text(key, path)
            _check_json(item, path, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)


async def body(request: web.Request, allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object of the request (``{}`` when empty); unknown keys are refused when ``allowed``."""
    raw = await request.read() if request.can_read_body else b""
    if not raw.strip():
        if request.get(BODY_REQUIRED):
            raise BadRequest("a JSON object body is required")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest(f"request body is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    _check_json(data, "", 0)
    if allowed:
        for key in data:
            if key not in allowed:
                raise BadRequest("unknown field", field=key)
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_encode = json.JSONEncoder(default=_json_default, ensure_ascii=True).encode


_encode_fast = msgspec.json.Encoder().encode


def reply_plain(data: Mapping[str, Any]) -> web.Response:
    """JSON of plain data (strings, numbers, lists, maps: no datetimes), with msgspec: the snapshot of a
    center with thousands of callers encodes in about 1 ms instead of 10-30 ms with ``json``."""
    return web.Response(body=_encode_fast(data), content_type="application/json")


def reply(data: Mapping[str, Any] | list[Any] | None, status: int = 200) -> web.Response:
    """JSON in one C-encoder pass (datetimes as ISO 8601): a snapshot of thousands of
    callers is not walked twice."""
    return web.Response(text=_encode(data), status=status, content_type="application/json")
