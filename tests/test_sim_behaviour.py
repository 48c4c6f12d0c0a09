"""The simulator's pure behaviour model: outcome draws, dial strings, behaviour lookup, wire formats."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.sim.behaviour import BehaviourBook, EndpointBehaviour, decide, draw, split_dial_string
from callcore.sim.wire import ari_time, parse_caller_id

probs = st.floats(min_value=0.0, max_value=0.2)


@given(seed=st.integers(0, 2**32), p_busy=probs, p_machine=probs, p_answer=st.floats(0.0, 1.0))
@settings(max_examples=60)
def test_same_seed_same_outcomes(seed: int, p_busy: float, p_machine: float, p_answer: float) -> None:
    b = EndpointBehaviour(p_busy=p_busy, p_machine=p_machine, p_answer=p_answer, talk_time=(10.0, 20.0))
    first = [decide(b, random.Random(seed)) for _ in range(5)]
    rng1, rng2 = random.Random(seed), random.Random(seed)
    assert [decide(b, rng1) for _ in range(20)] == [decide(b, rng2) for _ in range(20)]
    assert first == [decide(b, random.Random(seed)) for _ in range(5)]


@given(seed=st.integers(0, 2**32), lo=st.floats(0.0, 50.0), width=st.floats(0.0, 50.0))
def test_delays_and_talk_times_stay_in_their_range(seed: int, lo: float, width: float) -> None:
    b = EndpointBehaviour(answer_delay=(lo, lo + width), talk_time=(lo, lo + width))
    out = decide(b, random.Random(seed))
    assert out.kind == "answer"
    assert lo <= out.delay <= lo + width
    assert out.talk_time is not None and lo <= out.talk_time <= lo + width


def test_certain_outcomes() -> None:
    rng = random.Random(3)
    assert {decide(EndpointBehaviour(p_busy=1.0), rng).kind for _ in range(50)} == {"busy"}
    assert {decide(EndpointBehaviour(p_answer=0.0), rng).kind for _ in range(50)} == {"noanswer"}
    assert {decide(EndpointBehaviour(p_congestion=1.0), rng).kind for _ in range(50)} == {"congestion"}
    machine = decide(EndpointBehaviour(p_machine=1.0), rng)
    assert (machine.kind, machine.amd_status, machine.answers) == ("machine", "MACHINE", True)
    assert decide(EndpointBehaviour(), rng).amd_status == "HUMAN"
    assert decide(EndpointBehaviour(amd_notsure=1.0), rng).amd_status == "NOTSURE"
    assert not decide(EndpointBehaviour(p_unreachable=1.0), rng).ring


def test_outcome_distribution_follows_the_probabilities() -> None:
    b = EndpointBehaviour(p_busy=0.2, p_machine=0.1, p_answer=0.5)
    rng = random.Random(11)
    counts = Counter(decide(b, rng).kind for _ in range(20_000))
    assert abs(counts["busy"] / 20_000 - 0.2) < 0.02
    assert abs(counts["machine"] / 20_000 - 0.1) < 0.02
    # p_answer is the answering share of what is neither busy nor machine: 0.7 * 0.5
    assert abs(counts["answer"] / 20_000 - 0.35) < 0.02
    assert abs(counts["noanswer"] / 20_000 - 0.35) < 0.02


@pytest.mark.parametrize("kwargs", [{"p_busy": 1.5}, {"p_answer": -0.1}, {"p_busy": 0.6, "p_machine": 0.6},
                                    {"answer_delay": (3.0, 1.0)}, {"talk_time": -1.0}])
def test_bad_behaviours_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EndpointBehaviour(**kwargs)  # type: ignore[arg-type]


def test_draw_fixed_and_range() -> None:
    rng = random.Random(1)
    assert draw(rng, 2.5) == 2.5
    assert draw(rng, (4.0, 4.0)) == 4.0
    assert 1.0 <= draw(rng, (1.0, 2.0)) <= 2.0


@pytest.mark.parametrize(("dial", "parts"), [
    ("PJSIP/agent1001", ("PJSIP", "agent1001", "")),
    ("PJSIP/15551230001@trunk", ("PJSIP", "trunk", "15551230001")),
    ("PJSIP/trunk/sip:busy@127.0.0.1:5072", ("PJSIP", "trunk", "busy")),
    ("Local/1001@agents-local", ("Local", "agents-local", "1001")),
])
def test_split_dial_string(dial: str, parts: tuple[str, str, str]) -> None:
    assert split_dial_string(dial) == parts


@pytest.mark.parametrize("bad", ["agent1001", "PJSIP/", "/x", ""])
def test_split_dial_string_needs_a_technology(bad: str) -> None:
    with pytest.raises(ValueError):
        split_dial_string(bad)


def test_behaviour_book_exact_patterns_and_trunk_forms() -> None:
    book = BehaviourBook()
    agent = EndpointBehaviour(answer_delay=0.1)
    trunk = EndpointBehaviour(p_busy=0.5)
    vip = EndpointBehaviour(p_answer=0.0)
    book.set("PJSIP/1001", agent)
    book.set("PJSIP/*@trunk", trunk)
    book.set("PJSIP/+1555999*@trunk", vip)
    assert book.lookup("PJSIP/1001") is agent
    assert book.lookup("PJSIP/+15551230000@trunk") is trunk
    assert book.lookup("PJSIP/trunk/sip:+15551230000@10.0.0.1") is trunk
    assert book.lookup("PJSIP/+15559990001@trunk") is vip
    assert book.lookup("PJSIP/1002") is book.default


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_ari_time_format(epoch: float) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", ari_time(epoch))


def test_ari_time_value_and_caller_id() -> None:
    assert ari_time(1795917138.156) == "2026-11-29T01:52:18.156+0000"
    assert parse_caller_id('"Sales queue" <15551230001>') == ("Sales queue", "15551230001")
    assert parse_caller_id("15551230001") == ("", "15551230001")
