"""Calls that ended while this instance was not running get their end.

After a restart (or a kill) the ACD re-adopts the callers still in Stasis; the call records of this
instance that stay open without a live channel ended while nobody watched. Once ARI is connected and the
journal has replayed what a previous run left on disk, each such call is closed with a ``call.closed``
journal event (projected onto ``calls``): at the ACD's own end event when the journal has it (its table
projection was lost with the process), else at the destruction of its channel seen on ARI, else now
with the outcome ``unknown-during-outage``. Nothing stays open forever, and every end is marked with where
it came from (``reason``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from callcore.clock import Clock
from callcore.store.api import JournalSink
from callcore.store.db import Database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

UNKNOWN = "unknown-during-outage"
LOOKBACK = timedelta(days=2)
END_OUTCOME = {"call.ended": "answered", "call.abandoned": "abandoned", "call.overflowed": "overflowed",
               "call.callback": "callback", "call.refused": "refused", "call.transferred": "transferred"}


def closing_events(rows: list[Any], live: Collection[str], now: float) -> list[tuple[str, str | None,
                                                                                       dict[str, Any], float]]:
    """(call_id, channel_id, payload, ts) of the ``call.closed`` events for the open calls in ``rows``
    whose call is not in ``live`` (pure: the decision, without I/O)."""
    out = []
    for r in rows:
        if r["call_id"] in live:
            continue
        if r["acd_end"] is not None and r["acd_end_type"] in END_OUTCOME:
            payload = {"outcome": END_OUTCOME[r["acd_end_type"]], "reason": "journal"}
            ts = float(r["acd_end"])
        elif r["destroyed"] is not None:
            payload = {"outcome": "answered" if r["answered"] else "abandoned", "reason": "channel-destroyed"}
            ts = float(r["destroyed"])
        else:
            payload = {"outcome": UNKNOWN, "reason": UNKNOWN}
            ts = now
        out.append((str(r["call_id"]), r["channel_id"], payload, ts))
    return out


async def close_calls_ended_while_down(pool: Database, journal: JournalSink, instance: str, clock: Clock,
                                       ready: Callable[[], bool], live: Callable[[], Collection[str]],
                                       *, retry: float = 2.0) -> int:
    """Wait until ``ready()`` (ARI connected and the journal replayed), then close this instance's open
    call records that ``live()`` does not know. Retries while PostgreSQL is unavailable; returns how many
    calls were closed."""
    sql = load_sql("callcore.service", "calls_open_owned")
    while True:
        if not ready():
            await asyncio.sleep(0.2)
            continue
        try:
            since = datetime.fromtimestamp(clock.now(), UTC) - LOOKBACK
            rows = await pool.fetch(sql, instance, since)
            break
        except Exception as exc:  # the database may be down: try again later, never fail the service
            log.warning("open_calls_check_waiting", error=str(exc))
            await asyncio.sleep(retry)
    closing = closing_events(list(rows), set(live()), clock.now())
    for call_id, channel_id, payload, ts in closing:
        journal.append("call.closed", payload, call_id=call_id, channel_id=channel_id, ts=ts)
    if closing:
        log.warning("calls_closed_after_restart", count=len(closing),
                    unknown=sum(1 for c in closing if c[2]["outcome"] == UNKNOWN))
    return len(closing)
