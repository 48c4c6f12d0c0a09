"""FastAGI wire parsing: environment, replies, quoting. Fuzzed with hypothesis."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.agi.protocol import (
    AgiReply,
    build_env,
    clean_value,
    encode_command,
    parse_env_line,
    parse_reply,
    quote,
    set_variable_command,
    split_script,
)
from callcore.errors import AgiError


def _shared() -> Path:
    env = os.environ.get("CALLCORE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def test_reply_forms_from_the_real_trace() -> None:
    expected = AgiReply(200, 1, "15551230700", "result=1 (15551230700)")
    assert parse_reply(["200 result=1 (15551230700)"]) == expected
    assert parse_reply(["200 result=0"]).result == 0
    assert parse_reply(["200 result=-1"]).result == -1
    assert parse_reply(["200 result=1 (700@inbound)"]).data == "700@inbound"
    r = parse_reply(["510 Invalid or unknown command"])
    assert r.code == 510 and not r.ok
    assert parse_reply(["511 Command Not Permitted on a dead channel or intercept routine"]).dead_channel
    usage = parse_reply(["520-Invalid command syntax.  Proper usage follows:",
                         "Sets a variable to the current channel.", "520 End of proper usage."])
    assert usage.code == 520 and "Sets a variable" in usage.text


def test_unterminated_multiline_reply_is_an_error() -> None:
    with pytest.raises(AgiError):
        parse_reply(["520-Invalid command syntax.", "more"])
    with pytest.raises(AgiError):
        parse_reply(["garbage"])


def test_env_of_the_real_trace() -> None:
    trace = _shared() / "asterisk-traces" / "fastagi-session.jsonl"
    if not trace.exists():
        pytest.skip(f"shared Asterisk traces not found at {trace} (set CALLCORE_SHARED_DIR)")
    envs = [json.loads(line) for line in trace.read_text().splitlines()]
    blocks = [e for e in envs if e["kind"] == "agi_rx" and e.get("part") == "environment"]
    assert blocks
    for block in blocks:
        lines = block["raw"].split("\n")
        pairs = [p for p in (parse_env_line(x) for x in lines) if p]
        env = build_env(pairs)
        assert {f"agi_{k}": v for k, v in env.values.items()} == block["env"]
        assert env.script == block["env"]["agi_network_script"]
    first = build_env([p for p in (parse_env_line(x) for x in blocks[0]["raw"].split("\n")) if p])
    assert first.args == ("700",) and first.caller_number == "15551230700" and first.dialled == "700"


def test_split_script() -> None:
    assert split_script("/route?default=sales&x=") == ("route", {"default": "sales", "x": ""})
    assert split_script("LOOKUP") == ("lookup", {})


def test_quote_escapes_and_never_breaks_lines() -> None:
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert set_variable_command("CALLCORE_NOTE", "two\r\nwords") == 'SET VARIABLE CALLCORE_NOTE "two  words"'
    with pytest.raises(AgiError):
        set_variable_command("BAD NAME", "x")
    with pytest.raises(AgiError):
        encode_command("SET VARIABLE A 1\nHANGUP")


@given(st.text(max_size=300))
def test_any_value_gives_exactly_one_command_line(value: str) -> None:
    data = encode_command(set_variable_command("CALLCORE_CALLER_NAME", value))
    assert data.endswith(b"\n") and data.count(b"\n") == 1 and b"\r" not in data
    assert clean_value(value).count("\n") == 0


@given(st.lists(st.text(max_size=60), max_size=6))
def test_reply_parser_never_crashes_with_other_than_agi_error(lines: list[str]) -> None:
    try:
        reply = parse_reply(lines)
    except AgiError:
        return
    assert 0 <= reply.code <= 999


@given(st.text(max_size=120))
def test_env_line_parser_total(line: str) -> None:
    pair = parse_env_line(line)
    if pair is not None:
        assert line.lstrip().startswith("agi_") and pair[0]
