"""AMI framing: any chunking of the byte stream gives the same messages; CR/LF never reaches the wire."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.ami.wire import AmiProtocolError, FrameDecoder, encode_action
from callcore.errors import AmiError

names = st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=8).filter(
    lambda n: n.lower() not in ("event", "content"))
values = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
                 max_size=20).map(str.strip)


@given(st.lists(st.dictionaries(names, values, min_size=1, max_size=4), min_size=1, max_size=5),
       st.lists(st.integers(1, 7), min_size=1, max_size=50))
def test_chunking_never_changes_the_messages(events: list[dict[str, str]], cuts: list[int]) -> None:
    data = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(
        encode_action([("Event", "Test"), *e.items()]) for e in events)
    decoder = FrameDecoder()
    got = []
    i = 0
    n = 0
    while i < len(data):
        size = cuts[n % len(cuts)]
        got += decoder.feed(data[i:i + size])
        i += size
        n += 1
    assert decoder.banner == "11.0.0"
    decoded = [{k: v for k, v in m.items() if k != "content"} for m in got]
    assert decoded == [{"Event": "Test", **e} for e in events]


@given(st.text(max_size=30), st.text(max_size=30))
def test_encode_refuses_line_breaks(name: str, value: str) -> None:
    try:
        data = encode_action([("Action", "Setvar"), (name, value)])
    except AmiError as exc:
        assert any(c in name + value for c in "\r\n:") or not name.strip() or name != name.strip()
        if "\r" in value or "\n" in value:
            assert repr(name) in str(exc) or "header name" in str(exc)
        return
    assert data.count(b"\r\n") == 3 and data.endswith(b"\r\n\r\n")


def test_not_ami_is_refused() -> None:
    with pytest.raises(AmiProtocolError):
        FrameDecoder().feed(b"HTTP/1.1 400 Bad Request\r\n")


def test_real_trace_decodes() -> None:
    shared = Path(os.environ.get("CALLCORE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
    trace = shared / "asterisk-traces" / "ami-inbound-answer-bridge-agent.jsonl"
    if not trace.exists():
        pytest.skip(f"shared Asterisk traces not found at {trace} (set CALLCORE_SHARED_DIR)")
    rx = [json.loads(x) for x in trace.read_text().splitlines()]
    rx = [r for r in rx if r["kind"] == "ami" and r["dir"] == "rx"]
    decoder = FrameDecoder()
    got = []
    for r in rx:
        got += decoder.feed(r["raw"].encode("utf-8"))
    expected = [r for r in rx if r.get("fields")]
    assert len(got) == len(expected)
    for message, record in zip(got, expected, strict=True):
        first_key, first_value = record["fields"][0]
        assert message[first_key] == first_value
