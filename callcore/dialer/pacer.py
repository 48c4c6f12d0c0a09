"""How many calls to launch now: the dialer's pacing model (pure).

Model
-----
Progressive mode launches exactly one call per free operator not already covered by a call in flight
(``free - in_flight``), so every answer finds its operator. Preview launches nothing by itself (the
operator presses Call). Agentless fills the available lines.

Predictive mode decides call by call with a marginal-risk rule. Over a short horizon
``h = E[answer delay] + connect grace`` it builds two random counts:

* demand ``X``: answers still to come from calls in flight. A call ringing for ``r`` seconds is answered
  with probability ``w(r) = p S(r) / (p S(r) + (1 - p) G(r))`` where ``p`` is the answer probability,
  ``S`` the survival function of the answer delay of answered calls and ``G`` that of the ringing time of
  unanswered calls (Bayes: the older a ringing call, the less likely it still answers). Answered calls
  waiting for an operator count with weight 1.
* supply ``Y``: free operators plus each busy operator with the probability that they finish talk and
  wrap-up within ``h`` (exponential talk time with the estimated mean, memoryless; or the empirical
  conditional distribution ``P(T <= a + h - wrapup | T > a)`` once enough talk times are known).

Both are sums of independent Bernoulli variables. Adding one more call adds ``Bernoulli(p)`` to ``X``
and raises the expected number of abandoned calls by ``p * P(X >= Y)`` (the new answer finds no
operator exactly when the others already use them all), while it raises the expected live answers by
``p``. So the call is launched only while ``P(X >= Y) <= theta``: the marginal abandonment ratio of the
call stays under ``theta``. ``P(X >= Y)`` is computed exactly by convolution for up to
``EXACT_LIMIT`` variables and with a normal approximation (continuity corrected) beyond. Small teams
have a wide ``X - Y`` distribution, so the same rule automatically paces them more cautiously.

``theta`` comes from a feedback controller on the measured abandonment (rolling 24 h), in the spirit of
VICIdial's adaptive dial level. With ``aim = AIM_FRACTION * target`` and the abandonment allowance
``slack = aim * answered - abandoned`` (in calls)::

    theta = target * clamp((slack + BUDGET_OFFSET) / BUDGET_SCALE, 0, THETA_GAIN_MAX)

A campaign without history does not guess: until it has ``WARMUP_ANSWERS`` live answers over 24 h a
predictive campaign dials progressively (one call per free operator not covered), which cannot abandon;
then it starts cautious (``theta = target / 6``) and earns risk as live answers accumulate
without abandons; each abandoned call costs a third of the gain. While the campaign is under its
allowance the pacer takes more risk (the static model is pessimistic: it ignores that many answers
arrive after an operator frees up); once the allowance is spent (``abandoned >= aim * answered + 0.5``)
``theta`` is 0, which with the default minimum dial level of 1 is progressive dialling and cannot
abandon. This keeps the realised rate at about ``aim`` and below ``target`` even over short periods.

Bounds: calls in flight after launching stay within ``[ceil(dial_level_min * free),
floor(dial_level_max * active)]`` where ``active`` counts logged-in operators not paused (free or busy):
a predictive dialer has to place calls for operators who are about to become free, so the upper bound
is per active operator. Nothing is launched outside the calling window or with no operator logged in.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from callcore.dialer.campaign import CampaignSettings, Mode

EXACT_LIMIT = 80
AIM_FRACTION = 0.85
BUDGET_SCALE = 3.0
BUDGET_OFFSET = 0.5
THETA_GAIN_MAX = 4.0
PRIOR_ANSWER_PROBABILITY = 0.5
PRIOR_WEIGHT = 20.0
MIN_EMPIRICAL_TALK = 30
WARMUP_ANSWERS = 20


@dataclass(frozen=True, slots=True)
class BusyOperator:
    """An operator who is not free: on a call for ``talking_for`` s, or in wrap-up (``talking_for=None``)."""

    talking_for: float | None
    wrapup_left: float = 0.0


@dataclass(frozen=True, slots=True)
class TalkEstimate:
    mean: float = 180.0
    samples: tuple[float, ...] = ()  # sorted talk times; used once there are MIN_EMPIRICAL_TALK of them


@dataclass(frozen=True, slots=True)
class AnswerEstimate:
    """Answer probability, sorted answer delays of answered calls, ringing times of unanswered ones."""

    probability: float = PRIOR_ANSWER_PROBABILITY
    delays: tuple[float, ...] = ()
    unanswered_durations: tuple[float, ...] = ()
    give_up: float = 25.0
    prior_weight: float = 10.0

    def delay_survival(self, r: float) -> float:
        """P(answer delay > r) for answered calls, blended with a uniform prior over [0, give_up]."""
        prior = max(0.0, 1.0 - r / self.give_up)
        n = len(self.delays)
        above = n - bisect.bisect_right(self.delays, r)
        return (self.prior_weight * prior + above) / (self.prior_weight + n)

    def ringing_survival(self, r: float) -> float:
        """P(an unanswered call still rings at r), prior: rings until give_up."""
        prior = 1.0 if r < self.give_up else 0.0
        n = len(self.unanswered_durations)
        above = n - bisect.bisect_right(self.unanswered_durations, r)
        return (self.prior_weight * prior + above) / (self.prior_weight + n)

    def mean_delay(self) -> float:
        prior_mean = self.give_up / 2
        return (self.prior_weight * prior_mean + sum(self.delays)) / (self.prior_weight + len(self.delays))

    def still_answers(self, age: float) -> float:
        """Probability that a call ringing for ``age`` seconds will be answered."""
        p = self.probability
        s = p * self.delay_survival(age)
        g = (1.0 - p) * self.ringing_survival(age)
        return s / (s + g) if s + g > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PacerState:
    free: int
    busy: tuple[BusyOperator, ...] = ()
    ringing: tuple[float, ...] = ()
    answered_waiting: int = 0
    talk: TalkEstimate = TalkEstimate()
    answer: AnswerEstimate = AnswerEstimate()
    answered_24h: int = 0
    abandoned_24h: int = 0
    window_open: bool = True
    line_capacity: int | None = None

    @property
    def in_flight(self) -> int:
        return len(self.ringing) + self.answered_waiting

    @property
    def active(self) -> int:
        return self.free + len(self.busy)


@dataclass(frozen=True, slots=True)
class Decision:
    launch: int
    lower: int
    upper: int
    theta: float = 0.0
    risk: float = 0.0  # P(X >= Y) for the last call considered


def bounds(state: PacerState, settings: CampaignSettings) -> tuple[int, int]:
    """Allowed range for the number of calls to launch now (see the module docstring)."""
    if not state.window_open or state.active <= 0:
        return 0, 0
    if settings.mode is Mode.AGENTLESS or settings.mode is Mode.PREVIEW:
        return 0, 0
    if settings.mode is Mode.PROGRESSIVE or warming_up(state, settings):
        hi = max(0, state.free - state.in_flight)
        lo = hi
    else:
        lo = max(0, math.ceil(settings.dial_level_min * state.free - 1e-9) - state.in_flight)
        hi = max(0, math.floor(settings.dial_level_max * state.active + 1e-9) - state.in_flight)
    if state.line_capacity is not None:
        room = max(0, state.line_capacity - state.in_flight)
        hi, lo = min(hi, room), min(lo, room)
    return lo, hi


def warming_up(state: PacerState, settings: CampaignSettings) -> bool:
    """A predictive campaign that has not yet earned its dial level (see the module docstring)."""
    return settings.mode is Mode.PREDICTIVE and state.answered_24h < WARMUP_ANSWERS


def theta(state: PacerState, settings: CampaignSettings) -> float:
    aim = AIM_FRACTION * settings.abandon_target
    slack = aim * state.answered_24h - state.abandoned_24h
    gain = min(THETA_GAIN_MAX, max(0.0, (slack + BUDGET_OFFSET) / BUDGET_SCALE))
    return settings.abandon_target * gain


def free_probability(op: BusyOperator, horizon: float, talk: TalkEstimate, wrapup: float) -> float:
    """Probability that a busy operator is free again within ``horizon`` seconds."""
    if op.talking_for is None:
        return 1.0 if op.wrapup_left <= horizon else 0.0
    room = horizon - wrapup
    if room <= 0:
        return 0.0
    samples = talk.samples
    if len(samples) >= MIN_EMPIRICAL_TALK:
        a = op.talking_for
        i = bisect.bisect_right(samples, a)
        longer = len(samples) - i
        if longer >= 5:
            done = bisect.bisect_right(samples, a + room) - i
            return done / longer
    return 1.0 - math.exp(-room / max(talk.mean, 1.0))


AGE_STEP = 0.25


def _ringing_weights(ages: Sequence[float], answer: AnswerEstimate) -> list[float]:
    """``still_answers`` for each age, ages floored to AGE_STEP (a younger age weighs more: safe side)."""
    cache: dict[int, float] = {}
    out = []
    for age in ages:
        key = int(age / AGE_STEP)
        w = cache.get(key)
        if w is None:
            w = cache[key] = answer.still_answers(key * AGE_STEP)
        out.append(w)
    return out


def _supply_probabilities(busy: Sequence[BusyOperator], horizon: float, talk: TalkEstimate,
                          wrapup: float) -> list[float]:
    cache: dict[tuple[int, int], float] = {}
    out = []
    for op in busy:
        if op.talking_for is None:
            out.append(1.0 if op.wrapup_left <= horizon else 0.0)
            continue
        key = (0, 0) if len(talk.samples) < MIN_EMPIRICAL_TALK else (1, int(op.talking_for))
        q = cache.get(key)
        if q is None:
            q = cache[key] = free_probability(BusyOperator(float(key[1])), horizon, talk, wrapup)
        out.append(q)
    return out


def _shift_add(pmf: list[float], w: float) -> list[float]:
    """Convolve a pmf (index = value) with Bernoulli(w)."""
    out = [0.0] * (len(pmf) + 1)
    for k, v in enumerate(pmf):
        out[k] += v * (1.0 - w)
        out[k + 1] += v * w
    return out


def _tail_at_least(pmf_x: Sequence[float], pmf_y: Sequence[float], offset: int) -> float:
    """P(X >= Y + offset) for independent X, Y given by pmfs (index = value)."""
    cum = [0.0] * (len(pmf_x) + 1)  # cum[k] = P(X >= k)
    for k in range(len(pmf_x) - 1, -1, -1):
        cum[k] = cum[k + 1] + pmf_x[k]
    total = 0.0
    for y, py in enumerate(pmf_y):
        k = y + offset
        if k <= 0:
            total += py
        elif k < len(cum):
            total += py * cum[k]
    return total


def _normal_tail(mu: float, var: float, threshold: float) -> float:
    """P(Z >= threshold) for integer Z ~ approximately N(mu, var), continuity corrected."""
    if var <= 1e-12:
        return 1.0 if mu >= threshold - 0.5 else 0.0
    z = (threshold - 0.5 - mu) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def decide_detail(state: PacerState, settings: CampaignSettings) -> Decision:
    lo, hi = bounds(state, settings)
    if settings.mode is Mode.AGENTLESS:
        if not state.window_open or state.line_capacity is None:
            return Decision(0, 0, 0)
        n = max(0, state.line_capacity - state.in_flight)
        return Decision(n, n, n)
    if settings.mode is not Mode.PREDICTIVE or hi <= lo or warming_up(state, settings):
        return Decision(lo, lo, hi)
    th = theta(state, settings)
    if th <= 0.0:
        return Decision(lo, lo, hi, th, 1.0)
    answer = state.answer
    p = min(max(answer.probability, 1e-6), 1.0)
    horizon = answer.mean_delay() + settings.connect_grace
    ws = [w for w in _ringing_weights(state.ringing, answer) if w > 1e-6]
    qs = _supply_probabilities(state.busy, horizon, state.talk, settings.wrapup)
    certain_supply = state.free + sum(1 for q in qs if q >= 1.0)
    qs = [q for q in qs if 1e-6 < q < 1.0]
    certain_demand = state.answered_waiting + sum(1 for w in ws if w >= 1.0)
    ws = [w for w in ws if w < 1.0]
    offset = certain_supply - certain_demand  # abandon risk: X' >= Y' + offset
    n = 0
    risk = 0.0
    if len(ws) + len(qs) + hi <= EXACT_LIMIT:
        pmf_x = [1.0]
        for w in ws:
            pmf_x = _shift_add(pmf_x, w)
        pmf_y = [1.0]
        for q in qs:
            pmf_y = _shift_add(pmf_y, q)
        while n < hi:
            risk = _tail_at_least(pmf_x, pmf_y, offset)
            if n >= lo and risk > th:
                break
            pmf_x = _shift_add(pmf_x, p)
            n += 1
    else:
        mu = sum(ws) - sum(qs)
        var = sum(w * (1 - w) for w in ws) + sum(q * (1 - q) for q in qs)
        while n < hi:
            risk = _normal_tail(mu, var, offset)
            if n >= lo and risk > th:
                break
            mu += p
            var += p * (1 - p)
            n += 1
    return Decision(n, lo, hi, th, risk)


def decide(state: PacerState, settings: CampaignSettings) -> int:
    """Number of calls to launch now (never negative, always within :func:`bounds`)."""
    return decide_detail(state, settings).launch


class PacingStats:
    """Running estimates for the pacer, fed by call results (no I/O; bounded memory).

    Answer probability uses a Beta prior (``PRIOR_ANSWER_PROBABILITY`` over ``PRIOR_WEIGHT`` pseudo
    dials: too high a prior under-dials, which is the safe side); delays and talk times keep the most
    recent ``keep`` observations.
    """

    def __init__(self, give_up: float, keep: int = 400, talk_prior: float = 180.0) -> None:
        self.give_up = give_up
        self.dialled = 0
        self.answered = 0
        self._delays: deque[float] = deque(maxlen=keep)
        self._unanswered: deque[float] = deque(maxlen=keep)
        self._talk: deque[float] = deque(maxlen=keep)
        self._talk_prior = talk_prior
        self._answer_cache: AnswerEstimate | None = None
        self._talk_cache: TalkEstimate | None = None

    def observe_answer(self, delay: float) -> None:
        self.dialled += 1
        self.answered += 1
        self._delays.append(delay)
        self._answer_cache = None

    def observe_unanswered(self, duration: float) -> None:
        self.dialled += 1
        self._unanswered.append(duration)
        self._answer_cache = None

    def observe_talk(self, duration: float) -> None:
        self._talk.append(duration)
        self._talk_cache = None

    def answer_estimate(self) -> AnswerEstimate:
        if self._answer_cache is None:
            p = (self.answered + PRIOR_ANSWER_PROBABILITY * PRIOR_WEIGHT) / (self.dialled + PRIOR_WEIGHT)
            self._answer_cache = AnswerEstimate(p, tuple(sorted(self._delays)),
                                                tuple(sorted(self._unanswered)), self.give_up)
        return self._answer_cache

    def talk_estimate(self) -> TalkEstimate:
        if self._talk_cache is None:
            k = 5.0
            mean = (k * self._talk_prior + sum(self._talk)) / (k + len(self._talk))
            self._talk_cache = TalkEstimate(mean, tuple(sorted(self._talk)))
        return self._talk_cache
