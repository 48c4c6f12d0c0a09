"""The outbound executor (``DialerService``) against FakeAri and a real (test) PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from callcore.ari import events as E
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.dialer.campaign import CampaignSettings, Mode
from callcore.dialer.core.commands import QueueCustomer
from callcore.dialer.runtime import AMD_CONTEXT, AMD_DIAL, SAFE_HARBOUR_CONTEXT, CampaignView, DialerService, wants
from callcore.dialer.store import DialerStore
from callcore.errors import AriServerError, Conflict, NotFound
from callcore.store.api import MemoryJournal

# 2027-01-15 08:00 UTC = 11:00 in Moscow (window 09:00-21:00 open)
MORNING = 1_800_000_000.0
SETTINGS = CampaignSettings(caller_id="+74950000000", queue="sales", mode=Mode.PROGRESSIVE,
                            connect_grace=0.05)


class Acd:
    """The ACD as the dialer sees it: ``answer`` True connects at once, None never (the grace runs out)."""

    def __init__(self, answer: bool | None) -> None:
        self.answer = answer
        self.offers: list[tuple[str, str, dict[str, Any]]] = []
        self.withdrawn: list[str] = []
        self.reserved: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self.service: DialerService | None = None

    def queue_customer(self, cmd: QueueCustomer) -> None:
        self.offers.append((cmd.attempt, cmd.queue, dict(cmd.data)))
        if self.answer and self.service is not None:
            self.service.on_acd_journal("call.answered", cmd.attempt, cmd.agent_id or "a1")

    def withdraw(self, attempt: str) -> None:
        self.withdrawn.append(attempt)

    def reserve_agent(self, agent_id: str, attempt: str) -> None:
        self.reserved[agent_id] = attempt

    def release_agent(self, agent_id: str, attempt: str) -> None:
        if self.reserved.get(agent_id) == attempt:
            del self.reserved[agent_id]

    def agent_state(self, agent_id: str) -> str:
        return self.states.get(agent_id, "available")


class Runner:
    """One campaign of the service, driven step by step (``tick`` returns how many calls it originated)."""

    def __init__(self, rig: Rig, name: str) -> None:
        self.rig, self.name = rig, name

    @property
    def view(self) -> CampaignView:
        return CampaignView(self.rig.svc, self.name)

    @property
    def attempts(self) -> dict[str, Any]:
        return self.view.attempts

    async def tick(self) -> int:
        before = len(originated(self.rig))
        self.rig.svc.tick()
        await self.rig.settle()
        return len(originated(self.rig)) - before

    async def next_lead(self, agent: str) -> Any:
        return await self.view.next_lead(agent)

    async def call_lead(self, agent: str, lead_id: int) -> str:
        aid = await self.view.call_lead(agent, lead_id)
        await self.rig.settle()
        return aid

    async def skip_lead(self, agent: str, lead_id: int) -> None:
        await self.view.skip_lead(agent, lead_id)
        await self.rig.settle()


class Rig:
    def __init__(self, pool: Any, settings: CampaignSettings, answer: bool | None = True,
                 free: int = 1, now: float = MORNING) -> None:
        self.pool = pool
        self.settings = settings
        self.ari = FakeAri()
        self.sub = self.ari.events("dialer", filter=wants)
        self.clock = ManualClock(now)
        self.journal = MemoryJournal()
        self.connector = Acd(answer)
        self.store = DialerStore(pool)
        self.free = free
        self.svc = DialerService(ari=self.ari, store=self.store, journal=self.journal, acd=self.connector,
                                 operators=lambda q: (self.free, ()), instance="test-1", clock=self.clock)
        self.connector.service = self.svc
        self.writer: asyncio.Task[None] | None = None

    async def start(self, numbers: list[str]) -> Runner:
        c = await self.store.create_campaign("spring", self.settings)
        await self.pool.executemany("INSERT INTO leads (campaign_id, phone_e164, name, tz, data) "
                                    "VALUES ($1, $2, 'Иван', '{Europe/Moscow}', '{\"vip\": \"yes\"}')",
                                    [(c.id, n) for n in numbers])
        await self.store.change_state("spring", "start")
        self.writer = asyncio.create_task(self.svc._writer())
        await self.svc.reload()
        await self.settle()
        return Runner(self, "spring")

    async def settle(self) -> None:
        """Until every request, write and due timer of the service is done."""
        svc = self.svc
        for _ in range(400):
            busy = [*svc._tasks, *svc._lanes.values()]
            if busy:
                await asyncio.gather(*busy, return_exceptions=True)
                continue
            if (svc._writes and svc.core.db_up) or svc._timers:
                await asyncio.sleep(0.01)
                continue
            await asyncio.sleep(0)
            if not (svc._tasks or svc._lanes or (svc._writes and svc.core.db_up) or svc._timers):
                return

    async def pump(self) -> None:
        for _ in range(5):
            for ev in self.sub.drain():
                self.svc.on_ari(ev)
            await self.settle()

    async def lead(self, number: str) -> Any:
        return await self.pool.fetchrow("SELECT * FROM leads WHERE phone_e164 = $1", number)

    async def attempt(self, attempt_id: str) -> Any:
        return await self.pool.fetchrow("SELECT * FROM dial_attempts WHERE id = $1", attempt_id)


@pytest.fixture(autouse=True)
async def _stop_writers() -> Any:
    yield
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task() and "_writer" in repr(task.get_coro()):
            task.cancel()


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
    assert rig.ari.calls_to("set_variable")[0]["value"] == "custom/callcore-safe-harbour"
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
    # into the app (subscribed from creation), continued into dialer-amd once answered
    assert (call["context"], call["app_args"][0]) == (None, AMD_DIAL) and call["app"]
    rig.ari.answer_originated(aid)
    await rig.pump()
    [cont] = rig.ari.calls_to("continue_in_dialplan")
    assert (cont["channel_id"], cont["context"], cont["extension"], cont["priority"]) == (aid, AMD_CONTEXT, "s", 1)
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
    await runner.tick()
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
    await rig.svc.reload()                    # the service reloads on the campaign's change notification
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


async def test_run_loop_stops_after_the_calls_in_flight(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    await rig.start(["+79161234567"])
    if rig.writer is not None:
        rig.writer.cancel()
    svc = rig.svc
    svc.events = rig.sub
    svc.tick_interval = 0.01

    async def stopper() -> None:
        for _ in range(500):
            if originated(rig):
                break
            await asyncio.sleep(0.01)
        await svc.stop()
        await asyncio.sleep(0.05)
        assert not svc._idle.is_set()           # run() keeps following the call in flight
        rig.ari.fail_originated(originated(rig)[0]["channel_id"], cause=17)

    await asyncio.wait_for(asyncio.gather(svc.run(), stopper()), 10)
    assert len(originated(rig)) == 1
    assert (await rig.lead("+79161234567"))["last_outcome"] == "busy"


async def test_lost_end_event_is_swept_after_the_ring_timeout(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS)
    runner = await rig.start(["+79161234567"])
    rig.svc.core.housekeeping_every = 1
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
    if rig.writer is not None:
        rig.writer.cancel()
    probe = rig.ari.events("probe")
    svc = DialerService(ari=rig.ari, events=rig.ari.events("dialer-2", filter=wants), store=rig.store,
                        journal=rig.journal, acd=rig.connector, operators=lambda q: (1, ()), instance="svc",
                        clock=rig.clock, tick_interval=0.01)
    async with asyncio.TaskGroup() as tg:
        await svc.start(tg)
        assert set(svc.runners) == {"spring"} and svc.runner("spring").name == "spring"
        first = await asyncio.wait_for(probe.get(), 10)       # the Dial of the originate
        assert isinstance(first, E.Dial)
        await rig.store.change_state("spring", "pause")
        await svc.reload()
        assert svc.runners == {}
        with pytest.raises(NotFound):
            svc.runner("spring")
        await svc.stop()
        rig.ari.fail_originated(first.peer.id, cause=19)     # the service drains and returns
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


class FlakyPool:
    """The test pool, refusing every query while ``down`` (as PostgreSQL stopped: ConnectionRefusedError)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.pool, name)
        if name not in ("fetch", "fetchrow", "fetchval", "execute", "executemany"):
            return target

        async def call(*args: Any, **kw: Any) -> Any:
            if self.down:
                self.refused += 1
                raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
            return await target(*args, **kw)
        return call


async def stuck_and_open(pool: Any) -> tuple[int, int]:
    leads = await pool.fetchval("SELECT count(*) FROM leads WHERE state = 'dialing'")
    attempts = await pool.fetchval("SELECT count(*) FROM dial_attempts WHERE ended_at IS NULL")
    return int(leads), int(attempts)


async def test_amd_attempt_ending_before_stasis_is_still_observed(pg_pool: Any) -> None:
    """Field: an AMD call originated into dialplan is not the app's unless subscribed: its busy end was
    never seen, the attempt stayed open and the campaign stopped dialing; and a subscription made after the
    originate came too late for a busy answered at once (a real Asterisk 22: "Event source not found",
    the attempt ended as no-answer). Originated into the app, the channel is the app's from its creation
    (fails against the strict fake when originated into dialplan, with or without a later subscription)."""
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, amd=True))
    runner = await rig.start(["+79161234567", "+79161234568"])
    assert await runner.tick() == 1
    call = originated(rig)[0]
    aid = call["channel_id"]
    assert call["app"] and call["context"] is None and rig.ari.calls_to("subscribe") == []
    rig.ari.fail_originated(aid, cause=17)
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["q850_cause"]) == ("busy", 17)
    lead = await rig.lead("+79161234567")
    assert (lead["state"], lead["attempts"]) == ("scheduled", 1)
    assert runner.attempts == {} and await stuck_and_open(pg_pool) == (0, 0)
    assert "dialer.attempt_ended" in rig.journal.types()
    assert await runner.tick() == 1                    # the campaign goes on dialing


async def test_amd_busy_before_any_later_request_is_recorded_as_busy(pg_pool: Any) -> None:
    """Real Asterisk 22: a busy answered at once (the customer's 486 in under a millisecond) ended the
    channel before the dialer's subscription request, which got "Event source not found"; the attempt
    was recorded as no-answer. Its end must be seen whatever the timing."""
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, amd=True))
    plain = rig.ari.originate

    async def busy_at_once(endpoint: str, **kw: Any) -> Any:
        ch = await plain(endpoint, **kw)
        rig.ari.fail_originated(kw["channel_id"], cause=17)
        return ch

    rig.ari.originate = busy_at_once  # type: ignore[method-assign]
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 1
    aid = originated(rig)[0]["channel_id"]
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["q850_cause"]) == ("busy", 17)


async def test_operator_freeing_within_the_grace_gets_the_customer_and_is_recorded(pg_pool: Any) -> None:
    """Field: the customer was abandoned 0.2 ms after the answer though an operator freed up 0.97 s later;
    and dial_attempts.agent_id stayed NULL for answered calls."""
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE, connect_grace=2.0), answer=None)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    rig.ari.answer_originated(aid)
    for ev in rig.sub.drain():
        rig.svc.on_ari(ev)
    assert [o[0] for o in rig.connector.offers] == [aid]     # queued at once, held for the grace
    assert not rig.ari.calls_to("continue_in_dialplan")
    rig.clock.advance(0.97)
    rig.svc.on_acd_journal("call.answered", aid, "a7")      # an operator freed up and took the call
    rig.svc._cancel(f"grace:{aid}")
    rig.clock.advance(40)
    rig.ari.remote_hangup(aid)
    await rig.pump()
    row = await rig.attempt(aid)
    assert (row["outcome"], row["abandoned"], row["agent_id"]) == ("human", False, "a7")
    assert not rig.ari.calls_to("continue_in_dialplan") and rig.connector.withdrawn == []


async def test_database_down_during_a_campaign_pauses_dialing_and_loses_nothing(pg_pool: Any) -> None:
    """Field: PostgreSQL stopped while a campaign ran: the whole service exited 2 s later."""
    flaky = FlakyPool(pg_pool)
    rig = Rig(flaky, SETTINGS, free=1)
    numbers = ["+79161234567", "+79161234568", "+79161234569"]
    runner = await rig.start(numbers)
    assert await runner.tick() == 1
    first = originated(rig)[0]["channel_id"]
    rig.ari.answer_originated(first)
    await rig.pump()
    flaky.down = True
    rig.clock.advance(30)
    rig.ari.remote_hangup(first)                 # the call ends while PostgreSQL is down
    await rig.pump()
    rig.free = 3
    for _ in range(3):
        assert await runner.tick() == 0          # no claim, no exception, nothing dialled
    assert rig.svc.core.db_up is False and rig.svc.writes_pending == 2
    assert "dialer.paused" in rig.journal.types() and runner.attempts == {}
    flaky.down = False
    await asyncio.sleep(1.1)                     # the writer retries
    await rig.settle()
    assert await runner.tick() >= 1              # the probe found it back: dialing resumes
    assert "dialer.resumed" in rig.journal.types() and rig.svc.writes_pending == 0
    row = await rig.attempt(first)
    assert (row["outcome"], row["agent_id"]) == ("human", "a1")
    lead = await rig.lead(numbers[0])
    assert (lead["state"], lead["attempts"]) == ("done", 1)
    dialled = [r["number"] for r in await pg_pool.fetch("SELECT number FROM dial_attempts")]
    assert len(dialled) == len(set(dialled))     # nothing dialled twice
    assert flaky.refused > 0


async def test_a_restarted_instance_adopts_its_open_attempts(pg_pool: Any) -> None:
    """Field: after kill -9 the open attempts were marked lost and the leads reset to new, attempts 0,
    though answered and connected: dialled again as if never called."""
    rig = Rig(pg_pool, SETTINGS, free=3)
    numbers = ["+79161234567", "+79161234568", "+79161234569"]
    runner = await rig.start(numbers)
    assert await runner.tick() == 3
    a, b, c = (o["channel_id"] for o in originated(rig))
    rig.ari.answer_originated(a)
    await rig.pump()                                  # a: answered and connected, then the instance dies
    if rig.writer is not None:
        rig.writer.cancel()
    # what the journal projection holds for a (the MemoryJournal of this test is not projected)
    for ev in rig.journal.events:
        if ev.call_id == a:
            await pg_pool.execute("INSERT INTO events (event_key, ts, type, instance, call_id, agent_id) "
                                  "VALUES (gen_random_uuid(), now(), $1, 'test-1', $2, $3)",
                                  ev.type, ev.call_id, ev.agent_id)
    rig.ari.forget_channel(a)                         # a and b ended while no instance watched
    rig.ari.forget_channel(b)
    reborn = Rig(pg_pool, SETTINGS, free=0)
    reborn.ari, reborn.sub = rig.ari, rig.ari.events("dialer-again", filter=wants)
    reborn.svc.ari = rig.ari
    reborn.writer = asyncio.create_task(reborn.svc._writer())
    await reborn.svc.reload()
    rig.ari.reconnect()                               # the first snapshot of the new run
    await reborn.pump()
    assert set(reborn.svc.core.attempts) == {c}      # c still rings: followed again
    rows = {r["id"]: r for r in await pg_pool.fetch("SELECT * FROM dial_attempts")}
    assert (rows[a]["outcome"], rows[a]["agent_id"]) == ("human", "a1")
    assert rows[b]["outcome"] == "no-answer"
    leads = {r["phone_e164"]: r for r in await pg_pool.fetch("SELECT * FROM leads")}
    assert (leads[rows[a]["number"]]["state"], leads[rows[a]["number"]]["attempts"]) == ("done", 1)
    assert (leads[rows[b]["number"]]["state"], leads[rows[b]["number"]]["attempts"]) == ("scheduled", 1)
    rig.ari.fail_originated(c, cause=19)
    await reborn.pump()
    assert (await reborn.attempt(c))["outcome"] == "no-answer"
    assert await stuck_and_open(pg_pool) == (0, 0)
    assert (await reborn.lead(rows[c]["number"]))["attempts"] == 1
    report = await reborn.store.report("spring", MORNING + 100)
    assert report.answered_24h == 1


async def test_an_adopted_call_that_ends_while_the_restart_reads_the_database_is_closed(pg_pool: Any) -> None:
    """Chaos (kill -9, restart): a connected call alive in the first snapshot hung up while the new run was
    still reading its open attempts; its ChannelDestroyed came before the attempt was known again, so it was
    adopted as alive and stayed open for good (its lead left dialing, and counted one attempt short)."""
    rig = Rig(pg_pool, SETTINGS, free=3)
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 1
    (a,) = (o["channel_id"] for o in originated(rig))
    rig.ari.answer_originated(a)
    await rig.pump()                                  # answered and connected, then the instance dies
    if rig.writer is not None:
        rig.writer.cancel()
    for ev in rig.journal.events:
        await pg_pool.execute("INSERT INTO events (event_key, ts, type, instance, call_id, agent_id) "
                              "VALUES (gen_random_uuid(), now(), $1, 'test-1', $2, $3)",
                              ev.type, ev.call_id, ev.agent_id)
    reborn = Rig(pg_pool, SETTINGS, free=0)
    reborn.ari, reborn.sub = rig.ari, rig.ari.events("dialer-again", filter=wants)
    reborn.svc.ari = rig.ari
    reborn.writer = asyncio.create_task(reborn.svc._writer())
    await reborn.svc.reload()
    rig.ari.reconnect()                               # the first snapshot of the new run: a is alive
    rig.ari.remote_hangup(a)                          # ... and ends before its attempt is read back
    await reborn.pump()
    assert reborn.svc.core.attempts == {}
    row = await reborn.attempt(a)
    assert (row["outcome"], row["agent_id"]) == ("human", "a1")
    assert await stuck_and_open(pg_pool) == (0, 0)


async def test_stale_claims_of_a_dead_instance_are_resolved_not_reset(pg_pool: Any) -> None:
    rig = Rig(pg_pool, SETTINGS, free=2)
    numbers = ["+79161234567", "+79161234568"]
    runner = await rig.start(numbers)
    assert await runner.tick() == 2
    a, b = (o["channel_id"] for o in originated(rig))
    await pg_pool.execute("INSERT INTO events (event_key, ts, type, instance, call_id) "
                          "VALUES (gen_random_uuid(), now(), 'dialer.answered', 'test-1', $1)", a)
    await pg_pool.execute("UPDATE leads SET claimed_at = now() - interval '1 hour'")
    assert await rig.store.recover_stale(MORNING + 10**9) == 2
    rows = {r["id"]: r for r in await pg_pool.fetch("SELECT * FROM dial_attempts")}
    assert (rows[a]["outcome"], rows[a]["abandoned"]) == ("abandoned", True)
    assert rows[b]["outcome"] == "no-answer"
    leads = {r["phone_e164"]: r for r in await pg_pool.fetch("SELECT * FROM leads")}
    assert all(leads[n]["state"] == "scheduled" and leads[n]["attempts"] == 1 for n in numbers)
    assert leads[rows[a]["number"]]["last_abandoned_at"] is not None


async def test_preview_call_refuses_other_campaigns_leads_and_paused_operators(pg_pool: Any) -> None:
    """Field: Call with a lead id of campaign B under campaign A dialled B's lead; a paused operator's call
    was dialled and its customer abandoned."""
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, mode=Mode.PREVIEW))
    runner = await rig.start(["+79161234567"])
    other = await rig.store.create_campaign("autumn", dataclasses.replace(SETTINGS, mode=Mode.PREVIEW))
    foreign = await pg_pool.fetchval("INSERT INTO leads (campaign_id, phone_e164, name, tz) VALUES "
                                     "($1, '+79160000099', 'B', '{Europe/Moscow}') RETURNING id", other.id)
    with pytest.raises(NotFound):
        await runner.call_lead("olga", int(foreign))
    assert originated(rig) == [] and (await rig.lead("+79160000099"))["state"] == "new"
    lead = await runner.next_lead("olga")
    assert lead is not None
    rig.connector.states["olga"] = "paused"
    with pytest.raises(Conflict):
        await runner.call_lead("olga", lead.id)
    assert originated(rig) == []
    rig.connector.states["olga"] = "available"
    aid = await runner.call_lead("olga", lead.id)
    assert rig.connector.reserved == {"olga": aid}    # no inbound call is offered to her meanwhile
    rig.ari.fail_originated(aid, cause=17)
    await rig.pump()
    assert rig.connector.reserved == {}


async def test_a_campaign_whose_message_asterisk_lacks_is_refused(pg_pool: Any) -> None:
    """Field: the default safe-harbour message named a recording that shipped nowhere: silence."""
    from callcore.dialer.sounds import SAFE_HARBOUR_ID, bundled, needed

    have: set[str] = {"beep"}

    async def sounds() -> set[str]:
        return have

    rig = Rig(pg_pool, SETTINGS)
    rig.svc.sounds = sounds
    runner = await rig.start(["+79161234567"])
    assert await runner.tick() == 0 and originated(rig) == []
    assert "dialer.campaign_refused" in rig.journal.types()
    assert (await rig.store.get_campaign("spring")).state == "paused"
    assert needed(SETTINGS) == [SAFE_HARBOUR_ID]
    have.add(SAFE_HARBOUR_ID)                   # installed: the campaign may start again
    await rig.store.change_state("spring", "start")
    await rig.svc.reload()
    await rig.settle()
    assert await runner.tick() == 1
    assert bundled().stat().st_size > 50_000


def test_the_shipped_recording_installs_where_asterisk_looks(tmp_path: Any) -> None:
    import wave

    from callcore.dialer.sounds import install

    [path] = install(tmp_path)
    assert path == tmp_path / "custom" / "callcore-safe-harbour.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 3.0 < w.getnframes() / 8000 < 15.0


class LostClaimReply(FlakyPool):
    """The claim commits, then the connection breaks before its reply arrives (PostgreSQL killed)."""

    def __init__(self, pool: Any) -> None:
        super().__init__(pool)
        self.lose_next_claim = False

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "fetch":
            return call

        async def fetch(query: str, *args: Any, **kw: Any) -> Any:
            rows = await call(query, *args, **kw)
            if self.lose_next_claim and "SET state = 'dialing'" in query:
                self.lose_next_claim = False
                raise ConnectionResetError(104, "Connection reset by peer")
            return rows
        return fetch


async def test_a_claim_whose_reply_was_lost_goes_back_to_the_queue_when_the_database_returns(
        pg_pool: Any) -> None:
    """Field (chaos suite): a lead stayed 'dialing' after an outage until the claim TTL (5 minutes)."""
    flaky = LostClaimReply(pg_pool)
    rig = Rig(flaky, SETTINGS, free=1)
    number = "+79161234567"
    runner = await rig.start([number])
    flaky.lose_next_claim = True
    await runner.tick()      # claimed in PostgreSQL, but the dialer never heard; its next query succeeds
    assert flaky.lose_next_claim is False
    for _ in range(10):
        if originated(rig):
            break
        rig.clock.advance(1)
        await asyncio.sleep(0.3)
        await runner.tick()
    assert len(originated(rig)) == 1                   # released, claimed again and dialled exactly once
    lead = await rig.lead(number)
    assert lead["state"] == "dialing" and lead["claimed_by"] == "test-1"
    assert await pg_pool.fetchval("SELECT count(*) FROM dial_attempts") == 1


async def test_a_hangup_asterisk_failed_is_retried_so_no_customer_is_left_on_the_line(
        pg_pool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Field (chaos suite, 30 s of ARI REST 500s): an abandoned customer's safe-harbour message and hang-up
    both got 500; the channel stayed up with nobody on it and its attempt open."""
    import callcore.dialer.runtime as runtime

    monkeypatch.setattr(runtime, "HANGUP_RETRY", 0.01)
    rig = Rig(pg_pool, dataclasses.replace(SETTINGS, mode=Mode.PREDICTIVE), answer=None)
    runner = await rig.start(["+79161234567"])
    await runner.tick()
    aid = originated(rig)[0]["channel_id"]
    for method in ("set_variable", "hangup", "hangup"):
        rig.ari.fail_next(method, AriServerError("Simulated failure", status=500))
    rig.ari.answer_originated(aid)
    await rig.pump()
    assert len(rig.ari.calls_to("hangup")) == 3          # two failures, then the channel is gone
    await rig.pump()
    row = await rig.attempt(aid)
    assert row["ended_at"] is not None and row["abandoned"] is True
    assert (await rig.lead("+79161234567"))["state"] == "scheduled"
