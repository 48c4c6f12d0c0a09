from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.acd.core.model import EMPTY_POLICIES, STRATEGIES
from callcore.directory.model import (
    agent_json,
    build_agent,
    build_queue,
    parse_level_pair,
    queue_json,
)
from callcore.errors import InputError

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
skills = st.from_regex(r"[a-z][a-z0-9_]{0,8}(=[a-z]{1,3})?", fullmatch=True)
seconds = st.integers(0, 3600).map(float)


@st.composite
def queue_data(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(names)
    data: dict[str, Any] = {"name": name}
    optional: dict[str, Any] = {
        "strategy": st.sampled_from(STRATEGIES),
        "join_empty": st.sampled_from(EMPTY_POLICIES),
        "leave_empty": st.sampled_from(EMPTY_POLICIES),
        "wrapup_time": seconds,
        "max_wait": seconds,
        "ring_timeout": st.integers(1, 120).map(float),
        "max_len": st.integers(0, 500),
        "weight": st.integers(-10, 10),
        "announce_holdtime": st.booleans(),
        "callback_digit": st.sampled_from(["", "1", "#", "*"]),
        "recording": st.sampled_from(["none", "all", "percent:25"]),
        "dispositions": st.lists(names, unique=True, max_size=4),
        "overflow": st.sampled_from([None, "voicemail:100", "dialplan:ctx,s,1", "queue:zz-other"]),
        "script": st.text(max_size=50),
        "skills": st.lists(
            st.builds(
                lambda s, lvl, steps: {
                    "skill": s,
                    "min_level": lvl,
                    "relax": [{"after": float(a), "level": lv} for a, lv in steps],
                },
                skills,
                st.integers(0, 10),
                st.lists(
                    st.tuples(st.integers(1, 600), st.one_of(st.none(), st.integers(0, 5))),
                    max_size=3,
                    unique_by=lambda t: t[0],
                ).map(sorted),
            ),
            max_size=3,
            unique_by=lambda d: d["skill"],
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    return data


@settings(max_examples=200, deadline=None)
@given(queue_data())
def test_queue_json_roundtrip(data: dict[str, Any]) -> None:
    queue = build_queue(data)
    again = build_queue(queue_json(queue))
    assert again == queue
    assert build_queue({}, base=queue) == queue


@settings(max_examples=200, deadline=None)
@given(
    queue_data(),
    st.sampled_from(
        [
            "wrapup_time",
            "max_wait",
            "ring_timeout",
            "max_len",
            "strategy",
            "join_empty",
            "recording",
            "callback_digit",
            "overflow",
            "skills",
            "dispositions",
            "announce_holdtime",
        ]
    ),
    st.sampled_from([-1, "x", [1], {"a": "b"}, "percent:200", "queue:", "toolong"]),
)
def test_bad_values_name_the_field(data: dict[str, Any], fld: str, bad: Any) -> None:
    try:
        build_queue({**data, fld: bad})
    except InputError as exc:
        assert exc.field is not None and exc.field.split(".")[0].split("[")[0] == fld
    else:  # a few values are acceptable for some fields ("x" is a valid disposition code)
        assert fld in ("dispositions", "skills", "callback_digit")


def test_specific_queue_rules() -> None:
    with pytest.raises(InputError) as exc:
        build_queue({"name": "q", "overflow": "queue:q"})
    assert exc.value.field == "overflow"
    with pytest.raises(InputError) as exc:
        build_queue({"name": "q", "unknown": 1})
    assert exc.value.field == "unknown"
    with pytest.raises(InputError) as exc:
        build_queue({"name": "q", "ring_timeout": 0})
    assert exc.value.field == "ring_timeout"
    with pytest.raises(InputError) as exc:
        build_queue({"name": "q", "skills": ["a>=1", "a>=2"]})
    assert exc.value.field == "skills"
    q = build_queue({"name": "q", "skills": "lang=ru>=3, after 30 s >=1, after 60 s dropped"})
    assert q.skills[0].level_at(0) == 3 and q.skills[0].level_at(45) == 1 and q.skills[0].level_at(61) is None
    with pytest.raises(InputError) as exc:
        build_queue({"name": "renamed"}, base=q)
    assert exc.value.field == "name"
    with pytest.raises(InputError):
        build_queue({"strategy": "random"})


@given(
    names,
    st.dictionaries(skills, st.integers(0, 100), max_size=4),
    st.dictionaries(names, st.integers(0, 1000), max_size=4),
)
def test_agent_json_roundtrip(agent_id: str, levels: dict[str, int], queues: dict[str, int]) -> None:
    agent = build_agent({"id": agent_id, "name": "N", "endpoint": "PJSIP/1", "skills": levels, "memberships": queues})
    assert build_agent(agent_json(agent)) == agent


def test_agent_rules_and_cli_pairs() -> None:
    for data, fld in (
        ({"id": "a b"}, "id"),
        ({"id": "a", "endpoint": "1001"}, "endpoint"),
        ({"id": "a", "skills": {"x": 101}}, "skills.x"),
        ({"id": "a", "memberships": []}, "memberships"),
        ({"id": "a", "extra": 1}, "extra"),
    ):
        with pytest.raises(InputError) as exc:
            build_agent(data)
        assert exc.value.field == fld
    assert parse_level_pair("lang=ru:3", "skill") == ("lang=ru", 3)
    assert parse_level_pair("sales", "queue") == ("sales", 0)
    with pytest.raises(InputError) as exc:
        parse_level_pair("sales:-1", "queue")
    assert exc.value.field == "queue"
