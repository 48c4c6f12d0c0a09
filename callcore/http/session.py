"""Browser sign-in for the desktop and wallboard (session cookie + CSRF token) and the admin's account API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcore.errors import InputError
from callcore.http import context as ctx
from callcore.http.auth import SESSION_COOKIE, SESSIONS
from callcore.http.context import body, reply
from callcore.http.errors import AuthRequired
from callcore.http.operator import text_field
from callcore.web import accounts


def _sessions(request: web.Request) -> accounts.Sessions:
    return request.app[SESSIONS]


def _describe(s: accounts.Session) -> dict[str, Any]:
    return {"login": s.login, "role": s.role, "csrf": s.csrf, "expires_at": s.expires_at, "endpoint": s.endpoint}


async def sign_in(request: web.Request) -> web.Response:
    data = await body(request, ("login", "password"))
    login = text_field(data, "login", required=True, max_len=64) or ""
    password = text_field(data, "password", required=True, max_len=accounts.MAX_PASSWORD) or ""
    found = await _sessions(request).sign_in(ctx.pool(request), login, password)
    if found is None:
        raise AuthRequired("wrong login or password (or too many attempts: wait 30 s)")
    value, session = found
    resp = reply(_describe(session))
    settings = request.app[ctx.SETTINGS]
    resp.set_cookie(SESSION_COOKIE, value, max_age=int(_sessions(request).ttl), path="/", httponly=True,
                    samesite="Strict", secure=settings.web_secure_cookie)
    return resp


async def current(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = None if not cookie else await _sessions(request).lookup(request.app[ctx.POOL], cookie)
    if found is None:  # signed in with a bearer token
        who = ctx.principal(request)
        return reply({"login": who.name, "role": who.role, "csrf": None, "expires_at": None, "endpoint": ""})
    return reply(_describe(found))


async def sign_out(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await _sessions(request).sign_out(request.app[ctx.POOL], cookie)
    resp = reply({"signed_out": True})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


async def set_account(request: web.Request) -> web.Response:
    login = request.match_info["login"]
    data = await body(request, ("role", "password", "endpoint"))
    role = data.get("role", "agent")
    if not isinstance(role, str):
        raise InputError("must be a string", field="role")
    endpoint = text_field(data, "endpoint", max_len=200) or ""
    saved = await accounts.set_password(ctx.pool(request), login, role, accounts.check_password(data.get("password")),
                                        endpoint=endpoint)
    _sessions(request).forget(login)
    return reply(saved)


async def list_accounts(request: web.Request) -> web.Response:
    return reply({"accounts": await accounts.list_accounts(ctx.pool(request))})


async def delete_account(request: web.Request) -> web.Response:
    login = request.match_info["login"]
    await accounts.delete_account(ctx.pool(request), login)
    _sessions(request).forget(login)
    return reply({"deleted": login})
