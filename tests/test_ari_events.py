"""Decoding of ARI websocket events: every recorded event, unknown types and fields, helpers."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcore.ari import events as E
from callcore.ari import traces
from callcore.ari.events import UnknownEvent, decode_event, encode_event, event_channel_id, parse_ari_time
from callcore.ari.traces import shared_dir, traces_dir


def trace_events() -> list[tuple[str, dict[str, Any]]]:
    if traces_dir() is None:
        pytest.skip(f"Asterisk traces not found under {shared_dir()} (set CALLCORE_SHARED_DIR)")
    return traces.trace_events()


def test_every_recorded_event_decodes_to_its_type() -> None:
    events = trace_events()
    assert len(events) > 100
    for where, raw in events:
        ev = decode_event(json.dumps(raw))
        assert not isinstance(ev, UnknownEvent), where
        assert type(ev).__name__ == raw["type"], where
        assert ev.timestamp == raw["timestamp"], where
        assert ev.application == "callcore", where
        assert ev.asterisk_id == raw["asterisk_id"], where
        if "channel" in raw:
            assert event_channel_id(ev) == raw["channel"]["id"], where
        if raw["type"] == "Dial":
            assert event_channel_id(ev) == raw["peer"]["id"], where
        # bytes and str input give the same result
        assert decode_event(json.dumps(raw).encode()) == ev


def test_recorded_field_values() -> None:
    by_type: dict[str, list[Any]] = {}
    for _, raw in trace_events():
        by_type.setdefault(raw["type"], []).append(decode_event(json.dumps(raw)))
    start = by_type["StasisStart"][0]
    assert isinstance(start, E.StasisStart) and start.args and start.channel.dialplan.app_name == "Stasis"
    destroyed = [e for e in by_type["ChannelDestroyed"] if isinstance(e, E.ChannelDestroyed)]
    assert {e.cause for e in destroyed} >= {16, 17, 19}
    assert any(e.cause_txt == "Normal Clearing" for e in destroyed)
    hangups = [e for e in by_type["ChannelHangupRequest"] if isinstance(e, E.ChannelHangupRequest)]
    assert any(e.cause is None for e in hangups) and any(e.cause == 32 and e.soft for e in hangups)
    dtmf = by_type["ChannelDtmfReceived"][0]
    assert isinstance(dtmf, E.ChannelDtmfReceived) and dtmf.digit and dtmf.duration_ms > 0
    cont = by_type["PlaybackContinuing"][0]
    assert isinstance(cont, E.PlaybackContinuing) and cont.playback.next_media_uri == "sound:beep"
    assert event_channel_id(cont) == cont.playback.target_uri.removeprefix("channel:")


def test_unknown_type_keeps_raw() -> None:
    raw = {"type": "ChannelHold", "timestamp": "2026-11-29T01:52:18.156+0000", "application": "callcore",
           "asterisk_id": "x", "channel": {"id": "c1"}, "musicclass": "default"}
    ev = decode_event(json.dumps(raw))
    assert isinstance(ev, UnknownEvent)
    assert ev.type == "ChannelHold" and ev.raw == raw and ev.application == "callcore"
    assert event_channel_id(ev) == "c1"
    assert json.loads(encode_event(ev)) == raw


def test_unknown_fields_are_ignored_and_missing_optionals_default() -> None:
    ev = decode_event('{"type": "StasisEnd", "channel": {"id": "c9", "new": [1, 2]}, "brand_new": true}')
    assert isinstance(ev, E.StasisEnd) and ev.channel.id == "c9" and ev.timestamp == ""


def test_known_type_with_bad_shape_becomes_unknown() -> None:
    ev = decode_event('{"type": "StasisStart", "channel": "not-an-object"}')
    assert isinstance(ev, UnknownEvent) and ev.type == "StasisStart"


def test_non_object_frames_raise_decode_error() -> None:
    for bad in ("[1, 2]", "not json", '"text"'):
        with pytest.raises(msgspec.DecodeError):
            decode_event(bad)


def test_event_channel_id_for_bridge_only_events_is_none() -> None:
    ev = decode_event('{"type": "BridgeDestroyed", "bridge": {"id": "b1"}}')
    assert event_channel_id(ev) is None
    assert event_channel_id(E.Disconnected(reason="x")) is None


def test_parse_ari_time() -> None:
    t = parse_ari_time("2026-11-29T01:52:18.156+0000")
    assert (t.year, t.month, t.day, t.hour, t.second, t.microsecond) == (2026, 11, 29, 1, 18, 156000)
    assert t.isoformat() == "2026-11-29T01:52:18.156000+00:00"
    assert parse_ari_time("2026-11-29T01:52:18.156+00:00") == t


names = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=20)


@given(type_name=names, extra=st.dictionaries(names, st.one_of(st.integers(), names, st.none()), max_size=5))
def test_any_object_with_a_type_decodes(type_name: str, extra: dict[str, Any]) -> None:
    raw = {**extra, "type": type_name}
    ev = decode_event(json.dumps(raw))
    if isinstance(ev, UnknownEvent):
        assert ev.type == type_name and ev.raw == raw
    else:
        assert type(ev).__name__ == type_name


@given(cid=names, digit=st.sampled_from(list("0123456789*#")), ms=st.integers(0, 10_000))
def test_roundtrip_of_generated_events(cid: str, digit: str, ms: int) -> None:
    from callcore.ari.models import Channel

    ev = E.ChannelDtmfReceived(channel=Channel(id=cid), digit=digit, duration_ms=ms, application="callcore")
    back = decode_event(encode_event(ev))
    assert back == ev and event_channel_id(back) == cid
