"""Discrete-event simulation of one dialer mode in virtual time.

Events live in a heap ordered by (virtual time, sequence number); all randomness comes from one seeded
:class:`random.Random`, so a run is fully reproducible. The pacing decisions are made by the real
:func:`callcore.dialer.pacer.decide` on the state the engine observes, estimates come from
:class:`~callcore.dialer.pacer.PacingStats`, and abandonment is judged by
:func:`callcore.dialer.campaign.classify_connect` and accounted in an
:class:`~callcore.dialer.campaign.AbandonLedger`.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from callcore.dialer import pacer
from callcore.dialer.campaign import AbandonLedger, CampaignSettings, Mode, Outcome, classify_connect

START = 1_800_000_000.0


@dataclass(frozen=True, slots=True)
class Scenario:
    agents: int = 20
    answer_rate: float = 0.3
    answer_delay: tuple[float, float] = (3.0, 12.0)
    give_up: float = 20.0
    aht: float = 180.0
    talk_fixed: bool = False
    wrapup: float = 5.0
    hours: float = 8.0
    seed: int = 1
    machine_share: float = 0.0
    preview_think: float = 10.0
    abandon_target: float = 0.03
    connect_grace: float = 2.0
    tick: float = 1.0


class Ev(IntEnum):
    TICK = 0
    ANSWER = 1
    GIVE_UP = 2
    GRACE = 3
    TALK_END = 4
    WRAPUP_END = 5
    THINK_END = 6


# The pacer is consulted on every tick and whenever an operator becomes free (or a call ends, in
# progressive mode through the tick); other changes are picked up at the next tick.
_PACE_AFTER = frozenset({Ev.TICK, Ev.WRAPUP_END})


@dataclass(slots=True)
class Call:
    id: int
    dialled_at: float
    agent: int | None = None  # reserved operator (preview)
    answered_at: float | None = None


class Engine:
    def __init__(self, sc: Scenario, mode: Mode) -> None:
        self.sc = sc
        self.mode = mode
        self.rng = random.Random(sc.seed)
        self.settings = CampaignSettings(
            caller_id="sim", queue="sim", mode=mode, ring_timeout=max(15.0, sc.give_up),
            abandon_target=sc.abandon_target, connect_grace=sc.connect_grace, wrapup=sc.wrapup)
        self.stats = pacer.PacingStats(give_up=sc.give_up, talk_prior=sc.aht)
        self.ledger = AbandonLedger()
        self.heap: list[tuple[float, int, Ev, int]] = []
        self.seq = 0
        self.now = START
        self.end = START + sc.hours * 3600.0
        self.free: list[int] = list(range(sc.agents))
        self.talk_start: dict[int, float] = {}
        self.wrapup_end: dict[int, float] = {}
        self.ringing: dict[int, Call] = {}
        self.waiting: deque[Call] = deque()
        self.next_call = 0
        self.talk_time = 0.0
        self.dials = 0
        self.human_answers = 0
        self.abandoned = 0
        self.connected = 0
        self.machines = 0

    # --- event plumbing ----------------------------------------------------------------------------

    def push(self, at: float, ev: Ev, ref: int = -1) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, ev, ref))

    def run(self) -> dict[str, float]:
        if self.mode is Mode.PREVIEW:
            for a in list(self.free):
                self.free.remove(a)
                self.push(self.now + self.sc.preview_think, Ev.THINK_END, a)
        else:
            self.push(self.now, Ev.TICK)
        while self.heap:
            at, _, ev, ref = heapq.heappop(self.heap)
            if at > self.end:
                break
            self.now = at
            self.handle(ev, ref)
            if self.mode in (Mode.PREDICTIVE, Mode.PROGRESSIVE) and ev in _PACE_AFTER:
                self.pace()
        for start in self.talk_start.values():
            self.talk_time += max(0.0, self.end - start)
        return self.report()

    def handle(self, ev: Ev, ref: int) -> None:
        if ev is Ev.TICK:
            self.push(self.now + self.sc.tick, Ev.TICK)
        elif ev is Ev.ANSWER:
            self.on_answer(self.ringing.pop(ref))
        elif ev is Ev.GIVE_UP:
            call = self.ringing.pop(ref)
            self.stats.observe_unanswered(self.now - call.dialled_at)
            if call.agent is not None:
                self.push(self.now + self.sc.preview_think, Ev.THINK_END, call.agent)
        elif ev is Ev.GRACE:
            self.on_grace(ref)
        elif ev is Ev.TALK_END:
            self.talk_time += self.now - self.talk_start.pop(ref)
            self.wrapup_end[ref] = self.now + self.sc.wrapup
            self.push(self.now + self.sc.wrapup, Ev.WRAPUP_END, ref)
        elif ev is Ev.WRAPUP_END:
            del self.wrapup_end[ref]
            self.operator_free(ref)
        elif ev is Ev.THINK_END:
            self.dial(ref)

    # --- domain ------------------------------------------------------------------------------------

    def dial(self, agent: int | None = None) -> None:
        sc = self.sc
        call = Call(self.next_call, self.now, agent)
        self.next_call += 1
        self.dials += 1
        self.ringing[call.id] = call
        if self.rng.random() < sc.answer_rate:
            lo, hi = sc.answer_delay
            self.push(self.now + self.rng.uniform(lo, hi), Ev.ANSWER, call.id)
        else:
            self.push(self.now + sc.give_up, Ev.GIVE_UP, call.id)

    def on_answer(self, call: Call) -> None:
        delay = self.now - call.dialled_at
        if self.sc.machine_share > 0 and self.rng.random() < self.sc.machine_share:
            self.machines += 1
            self.stats.observe_unanswered(delay)
            if call.agent is not None:
                self.push(self.now + self.sc.preview_think, Ev.THINK_END, call.agent)
            return
        self.stats.observe_answer(delay)
        self.human_answers += 1
        call.answered_at = self.now
        if call.agent is not None:
            self.connect(call, call.agent)
        elif self.free:
            self.connect(call, self.free.pop())
        else:
            self.waiting.append(call)
            self.push(self.now + self.sc.connect_grace, Ev.GRACE, call.id)

    def on_grace(self, call_id: int) -> None:
        if not self.waiting or self.waiting[0].id != call_id:
            return  # connected meanwhile
        call = self.waiting.popleft()
        assert call.answered_at is not None
        outcome = classify_connect(call.answered_at, None, self.sc.connect_grace)
        self.ledger = self.ledger.record(outcome, self.now)
        self.abandoned += outcome is Outcome.ABANDONED

    def operator_free(self, agent: int) -> None:
        if self.mode is Mode.PREVIEW:
            self.push(self.now + self.sc.preview_think, Ev.THINK_END, agent)
            return
        if self.waiting:
            self.connect(self.waiting.popleft(), agent)
        else:
            self.free.append(agent)

    def connect(self, call: Call, agent: int) -> None:
        assert call.answered_at is not None
        outcome = classify_connect(call.answered_at, self.now, self.sc.connect_grace)
        self.ledger = self.ledger.record(outcome, self.now)
        self.connected += 1
        talk = self.sc.aht if self.sc.talk_fixed else self.rng.expovariate(1.0 / self.sc.aht)
        self.stats.observe_talk(talk)
        self.talk_start[agent] = self.now
        self.push(self.now + talk, Ev.TALK_END, agent)

    def pace(self) -> None:
        n = pacer.decide(self.pacer_state(), self.settings)
        for _ in range(n):
            self.dial()

    def pacer_state(self) -> pacer.PacerState:
        now = self.now
        busy = [pacer.BusyOperator(now - s) for s in self.talk_start.values()]
        busy += [pacer.BusyOperator(None, e - now) for e in self.wrapup_end.values()]
        rolling = self.ledger.last_24h(now)
        return pacer.PacerState(
            free=len(self.free), busy=tuple(busy),
            ringing=tuple(now - c.dialled_at for c in self.ringing.values()),
            answered_waiting=len(self.waiting), talk=self.stats.talk_estimate(),
            answer=self.stats.answer_estimate(), answered_24h=rolling.answered,
            abandoned_24h=rolling.abandoned)

    def report(self) -> dict[str, float]:
        sc = self.sc
        logged = sc.agents * sc.hours * 3600.0
        idle = logged - self.talk_time - self.connected * sc.wrapup
        return {
            "occupancy": self.talk_time / logged if logged else 0.0,
            "abandon_rate": self.abandoned / self.human_answers if self.human_answers else 0.0,
            "abandoned": float(self.abandoned),
            "human_answers": float(self.human_answers),
            "connected": float(self.connected),
            "calls_per_operator_hour": self.connected / (sc.agents * sc.hours) if sc.agents else 0.0,
            "mean_wait_between_calls": max(0.0, idle) / self.connected if self.connected else 0.0,
            "dials_per_hour": self.dials / sc.hours if sc.hours else 0.0,
        }


def simulate_mode(sc: Scenario, mode: Mode) -> dict[str, float]:
    return Engine(sc, mode).run()
