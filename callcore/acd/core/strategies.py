"""The queue strategies, named in one place.

A strategy says how the available agents of one penalty tier are ordered and which of them a caller is
offered. ``callcore.acd.core.index`` keeps each tier's agents sorted by the strategy's key, so a decision
reads the head of a sorted list instead of scanning the center; ``callcore.acd.core.routing`` applies
``pick``. Adding a strategy means adding one entry to ``REGISTRY``; a name not in it is refused where a
queue is configured (``QueueConfig``) and by ``get``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from callcore.errors import InputError

if TYPE_CHECKING:
    from callcore.acd.core.model import Agent

# (agent, queue name, configuration order) -> sort key; the index appends the agent id as the last tie-break.
KeyFn = Callable[["Agent", str, int], tuple[Any, ...]]
Pick = Literal["first", "all", "random", "next"]


@dataclass(frozen=True, slots=True)
class Strategy:
    """``pick``: ``first`` the head of the order; ``all`` ring every agent of the tier (a session agent, who
    is already on the line, takes it alone); ``random`` a seeded draw among the tier in configuration
    order; ``next`` the agent after the one offered last, in configuration order (wrapping round)."""

    name: str
    description: str
    pick: Pick
    ring_key: KeyFn
    session_key: KeyFn


def _idle(a: Agent, queue: str, order: int) -> tuple[Any, ...]:
    return (a.idle_since, order)


def _fewest(a: Agent, queue: str, order: int) -> tuple[Any, ...]:
    return (a.answered.get(queue, 0), a.idle_since, order)


def _order(a: Agent, queue: str, order: int) -> tuple[Any, ...]:
    return (order,)


REGISTRY: dict[str, Strategy] = {s.name: s for s in (
    Strategy("longest-idle", "the agent idle the longest", "first", _idle, _idle),
    Strategy("round-robin", "the member after the one offered last, in configuration order", "next",
             _order, _order),
    Strategy("fewest-calls", "the agent who answered the fewest calls of this queue", "first", _fewest, _fewest),
    Strategy("ring-all", "every available agent at once; the first to answer takes the call", "all",
             _order, _idle),
    Strategy("random", "a random available agent (seeded: the same events give the same choices)", "random",
             _order, _order),
    Strategy("linear", "the first available agent in configuration order", "first", _order, _order),
)}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Strategy:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown strategy {name!r}; known: {', '.join(NAMES)}", field="strategy") from None


def help_text() -> str:
    return " | ".join(NAMES)
