"""ARI: REST client, events websocket with reconnect/resync, typed events, and an in-memory fake.

    async with AriSession.from_settings(settings) as ari:
        sub = ari.subscribe("acd")              # bounded queue; Overflowed marker after drops
        await ari.wait_connected(10)
        async for ev in sub:                    # Connected(snapshot) first, then ARI events in order
            ...
        await ari.client.answer(channel_id)     # AriApi operations
"""

from callcore.ari.api import AriApi
from callcore.ari.client import AriClient
from callcore.ari.dispatch import Dispatcher, Subscription
from callcore.ari.events import (
    AriEvent,
    Connected,
    Disconnected,
    Overflowed,
    Snapshot,
    UnknownEvent,
    WireEvent,
    decode_event,
    event_channel_id,
    event_type,
    parse_ari_time,
)
from callcore.ari.fake import FakeAri, FakeSession
from callcore.ari.session import AriSession
from callcore.ari.stream import CONTACT_CENTER_EVENT_TYPES, Backoff, EventStream

__all__ = [
    "CONTACT_CENTER_EVENT_TYPES",
    "AriApi",
    "AriClient",
    "AriEvent",
    "AriSession",
    "Backoff",
    "Connected",
    "Disconnected",
    "Dispatcher",
    "EventStream",
    "FakeAri",
    "FakeSession",
    "Overflowed",
    "Snapshot",
    "Subscription",
    "UnknownEvent",
    "WireEvent",
    "decode_event",
    "event_channel_id",
    "event_type",
    "parse_ari_time",
]
