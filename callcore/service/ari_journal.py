"""Journals every ARI event the service consumes (``ari.<EventType>`` rows in ``events``).

Events are appended by a tap that runs synchronously while the websocket reader dispatches them (the
journal subscription is the first one), so an event is in the journal's write-ahead log before any
consumer (ACD, dialer) can act on it. Only the session's own synthetic events (connected, disconnected,
overflowed) go through the subscription queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from callcore.ari.dispatch import Subscription
from callcore.ari.events import (
    Connected,
    Disconnected,
    Overflowed,
    UnknownEvent,
    event_channel_id,
    event_type,
)
from callcore.store.api import JournalSink

log = structlog.get_logger(__name__)


def _payload(ev: Any) -> dict[str, Any]:
    if isinstance(ev, UnknownEvent):
        return dict(ev.raw)
    data = msgspec.to_builtins(ev)
    return data if isinstance(data, dict) else {"value": data}


def journal_tap(journal: JournalSink) -> Callable[[Any], bool]:
    """A subscription filter that journals every ARI event at dispatch time and queues none."""

    def tap(ev: Any) -> bool:
        journal.append("ari." + event_type(ev), _payload(ev), channel_id=event_channel_id(ev))
        return False

    return tap


async def journal_ari_events(sub: Subscription, journal: JournalSink) -> None:
    async for ev in sub:
        if isinstance(ev, Connected):
            journal.append("ari.connected", {"channels": len(ev.snapshot.channels),
                                             "bridges": len(ev.snapshot.bridges)})
            continue
        if isinstance(ev, Disconnected):
            journal.append("ari.disconnected", {"reason": ev.reason})
            continue
        if isinstance(ev, Overflowed):
            journal.append("ari.overflowed", {"dropped": ev.dropped, "consumer": sub.name})
            continue
        journal.append("ari." + event_type(ev), _payload(ev), channel_id=event_channel_id(ev))
