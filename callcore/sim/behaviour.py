"""How simulated far ends behave: pure decisions drawn from a seeded ``random.Random``.

An ``EndpointBehaviour`` describes one endpoint (an agent phone) or, through a pattern, a whole
trunk (an outcome distribution for customers). ``decide`` turns it into one ``Outcome`` per call.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Literal

Duration = float | tuple[float, float]
OutcomeKind = Literal["answer", "machine", "busy", "noanswer", "congestion", "rejected", "unreachable"]


@dataclass(frozen=True)
class EndpointBehaviour:
    """Behaviour of a far end when it is dialled.

    ``p_busy``, ``p_congestion``, ``p_reject``, ``p_machine`` and ``p_unreachable`` are absolute
    probabilities; of the remaining probability mass ``p_answer`` is the share that answers (a
    person), the rest rings until the originate timeout (cause 19). Durations are seconds, either
    fixed or a uniform ``(low, high)`` range. ``talk_time`` (None: never) is how long the far end
    stays once bridged to another channel before it hangs up (remote BYE).
    """

    answer_delay: Duration = (0.5, 1.5)
    p_answer: float = 1.0
    talk_time: Duration | None = None
    p_busy: float = 0.0
    p_congestion: float = 0.0
    p_reject: float = 0.0
    p_machine: float = 0.0
    p_unreachable: float = 0.0
    reject_delay: Duration = (0.02, 0.2)
    ring: bool = True
    amd_delay: Duration = (2.0, 3.5)
    amd_notsure: float = 0.0
    registered: bool = True
    caller_name: str | None = None
    caller_number: str | None = None

    def __post_init__(self) -> None:
        probs = (
            self.p_answer,
            self.p_busy,
            self.p_congestion,
            self.p_reject,
            self.p_machine,
            self.p_unreachable,
            self.amd_notsure,
        )
        if any(p < 0.0 or p > 1.0 for p in probs):
            raise ValueError("probabilities must be between 0 and 1")
        if self.p_busy + self.p_congestion + self.p_reject + self.p_machine + self.p_unreachable > 1.0 + 1e-9:
            raise ValueError("p_busy + p_congestion + p_reject + p_machine + p_unreachable exceed 1")
        for d in (self.answer_delay, self.reject_delay, self.amd_delay, self.talk_time):
            if d is None:
                continue
            lo, hi = (d, d) if isinstance(d, (int, float)) else d
            if lo < 0 or hi < lo:
                raise ValueError(f"bad duration {d!r}")


@dataclass(frozen=True)
class Outcome:
    """What happens to one dialled call: ``delay`` until answer/busy/... (simulated seconds)."""

    kind: OutcomeKind
    delay: float
    ring: bool = True
    talk_time: float | None = None
    amd_status: str = ""
    amd_cause: str = ""
    amd_delay: float = 0.0

    @property
    def answers(self) -> bool:
        return self.kind in ("answer", "machine")


def draw(rng: random.Random, d: Duration) -> float:
    if isinstance(d, (int, float)):
        return float(d)
    lo, hi = d
    return lo if hi <= lo else rng.uniform(lo, hi)


def decide(behaviour: EndpointBehaviour, rng: random.Random) -> Outcome:
    """Draw the outcome of one call to an endpoint with ``behaviour``."""
    b = behaviour
    u = rng.random()
    talk = draw(rng, b.talk_time) if b.talk_time is not None else None
    edges: list[tuple[float, str]] = []
    acc = 0.0
    for p, kind in (
        (b.p_busy, "busy"),
        (b.p_congestion, "congestion"),
        (b.p_reject, "rejected"),
        (b.p_unreachable, "unreachable"),
        (b.p_machine, "machine"),
    ):
        acc += p
        edges.append((acc, kind))
    chosen: OutcomeKind | None = None
    for edge, kind in edges:
        if u < edge:
            chosen = kind  # type: ignore[assignment]
            break
    if chosen is None:
        rest = 1.0 - acc
        chosen = "answer" if rest > 0 and (u - acc) < rest * b.p_answer else "noanswer"
    if chosen in ("busy", "congestion", "rejected"):
        return Outcome(chosen, draw(rng, b.reject_delay), ring=False)
    if chosen == "unreachable":
        return Outcome("unreachable", 0.0, ring=False)
    if chosen == "noanswer":
        return Outcome("noanswer", 0.0, ring=b.ring)
    delay = draw(rng, b.answer_delay)
    amd_delay = draw(rng, b.amd_delay)
    if chosen == "machine":
        return Outcome(
            "machine",
            delay,
            ring=b.ring,
            talk_time=talk,
            amd_status="MACHINE",
            amd_cause="LONGGREETING-1500-1500",
            amd_delay=amd_delay,
        )
    if b.amd_notsure > 0 and rng.random() < b.amd_notsure:
        return Outcome(
            "answer",
            delay,
            ring=b.ring,
            talk_time=talk,
            amd_status="NOTSURE",
            amd_cause="TOOLONG-4900",
            amd_delay=max(amd_delay, 4.9),
        )
    return Outcome(
        "answer",
        delay,
        ring=b.ring,
        talk_time=talk,
        amd_status="HUMAN",
        amd_cause="HUMAN-800-800",
        amd_delay=amd_delay,
    )


def split_dial_string(endpoint: str) -> tuple[str, str, str]:
    """``PJSIP/agent1001`` -> ("PJSIP", "agent1001", ""); ``PJSIP/555@trunk`` -> ("PJSIP", "trunk",
    "555"); ``PJSIP/trunk/sip:555@host`` -> ("PJSIP", "trunk", "555"). Raises ValueError without a
    technology separator."""
    tech, sep, rest = endpoint.partition("/")
    if not sep or not tech or not rest:
        raise ValueError("Invalid endpoint specified")
    if "/" in rest:
        resource, _, uri = rest.partition("/")
        user = uri.split(":", 1)[-1].split("@", 1)[0]
        return tech, resource, user
    if "@" in rest:
        user, _, resource = rest.partition("@")
        return tech, resource, user
    return tech, rest, ""


@dataclass
class BehaviourBook:
    """Behaviours by exact endpoint name or by glob pattern (latest pattern wins)."""

    default: EndpointBehaviour = field(default_factory=EndpointBehaviour)
    exact: dict[str, EndpointBehaviour] = field(default_factory=dict)
    patterns: list[tuple[str, EndpointBehaviour]] = field(default_factory=list)

    def set(self, name: str, behaviour: EndpointBehaviour) -> None:
        if any(ch in name for ch in "*?["):
            self.patterns = [(p, b) for p, b in self.patterns if p != name]
            self.patterns.append((name, behaviour))
        else:
            self.exact[name] = behaviour

    def lookup(self, dial_string: str) -> EndpointBehaviour:
        """Behaviour for a dial string; a trunk call is also matched as ``PJSIP/<number>@<trunk>``."""
        found = self.exact.get(dial_string)
        if found is not None:
            return found
        names = [dial_string]
        try:
            tech, resource, user = split_dial_string(dial_string)
        except ValueError:
            tech, resource, user = "", "", ""
        if user:
            canonical = f"{tech}/{user}@{resource}"
            names.append(canonical)
            found = self.exact.get(canonical)
            if found is not None:
                return found
        for pattern, behaviour in reversed(self.patterns):
            if any(fnmatch.fnmatchcase(n, pattern) for n in names):
                return behaviour
        return self.default
