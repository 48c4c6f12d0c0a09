"""The simulated Asterisk over real HTTP and websockets: auth, handshake errors, control API, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from callcore.sim import EndpointBehaviour, SimAsterisk

AUTH = {"Authorization": aiohttp.encode_basic_auth("callcore", "callcore-secret")}


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(seed=3, time_scale=50.0, agents=["1001"]) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        msg = await asyncio.wait_for(ws.receive(), 5.0)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        event: dict[str, Any] = json.loads(msg.data)
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind}")


async def test_auth_basic_api_key_and_401(sim: SimAsterisk) -> None:
    async with aiohttp.ClientSession() as anon:
        async with anon.get(sim.ari_url + "/ari/channels") as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="Asterisk REST Interface"'
            assert await r.json() == {"message": "Authentication required"}
        async with anon.get(sim.ari_url + "/ari/channels", params={"api_key": "callcore:wrong"}) as r:
            assert r.status == 401
        async with anon.get(sim.ari_url + "/ari/channels", params={"api_key": "callcore:callcore-secret"}) as r:
            assert r.status == 200 and await r.json() == []


async def test_websocket_needs_app(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(sim.ari_url + "/ari/events")
    assert err.value.status == 400
    async with aiohttp.ClientSession() as anon:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await anon.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        assert err.value.status == 401


async def test_control_api_injects_a_call_and_counts(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    async with http.post(sim.ari_url + "/_sim/calls", json={"queue": "sales", "caller_number": "+15550001",
                                                             "priority": 2}) as r:
        assert r.status == 201
        cid = (await r.json())["channel_id"]
    start = await next_event(ws, "StasisStart")
    assert start["channel"]["id"] == cid and start["args"] == ["inbound", "sales", "2"]
    assert start["application"] == "callcore" and start["timestamp"].endswith("+0000")
    async with http.post(f"{sim.ari_url}/_sim/calls/{cid}/dtmf", json={"digits": "12"}) as r:
        assert r.status == 204
    dtmf = await next_event(ws, "ChannelDtmfReceived")
    assert (dtmf["digit"], dtmf["duration_ms"]) == ("1", 100)
    async with http.delete(f"{sim.ari_url}/_sim/calls/{cid}") as r:
        assert r.status == 204
    req = await next_event(ws, "ChannelHangupRequest")
    assert req["cause"] == 127
    async with http.get(sim.ari_url + "/_sim/counters") as r:
        counters = await r.json()
    assert counters["calls_injected"] == 1 and counters["calls_abandoned"] == 1
    assert counters["rest:GET /ari/events"] == 1 and counters["event:StasisStart"] == 1
    async with http.get(sim.ari_url + "/_sim/calls") as r:
        calls = await r.json()
    assert calls[0]["state"] == "ended" and calls[0]["queue"] == "sales" and calls[0]["abandoned"]
    await ws.close()


async def test_endpoint_behaviour_via_control_api(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    async with http.put(sim.ari_url + "/_sim/endpoints/PJSIP/1001", json={"p_busy": 1.0}) as r:
        assert r.status == 204
    async with http.put(sim.ari_url + "/_sim/endpoints/PJSIP/1001", json={"p_bogus": 1}) as r:
        assert r.status == 400
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    async with http.post(sim.ari_url + "/ari/channels",
                         params={"endpoint": "PJSIP/1001", "app": "callcore", "channelId": "a1"}) as r:
        assert r.status == 200 and (await r.json())["state"] == "Down"
    destroyed = await next_event(ws, "ChannelDestroyed")
    assert (destroyed["cause"], destroyed["cause_txt"]) == (17, "User busy")
    await ws.close()


async def test_drop_websockets_gives_1006_and_app_survives_with_channels(
    sim: SimAsterisk, http: aiohttp.ClientSession
) -> None:
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    await sim.inject_call(queue="sales")
    await next_event(ws, "StasisStart")
    await sim.drop_websockets()
    msg = await asyncio.wait_for(ws.receive(), 5.0)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    assert ws.close_code == 1006
    async with http.get(sim.ari_url + "/ari/applications/callcore") as r:
        assert r.status == 200 and len((await r.json())["channel_ids"]) == 1


async def test_second_socket_replaces_the_first(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    first = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    second = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore,other"})
    replaced = await next_event(first, "ApplicationReplaced")
    assert replaced["application"] == "callcore"
    await sim.inject_call(queue="sales")
    await next_event(second, "StasisStart")
    assert not first.closed
    async with http.get(sim.ari_url + "/ari/applications") as r:
        assert [a["name"] for a in await r.json()] == ["callcore", "other"]
    await first.close()
    await second.close()


async def test_event_filter_really_filters(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    async with http.put(sim.ari_url + "/ari/applications/callcore/eventFilter",
                        json={"disallowed": [{"type": "StasisStart"}]}) as r:
        assert r.status == 200 and (await r.json())["events_disallowed"] == [{"type": "StasisStart"}]
    cid = await sim.inject_call(queue="sales")
    async with http.post(f"{sim.ari_url}/ari/channels/{cid}/answer") as r:
        assert r.status == 204
    first = json.loads((await asyncio.wait_for(ws.receive(), 5.0)).data)
    assert first["type"] == "ChannelStateChange"
    await ws.close()


async def test_rest_faults_and_restart(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    sim.add_rest_fault("/ari/channels", status=503, count=1)
    async with http.get(sim.ari_url + "/ari/channels") as r:
        assert r.status == 503
    async with http.get(sim.ari_url + "/ari/channels") as r:
        assert r.status == 200
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    await sim.inject_call(queue="sales", answered=True)
    await next_event(ws, "StasisStart")
    restart = asyncio.create_task(sim.restart(down_for=0.5))
    req = await next_event(ws, "ChannelHangupRequest")
    assert (req["cause"], req["soft"]) == (4, True)
    await next_event(ws, "StasisEnd")
    msg = await asyncio.wait_for(ws.receive(), 5.0)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR) and ws.close_code == 1006
    await asyncio.sleep(0.1)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession(headers=AUTH) as fresh:
            await fresh.get(sim.ari_url + "/ari/asterisk/info")
    await restart
    async with aiohttp.ClientSession(headers=AUTH) as fresh:
        async with fresh.get(sim.ari_url + "/ari/channels") as r:
            assert r.status == 200 and await r.json() == []
    assert sim.counters["restarts"] == 1


async def test_arrivals_bring_calls(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(p_answer=1.0))
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    sim.start_arrivals(rate_per_s=5.0, queues=["sales", "support"], patience=1.0, talk_time=None)
    first = await next_event(ws, "StasisStart")
    assert first["args"][1] in ("sales", "support")
    await sim.stop_arrivals()
    assert sim.counters["calls_injected"] >= 1
    await ws.close()


async def test_stored_recording_file_is_wav(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    cid = await sim.inject_call(queue="sales", answered=True)
    await next_event(ws, "StasisStart")
    async with http.post(f"{sim.ari_url}/ari/channels/{cid}/record", params={"name": "r1", "format": "wav"}) as r:
        assert r.status == 201 and (await r.json())["state"] == "queued"
    await next_event(ws, "RecordingStarted")
    async with http.post(sim.ari_url + "/ari/recordings/live/r1/stop") as r:
        assert r.status == 204
    finished = await next_event(ws, "RecordingFinished")
    assert finished["recording"]["state"] == "done" and "duration" in finished["recording"]
    async with http.get(sim.ari_url + "/ari/recordings/stored/r1/file") as r:
        assert r.status == 200 and r.content_type == "audio/wav"
        assert (await r.read())[:4] == b"RIFF"
    await ws.close()


async def test_channel_commands_wait_behind_a_playback(sim: SimAsterisk, http: aiohttp.ClientSession) -> None:
    ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
    cid = await sim.inject_call(queue="sales", answered=True)
    await next_event(ws, "StasisStart")
    async with http.post(f"{sim.ari_url}/ari/channels/{cid}/play", params={"media": "sound:tt-monkeys"}) as r:
        assert r.status == 201
    async with http.post(f"{sim.ari_url}/ari/channels/{cid}/variable", params={"variable": "X", "value": "1"}) as r:
        assert r.status == 204
    kinds = []
    for _ in range(4):
        event = json.loads((await asyncio.wait_for(ws.receive(), 5.0)).data)
        kinds.append(event["type"])
        if event["type"] == "ChannelVarset":
            break
    assert kinds == ["PlaybackStarted", "PlaybackFinished", "ChannelVarset"]
    await ws.close()
