"""``SimAsterisk.restart``: while "down" nothing is created; REST is refused or answered 503."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from callcore.ari.client import AriClient
from callcore.errors import AriError
from callcore.sim import SimAsterisk

AUTH = {"Authorization": aiohttp.encode_basic_auth("callcore", "callcore-secret")}


async def test_originate_during_the_restart_window_creates_nothing() -> None:
    async with SimAsterisk(seed=1, agents=["a1"]) as sim, aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        async with AriClient(sim.ari_url, "callcore", "callcore-secret", "callcore", timeout=3.0) as client:
            await client.list_channels()
            for i in range(200):
                await sim.inject_call(queue="sales", caller_number=f"+1555{i:07d}")
            restart = asyncio.create_task(sim.restart(0.3))
            await asyncio.sleep(0.001)
            assert sim.down
            with pytest.raises(AriError) as err:
                await client.originate("PJSIP/a1", channel_id="x", app="callcore")
            assert err.value.status in (0, 503)
            with pytest.raises(AriError):
                await client.list_channels()
            assert "x" not in sim.engine.channels
            await restart
            assert not sim.down
            assert "x" not in sim.engine.channels and sim.engine.channels == {}
            assert await client.list_channels() == []
        await ws.close()


async def test_keepalive_connection_gets_503_and_control_api_refuses_calls() -> None:
    async with SimAsterisk(seed=1) as sim, aiohttp.ClientSession(headers=AUTH) as http:
        ws = await http.ws_connect(sim.ari_url + "/ari/events", params={"app": "callcore"})
        for _ in range(200):
            await sim.inject_call(queue="sales")
        restart = asyncio.create_task(sim.restart(0.3))
        await asyncio.sleep(0.001)
        statuses: list[int] = []
        for _ in range(3):
            try:
                async with http.post(sim.ari_url + "/ari/channels",
                                     params={"endpoint": "PJSIP/trunk", "app": "callcore"}) as r:
                    statuses.append(r.status)
            except aiohttp.ClientConnectionError:
                statuses.append(0)
        assert set(statuses) <= {0, 503} and statuses
        with pytest.raises(Exception, match="503"):
            await sim.inject_call(queue="sales")
        with pytest.raises(Exception, match="503"):
            await sim.inject_agent_login("PJSIP/trunk")
        await restart
        assert sim.engine.channels == {} and sim.list_calls() == []
        async with http.get(sim.ari_url + "/ari/channels") as r:
            assert r.status == 200 and await r.json() == []
        await ws.close()
