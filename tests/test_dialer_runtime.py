"""The dial loop against FakeAri and a real (test) PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from callcore.ari import events as E
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.dialer.campaign import CampaignSettings, Mode
from callcore.dialer.runtime import AMD_CONTEXT, SAFE_HARBOUR_CONTEXT, CampaignRunner, DialerService
from callcore.dialer.store import DialerStore
from callcore.errors import AriServerError, Conflict, NotFound
from callcore.store.api import MemoryJournal

# 2027-01-15 08:00 UTC = 11:00 in Moscow (window 09:00-21:00 open)
MORNING = 1_800_000_000.0
SETTINGS = CampaignSettings(caller_id="+74950000000", queue="sales", mode=Mode.PROGRESSIVE,
                            connect_grace=0.05)


class Connector:
    def __init__(self, answer: bool | None) -> None:
        self.answer = answer        # None: never answers (the offer hangs)
        self.offers: list[tuple[str, str, Mapping[str, Any]]] = []

    async def connect_to_agent(self, channel_id: str, queue: str, lead_data: Mapping[str, Any]) -> bool:
        self.offers.append((channel_id, queue, lead_data))
        if self.answer is None:
            await asyncio.sleep(3600)
        return bool(self.answer)


class Rig:
    def __init__(self, pool: Any, settings: CampaignSettings, answer: bool | None = True,
                 free: int = 1, now: float = MORNING) -> None:
        self.pool = pool
        self.settings = settings
        self.ari = FakeAri()
        self.sub = self.ari.events("dialer")
        self.clock = ManualClock(now)
        self.journal = MemoryJournal()
        self.connector = Connector(answer)
        self.store = DialerStore(pool)
        self.free = free
        self.runner: CampaignRunner

    async def start(self, numbers: list[str]) -> CampaignRunner:
        c = await self.store.create_campaign("spring", self.settings)
        await self.pool.executemany("INSERT INTO leads (campaign_id, phone_e164, name, tz, data) "
                                    "VALUES ($1, $2, 'Иван', '{Europe/Moscow}', '{\"vip\": \"yes\"}')",
                                    [(c.id, n) for n in numbers])
        c = await self.store.change_state("spring", "start")
        self.runner = CampaignRunner(ari=self.ari, store=self.store, campaign=c, journal=self.journal,
                                     connector=self.connector, operators=lambda q: (self.free, ()),
                                     instance="test-1", clock=self.clock)
        return self.runner

    async def pump(self) -> None:
        for ev in self.sub.drain():
            await self.runner.handle_event(ev)

    async def settle(self) -> None:
        for attempt in list(self.runner.attempts.values()):
            for t in attempt.tasks:
                await asyncio.gather(t, return_exceptions=True)
        await self.pump()

    async def lead(self, number: str) -> Any:
        return await self.pool.fetchrow("SELECT * FROM leads WHERE phone_e164 = $1", number)

    async def attempt(self, attempt_id: str) -> Any:
        return await self.pool.fetchrow("SELECT * FROM dial_attempts WHERE id = $1", attempt_id)


def originated(rig: Rig) -> list[dict[str, Any]]:
    return rig.ari.calls_to("originate")


async def test_answered_and_connected_call_is_a_contact(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567", "+79161234568"])
    assert await runner.tick() == 1
    [call] = originated(rig)
    aid = call["channel_id"]
    assert call["endpoint"] == "PJSIP/+79161234567@trunk" and call["app_args"] == ["outbound", "spring", aid]
    assert call["caller_id"] == "+74950000000" and call["timeout"] == 25
    assert (await rig.lead("+79161234567"))["state"] == "dialing"
    assert await runner.tick() == 0          # the one operator is covered by the call in flight
    rig.clock.advance(6)
    rig.ari.answer_originated(aid)
    await rig.pump()
    await rig.settle()
    [(channel, queue, data)] = rig.connector.offers
    assert (channel, queue, data["vip"], data["phone"]) == (aid, "sales", "yes", "+79161234567")
    rig.clock.advance(60)
    rig.ari.remote_hangup(aid)
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["abandoned"], row["q850_cause"]) == ("human", False, 16)
    assert row["answered_at"] is not None and row["ended_at"] is not None
    lead = await rig.lead("+79161234567")
    assert (lead["state"], lead["attempts"], lead["final_reason"]) == ("done", 1, "contacted")
    assert lead["claimed_by"] is None
    assert rig.journal.types() == ["dialer.attempt_started", "dialer.answered", "dialer.connected",
                                   "dialer.attempt_ended"]
    assert runner.attempts == {}


async def test_no_operator_within_grace_is_abandoned_with_safe_harbour(pg_pool: Any) -> None:
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE), answer=None)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.ari.answer_originated(aid)
    await rig.pump()
    await rig.settle()
    [cont] = rig.ari.calls_to("continue_in_dialplan")
    assert (cont["channel_id"], cont["context"]) == (aid, SAFE_HARBOUR_CONTEXT)
    assert rig.ari.calls_to("set_variable")[0]["value"] == "callcore-safe-harbour"
    rig.ari.remote_hangup(aid)
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["abandoned"]) == ("abandoned", True)
    lead = await rig.lead("+79161234567")
    assert lead["state"] == "scheduled"
    assert lead["next_attempt_at"].timestamp() == pytest.approx(MORNING + 72 * 3600, abs=1)
    assert "dialer.abandoned" in rig.journal.types()
    report = await rig.store.report("spring", MORNING + 10)
    assert (report.answered_24h, report.abandoned_24h) == (1, 1)


async def test_busy_is_retried_after_the_busy_delay(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.clock.advance(3)
    rig.ari.fail_originated(aid, cause=17)
    await rig.pump()
    assert (await rig.attempt(aid))["outcome"] == "busy"
    lead = await rig.lead("+79161234567")
    assert (lead["state"], lead["last_outcome"]) == ("scheduled", "busy")
    assert lead["next_attempt_at"].timestamp() == pytest.approx(MORNING + 3 + 600, abs=1)
    rig.clock.advance(100)
    assert await runner.tick() == 0           # not due yet
    rig.clock.advance(600)
    assert await runner.tick() == 1


async def test_dnc_is_rechecked_at_dial_time(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    await pg_pool.execute("INSERT INTO dnc (phone_e164, source) VALUES ('+79161234567', 'complaint')")
    assert await runner.tick() == 0
    assert originated(rig) == []
    lead = await rig.lead("+79161234567")
    assert (lead["state"], lead["last_outcome"], lead["attempts"]) == ("done", "dnc-blocked", 0)
    [ev] = rig.journal.events
    assert ev.type == "dialer.blocked" and ev.payload["outcome"] == "dnc-blocked"


async def test_outside_the_window_is_blocked_and_rescheduled(pg_pool: Any) -> None:
    night = MORNING - 7 * 3600                # 04:00 in Moscow
    rig = Rig(pg_pool, SETTINGS, now=night)
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 0 and originated(rig) == []
    lead = await rig.lead("+79161234567")
    assert (lead["state"], lead["last_outcome"]) == ("scheduled", "outside-window")
    assert lead["next_attempt_at"].timestamp() == pytest.approx(night + 5 * 3600)   # 09:00 Moscow
    assert rig.journal.events[0].payload["outcome"] == "outside-window"


async def test_amd_machine_is_hung_up_and_retried(pg_pool: Any) -> None:
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, amd=True))
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    [call] = originated(rig)
    aid = call["channel_id"]
    assert (call["context"], call["extension"], call["app"]) == (AMD_CONTEXT, "s", None)
    rig.ari.answer_originated(aid)
    rig.ari.enter_stasis(aid, ["amd", "MACHINE", "LONGGREETING-3000-3000"])
    await rig.pump()
    assert rig.ari.calls_to("hangup")[0]["channel_id"] == aid
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["amd_status"], row["amd_cause"]) == ("machine", "MACHINE",
                                                                    "LONGGREETING-3000-3000")
    assert rig.connector.offers == []


async def test_originate_failure_is_journaled_as_failed(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    rig.ari.fail_next("originate", AriServerError("Allocation failed", status=500))
    assert await runner.tick() == 0
    row = await pg_pool.fetchrow("SELECT * FROM dial_attempts")
    assert row["outcome"] == "failed"
    assert (await rig.lead("+79161234567"))["state"] == "scheduled"
    assert rig.journal.events[-1].payload["error"] == "Allocation failed"


async def test_paused_campaign_and_no_operators_dial_nothing(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS, free=0)
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 0
    rig.free = 1
    await rig.store.change_state("spring", "pause")
    assert await runner.tick() == 0 and originated(rig) == []


async def test_preview_next_lead_and_call_lead(pg_pool: Any) -> None:
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, mode=Mode.PREVIEW))
    runner = await rig.start(["+79161234567", "+79161234568"])
    assert await runner.tick() == 0
    lead = await runner.next_lead("olga")
    assert lead is not None and lead.phone == "+79161234567"
    assert await runner.next_lead("olga") == lead
    other = await runner.next_lead("ivan")
    assert other is not None and other.phone == "+79161234568"
    await runner.skip_lead("ivan", other.id)
    assert (await rig.lead("+79161234568"))["state"] == "new"
    with pytest.raises(NotFound):
        await runner.skip_lead("ivan", other.id)
    assert await runner.next_lead("ivan") == other
    with pytest.raises(Conflict):
        await runner.call_lead("ivan", lead.id)
    aid = await runner.call_lead("olga", lead.id)
    assert originated(rig)[0]["channel_id"] == aid
    rig.ari.answer_originated(aid)
    await rig.pump()
    await rig.settle()
    assert rig.connector.offers[0][2]["agent_id"] == "olga"


async def test_reconnect_ends_attempts_whose_channels_vanished(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.ari.forget_channel(aid)
    rig.ari.reconnect()
    await rig.pump()
    assert (await rig.attempt(aid))["outcome"] == "no-answer" and runner.attempts == {}


async def test_run_loop_stops(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    runner.tick_interval = 0.01
    launched = asyncio.Event()
    tick = runner.tick

    async def counting_tick() -> int:
        n = await tick()
        if n:
            launched.set()
        return n

    runner.tick = counting_tick  # type: ignore[method-assign]

    async def stopper() -> None:
        await launched.wait()
        runner.stop()
        assert not runner._idle.is_set()          # run() keeps following the call in flight
        rig.ari.fail_originated(originated(rig)[0]["channel_id"], cause=17)

    await asyncio.wait_for(asyncio.gather(runner.run(rig.sub), stopper()), 10)
    assert len(originated(rig)) == 1


async def test_lost_end_event_is_swept_after_the_ring_timeout(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    runner.housekeeping_every = 1
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.ari.forget_channel(aid)              # gone without any event reaching us
    rig.clock.advance(30)
    await runner.tick()
    assert aid in runner.attempts            # still within twice the ring timeout
    rig.clock.advance(60)
    await runner.tick()
    assert runner.attempts == {} and (await rig.attempt(aid))["outcome"] == "no-answer"


async def test_service_runs_the_running_campaigns_and_follows_reloads(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    await rig.start(["+79161234567"])
    probe = rig.ari.events("probe")
    svc = DialerService(ari=rig.ari, subscribe=rig.ari.events, store=rig.store, journal=rig.journal,
                        connector=rig.connector, operators=lambda q: (1, ()), instance="svc",
                        clock=rig.clock, tick_interval=0.01, drain_timeout=5)
    async with asyncio.TaskGroup() as tg:
        await svc.start(tg)
        assert set(svc.runners) == {"spring"} and svc.runner("spring").instance == "svc"
        first = await asyncio.wait_for(probe.get(), 10)       # the Dial of the originate
        assert isinstance(first, E.Dial)
        await rig.store.change_state("spring", "pause")
        await svc.reload()
        assert svc.runners == {}
        with pytest.raises(NotFound):
            svc.runner("spring")
        rig.ari.fail_originated(first.peer.id, cause=19)     # the runner drains and returns
    assert (await rig.lead("+79161234567"))["last_outcome"] == "no-answer"


async def test_agentless_message_records_the_first_keypress(pg_pool: Any) -> None:
    settings = dataclasses.replace(SETTINGS, mode=Mode.AGENTLESS, queue="", agentless_message="sound:reminder",
                                   agentless_record_keypress=True)
    rig = Rig(pg_pool, settings, free=0)
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 1
    aid = originated(rig)[0]["channel_id"]
    rig.ari.answer_originated(aid)
    await rig.pump()
    [play] = rig.ari.calls_to("play")
    assert play["channel_id"] == aid and list(play["media"]) == ["sound:reminder"]
    assert not rig.ari.calls_to("continue_in_dialplan")  # stays in Stasis to hear the key
    rig.ari.press_dtmf(aid, "1")
    await rig.pump()
    [key] = [e for e in rig.journal.events if e.type == "dialer.keypress"]
    assert key.payload["digit"] == "1" and key.call_id == aid
    assert [c["channel_id"] for c in rig.ari.calls_to("hangup")] == [aid]
    await rig.pump()
    assert runner.attempts == {}


async def test_agentless_without_keypress_recording_continues_to_the_message(pg_pool: Any) -> None:
    settings = dataclasses.replace(SETTINGS, mode=Mode.AGENTLESS, queue="", agentless_message="sound:reminder")
    rig = Rig(pg_pool, settings, free=0)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.ari.answer_originated(aid)
    await rig.pump()
    assert not rig.ari.calls_to("play")
    [cont] = rig.ari.calls_to("continue_in_dialplan")
    assert cont["channel_id"] == aid and rig.ari.calls_to("set_variable")[0]["value"] == "reminder"
