"""FakeAri: the in-memory AriApi other subsystems test against."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcore.ari import events as E
from callcore.ari.api import AriApi
from callcore.ari.client import AriClient
from callcore.ari.fake import FakeAri
from callcore.clock import ManualClock
from callcore.errors import (
    AriBadRequest,
    AriConflict,
    AriNotFound,
    AriServerError,
    AriUnavailable,
    AriUnprocessable,
)


def types(events: list[Any]) -> list[str]:
    return [E.event_type(e) for e in events]


def test_both_implementations_satisfy_the_protocol() -> None:
    fake: AriApi = FakeAri()
    real: AriApi = AriClient("http://127.0.0.1:1", "u", "p", "callcore")
    assert fake.app == real.app == "callcore"


async def test_inbound_call_answer_bridge_agent_and_hangup() -> None:
    ari = FakeAri(clock=ManualClock(1_795_917_138.155))
    sub = ari.session.subscribe("acd")
    caller = ari.inject_call("+15551230001", args=("inbound", "sales"))
    await ari.answer(caller)
    await ari.start_moh(caller, "default")
    agent = await ari.originate("PJSIP/agent1001", channel_id="agent-1", app="callcore",
                                app_args=["agent", caller], timeout=20)
    assert agent.state == "Down"
    with pytest.raises(AriUnprocessable):  # not in Stasis before the agent answers
        await _bridge_then_add(ari, agent.id)
    ari.answer_originated("agent-1")
    await ari.add_channel("b1", [caller, "agent-1"])
    await ari.stop_moh(caller)
    ari.remote_hangup(caller)
    await ari.hangup("agent-1")
    await ari.destroy_bridge("b1")
    got = sub.drain()
    assert types(got) == [
        "StasisStart", "ChannelStateChange", "Dial",                        # inbound, answer, originate
        "ChannelStateChange", "Dial", "StasisStart",                        # agent answers
        "ChannelEnteredBridge", "ChannelEnteredBridge",
        "ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd",           # caller BYE: no ChannelDestroyed
        "ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd", "ChannelDestroyed",  # app hangs up agent
        "BridgeDestroyed",
    ]
    assert isinstance(got[0], E.StasisStart) and got[0].timestamp == "2026-11-29T01:52:18.155+0000"
    assert isinstance(got[5], E.StasisStart) and got[5].args == ["agent", caller]
    bye, app_hangup = got[8], got[11]
    assert isinstance(bye, E.ChannelHangupRequest) and bye.cause is None
    assert isinstance(app_hangup, E.ChannelHangupRequest) and app_hangup.cause == 32 and app_hangup.soft
    assert isinstance(got[14], E.ChannelDestroyed) and got[14].cause == 16
    assert not ari.channels and not ari.bridges
    assert [name for name, _ in ari.calls][:3] == ["answer", "start_moh", "originate"]
    assert ari.calls_to("start_moh") == [{"channel_id": caller, "moh_class": "default"}]


async def _bridge_then_add(ari: FakeAri, channel_id: str) -> None:
    await ari.create_bridge("b1", name="call")
    await ari.add_channel("b1", [channel_id])


async def test_typed_errors_like_asterisk() -> None:
    ari = FakeAri()
    with pytest.raises(AriNotFound):
        await ari.answer("nope")
    await ari.hangup("nope", missing_ok=True)
    with pytest.raises(AriBadRequest):
        await ari.originate("agent1001", channel_id="x")
    out = await ari.originate("Local/1001@agents-local", channel_id="dial-1", context="agents-local",
                              extension="1001")
    with pytest.raises(AriConflict):  # running dialplan, not in Stasis
        await ari.answer(out.id)
    await ari.create_bridge("b")
    with pytest.raises(AriConflict):
        await ari.create_bridge("b")
    with pytest.raises(AriBadRequest):
        await ari.add_channel("b", ["missing"])
    with pytest.raises(AriNotFound):
        await ari.add_channel("missing", [out.id])
    # duplicate channelId is idempotent, as the real client makes it
    again = await ari.originate("Local/1002@agents-local", channel_id="dial-1", extension="1002")
    assert again == ari.channels["dial-1"]


async def test_fail_next_is_scripted_and_recorded() -> None:
    ari = FakeAri()
    ari.fail_next("originate", AriServerError("Allocation failed", status=500))
    ari.fail_next("originate", AriUnavailable("down"))
    with pytest.raises(AriServerError):
        await ari.originate("PJSIP/x", channel_id="a")
    with pytest.raises(AriUnavailable):
        await ari.originate("PJSIP/x", channel_id="a")
    await ari.originate("PJSIP/x", channel_id="a")
    assert len(ari.calls_to("originate")) == 3 and "a" in ari.channels


async def test_failed_originate_and_dialplan_stasis() -> None:
    ari = FakeAri()
    sub = ari.events("dialer")
    await ari.originate("PJSIP/trunk/sip:1@x", channel_id="busy-1", app_args=["dialer"])
    ari.fail_originated("busy-1", cause=17)
    await ari.originate("PJSIP/trunk/sip:2@x", channel_id="amd-1", context="dialer-amd", extension="s",
                        variables={"LEAD_ID": "42"})
    ari.answer_originated("amd-1")
    ari.enter_stasis("amd-1", ["amd", "HUMAN", "HUMAN-1"])
    assert await ari.get_variable("amd-1", "LEAD_ID") == "42"
    got = sub.drain()
    # originated into dialplan (no app): nothing reaches the app before StasisStart
    assert types(got) == ["Dial", "Dial", "ChannelDestroyed", "StasisStart"]
    assert isinstance(got[1], E.Dial) and got[1].dialstatus == "BUSY"
    assert isinstance(got[2], E.ChannelDestroyed) and got[2].cause == 17 and got[2].cause_txt == "User busy"
    await ari.continue_in_dialplan("amd-1")
    ari.remote_hangup("amd-1")
    # ... and nothing once it has left Stasis: no hangup request, no ChannelDestroyed
    assert types(sub.drain()) == ["StasisEnd"]
    assert isinstance(ari.withheld[-1], E.ChannelHangupRequest)
    assert not any(isinstance(e, E.ChannelDestroyed) and e.channel.id == "amd-1" for e in ari.emitted)


async def test_dialplan_originate_seen_only_when_subscribed() -> None:
    ari = FakeAri()
    sub = ari.events("dialer")
    await ari.originate("PJSIP/trunk/sip:3@x", channel_id="amd-2", context="dialer-amd", extension="s")
    ari.fail_originated("amd-2", cause=19)
    assert sub.drain() == []  # busy / no-answer of an unsubscribed dialplan channel: the app sees nothing
    await ari.originate("PJSIP/trunk/sip:4@x", channel_id="amd-3", context="dialer-amd", extension="s")
    await ari.subscribe("channel:amd-3")
    ari.answer_originated("amd-3")
    ari.enter_stasis("amd-3", ["amd", "MACHINE", "LONGGREETING"])
    await ari.continue_in_dialplan("amd-3")
    ari.remote_hangup("amd-3")
    assert types(sub.drain()) == ["ChannelStateChange", "Dial", "StasisStart", "StasisEnd",
                                  "ChannelHangupRequest", "ChannelDestroyed"]
    with pytest.raises(AriUnprocessable):
        await ari.subscribe("channel:amd-3")  # gone: "Event source does not exist"


async def test_uniqueid_prefix_of_a_live_channel_is_refused() -> None:
    ari = FakeAri()
    c = ari.inject_call()
    await ari.snoop(c, snoop_id="sup-a1-1-snoop", spy="both")
    with pytest.raises(AriConflict) as err:
        await ari.originate("PJSIP/sup1", channel_id="sup-a1-1", app_args=["supervisor"])
    assert err.value.status == 409 and err.value.message == "Channel with given unique ID already exists"
    with pytest.raises(AriConflict):  # case-insensitive, as Asterisk's channel storage compares
        await ari.originate("PJSIP/sup1", channel_id="SUP-A1", app_args=["supervisor"])
    with pytest.raises(AriServerError) as snoop_err:  # a snoop id taken fails the Snoop allocation: 500
        await ari.snoop(c, snoop_id="sup-a1", spy="both")
    assert snoop_err.value.status == 500 and snoop_err.value.message == "Snoop channel could not be created"
    # the other way round is free: no live uniqueid begins with the longer id
    await ari.originate("PJSIP/sup1", channel_id="sup-a1-1-snoop-x", app_args=["supervisor"])
    with pytest.raises(AriNotFound) as gone:
        await ari.snoop("no-such", snoop_id="s2", spy="both")
    assert gone.value.message == "Provided channel was not found"


async def test_remove_channel_that_already_left_is_400() -> None:
    ari = FakeAri()
    c = ari.inject_call()
    await ari.create_bridge("b1")
    await ari.add_channel("b1", [c])
    ari.remote_hangup(c)
    with pytest.raises(AriBadRequest) as err:
        await ari.remove_channel("b1", [c])
    assert err.value.status == 400 and err.value.message == "Channel not found"


async def test_playback_recording_dtmf_and_reconnect() -> None:
    ari = FakeAri()
    sub = ari.session.subscribe("ivr", filter=lambda ev: E.event_channel_id(ev) is not None)
    c = ari.inject_call()
    await ari.answer(c)
    pb = await ari.play(c, ["sound:hello-world"], playback_id="pb-1")
    ari.finish_playback(pb.id)
    ari.press_dtmf(c, "12")
    await ari.record(c, "rec-1")
    with pytest.raises(AriConflict):
        await ari.record(c, "rec-1")
    await ari.stop_recording("rec-1")
    assert [r.name for r in await ari.list_stored_recordings()] == ["rec-1"]
    ari.reconnect()
    got = sub.drain()
    assert types(got) == ["StasisStart", "ChannelStateChange", "PlaybackStarted", "PlaybackFinished",
                          "ChannelDtmfReceived", "ChannelDtmfReceived", "RecordingStarted",
                          "RecordingFinished", "Disconnected", "Connected"]
    conn = got[-1]
    assert isinstance(conn, E.Connected) and conn.snapshot.channel_ids() == {c}


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["call", "answer", "bridge", "hangup", "bye"]),
                              st.integers(0, 4)), max_size=30))
async def test_random_operations_keep_invariants(ops: list[tuple[str, int]]) -> None:
    ari = FakeAri()
    sub = ari.events("t")
    calls: list[str] = []
    await ari.create_bridge("b")
    for op, i in ops:
        target = calls[i % len(calls)] if calls else "none"
        try:
            if op == "call":
                calls.append(ari.inject_call(channel_id=f"c{len(calls)}"))
            elif op == "answer":
                await ari.answer(target)
            elif op == "bridge":
                await ari.add_channel("b", [target])
            elif op == "hangup":
                await ari.hangup(target)
            elif op == "bye" and target in ari.channels:
                ari.remote_hangup(target)
        except (AriNotFound, AriBadRequest):
            assert target not in ari.channels
    assert set(ari.bridges["b"].channels) <= set(ari.channels)
    events = sub.drain()
    started = [e.channel.id for e in events if isinstance(e, E.StasisStart)]
    ended = [e.channel.id for e in events if isinstance(e, E.StasisEnd)]
    assert set(ended) <= set(started) and len(ended) == len(set(ended))
    assert set(started) - set(ended) == set(ari.channels)


def test_a_failing_filter_only_hides_events_from_its_consumer() -> None:
    ari = FakeAri()
    broken = ari.events("broken", filter=lambda ev: 1 / 0 > 0)
    fine = ari.events("fine")
    ari.inject_call(channel_id="c1")
    ari.reconnect()
    assert types(broken.drain()) == ["Disconnected", "Connected"]
    assert types(fine.drain()) == ["StasisStart", "Disconnected", "Connected"]


async def test_variables_are_set_only_in_stasis() -> None:
    ari = FakeAri()
    c = ari.inject_call()
    await ari.set_variable(c, "QUEUE_ENTERED", "1")
    await ari.continue_in_dialplan(c)
    assert await ari.get_variable(c, "QUEUE_ENTERED") == "1"  # reading still works
    with pytest.raises(AriConflict) as err:
        await ari.set_variable(c, "X", "1")
    assert err.value.status == 409 and err.value.message == "Channel not in Stasis application"
