"""Authentication: bearer tokens (static tokens from settings and per-agent tokens from the database) or
the browser session cookie of the desktop and wallboard (then unsafe methods need the session's CSRF token
in ``X-CSRF-Token``).

``CALLCORE_API_TOKENS`` is ``token=role:name,...`` with role agent|supervisor|admin (for role agent the
name is the agent id). Agent tokens issued by ``callcore agent token ID`` are looked up by their sha256, in
PostgreSQL or, while it is unreachable, in the credential cache (``callcore.http.credentials``).
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from callcore.config import Secret
from callcore.errors import ConfigError
from callcore.http.context import POOL, ROLES, STATIC_TOKENS, Principal
from callcore.http.credentials import AgentTokens
from callcore.http.errors import AuthRequired, Forbidden
from callcore.web.accounts import Sessions

SESSION_COOKIE = "callcore_session"
CSRF_HEADER = "X-CSRF-Token"
SESSIONS = web.AppKey("sessions", Sessions)
AGENT_TOKENS = web.AppKey("agent_tokens", AgentTokens)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

SETTING = "CALLCORE_API_TOKENS"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_static_tokens(value: Secret | str) -> dict[str, Principal]:
    """``{sha256(token): Principal}``; ConfigError (never showing a token) for a malformed entry."""
    text = value.reveal() if isinstance(value, Secret) else value
    out: dict[str, Principal] = {}
    for n, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        token, eq, who = entry.partition("=")
        role, colon, name = who.partition(":")
        if not eq or not colon or not token.strip() or not name.strip():
            raise ConfigError(SETTING, f"entry {n} must look like token=role:name")
        if role not in ROLES:
            raise ConfigError(SETTING, f"entry {n}: role must be one of {', '.join(ROLES)}, got {role!r}")
        if len(token.strip()) < 8:
            raise ConfigError(SETTING, f"entry {n}: token must have at least 8 characters")
        key = _digest(token.strip())
        if key in out:
            raise ConfigError(SETTING, f"entry {n}: duplicate token")
        out[key] = Principal(role, name.strip())
    return out


def _token(request: web.Request, *, allow_query: bool) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query:
        return request.query.get("access_token") or None
    return None


async def authenticate(request: web.Request, *, allow_query: bool = False) -> Principal:
    token = _token(request, allow_query=allow_query)
    if token is None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return await _session(request, cookie)
        raise AuthRequired("missing bearer token (Authorization: Bearer <token>) or session cookie")
    static: dict[str, Principal] = request.app[STATIC_TOKENS]
    found = static.get(_digest(token))
    if found is not None:
        return found
    agent = await request.app[AGENT_TOKENS].agent_for(request.app[POOL], token)
    if agent is not None:
        return Principal("agent", agent)
    raise AuthRequired("unknown or revoked token")


async def _session(request: web.Request, cookie: str) -> Principal:
    sessions = request.app.get(SESSIONS)
    found = None if sessions is None else await sessions.lookup(request.app[POOL], cookie)
    if found is None:
        raise AuthRequired("the session has expired or was signed out: sign in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, found.csrf):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header for this session")
    return Principal(found.role, found.login)


def authorize(who: Principal, role: str) -> None:
    if not who.at_least(role):
        raise Forbidden(f"needs role {role}, token has role {who.role}")
