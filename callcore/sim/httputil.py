"""Request parsing and JSON replies shared by the ARI handlers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcore.sim.core import RestError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVER_HEADERS = {"Server": "Asterisk", "Cache-Control": "no-cache, no-store"}


class Params:
    """ARI parameters: query string first, then top-level keys of a JSON body."""

    def __init__(self, query: dict[str, str], body: dict[str, Any] | None) -> None:
        self.query = query
        self.body = body or {}

    def get(self, name: str) -> str | None:
        if name in self.query:
            return self.query[name]
        value = self.body.get(name)
        if value is None or isinstance(value, (dict, list)):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def text(self, name: str, default: str = "") -> str:
        value = self.get(name)
        return default if value is None else value

    def number(self, name: str, default: float) -> float:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except ValueError:
            raise RestError(400, f"{name} must be a number") from None

    def flag(self, name: str) -> bool:
        return self.text(name).lower() in ("true", "1", "yes")

    def listing(self, name: str) -> list[str]:
        value = self.body.get(name) if name not in self.query else None
        if isinstance(value, list):
            return [str(v) for v in value]
        raw = self.get(name)
        return [v for v in raw.split(",") if v] if raw else []

    def variables(self) -> dict[str, str]:
        value = self.body.get("variables")
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return {}


async def params(request: web.Request) -> Params:
    body: dict[str, Any] | None = None
    if request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise RestError(400, "Error parsing request body") from None
            body = parsed if isinstance(parsed, dict) else None
    return Params(dict(request.query), body)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=SERVER_HEADERS)


def no_content() -> web.Response:
    return web.Response(status=204, headers=SERVER_HEADERS)


def error_reply(err: RestError) -> web.Response:
    return web.json_response(err.body, status=err.status, reason=err.reason, headers=SERVER_HEADERS)
