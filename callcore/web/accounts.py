"""Sign-in accounts (an agent id, or a supervisor's / admin's login) with argon2id password hashes, and the
browser sessions they open.

A session is a random 256-bit cookie value; PostgreSQL keeps only its sha256, the role, a CSRF token and
an absolute expiry. Sessions already seen are cached in memory and checked against PostgreSQL again every
``recheck`` seconds, so that operators keep working when PostgreSQL is briefly unreachable while a sign-out
or a password change on another instance still ends the session there within ``recheck`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcore.errors import InputError, NotFound
from callcore.store.db import Database
from callcore.web.sqlload import sql

ROLES = ("agent", "supervisor", "admin")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps an unknown login as slow as a wrong password. Made on first use: hashing
    takes about 0.2 s of CPU, which every CLI command importing this module would otherwise pay."""
    return _HASHER.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Session:
    login: str
    role: str
    csrf: str
    expires_at: float  # epoch seconds
    endpoint: str = ""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_password(password: Any) -> str:
    if not isinstance(password, str):
        raise InputError("must be a string", field="password")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"must have at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"must have at most {MAX_PASSWORD} characters", field="password")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, check_password(password))


async def set_password(db: Database, login: str, role: str, password: str, *, endpoint: str = "") -> dict[str, Any]:
    """Create or replace an account. For role agent the login must be an existing agent id."""
    if role not in ROLES:
        raise InputError(f"must be one of {', '.join(ROLES)}, got {role!r}", field="role")
    if not login or len(login) > 64 or any(c.isspace() for c in login):
        raise InputError("must be 1-64 characters without spaces", field="login")
    if role == "agent" and await db.fetchval("SELECT 1 FROM agents WHERE id = $1", login) is None:
        raise NotFound(f"agent {login!r} does not exist")
    row = await db.fetchone(sql("account_upsert"), login, role, await hash_password(password), endpoint)
    await db.execute("DELETE FROM web_sessions WHERE login = $1", login)  # a new password ends old sessions
    return dict(row)


async def list_accounts(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch(sql("account_list"))]


async def delete_account(db: Database, login: str) -> None:
    if await db.fetchval(sql("account_delete"), login) is None:
        raise NotFound(f"account {login!r} does not exist")


class Sessions:
    """Sign-in, look-up and sign-out; ``ttl`` is the absolute lifetime of a session in seconds."""

    def __init__(self, ttl: float, *, max_failures: int = 5, lockout: float = 30.0, recheck: float = 30.0) -> None:
        self.ttl = ttl
        self.recheck = recheck
        self._cache: dict[str, Session] = {}
        self._checked: dict[str, float] = {}  # cache key -> monotonic time of the last check in PostgreSQL
        self._failures: dict[str, tuple[int, float]] = {}
        self._max_failures = max_failures
        self._lockout = lockout

    async def prepare(self) -> None:
        """Make the stand-in hash (about 0.2 s of CPU) in a worker thread, so that the first unknown login
        is as slow as every other; called as the HTTP application starts, never on the event loop."""
        await asyncio.to_thread(_dummy_hash)

    async def sign_in(self, db: Database, login: str, password: str) -> tuple[str, Session] | None:
        """``(cookie value, session)``, or None for a wrong login or password (the caller says which of
        the two never). Repeated failures lock the login for ``lockout`` seconds."""
        count, until = self._failures.get(login, (0, 0.0))
        if count >= self._max_failures and time.monotonic() < until:
            return None
        row = await db.fetchrow(sql("account_get"), login)
        stored = row["password_hash"] if row is not None else await asyncio.to_thread(_dummy_hash)
        ok = await asyncio.to_thread(_verify, stored, password)
        if row is None or not ok:
            self._failures[login] = (count + 1, time.monotonic() + self._lockout)
            return None
        self._failures.pop(login, None)
        if _HASHER.check_needs_rehash(stored):
            await db.execute(sql("account_rehash"), login, await hash_password(password))
        value = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl)
        session = Session(login, row["role"], secrets.token_urlsafe(24), expires.timestamp(), row["endpoint"])
        await db.execute(sql("session_insert"), digest(value), login, session.role, session.csrf, expires)
        self._cache[digest(value)] = session
        self._checked[digest(value)] = time.monotonic()
        return value, session

    async def lookup(self, db: Database | None, value: str) -> Session | None:
        key = digest(value)
        cached = self._cache.get(key)
        if cached is not None:
            if cached.expires_at <= time.time():
                self._drop(key)
                return None
            if db is None or time.monotonic() - self._checked.get(key, 0.0) < self.recheck:
                return cached
            try:
                row = await db.fetchrow(sql("session_get"), key)
            except Exception:  # PostgreSQL away: the session stays valid until it is reachable again
                return cached
        elif db is None:
            return None
        else:
            row = await db.fetchrow(sql("session_get"), key)
        if row is None:
            self._drop(key)
            return None
        session = Session(row["login"], row["role"], row["csrf"], row["expires_at"].timestamp(), row["endpoint"])
        self._cache[key] = session
        self._checked[key] = time.monotonic()
        return session

    async def reload(self, db: Database) -> int:
        """Cache every unexpired session of PostgreSQL (at start and periodically), so that a session opened
        on any instance keeps working here while PostgreSQL is unreachable; sessions gone from the table
        (signed out elsewhere) leave the cache. Returns how many are cached."""
        rows = await db.fetch(sql("session_list_active"))
        now = time.monotonic()
        self._cache = {r["id_hash"]: Session(r["login"], r["role"], r["csrf"], r["expires_at"].timestamp(),
                                             r["endpoint"]) for r in rows}
        self._checked = dict.fromkeys(self._cache, now)
        return len(self._cache)

    def _drop(self, key: str) -> None:
        self._cache.pop(key, None)
        self._checked.pop(key, None)

    async def sign_out(self, db: Database | None, value: str) -> None:
        key = digest(value)
        self._drop(key)
        if db is not None:
            await db.execute(sql("session_delete"), key)

    def forget(self, login: str) -> None:
        """Drop the cached sessions of ``login`` (its password changed or the account was deleted)."""
        for key, s in list(self._cache.items()):
            if s.login == login:
                self._drop(key)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
