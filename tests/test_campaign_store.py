"""Campaign store: settings round trip, state changes, claiming (two concurrent instances), stale claims,
attempts and the report."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.dialer.campaign import (
    CampaignSettings,
    LeadStatus,
    Mode,
    Outcome,
    RetryDelays,
    apply_outcome,
    start_dial,
)
from callcore.dialer.compliance import CallingWindow
from callcore.dialer.store import DialerStore, settings_from_json, settings_to_json
from callcore.errors import Conflict, InputError, NotFound

NOW = 1_800_000_000.0
SETTINGS = CampaignSettings(caller_id="+74950000000", queue="sales", mode=Mode.PREDICTIVE)


@given(mode=st.sampled_from([Mode.PREDICTIVE, Mode.PROGRESSIVE, Mode.PREVIEW]),
       attempts=st.integers(1, 20), busy=st.floats(0, 1e5), amd=st.booleans(),
       start=st.integers(0, 11), end=st.integers(12, 23))
@settings(max_examples=60, deadline=None)
def test_settings_json_round_trip(mode: Mode, attempts: int, busy: float, amd: bool, start: int,
                                  end: int) -> None:
    s = CampaignSettings(caller_id="+7495", queue="q", mode=mode, max_attempts=attempts,
                         retry=RetryDelays(busy=busy), amd=amd,
                         window=CallingWindow.parse(f"{start:02d}:00-{end:02d}:30"))
    assert settings_from_json(settings_to_json(s)) == s


def test_settings_from_json_names_bad_fields() -> None:
    with pytest.raises(InputError) as exc:
        settings_from_json({"caller_id": "1", "queue": "q", "colour": "red"})
    assert exc.value.field == "colour"
    with pytest.raises(InputError):
        settings_from_json({"caller_id": "1", "queue": "q", "mode": "telepathic"})


@pytest.fixture
async def store(pg_pool: Any) -> DialerStore:
    return DialerStore(pg_pool)


async def add_leads(pool: Any, campaign_id: int, n: int, prefix: str = "+7916") -> None:
    await pool.executemany("INSERT INTO leads (campaign_id, phone_e164, tz) "
                           "VALUES ($1, $2, '{Europe/Moscow}')",
                           [(campaign_id, f"{prefix}{i:07d}") for i in range(n)])


async def test_campaign_create_get_list_and_states(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    assert c.state == "created" and (await store.get_campaign("spring")).settings == SETTINGS
    with pytest.raises(Conflict):
        await store.create_campaign("spring", SETTINGS)
    with pytest.raises(InputError):
        await store.create_campaign("bad name", SETTINGS)
    with pytest.raises(NotFound):
        await store.get_campaign("autumn")
    assert (await store.change_state("spring", "start")).state == "running"
    assert [x.name for x in await store.running_campaigns()] == ["spring"]
    assert (await store.change_state("spring", "pause")).state == "paused"
    assert (await store.change_state("spring", "stop")).state == "stopped"
    with pytest.raises(Conflict):
        await store.change_state("spring", "pause")
    await add_leads(store.pool, c.id, 3)
    [listed] = await store.list_campaigns()
    assert (listed.leads, listed.remaining) == (3, 3)


async def test_claim_order_and_due_time(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    await add_leads(store.pool, c.id, 5)
    await store.pool.execute("UPDATE leads SET next_attempt_at = now() + interval '1 hour' "
                             "WHERE phone_e164 = '+79160000000'")
    first = await store.claim_leads(c.id, 2, "a", time.time())
    assert [lead.phone for lead in first] == ["+79160000001", "+79160000002"]
    assert first[0].status is LeadStatus.NEW and first[0].zones == ("Europe/Moscow",)
    rest = await store.claim_leads(c.id, 10, "a", time.time())
    assert [lead.phone for lead in rest] == ["+79160000003", "+79160000004"]
    assert await store.claim_leads(c.id, 10, "a", time.time()) == []


async def test_two_instances_never_claim_the_same_lead(pg_dsn: str, store: DialerStore) -> None:
    from callcore.store.db import open_pool

    c = await store.create_campaign("spring", SETTINGS)
    await add_leads(store.pool, c.id, 600)
    pool_a, pool_b = await open_pool(pg_dsn, 4), await open_pool(pg_dsn, 4)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    async def claimer(name: str, pool: Any) -> None:
        s = DialerStore(pool)
        while True:
            got = await s.claim_leads(c.id, 7, name, NOW + 10)
            if not got:
                return
            claimed[name] += [lead.id for lead in got]

    try:
        async with asyncio.TaskGroup() as tg:
            for i in range(3):
                tg.create_task(claimer("a", pool_a), name=f"claim-a{i}")
                tg.create_task(claimer("b", pool_b), name=f"claim-b{i}")
    finally:
        await pool_a.close()
        await pool_b.close()
    every = claimed["a"] + claimed["b"]
    assert len(every) == 600 and len(set(every)) == 600
    assert claimed["a"] and claimed["b"]
    rows = await store.pool.fetch("SELECT claimed_by, count(*) AS n FROM leads WHERE state = 'dialing' "
                                  "GROUP BY claimed_by")
    assert {r["claimed_by"]: r["n"] for r in rows} == {"a": len(claimed["a"]), "b": len(claimed["b"])}


async def test_stale_claims_are_recovered_and_fresh_ones_kept(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    await add_leads(store.pool, c.id, 4)
    dead = await store.claim_leads(c.id, 2, "dead", NOW)
    await store.start_attempt("att-dead", dead[0].id, c.id, dead[0].phone, "dead", NOW)
    alive = await store.claim_leads(c.id, 2, "alive", NOW)
    await store.start_attempt("att-alive", alive[0].id, c.id, alive[0].phone, "alive", NOW)
    await store.touch_claims("alive", [lead.id for lead in alive], NOW + 200)
    assert await store.recover_stale(NOW + 100) == 2
    again = await store.claim_leads(c.id, 10, "new", NOW + 300)
    assert sorted(lead.id for lead in again) == sorted(lead.id for lead in dead)
    # only claimed: back as it was; dialled and never ended: resolved (it rang out) and counted, not fresh
    by_id = {lead.id: lead for lead in again}
    assert (by_id[dead[1].id].status, by_id[dead[1].id].attempts) == (LeadStatus.NEW, 0)
    assert (by_id[dead[0].id].status, by_id[dead[0].id].attempts) == (LeadStatus.SCHEDULED, 1)
    outcomes = {r["id"]: r["outcome"] for r in await store.pool.fetch("SELECT id, outcome FROM dial_attempts")}
    assert outcomes == {"att-dead": "no-answer", "att-alive": None}


async def test_attempt_lifecycle_release_and_report(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    await add_leads(store.pool, c.id, 3)
    leads = await store.claim_leads(c.id, 3, "i1", NOW)
    outcomes = [(Outcome.HUMAN, False), (Outcome.BUSY, False), (Outcome.ABANDONED, True)]
    for n, (lead, (outcome, abandoned)) in enumerate(zip(leads, outcomes, strict=True)):
        await store.start_attempt(f"att-{n}", lead.id, c.id, lead.phone, "i1", NOW)
        await store.finish_attempt(f"att-{n}", outcome=outcome.value, ended_at=NOW + 30, answered_at=NOW + 5,
                                   cause=16, abandoned=abandoned)
        pure = apply_outcome(SETTINGS, start_dial(lead.to_lead(), NOW), outcome, NOW + 30)
        await store.release_lead(lead.id, pure, attempted_at=NOW)
    states = {r["phone_e164"]: r["state"]
              for r in await store.pool.fetch("SELECT phone_e164, state FROM leads ORDER BY id")}
    assert list(states.values()) == ["done", "scheduled", "scheduled"]
    times, abandoned_at = await store.number_history([lead.phone for lead in leads], NOW + 60, 72 * 3600)
    assert times[leads[0].phone] == [NOW] and abandoned_at == {leads[2].phone: NOW + 30}
    report = await store.report("spring", NOW + 60)
    assert report.attempts_by_outcome == {"human": 1, "busy": 1, "abandoned": 1}
    assert (report.answered_24h, report.abandoned_24h) == (2, 1)
    assert report.contact_rate == pytest.approx(1 / 3) and report.leads_remaining == 2
    assert any("abandonment 24 h: 50.00%" in line for line in report.lines())
    stale = await store.report("spring", NOW + 31 * 86400)
    assert (stale.answered_24h, stale.answered_30d) == (0, 0)


async def test_personal_callback_goes_to_its_agent_first(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    await add_leads(store.pool, c.id, 3)
    await store.pool.execute("UPDATE leads SET state = 'callback', callback_agent = 'olga' "
                             "WHERE phone_e164 = '+79160000002'")
    assert [x.phone for x in await store.claim_leads(c.id, 1, "i", NOW + 10, agent_id="olga")] == \
        ["+79160000002"]
    anyone = await store.claim_leads(c.id, 5, "i", NOW + 10)
    assert [x.phone for x in anyone] == ["+79160000000", "+79160000001"]


async def test_callbacks_table(store: DialerStore) -> None:
    c = await store.create_campaign("spring", SETTINGS)
    with pytest.raises(InputError):
        await store.add_callback(due_at=NOW)
    first = await store.add_callback(due_at=NOW + 60, caller_number="+79161234567", queue="sales")
    await store.add_callback(due_at=NOW + 7200, caller_number="+79161234568", campaign_id=c.id,
                             agent_id="olga")
    due = await store.claim_due_callbacks(NOW + 120, 10, "i1")
    assert [d["id"] for d in due] == [first]
    assert await store.claim_due_callbacks(NOW + 120, 10, "i2") == []
    await store.finish_callback(first, "pending", due_at=NOW + 600)
    assert [d["id"] for d in await store.claim_due_callbacks(NOW + 700, 10, "i2", queue="sales")] == [first]


async def test_deleting_a_campaign_deletes_its_leads_and_attempts(store: DialerStore) -> None:
    a = await store.create_campaign("spring", SETTINGS)
    b = await store.create_campaign("autumn", SETTINGS)
    await add_leads(store.pool, a.id, 3)
    await add_leads(store.pool, b.id, 2)
    [lead] = await store.claim_leads(a.id, 1, "i1", NOW)
    await store.start_attempt("att-1", lead.id, lead.campaign_id, lead.phone, "i1", NOW)
    await store.pool.execute("DELETE FROM campaigns WHERE id = $1", a.id)
    assert await store.pool.fetchval("SELECT count(*) FROM leads") == 2
    assert await store.pool.fetchval("SELECT count(*) FROM dial_attempts") == 0
