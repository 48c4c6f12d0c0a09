"""Help requests and their answers reach operators and supervisors connected to another instance."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from callcore.http.sse import EventHub
from callcore.service.hubrelay import MAX_PAYLOAD, HubRelay

pytestmark = pytest.mark.postgres


async def next_event(sub: Any) -> dict[str, Any]:
    return await asyncio.wait_for(anext(sub), 10)


async def test_event_published_on_one_instance_reaches_the_other(pg_dsn: str, pg_pool: Any) -> None:
    hub_a, hub_b = EventHub(), EventHub()
    relay_a, relay_b = HubRelay(hub_a, pg_pool, pg_dsn), HubRelay(hub_b, pg_pool, pg_dsn)
    tasks = [asyncio.create_task(relay_a.run()), asyncio.create_task(relay_b.run())]
    try:
        on_a, on_b = hub_a.subscribe("1001"), hub_b.subscribe("1001")
        first_a, first_b = asyncio.ensure_future(next_event(on_a)), asyncio.ensure_future(next_event(on_b))
        await asyncio.sleep(0.5)  # both listeners connected
        assert hub_a.publish("1001", {"event": "help_answer", "note": "use the refund form"}) == 1
        got_a, got_b = await first_a, await first_b
        assert got_a == got_b == {"event": "help_answer", "note": "use the refund form"}
        # the publisher's own instance is not served twice
        second_a = asyncio.ensure_future(next_event(on_a))
        await asyncio.sleep(0.5)
        assert not second_a.done()
        second_a.cancel()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_oversized_events_stay_local() -> None:
    hub = EventHub()
    relay = HubRelay(hub, pool=None, dsn="")
    relay.send("supervisors", {"text": "x" * (MAX_PAYLOAD + 1)})
    relay.send("supervisors", {"text": "short"})
    assert relay._out.qsize() == 1


def test_bad_and_own_notifications_are_not_delivered() -> None:
    hub = EventHub()
    relay = HubRelay(hub, pool=None, dsn="")
    delivered: list[tuple[str, Any]] = []
    def deliver(topic: str, event: Any) -> int:
        delivered.append((topic, event))
        return 0

    hub.deliver = deliver  # type: ignore[method-assign]
    relay.receive("{not json")
    relay.receive(json.dumps({"origin": "elsewhere"}))
    relay.receive(json.dumps({"origin": relay.origin, "topic": "t", "event": {}}))
    assert delivered == []
    relay.receive(json.dumps({"origin": "elsewhere", "topic": "t", "event": {"n": 1}}))
    assert delivered == [("t", {"n": 1})]
