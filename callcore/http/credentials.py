"""Credentials that keep working while PostgreSQL is unreachable.

Agent tokens and browser sessions live in PostgreSQL. This cache holds every issued agent token (by its
sha256) and every unexpired session, loaded when the HTTP server starts and reloaded every ``refresh``
seconds. While PostgreSQL answers, an agent token is still checked there on each request (a revoked token
stops at once, a new one works at once) and the answer updates the cache; when PostgreSQL is unreachable the
cache answers, so operators keep reading their state, pausing and becoming ready during an outage. After a
failed look-up the database is left alone for ``backoff`` seconds, so that an outage costs requests no
connect time-outs. Static tokens (``CALLCORE_API_TOKENS``) never need the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import structlog

from callcore.directory import store
from callcore.errors import DatabaseUnavailable
from callcore.store.db import Database
from callcore.store.dberrors import is_unavailable
from callcore.web.accounts import Sessions

log = structlog.get_logger(__name__)

LOOKUP_TIMEOUT = 1.0


class AgentTokens:
    def __init__(self, *, refresh: float = 10.0, backoff: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh = refresh
        self.backoff = backoff
        self._clock = clock
        self._tokens: dict[str, str] = {}
        self.loaded = False
        self._skip_db_until = 0.0

    def __len__(self) -> int:
        return len(self._tokens)

    def replace(self, tokens: dict[str, str]) -> None:
        self._tokens = dict(tokens)
        self.loaded = True

    async def reload(self, db: Database) -> int:
        self.replace(await store.agent_tokens(db))
        return len(self._tokens)

    def db_usable(self) -> bool:
        return self._clock() >= self._skip_db_until

    def mark_db_down(self) -> None:
        self._skip_db_until = self._clock() + self.backoff

    async def agent_for(self, db: Database | None, token: str) -> str | None:
        """The agent owning ``token`` (None: unknown or revoked). DatabaseUnavailable only when PostgreSQL
        is unreachable and the cache was never loaded."""
        if not token.startswith("cca_"):
            return None
        key = store.hash_token(token)
        if db is not None and self.db_usable():
            try:
                async with asyncio.timeout(LOOKUP_TIMEOUT):
                    agent = await store.agent_for_token(db, token)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self.mark_db_down()
                log.info("token_checked_from_cache", error=repr(exc))
            else:
                if agent is None:
                    self._tokens.pop(key, None)
                else:
                    self._tokens[key] = agent
                return agent
        if not self.loaded:
            raise DatabaseUnavailable("cannot check an agent token: PostgreSQL is unreachable and the token "
                                      "cache has not been loaded yet")
        return self._tokens.get(key)


async def keep_loaded(db: Database, tokens: AgentTokens, sessions: Sessions) -> None:
    """Reload both caches now and every ``tokens.refresh`` seconds; an unreachable database keeps the last
    copy (logged once per outage)."""
    failing = False
    while True:
        try:
            n_tokens = await tokens.reload(db)
            n_sessions = await sessions.reload(db)
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("credential_cache_reload_failed")
            elif not failing:
                log.warning("credential_cache_stale", error=repr(exc), tokens=len(tokens))
            failing = True
        else:
            if failing:
                log.info("credential_cache_reloaded", tokens=n_tokens, sessions=n_sessions)
            failing = False
        await asyncio.sleep(tokens.refresh)


@contextlib.asynccontextmanager
async def running(db: Database | None, tokens: AgentTokens, sessions: Sessions) -> AsyncIterator[None]:
    """The reload loop for the lifetime of the HTTP application (nothing without a database)."""
    if db is None:
        yield
        return
    task = asyncio.create_task(keep_loaded(db, tokens, sessions), name="credential-cache")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
