from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from callcore.store.encoding import EventKeys, encode_payload, seq_of
from callcore.store.spill import Row, SpillReader, SpillWriter, decode_line, encode_lines, spill_files

text = st.text(max_size=20)
opt = st.none() | text
rows = st.tuples(st.uuids().map(str), st.floats(allow_nan=False, allow_infinity=False, width=64), text, text,
                 opt, opt, opt, opt, opt, text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False,
                                                                             allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(rows, max_size=20))
def test_spill_lines_round_trip(batch: list[Row]) -> None:
    data = encode_lines(batch)
    lines = data.splitlines(keepends=True)
    assert len(lines) == len(batch)
    assert [decode_line(line) for line in lines] == batch


@given(st.binary(max_size=60))
def test_damaged_lines_decode_to_none_or_a_valid_row(data: bytes) -> None:
    row = decode_line(data)
    assert row is None or (len(row) == 10 and isinstance(row[0], str))


def test_damaged_line_shapes() -> None:
    assert decode_line(b'["k", 1.0, "t", "i", null, null, null, null, null]\n') is None
    assert decode_line(b'["k", "x", "t", "i", null, null, null, null, null, "{}"]\n') is None
    assert decode_line(b'{"k": 1}\n') is None
    assert decode_line(b'["k", 1, "t", "i", null, null, null, null, 5, "{}"]\n') is None
    assert decode_line(b'["k", 1, "t", "i", null, null, null, null, null, "{}"]\n') == (
        "k", 1.0, "t", "i", None, None, None, None, None, "{}")


@given(st.dictionaries(text, json_values, max_size=6))
def test_payload_encoding_is_json_without_nul(payload: dict[str, Any]) -> None:
    encoded = encode_payload(payload)
    decoded = json.loads(encoded)

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace("\x00", "\ufffd")
        if isinstance(v, dict):
            return {clean(k): clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    assert decoded == clean(payload)


def test_payload_oddities() -> None:
    assert encode_payload(None) == "{}"
    odd = json.loads(encode_payload({"when": uuid.UUID(int=5), "obj": object()}))
    assert odd["when"] == str(uuid.UUID(int=5)) and odd["obj"].startswith("<object")
    assert json.loads(encode_payload({"s": "a\\u0000b"})) == {"s": "a\\u0000b"}


def test_keys_are_unique_uuids_carrying_their_sequence() -> None:
    keys = EventKeys()
    made = [keys.next() for _ in range(1000)]
    assert len(set(made)) == 1000
    for n, k in enumerate(made, start=1):
        assert uuid.UUID(k).version == 4
        assert seq_of(k) == n
    assert not set(made) & {EventKeys().next() for _ in range(10)}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", made[0])


def _row(i: int) -> Row:
    return (str(uuid.UUID(int=i)), float(i), "t", "n", None, None, None, None, None, "{}")


def test_writer_and_reader_resume_where_they_stopped(tmp_path: Path) -> None:
    writer = SpillWriter(tmp_path, "00000000000000000042")
    path = writer.append([_row(i) for i in range(5)], first_seq=1)
    writer.append([_row(i) for i in range(5, 8)], first_seq=6)
    assert path.name == "00000000000000000042-000000000001.jsonl"
    separate = writer.write_separate([_row(100)], first_seq=0)
    assert spill_files(tmp_path) == [separate, path]
    reader = SpillReader()
    got, offset = reader.read(path, 3)
    assert [r[1] for r in got] == [0, 1, 2]
    again, _ = reader.read(path, 3)
    assert again == got  # not advanced: the caller advances once the rows are safe
    reader.advance(path, offset)
    rest, offset = reader.read(path, 100)
    assert [r[1] for r in rest] == [3, 4, 5, 6, 7]
    reader.advance(path, offset)
    assert reader.at_end(path)
    writer.append([_row(8)], first_seq=9)
    assert not reader.at_end(path)
    with open(path, "ab") as fh:
        fh.write(b'["partial')
    tail, offset = reader.read(path, 100)
    assert [r[1] for r in tail] == [8]
    reader.advance(path, offset)
    assert reader.at_end(path)
    assert writer.close() == path


def test_journal_metrics_are_registered_under_their_names() -> None:
    import callcore.store.journal  # noqa: F401  (registers the metrics)
    from callcore.metrics import render

    text = render().decode()
    for name in ("callcore_journal_buffer_events", "callcore_journal_flush_seconds_bucket",
                 "callcore_journal_events_written_total", "callcore_journal_spilled_events_total",
                 "callcore_journal_db_errors_total", "callcore_journal_spilling"):
        assert f"\n{name}" in text, name
