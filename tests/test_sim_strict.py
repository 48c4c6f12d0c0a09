"""The simulated Asterisk is as strict as Asterisk 22: held simulated time, subscription semantics,
the uniqueid prefix rule and early-media hang-ups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from callcore.clock import ManualClock
from callcore.sim import EndpointBehaviour, Engine, SimAsterisk
from callcore.sim.core import LoopScheduler, RestError, VirtualScheduler
from callcore.sim.model import Chan


async def test_held_time_moves_only_when_advanced() -> None:
    sched = LoopScheduler(time_scale=1000.0)
    ran: list[str] = []
    sched.hold()
    sched.later(0.0, lambda: ran.append("now"))
    sched.later(0.5, lambda: ran.append("half"))
    dropped = sched.later(2.0, lambda: ran.append("dropped"))
    sched.later(3.0, lambda: ran.append("late"))
    await asyncio.sleep(0.02)  # 20 simulated seconds of loop time: nothing runs while held
    assert ran == []
    sched.advance(0.4)
    assert ran == ["now"]
    sched.advance(0.1)
    assert ran == ["now", "half"]
    dropped.cancel()
    sched.release()
    assert not sched.held and ran == ["now", "half"]  # the rest keeps its remaining 2.5 s delay
    for _ in range(200):
        if len(ran) == 3:
            break
        await asyncio.sleep(0.005)
    assert ran == ["now", "half", "late"]
    done: list[str] = []
    sched.later(0.0, lambda: done.append("free"))  # released: back on the loop
    await asyncio.sleep(0.01)
    assert done == ["free"]


# --- the engine in virtual time ---------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, text: str) -> None:
        self.events.append(json.loads(text))

    def types(self, *, varset: bool = False) -> list[str]:
        return [e["type"] for e in self.events if varset or e["type"] != "ChannelVarset"]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


def make() -> tuple[Engine, VirtualScheduler, Sink]:
    clock = ManualClock(1_795_917_138.0)
    sched = VirtualScheduler(clock)
    eng = Engine(app="callcore", seed=5, sysname="callcore-lab", clock=clock, scheduler=sched)
    for name in ("PJSIP/trunk", "PJSIP/1001"):
        eng.add_endpoint(name)
    sink = Sink()
    eng.attach_socket(["callcore"], sink)
    return eng, sched, sink


def test_channel_originated_into_dialplan_is_invisible_until_stasis() -> None:
    eng, sched, sink = make()
    eng.book.set("PJSIP/trunk/sip:busy@*", EndpointBehaviour(p_busy=1.0, reject_delay=0.5))
    eng.book.set("PJSIP/trunk/sip:ring@*", EndpointBehaviour(p_answer=0.0))
    eng.originate("PJSIP/trunk/sip:busy@x", context="dialer-amd", extension="s", channel_id="amd-busy")
    eng.originate("PJSIP/trunk/sip:ring@x", context="dialer-amd", extension="s", channel_id="amd-ring",
                  timeout=5.0)
    sched.advance(10.0)
    assert sink.events == []  # busy and no-answer of channels that never entered Stasis: nothing at all
    assert not eng.channels and eng.counters["event:ChannelDestroyed"] == 0
    c = eng.originate("PJSIP/trunk/sip:busy@x", context="dialer-amd", extension="s", channel_id="amd-sub")
    c.subs.add("callcore")  # POST /applications/callcore/subscription?eventSource=channel:amd-sub
    sched.advance(10.0)
    assert sink.types() == ["Dial", "ChannelHangupRequest", "Dial", "ChannelDestroyed"]
    assert sink.of("ChannelDestroyed")[0]["cause"] == 17


def test_dialplan_stasis_channel_is_the_apps_only_while_in_stasis() -> None:
    eng, sched, sink = make()
    cid = eng.inject_call(queue="sales", caller_number="+15550001")
    sched.advance(1.0)
    eng.far_hangup(cid)
    # no STASISSTATUS, no soft hang-up request, no ChannelDestroyed once it has left Stasis
    assert sink.types(varset=True) == ["StasisStart", "ChannelHangupRequest", "StasisEnd"]


def test_requested_id_that_prefixes_a_live_uniqueid_is_taken() -> None:
    eng, _, _ = make()
    cid = eng.inject_call(queue="sales")
    eng.snoop(cid, spy="both", whisper="none", app="callcore", app_args="snoop", snoop_id="sup-a1-1-snoop")
    for requested in ("sup-a1-1", "SUP-A1", "callcore-lab-"):
        with pytest.raises(RestError) as err:
            eng.originate("PJSIP/1001", app="callcore", channel_id=requested)
        assert (err.value.status, err.value.body) == (409, {"message": "Channel with given unique ID already exists"})
    with pytest.raises(RestError) as err:  # other_id too, and on /channels/create
        eng.create("PJSIP/1001", app="callcore", channel_id="fresh", other_id="sup-a1")
    assert err.value.status == 409
    with pytest.raises(RestError) as err:  # the snoop's own allocation fails: Asterisk answers 500
        eng.snoop(cid, spy="both", whisper="none", app="callcore", app_args="", snoop_id="sup-a1")
    assert (err.value.status, err.value.body) == (500, {"message": "Snoop channel could not be created"})
    with pytest.raises(RestError) as err:  # an endpoint that cannot be reached fails first, whatever the id
        eng.originate("PJSIP/nobody", app="callcore", channel_id="sup-a1")
    assert (err.value.status, err.value.body) == (500, {"error": "Allocation failed"})
    with pytest.raises(RestError) as err:
        eng.originate("PJSIP/1001", app="callcore", channel_id="x" * 150)
    assert (err.value.status, err.value.body) == (400, {"message": "Uniqueid length exceeds maximum of 149"})
    # the other way round is free: no live uniqueid begins with the longer id
    assert eng.originate("PJSIP/1001", app="callcore", channel_id="sup-a1-1-snoop-x").id == "sup-a1-1-snoop-x"


def test_snoop_checks_the_request_before_the_channel() -> None:
    eng, _, _ = make()
    with pytest.raises(RestError) as err:
        eng.snoop("no-such", spy="none", whisper="none", app="callcore", app_args="", snoop_id=None)
    assert (err.value.status, err.value.body["message"]) == (
        400, "Direction must be specified for at least spy or whisper")
    with pytest.raises(RestError) as err:
        eng.snoop("no-such", spy="both", whisper="none", app="", app_args="", snoop_id=None)
    assert (err.value.status, err.value.body["message"]) == (400, "Application name is required")
    with pytest.raises(RestError) as err:
        eng.snoop("no-such", spy="both", whisper="none", app="callcore", app_args="", snoop_id=None)
    assert (err.value.status, err.value.reason, err.value.body["message"]) == (
        404, "Channel Not Found", "Provided channel was not found")


def _cancel_while(early: Callable[[Engine, Chan], None] | None) -> Sink:
    """An unanswered caller in Stasis, its channel subscribed, hangs up (CANCEL) after ``early``."""
    eng, sched, sink = make()
    cid = eng.inject_call(queue="sales", caller_number="+15550002")
    c = eng.channels[cid]
    c.subs.add("callcore")
    if early is not None:
        early(eng, c)
    sched.advance(2.0)
    sink.events.clear()
    eng.far_hangup(cid)
    return sink


QOS = ["RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES"]


def test_caller_hanging_up_during_early_media() -> None:
    sink = _cancel_while(lambda eng, c: eng.progress(c))  # MOH / playback / progress before answer
    assert [e.get("variable", e["type"]) for e in sink.events] == [
        *QOS, "ChannelHangupRequest", "StasisEnd", "STASISSTATUS", "ChannelHangupRequest", "ChannelDestroyed"]
    first, soft = sink.of("ChannelHangupRequest")
    strip = ("type", "timestamp", "channel", "asterisk_id", "application")
    assert {k: v for k, v in first.items() if k not in strip} == {"cause": 127, "tech_cause": 487}
    # after StasisEnd the dialplan ends with the PBX's soft hang-up, carrying the SIP cause of the CANCEL
    assert {k: v for k, v in soft.items() if k not in strip} == {"cause": 16, "soft": True, "tech_cause": 487}
    destroyed = sink.of("ChannelDestroyed")[0]
    assert (destroyed["cause"], destroyed["cause_txt"], destroyed["tech_cause"]) == (
        127, "Interworking, unspecified", 487)
    assert destroyed["channel"]["state"] == "Ring"
    assert destroyed["channel"]["dialplan"]["app_name"] == ""  # Stasis() returned: no application
    assert destroyed["channel"]["dialplan"]["app_data"] == ""
    assert sink.of("StasisEnd")[0]["channel"]["dialplan"]["app_name"] == "Stasis"


def test_caller_hanging_up_before_any_media_has_no_rtp_statistics() -> None:
    sink = _cancel_while(None)  # 100 Trying / 180 Ringing only: no SDP answered, no RTP
    assert sink.types(varset=True) == [
        "ChannelHangupRequest", "StasisEnd", "ChannelVarset", "ChannelHangupRequest", "ChannelDestroyed"]


# --- over ARI ---------------------------------------------------------------------------------------

AUTH = {"Authorization": aiohttp.encode_basic_auth("callcore", "callcore-secret")}


async def test_early_media_and_id_rules_over_ari() -> None:
    async with SimAsterisk(seed=3, time_scale=50.0, agents=["1001"]) as sim, \
            aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        got: list[dict[str, Any]] = []

        async def until(kind: str) -> None:
            while not any(e["type"] == kind for e in got):
                msg = await asyncio.wait_for(ws.receive(), 5.0)
                got.append(json.loads(msg.data))

        cid = await sim.inject_call(queue="sales", caller_number="+15550003")
        await until("StasisStart")
        url = f"{sim.ari_url}/ari/channels/{cid}"
        async with http.post(url + "/moh") as r:  # MOH before answer: 183 with SDP, early media
            assert r.status == 204
        async with http.post(sim.ari_url + "/ari/applications/callcore/subscription",
                             params={"eventSource": f"channel:{cid}"}) as r:
            assert r.status == 200 and cid in (await r.json())["channel_ids"]
        async with http.post(url + "/snoop", params={"spy": "both", "app": "callcore",
                                                     "snoopId": cid[:-1]}) as r:
            assert (r.status, await r.json()) == (500, {"message": "Snoop channel could not be created"})
        async with http.post(sim.ari_url + "/ari/channels", params={
                "endpoint": "PJSIP/1001", "app": "callcore", "channelId": cid.upper()[:10]}) as r:
            assert (r.status, await r.json()) == (409, {"message": "Channel with given unique ID already exists"})
        await sim.hangup(cid)
        await until("ChannelDestroyed")
        await ws.close()
    after = [e.get("variable", e["type"]) for e in got if e["type"] != "StasisStart"]
    assert after == [*QOS, "ChannelHangupRequest", "StasisEnd", "STASISSTATUS", "ChannelHangupRequest",
                     "ChannelDestroyed"]
    assert got[-2]["soft"] is True and got[-2]["tech_cause"] == 487


async def test_channel_requests_are_checked_in_asterisks_order() -> None:
    async with SimAsterisk(seed=4, time_scale=50.0, agents=["1001"]) as sim, \
            aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        cid = await sim.inject_call(queue="sales")
        url = f"{sim.ari_url}/ari/channels"

        async def status(method: str, path: str, **query: str) -> tuple[int, str, Any]:
            async with http.request(method, url + path, params=query) as r:
                return r.status, r.reason or "", await r.json()

        # the variable name before the channel (400, not 404)
        assert await status("GET", "/no-such/variable") == (400, "Bad Request",
                                                           {"message": "Variable name is required"})
        assert await status("POST", "/no-such/variable") == (400, "Bad Request",
                                                            {"message": "Variable name is required"})
        assert (await status("POST", "/no-such/variable", variable="X"))[0] == 404
        assert await status("DELETE", f"/{cid}", reason="busy", reason_code="17") == (
            400, "Bad Request", {"message": "The reason and reason_code can't both be specified"})
        assert await status("DELETE", f"/{cid}", reason_code="x") == (
            400, "Invalid Reason Code", {"message": "Invalid reason for hangup reason code provided"})
        assert await status("DELETE", f"/{cid}", reason="nonsense") == (
            400, "Invalid Reason", {"message": "Invalid reason for hangup reason provided"})
        sim.hold_time()  # the dialplan after Stasis hangs the channel up 0.1 s later: not before we looked
        async with http.post(f"{url}/{cid}/continue") as r:
            assert r.status == 204
        for _ in range(100):  # the channel leaves Stasis on its control queue's turn
            if sim.engine.channels[cid].stasis_app is None:
                break
            await asyncio.sleep(0.005)
        # a channel that left Stasis: its variables can be read, not set
        assert (await status("GET", f"/{cid}/variable", variable="STASISSTATUS"))[0] == 200
        assert await status("POST", f"/{cid}/variable", variable="X", value="1") == (
            409, "Conflict", {"message": "Channel not in Stasis application"})
        sim.release_time()
        await ws.close()


def test_channels_are_found_by_uniqueid_or_name_but_controlled_by_uniqueid() -> None:
    eng, _, _ = make()
    cid = eng.inject_call(queue="sales")
    c = eng.channels[cid]
    assert eng.chan(c.name) is c and eng.chan(cid.upper()) is c  # GET /channels/{id}, subscriptions
    assert eng.stasis_chan(cid) is c
    for other in (c.name, cid.upper()):
        with pytest.raises(RestError) as err:  # answer, moh, play...: the Stasis control is keyed by uniqueid
            eng.stasis_chan(other)
        assert (err.value.status, err.value.body) == (409, {"message": "Channel not in Stasis application"})
