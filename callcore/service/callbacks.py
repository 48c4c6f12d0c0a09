"""Callbacks end to end: inbound callback requests dialled back, operators' callback dispositions stored.

``CallbackDialer`` dials the ``callbacks`` rows of queues (a waiting caller pressed the queue's callback
key, or an operator promised a call back). Every ``interval`` seconds, per queue with available operators,
it claims at most (available operators - its own callback calls still ringing or waiting) due rows
(``FOR UPDATE SKIP LOCKED``: two instances never dial the same one), originates the customer through the
trunk with our own channel id ``callback-<id>-<attempt>`` and Stasis args ``callback <id>``, and hands the
answered customer to the ACD as a call of that queue, ahead of normal callers (``CALLBACK_PRIORITY``), for
the promised operator only when the row names one. The number is dialled in E.164 like every lead (a caller
id without its ``+``, as trunks deliver it, is read as international). The ACD's ``call.answered`` for the
customer (through ``AcdJournalTap``, no polling) makes it ``done``. Not answered, busy, failed or hung
up before an operator took it: ``pending`` again after ``retry_delay``, ``failed`` after ``max_attempts``.
Database writes that fail are kept and retried on the next tick; a database that is down dials nothing.

``CallbackRequests.on_callback`` receives the ACD's ``CallbackRequested`` commands synchronously and queues
the database work: a disposition on an outbound call (the call id is a ``dial_attempts.id``) makes the lead
that operator's personal callback; on an inbound call it adds a ``callbacks`` row with the caller's number
and queue for that operator. Keypress requests are written by the table projector, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from callcore.acd.core.commands import CallbackRequested
from callcore.acd.core.events import CallArrived, CallerHungUp
from callcore.acd.core.model import AgentState
from callcore.acd.core.state import AcdState
from callcore.ari import events as E
from callcore.ari.api import AriApi
from callcore.clock import Clock
from callcore.dialer.phones import Phone, PhoneNormalizer
from callcore.errors import AriError
from callcore.store.api import JournalSink
from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

PKG = "callcore.service"
CHANNEL_PREFIX = "callback-"
CALLBACK_PRIORITY = 500  # ahead of inbound callers (who keep their order), behind dialer customers (1000)
ENDPOINT_TEMPLATE = "PJSIP/{number}@trunk"


# --- pure decisions ---------------------------------------------------------------------------------


def available_agents(st: AcdState) -> dict[str, frozenset[str]]:
    """Queue -> ids of its members that are available and reachable right now."""
    out: dict[str, frozenset[str]] = {}
    for name in st.queues:
        ids = frozenset(a.id for a in st.members(name) if a.state is AgentState.AVAILABLE and a.reachable())
        if ids:
            out[name] = ids
    return out


def claim_budget(available: int, in_flight: int) -> int:
    """How many callbacks of a queue to claim now: one per available operator not already promised one
    of our callback calls (ringing or waiting for the ACD)."""
    return max(0, available - in_flight)


def channel_id(callback_id: int, attempt: int) -> str:
    return f"{CHANNEL_PREFIX}{callback_id}-{attempt}"


def parse_channel_id(channel: str) -> tuple[int, int] | None:
    """``callback-<id>-<attempt>`` -> (id, attempt); None for any other channel."""
    if not channel.startswith(CHANNEL_PREFIX):
        return None
    parts = channel[len(CHANNEL_PREFIX):].split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def after_failure(attempts: int, now: float, *, max_attempts: int = 3,
                  retry_delay: float = 600.0) -> tuple[str, float | None]:
    """A callback call that did not reach an operator: ``("pending", due_at)`` or ``("failed", None)``."""
    if attempts >= max_attempts:
        return "failed", None
    return "pending", now + retry_delay


def callback_number(raw: str, phones: PhoneNormalizer) -> str | None:
    """The caller id to dial back, in E.164 like every lead: read in the instance's region, or as an
    international number without its ``+`` (trunks often deliver ``79161110061``); None if neither fits."""
    raw = raw.strip()
    if not raw:
        return None
    for text in (raw, f"+{raw.lstrip('0')}") if not raw.startswith("+") else (raw,):
        got = phones.normalize(text)
        if isinstance(got, Phone):
            return got.e164
    return None


def keypress_call_id(note: str) -> str | None:
    """The ACD call id kept in a keypress callback's note (``{"call_id": ...}``), if any."""
    try:
        data = json.loads(note)
    except (ValueError, TypeError):
        return None
    cid = data.get("call_id") if isinstance(data, dict) else None
    return str(cid) if cid else None


def is_disposition(cmd: CallbackRequested) -> bool:
    """An operator's callback disposition (a time and an operator), not a caller's keypress."""
    return cmd.callback_at is not None and bool(cmd.agent_id)


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --- the dialer -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CallbackCall:
    id: int
    attempt: int
    channel: str
    queue: str
    number: str
    agent_id: str | None
    answered: bool = False
    connected: bool = False


class CallbackDialer:
    def __init__(self, *, ari: AriApi, acd: Any, pool: Database, journal: JournalSink, clock: Clock,
                 instance: str, caller_id: str = "", endpoint_template: str = ENDPOINT_TEMPLATE,
                 interval: float = 2.0, ring_timeout: int = 25, max_attempts: int = 3,
                 retry_delay: float = 600.0, stale_after: float = 3600.0, region: str = "US") -> None:
        self.ari, self.acd, self.pool, self.journal, self.clock = ari, acd, database(pool), journal, clock
        self.instance = instance
        self.caller_id = caller_id
        self.endpoint_template = endpoint_template
        self.interval = interval
        self.ring_timeout = ring_timeout
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.stale_after = stale_after
        self.phones = PhoneNormalizer(region, cache_size=1000)
        self.calls: dict[str, CallbackCall] = {}
        self._writes: list[tuple[int, str, float | None]] = []  # finishes waiting for the database
        self._flush_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._ticks = 0

    @staticmethod
    def wants(ev: Any) -> bool:
        """Subscription filter: our channels' events and reconnects."""
        if isinstance(ev, E.Connected):
            return True
        ch = getattr(ev, "channel", None)
        return ch is not None and str(getattr(ch, "id", "")).startswith(CHANNEL_PREFIX)

    def in_flight(self, queue: str) -> int:
        return sum(1 for c in self.calls.values() if c.queue == queue and not c.connected)

    # --- loop --------------------------------------------------------------------------------------

    async def run(self, events: AsyncIterable[Any]) -> None:
        async with asyncio.TaskGroup() as tg:
            consumer = tg.create_task(self._consume(events), name="callback-events")
            while not self._stopping.is_set():
                try:
                    await self.tick()
                except Exception as exc:  # database or ARI trouble: try again on the next tick
                    log.warning("callback_tick_failed", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.interval)
            consumer.cancel()

    async def stop(self) -> None:
        """Dial nothing more; calls already handed to the ACD stay with it (their rows are recovered as
        pending after ``stale_after`` if never finished)."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await self.flush()

    async def _consume(self, events: AsyncIterable[Any]) -> None:
        async for ev in events:
            try:
                await self.handle_event(ev)
            except Exception:
                log.exception("callback_event_failed", event_type=type(ev).__name__)

    async def tick(self) -> int:
        """Write what is pending, then claim and dial; returns how many calls were originated."""
        await self.flush()
        now = self.clock.now()
        if self._ticks % 30 == 0:
            rows = await self.pool.fetch(load_sql(PKG, "callback_recover"), _ts(now - self.stale_after))
            if rows:
                log.warning("callback_claims_recovered", count=len(rows))
        self._ticks += 1
        dialled = 0
        for queue, agents in available_agents(self.acd.engine.state).items():
            want = claim_budget(len(agents), self.in_flight(queue))
            if want <= 0:
                continue
            rows = await self.pool.fetch(load_sql(PKG, "callback_claim_queue"), _ts(now), want, self.instance,
                                         queue, sorted(agents))
            for row in rows:
                dialled += await self._dial(dict(row))
        return dialled

    async def flush(self) -> None:
        async with self._flush_lock:
            while self._writes:
                cid, state, due = self._writes[0]
                await self.pool.execute(load_sql(PKG, "callback_finish_claimed"), cid, state,
                                        None if due is None else _ts(due), self.instance)
                self._writes.pop(0)

    async def _number(self, row: dict[str, Any]) -> str:
        number = str(row.get("caller_number") or "")
        if number:
            return number
        call_id = keypress_call_id(str(row.get("note") or ""))
        if call_id is None:
            return ""
        found = await self.pool.fetchrow(load_sql(PKG, "call_caller"), call_id)
        return str(found["caller_number"] or "") if found is not None else ""

    async def _dial(self, row: dict[str, Any]) -> int:
        cid, attempt = int(row["id"]), int(row["attempts"])
        raw = await self._number(row)
        number = callback_number(raw, self.phones)
        if not number:
            self._finish_later(cid, "failed", None)
            self.journal.append("callback.failed", {"callback_id": cid, "reason": "bad-number" if raw else "no-number",
                                                    "number": raw}, queue=row["queue"], ts=self.clock.now())
            return 0
        call = CallbackCall(cid, attempt, channel_id(cid, attempt), str(row["queue"]), number, row["agent_id"])
        self.calls[call.channel] = call
        endpoint = self.endpoint_template.format(number=number, digits=number.lstrip("+"))
        try:
            await self.ari.originate(endpoint, channel_id=call.channel, app=self.ari.app,
                                     app_args=["callback", str(cid)], caller_id=self.caller_id or None,
                                     timeout=self.ring_timeout)
        except (AriError, OSError, TimeoutError) as exc:
            log.warning("callback_originate_failed", callback_id=cid, error=str(exc))
            self._failed(call, f"originate: {exc}")
            return 0
        self.journal.append("callback.dialled", {"callback_id": cid, "attempt": attempt, "number": number},
                            call_id=call.channel, channel_id=call.channel, queue=call.queue,
                            agent_id=call.agent_id, ts=self.clock.now())
        return 1

    # --- events ------------------------------------------------------------------------------------

    async def handle_event(self, ev: Any) -> None:
        if isinstance(ev, E.StasisStart):
            call = self.calls.get(ev.channel.id)
            if call is not None and not call.answered:
                await self._answered(call)
        elif isinstance(ev, E.ChannelDestroyed):
            call = self.calls.get(ev.channel.id)
            if call is not None:
                self._ended(call, f"cause {ev.cause}")
        elif isinstance(ev, E.Connected) and ev.reconnect:
            alive = ev.snapshot.channel_ids()
            for call in [c for c in self.calls.values() if c.channel not in alive]:
                self._ended(call, "gone")

    async def _answered(self, call: CallbackCall) -> None:
        call.answered = True
        try:
            self.acd.runtime.handle(CallArrived(
                call.channel, call.queue, CALLBACK_PRIORITY, call.number, "",
                {"callback_id": call.id, "phone": call.number, "callback_attempt": call.attempt},
                agent_id=call.agent_id))
        except Exception as exc:  # e.g. the queue was removed: do not leave the customer in silence
            log.warning("callback_not_queued", callback_id=call.id, error=repr(exc))
            await self.ari.hangup(call.channel, missing_ok=True)
            return

    def on_acd_journal(self, type_: str, call_id: str | None, agent_id: str | None) -> None:
        """The ACD journaled something about a call: ``call.answered`` for one of ours means an operator
        has the customer (no polling of the ACD's state)."""
        call = self.calls.get(call_id or "")
        if call is None or type_ != "call.answered" or call.connected:
            return
        call.connected = True
        self._finish_later(call.id, "done", None)
        self.journal.append("callback.connected", {"callback_id": call.id, "attempt": call.attempt},
                            call_id=call.channel, channel_id=call.channel, queue=call.queue,
                            agent_id=agent_id or call.agent_id, ts=self.clock.now())

    def _ended(self, call: CallbackCall, why: str) -> None:
        self.calls.pop(call.channel, None)
        if call.connected:
            return
        if call.answered and call.channel in self.acd.engine.state.calls:
            self.acd.runtime.handle(CallerHungUp(call.channel))
        self._failed(call, "hung up before an operator took it" if call.answered else why)

    def _failed(self, call: CallbackCall, reason: str) -> None:
        self.calls.pop(call.channel, None)
        state, due = after_failure(call.attempt, self.clock.now(), max_attempts=self.max_attempts,
                                   retry_delay=self.retry_delay)
        self._finish_later(call.id, state, due)
        self.journal.append("callback.failed", {"callback_id": call.id, "attempt": call.attempt,
                                                "reason": reason, "state": state, "retry_at": due},
                            call_id=call.channel, channel_id=call.channel, queue=call.queue,
                            agent_id=call.agent_id, ts=self.clock.now())

    def _finish_later(self, cid: int, state: str, due: float | None) -> None:
        self._writes.append((cid, state, due))
        task = asyncio.create_task(self._flush_soon(), name=f"callback-finish-{cid}")
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _flush_soon(self) -> None:
        with contextlib.suppress(Exception):  # kept in _writes: the next tick retries
            await self.flush()


# --- operators' callback dispositions ---------------------------------------------------------------


class CallbackRequests:
    """``on_callback`` for ``AcdService``: dispositions with a callback time, stored in the background
    (retried while the database is down or the outbound attempt's own result is still being written)."""

    def __init__(self, pool: Database, journal: JournalSink, clock: Clock, *, retry: float = 1.0,
                 give_up_after: int = 120) -> None:
        self.pool, self.journal, self.clock = database(pool), journal, clock
        self.retry = retry
        self.give_up_after = give_up_after
        self._queue: asyncio.Queue[CallbackRequested] = asyncio.Queue()

    def on_callback(self, cmd: CallbackRequested) -> None:
        if is_disposition(cmd):
            self._queue.put_nowait(cmd)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            cmd = await self._queue.get()
            for _ in range(self.give_up_after):
                try:
                    if await self.store(cmd):
                        break
                except Exception as exc:
                    log.warning("callback_disposition_waiting", call_id=cmd.call_id, error=repr(exc))
                await asyncio.sleep(self.retry)
            else:
                log.error("callback_disposition_lost", call_id=cmd.call_id, agent=cmd.agent_id)
                self.journal.append("callback.failed", {"reason": "not stored", "callback_at": cmd.callback_at},
                                    call_id=cmd.call_id, agent_id=cmd.agent_id, queue=cmd.queue or None,
                                    ts=self.clock.now())

    async def store(self, cmd: CallbackRequested) -> bool:
        """One try; False when it must be tried again later."""
        due = _ts(max(float(cmd.callback_at or 0.0), self.clock.now()))
        attempt = await self.pool.fetchrow(load_sql(PKG, "attempt_lead"), cmd.call_id)
        if attempt is not None:
            if attempt["lead_id"] is None or attempt["state"] is None:
                return True  # the lead was deleted
            if attempt["state"] == "dialing":
                return False
            updated = await self.pool.fetchval(load_sql(PKG, "lead_personal_callback"), attempt["lead_id"],
                                               due, cmd.agent_id)
            if updated is None:
                return False
            self.journal.append("callback.scheduled", {"lead_id": attempt["lead_id"], "due_at": cmd.callback_at},
                                call_id=cmd.call_id, agent_id=cmd.agent_id, queue=cmd.queue or None,
                                ts=self.clock.now())
            return True
        found = await self.pool.fetchrow(load_sql(PKG, "call_caller"), cmd.call_id)
        number = str(found["caller_number"] or "") if found is not None else ""
        if found is None or not number:
            return False  # the call's row is not projected yet
        queue = cmd.queue or str(found["queue"] or "")
        cid = await self.pool.fetchval(load_sql(PKG, "inbound_callback_add"), number, queue, cmd.agent_id, due,
                                       json.dumps({"call_id": cmd.call_id, "disposition": True}))
        self.journal.append("callback.scheduled", {"callback_id": cid, "due_at": cmd.callback_at,
                                                   "number": number},
                            call_id=cmd.call_id, agent_id=cmd.agent_id, queue=queue, ts=self.clock.now())
        return True

