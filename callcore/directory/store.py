"""PostgreSQL storage of queues, agents, memberships, agent state and agent tokens.

Every function takes ``db``: a ``callcore.store.db.Database`` (pool or connection); its errors are the
boundary's (``UniqueViolation`` is a Conflict, ``ReferenceMissing`` a NotFound, ``DatabaseUnavailable``).
Writes to queues, agents and memberships
fire ``NOTIFY callcore_config`` (database triggers) so running services reload. Tickets, help requests
and call records live in ``callcore.directory.records``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from callcore.acd.core.events import PersistedAgent
from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.directory.model import (
    build_agent,
    build_queue,
    check_level_map,
    check_name,
    queue_json,
)
from callcore.directory.sqlload import sql
from callcore.errors import Conflict, DataRejected, InputError, NotFound, ReferenceMissing
from callcore.store.db import Database, database

Db: TypeAlias = Database


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[Database]:
    """A connection inside a transaction, from a pool or an existing connection (a bare driver pool or
    connection is put behind the database boundary)."""
    async with database(db).transaction() as conn:
        yield conn


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --- queues ------------------------------------------------------------------------------------


QUEUE_COLUMNS = ("name", "strategy", "weight", "moh_class", "announce_position_every", "announce_holdtime",
                 "max_wait", "overflow", "join_empty", "leave_empty", "max_len", "callback_digit",
                 "wrapup_time", "ring_timeout", "max_no_answer", "service_level_threshold", "recording",
                 "script", "dispositions", "skills", "voicemail_context", "transfer_context")
_JSON_COLUMNS = ("dispositions", "skills")


def _queue_args(spec: QueueConfig) -> list[Any]:
    row = queue_json(spec)
    return [_dump(row[k]) if k in _JSON_COLUMNS else row[k] for k in QUEUE_COLUMNS]


def queue_from_row(row: Mapping[str, Any]) -> QueueConfig:
    data = {k: row[k] for k in QUEUE_COLUMNS}
    for k in _JSON_COLUMNS:
        data[k] = json.loads(data[k])
    return build_queue(data)


def _overflow_queue(spec: QueueConfig) -> tuple[str, str | None]:
    o = spec.overflow
    return "overflow", o.target if o is not None and o.kind == "queue" else None


async def create_queue(db: Db, spec: QueueConfig) -> QueueConfig:
    from callcore.directory.references import require_queues

    await require_queues(db, [_overflow_queue(spec)])
    name = await database(db).fetchval(sql("queue_insert"), *_queue_args(spec))
    if name is None:
        raise Conflict(f"queue {spec.name!r} already exists")
    return spec


async def get_queue(db: Db, name: str) -> QueueConfig:
    row = await db.fetchrow(sql("queue_get"), name)
    if row is None:
        raise NotFound(f"queue {name!r} does not exist")
    return queue_from_row(row)


async def list_queues(db: Db) -> list[QueueConfig]:
    return [queue_from_row(r) for r in await db.fetch(sql("queue_list"))]


async def update_queue(db: Db, name: str, changes: Mapping[str, Any]) -> QueueConfig:
    """Merge ``changes`` onto the stored queue, validate the result and store it."""
    async with transaction(db) as conn:
        row = await conn.fetchrow(sql("queue_get_for_update"), name)
        if row is None:
            raise NotFound(f"queue {name!r} does not exist")
        spec = build_queue(changes, base=queue_from_row(row))
        if "overflow" in changes:
            from callcore.directory.references import require_queues

            await require_queues(conn, [_overflow_queue(spec)])
        await conn.fetchval(sql("queue_update"), *_queue_args(spec))
    return spec


async def delete_queue(db: Db, name: str) -> None:
    if await db.fetchval(sql("queue_delete"), name) is None:
        raise NotFound(f"queue {name!r} does not exist")


# --- agents ------------------------------------------------------------------------------------


def agent_from_row(row: Mapping[str, Any]) -> AgentConfig:
    return AgentConfig(id=row["id"], name=row["name"], endpoint=row["endpoint"],
                       skills=json.loads(row["skills"]), memberships=json.loads(row["memberships"]))


async def _write_memberships(conn: Database, agent_id: str, queues: Mapping[str, int]) -> None:
    names = list(queues)
    found = {r["name"] for r in await conn.fetch(sql("queues_existing"), names)}
    missing = sorted(set(names) - found)
    if missing:
        raise NotFound(f"queue {missing[0]!r} does not exist")
    await conn.execute(sql("membership_prune"), agent_id, names)
    for queue, penalty in queues.items():
        await conn.execute(sql("membership_set"), agent_id, queue, penalty)


async def create_agent(db: Db, spec: AgentConfig) -> AgentConfig:
    async with transaction(db) as conn:
        created = await conn.fetchval(sql("agent_insert"), spec.id, spec.name, spec.endpoint,
                                      _dump(dict(spec.skills)))
        if created is None:
            raise Conflict(f"agent {spec.id!r} already exists")
        await _write_memberships(conn, spec.id, spec.memberships)
    return spec


async def get_agent(db: Db, agent_id: str) -> AgentConfig:
    row = await db.fetchrow(sql("agent_get"), agent_id)
    if row is None:
        raise NotFound(f"agent {agent_id!r} does not exist")
    return agent_from_row(row)


async def list_agents(db: Db) -> list[AgentConfig]:
    return [agent_from_row(r) for r in await db.fetch(sql("agent_list"))]


async def update_agent(db: Db, agent_id: str, changes: Mapping[str, Any]) -> AgentConfig:
    """Merge ``changes`` onto the stored agent; ``memberships``, when given, replaces all of them."""
    async with transaction(db) as conn:
        row = await conn.fetchrow(sql("agent_get_for_update"), agent_id)
        if row is None:
            raise NotFound(f"agent {agent_id!r} does not exist")
        old = agent_from_row(row)
        spec = build_agent(changes, base=old)
        if (spec.name, spec.endpoint, dict(spec.skills)) != (old.name, old.endpoint, dict(old.skills)):
            await conn.fetchval(sql("agent_update"), spec.id, spec.name, spec.endpoint,
                                _dump(dict(spec.skills)))
        if "memberships" in changes:
            await _write_memberships(conn, agent_id, spec.memberships)
    return spec


async def delete_agent(db: Db, agent_id: str) -> None:
    if await db.fetchval(sql("agent_delete"), agent_id) is None:
        raise NotFound(f"agent {agent_id!r} does not exist")


async def set_membership(db: Db, agent_id: str, queue: str, penalty: int = 0) -> None:
    check_name(queue, "queue")
    try:
        await database(db).execute(sql("membership_set"), agent_id, queue, penalty)
    except ReferenceMissing:
        raise NotFound(f"agent {agent_id!r} or queue {queue!r} does not exist") from None
    except DataRejected:
        raise InputError("must be >= 0", field="penalty") from None


async def remove_membership(db: Db, agent_id: str, queue: str) -> None:
    if await db.fetchval(sql("membership_delete"), agent_id, queue) is None:
        raise NotFound(f"agent {agent_id!r} is not a member of queue {queue!r}")


async def set_skill(db: Db, agent_id: str, skill: str, level: int | None) -> AgentConfig:
    """Set one skill level (``None`` removes the skill), atomically."""
    check_level_map({skill: 0 if level is None else level}, "skills")
    if await db.fetchval(sql("agent_skill_set"), agent_id, skill, level) is None:
        raise NotFound(f"agent {agent_id!r} does not exist")
    return await get_agent(db, agent_id)


@dataclass(frozen=True, slots=True)
class Directory:
    queues: list[QueueConfig]
    agents: list[AgentConfig]


async def load_directory(db: Db) -> Directory:
    """Every queue and agent (with memberships), read in one snapshot."""
    async with transaction(db) as conn:
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return Directory(await list_queues(conn), await list_agents(conn))


def directory_loader(db: Db) -> Callable[[], Awaitable[tuple[Sequence[QueueConfig], Sequence[AgentConfig]]]]:
    """The ``loader`` of ``AcdService``: re-reads queues and agents on ``reload()``."""

    async def load() -> tuple[Sequence[QueueConfig], Sequence[AgentConfig]]:
        directory = await load_directory(db)
        return directory.queues, directory.agents

    return load


# --- agent state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedAgentState:
    agent_id: str
    state: str
    pause_reason: str | None
    since: datetime
    instance: str = ""


async def save_agent_state(db: Db, agent_id: str, state: str, pause_reason: str | None,
                           since: datetime, *, instance: str = "", take_over: bool = False) -> bool:
    """Persist an agent's state (e.g. paused with its reason) as seen by ``instance``, so that it survives
    restarts. The row of an agent logged in on another instance is left alone (returns False) unless
    ``take_over`` (she logs in here). NotFound when the agent does not exist."""
    if await db.fetchval(sql("agent_state_save"), agent_id, state, pause_reason, since, instance,
                         take_over) is not None:
        return True
    if await db.fetchval(sql("agent_get"), agent_id) is None:
        raise NotFound(f"agent {agent_id!r} does not exist")
    return False


async def load_agent_states(db: Db, instance: str | None = None) -> dict[str, SavedAgentState]:
    """Saved agent states; ``instance``: only those of the agents logged in on it."""
    saved = await database(db).fetch_as(SavedAgentState, sql("agent_state_list"), instance)
    return {s.agent_id: s for s in saved}


async def persisted_agents(db: Db, instance: str | None = None) -> list[PersistedAgent]:
    """Saved agent states in the form ``AcdService.restore`` takes after a restart (``instance``: only
    that instance's agents)."""
    rows = await db.fetch(sql("agent_state_restore"), instance)
    return [PersistedAgent(r["agent_id"], r["state"], r["pause_reason"], r["endpoint"]) for r in rows]


# --- tokens ------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_agent_token(db: Db, agent_id: str) -> str:
    """A new random token for the agent (replacing the old one). Only its sha256 is stored."""
    token = "cca_" + secrets.token_urlsafe(32)
    if await db.fetchval(sql("token_set"), agent_id, hash_token(token)) is None:
        raise NotFound(f"agent {agent_id!r} does not exist")
    return token


async def revoke_agent_token(db: Db, agent_id: str) -> None:
    if await db.fetchval(sql("token_set"), agent_id, None) is None:
        raise NotFound(f"agent {agent_id!r} does not exist")


async def agent_tokens(db: Db) -> dict[str, str]:
    """``{sha256 of the token: agent id}`` of every agent that has a token."""
    return {str(r["token_hash"]): str(r["id"]) for r in await db.fetch(sql("token_list"))}


async def agent_for_token(db: Db, token: str) -> str | None:
    """The agent id owning ``token``, or None."""
    if not token.startswith("cca_"):
        return None
    result = await db.fetchval(sql("token_lookup"), hash_token(token))
    return None if result is None else str(result)
