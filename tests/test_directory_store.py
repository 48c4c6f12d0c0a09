from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcore.directory import records, store
from callcore.directory.model import build_agent, build_queue
from callcore.directory.notify import RELOAD_ALL, listen_config_changes
from callcore.errors import Conflict, DataRejected, InputError, NotFound

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_queue_crud_roundtrip(pg_pool: Any) -> None:
    spec = build_queue({"name": "sales", "strategy": "round-robin", "wrapup_time": 5,
                        "dispositions": ["sale", "no_sale"], "announce_holdtime": True,
                        "skills": ["lang=ru>=2, after 30 s >=1, after 60 s dropped",
                                   {"skill": "tech", "min_level": 1}],
                        "overflow": "dialplan:support,100,2", "callback_digit": "#",
                        "recording": "percent:30"})
    await store.create_queue(pg_pool, spec)
    assert await store.get_queue(pg_pool, "sales") == spec
    with pytest.raises(Conflict):
        await store.create_queue(pg_pool, spec)
    updated = await store.update_queue(pg_pool, "sales", {"max_wait": 120})
    assert updated.max_wait == 120 and updated.wrapup_time == 5
    assert (await store.get_queue(pg_pool, "sales")).max_wait == 120
    with pytest.raises(InputError) as err:
        await store.update_queue(pg_pool, "sales", {"ring_timeout": 0})
    assert err.value.field == "ring_timeout"
    assert [q.name for q in await store.list_queues(pg_pool)] == ["sales"]
    await store.delete_queue(pg_pool, "sales")
    with pytest.raises(NotFound):
        await store.get_queue(pg_pool, "sales")
    with pytest.raises(NotFound):
        await store.delete_queue(pg_pool, "sales")


async def test_agent_memberships_skills_and_cascade(pg_pool: Any) -> None:
    await store.create_queue(pg_pool, build_queue({"name": "sales"}))
    await store.create_queue(pg_pool, build_queue({"name": "support"}))
    agent = build_agent({"id": "1001", "name": "Ann", "endpoint": "PJSIP/1001", "skills": {"lang=ru": 3},
                         "memberships": {"sales": 0, "support": 2}})
    await store.create_agent(pg_pool, agent)
    assert await store.get_agent(pg_pool, "1001") == agent
    with pytest.raises(NotFound):
        await store.create_agent(pg_pool, build_agent({"id": "1002", "memberships": {"nope": 0}}))
    with pytest.raises(NotFound):  # rolled back: the agent itself was not created
        await store.get_agent(pg_pool, "1002")
    await store.update_agent(pg_pool, "1001", {"memberships": {"support": 1}})
    assert dict((await store.get_agent(pg_pool, "1001")).memberships) == {"support": 1}
    await store.set_membership(pg_pool, "1001", "sales", 4)
    await store.set_skill(pg_pool, "1001", "lang=en", 1)
    got = await store.get_agent(pg_pool, "1001")
    assert dict(got.memberships) == {"sales": 4, "support": 1}
    assert dict(got.skills) == {"lang=ru": 3, "lang=en": 1}
    await store.remove_membership(pg_pool, "1001", "sales")
    with pytest.raises(NotFound):
        await store.remove_membership(pg_pool, "1001", "sales")
    await store.delete_queue(pg_pool, "support")
    assert dict((await store.get_agent(pg_pool, "1001")).memberships) == {}
    directory = await store.load_directory(pg_pool)
    assert [a.id for a in directory.agents] == ["1001"] and [q.name for q in directory.queues] == ["sales"]


async def test_agent_state_belongs_to_the_instance_she_is_logged_in_on(pg_pool: Any) -> None:
    for aid in ("n1-a", "n2-a"):
        await store.create_agent(pg_pool, build_agent({"id": aid}))
    assert await store.save_agent_state(pg_pool, "n1-a", "available", None, T0, instance="node1")
    assert await store.save_agent_state(pg_pool, "n2-a", "available", None, T0, instance="node2")
    # node2's view of node1's operator (e.g. an auto-pause after ringing her there) is refused
    assert not await store.save_agent_state(pg_pool, "n1-a", "paused", "no-answer", T0, instance="node2")
    assert (await store.load_agent_states(pg_pool))["n1-a"].state == "available"
    assert set(await store.load_agent_states(pg_pool, "node1")) == {"n1-a"}
    assert [p.agent_id for p in await store.persisted_agents(pg_pool, "node2")] == ["n2-a"]
    # she logs in on node2: the row moves with her
    assert await store.save_agent_state(pg_pool, "n1-a", "available", None, T0, instance="node2", take_over=True)
    assert (await store.load_agent_states(pg_pool))["n1-a"].instance == "node2"
    # once logged out anywhere, any instance may write it
    assert await store.save_agent_state(pg_pool, "n2-a", "logged_out", None, T0, instance="node2")
    assert await store.save_agent_state(pg_pool, "n2-a", "paused", "x", T0, instance="node1")
    with pytest.raises(NotFound):
        await store.save_agent_state(pg_pool, "ghost", "available", None, T0, instance="node1")


async def test_agent_state_survives_and_tokens(pg_pool: Any) -> None:
    await store.create_agent(pg_pool, build_agent({"id": "7"}))
    await store.save_agent_state(pg_pool, "7", "paused", "lunch", T0)
    states = await store.load_agent_states(pg_pool)
    assert states["7"].pause_reason == "lunch" and states["7"].since == T0
    with pytest.raises(NotFound):
        await store.save_agent_state(pg_pool, "ghost", "ready", None, T0)
    token = await store.issue_agent_token(pg_pool, "7")
    assert await store.agent_for_token(pg_pool, token) == "7"
    raw = await pg_pool.fetchval("SELECT token_hash FROM agents WHERE id = '7'")
    assert token not in raw and raw == store.hash_token(token)
    second = await store.issue_agent_token(pg_pool, "7")
    assert await store.agent_for_token(pg_pool, token) is None
    assert await store.agent_for_token(pg_pool, second) == "7"
    await store.revoke_agent_token(pg_pool, "7")
    assert await store.agent_for_token(pg_pool, second) is None


async def test_tickets_help_and_calls(pg_pool: Any) -> None:
    await records.record_call_entered(pg_pool, call_id="c1", queue="sales", entered_at=T0,
                                      caller_number="+79001234567", caller_name="Ivan")
    await records.record_call_answered(pg_pool, call_id="c1", agent_id="1001",
                                       answered_at=T0 + timedelta(seconds=12))
    await records.record_call_ended(pg_pool, call_id="c1", ended_at=T0 + timedelta(seconds=80),
                                    outcome="answered")
    await records.record_disposition(pg_pool, call_id="c1", code="sale", notes="ok")
    call = await records.get_call(pg_pool, "c1")
    assert (call.agent_id, call.outcome, call.disposition_code) == ("1001", "answered", "sale")
    with pytest.raises(NotFound):
        await records.record_call_answered(pg_pool, call_id="zz", agent_id="1", answered_at=T0)
    calls = await records.list_calls(pg_pool, since=T0, until=T0 + timedelta(days=1), queue="sales")
    assert [c.call_id for c in calls] == ["c1"]

    t = await records.create_ticket(pg_pool, agent_id="1001", type="complaint", text="late delivery",
                                    call_id="c1", caller_number="+79001234567")
    with pytest.raises(InputError) as err:
        await records.create_ticket(pg_pool, agent_id="1001", type="praise", text="x")
    assert err.value.field == "type"
    assert [x.id for x in await records.list_tickets(pg_pool, call_id="c1")] == [t.id]
    closed = await records.close_ticket(pg_pool, t.id)
    assert closed.status == "closed"
    assert await records.list_tickets(pg_pool, status="open") == []

    h = await records.create_help_request(pg_pool, agent_id="1001", text="customer asks for refund")
    assert [x.id for x in await records.list_help_requests(pg_pool)] == [h.id]
    answered = await records.answer_help_request(pg_pool, h.id, answered_by="sup", note="offer 10%")
    assert answered.answer_note == "offer 10%" and answered.answered_at is not None
    with pytest.raises(Conflict):
        await records.answer_help_request(pg_pool, h.id, answered_by="sup2", note="again")
    with pytest.raises(NotFound):
        await records.answer_help_request(pg_pool, 99999, answered_by="sup", note="x")
    assert await records.list_help_requests(pg_pool) == []


async def test_changes_notify_listeners(pg_dsn: str, pg_pool: Any) -> None:
    seen: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(listen_config_changes(pg_dsn, seen.put_nowait), name="config-listener")
    try:
        assert await asyncio.wait_for(seen.get(), 10) == RELOAD_ALL
        await store.create_queue(pg_pool, build_queue({"name": "q1"}))
        assert await asyncio.wait_for(seen.get(), 10) == "queue:q1"
        await store.create_agent(pg_pool, build_agent({"id": "a1", "memberships": {"q1": 1}}))
        got = {await asyncio.wait_for(seen.get(), 10) for _ in range(2)}
        assert got == {"agent:a1", "membership:a1:q1"}
        # the listener reconnects after its backend is killed, and asks for a full reload
        await pg_pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        assert await asyncio.wait_for(seen.get(), 10) == RELOAD_ALL
        await store.delete_queue(pg_pool, "q1")
        got = {await asyncio.wait_for(seen.get(), 10) for _ in range(2)}
        assert got == {"queue:q1", "membership:a1:q1"}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_schema_rejects_bad_ticket_type_directly(pg_pool: Any) -> None:
    with pytest.raises(DataRejected):
        await pg_pool.execute("INSERT INTO tickets (agent_id, type, text) VALUES ('1', 'x', 'y')")


async def test_concurrent_updates_do_not_lose_changes(pg_pool: Any) -> None:
    await store.create_queue(pg_pool, build_queue({"name": "q"}))
    await store.create_agent(pg_pool, build_agent({"id": "a"}))
    await asyncio.gather(*(store.set_skill(pg_pool, "a", f"s{i}", i) for i in range(8)))
    await asyncio.gather(store.update_queue(pg_pool, "q", {"max_wait": 60}),
                         store.update_queue(pg_pool, "q", {"wrapup_time": 7}))
    q = await store.get_queue(pg_pool, "q")
    assert (q.max_wait, q.wrapup_time) == (60.0, 7.0)
    assert dict((await store.get_agent(pg_pool, "a")).skills) == {f"s{i}": i for i in range(8)}
    await store.set_skill(pg_pool, "a", "s3", None)
    assert "s3" not in (await store.get_agent(pg_pool, "a")).skills
    with pytest.raises(InputError):
        await store.set_skill(pg_pool, "a", "bad name", 1)
