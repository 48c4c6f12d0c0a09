from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.acd.core.model import AgentConfig, Overflow, QueueConfig, SkillRequirement
from callcore.acd.core.policy import announcement, estimated_wait, render_script, should_record
from callcore.errors import InputError


def test_skill_requirement_parse_and_levels() -> None:
    r = SkillRequirement.parse("language=ru>=3, after 30 s >=1, after 60 s dropped")
    assert r.skill == "language=ru"
    assert [r.level_at(t) for t in (0, 29.9, 30, 59, 60, 999)] == [3, 3, 1, 1, None, None]
    for bad in ("", "x", "a>=1, later >=0", "a>=2, after 30 s >=1, after 10 s dropped"):
        with pytest.raises(InputError):
            SkillRequirement.parse(bad)


def test_overflow_parse() -> None:
    assert Overflow.parse("queue:b") == Overflow("queue", target="b")
    assert Overflow.parse("dialplan:ctx,100") == Overflow("dialplan", context="ctx", exten="100", priority=1)
    assert Overflow.parse("voicemail:200").target == "200"
    for bad in ("queue:", "dialplan:ctx", "dialplan:a,b,x", "fax:1"):
        with pytest.raises(InputError):
            Overflow.parse(bad)


def test_config_validation() -> None:
    for kw in ({"strategy": "fastest"}, {"recording": "percent:150"}, {"callback_digit": "12"},
               {"max_wait": -1}, {"join_empty": "sometimes"}):
        with pytest.raises(InputError):
            QueueConfig("q", **kw)
    with pytest.raises(InputError):
        AgentConfig("")


@given(st.text(max_size=30))
def test_recording_sampling_is_deterministic(call_id: str) -> None:
    assert should_record("percent:40", call_id) == should_record("percent:40", call_id)
    assert should_record("all", call_id) and not should_record("none", call_id)


def test_recording_sampling_rate() -> None:
    hits = sum(should_record("percent:25", f"call-{i}") for i in range(4000))
    assert 850 < hits < 1150


@given(st.text(max_size=60),
       st.dictionaries(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), st.text(max_size=5)))
def test_script_rendering_never_crashes_and_keeps_unknowns(template: str, values: dict[str, str]) -> None:
    out = render_script(template, values)
    assert isinstance(out, str)
    assert render_script("{nope} {x}", {"x": 1}) == "{nope} 1"


def test_announcement_media() -> None:
    assert announcement(1, None) == ("sound:queue-youarenext",)
    media = announcement(25, 150)
    assert media[:3] == ("sound:queue-thereare", "number:25", "sound:queue-callswaiting")
    assert media[3:] == ("sound:queue-holdtime", "sound:digits/3", "sound:minutes")
    assert estimated_wait(5, 2, 100) == 300


def test_strategy_registry_is_the_one_list_and_refuses_unknown_names() -> None:
    from callcore.acd.core import strategies
    from callcore.acd.core.model import STRATEGIES

    assert STRATEGIES == strategies.NAMES == tuple(strategies.REGISTRY)
    for name in strategies.NAMES:
        assert QueueConfig("q", strategy=name).strategy == name
    with pytest.raises(InputError) as err:
        strategies.get("loudest")
    assert err.value.field == "strategy" and "longest-idle" in str(err.value)
    with pytest.raises(InputError):
        QueueConfig("q", strategy="loudest")
