"""Helpers of the real-Asterisk suite: settings from the environment, a tiny ARI controller
(REST + event websocket) acting as the Stasis application, and SIPp processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest

from callcore.config import Secret, Settings

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
Event = dict[str, Any]


@dataclass(frozen=True)
class LabConfig:
    ari_url: str
    ari_user: str
    ari_password: str
    ami_host: str
    ami_port: int
    ami_secret: str
    sip: str
    agent_password: str
    did: str
    phone_ip: str = "127.0.0.1"
    trunk_ip: str = "127.0.0.2"
    trunk_port: int = 5090
    agi_port: int = 4573
    app: str = "callcore"

    @classmethod
    def from_env(cls) -> LabConfig:
        env = os.environ
        def get(name: str, default: str = "") -> str:
            return env.get(f"CALLCORE_TEST_{name}", default)

        return cls(get("ARI_URL").rstrip("/"), get("ARI_USER", "callcore"), get("ARI_PASSWORD"),
                   get("AMI_HOST", "127.0.0.1"), int(get("AMI_PORT", "5038")), get("AMI_SECRET"),
                   get("SIP", "127.0.0.1:5060"), get("AGENT_PASSWORD"), get("DID", "5550100"),
                   get("PHONE_IP", "127.0.0.1"), get("TRUNK_IP", "127.0.0.2"), int(get("TRUNK_PORT", "5090")),
                   int(get("AGI_PORT", "4573")))

    def settings(self, **changes: Any) -> Settings:
        base: dict[str, Any] = {
            "ari_url": self.ari_url, "ari_user": self.ari_user, "ari_password": Secret(self.ari_password),
            "ami_enabled": bool(self.ami_secret), "ami_host": self.ami_host, "ami_port": self.ami_port,
            "ami_secret": Secret(self.ami_secret), "agi_host": "127.0.0.1", "agi_port": self.agi_port}
        base.update(changes)
        return Settings().replace(**base)

    def need_ami(self) -> None:
        if not self.ami_secret:
            pytest.skip("set CALLCORE_TEST_AMI_SECRET to run the AMI tests")

    def need_agent(self) -> None:
        if not self.agent_password:
            pytest.skip("set CALLCORE_TEST_AGENT_PASSWORD (agent1001's pjsip.conf password) for agent tests")


class AriRest(Protocol):
    async def rest(self, method: str, path: str, **params: Any) -> tuple[int, Any]: ...


class AriLab:
    """The test's own Stasis application: REST calls and a queue of websocket events."""

    def __init__(self, config: LabConfig, app: str | None = None, subscribe_all: bool = False) -> None:
        """``app``: the application whose events are read (the suite's ``callcore`` by default; an
        observer name with ``subscribe_all`` while a callcore service owns ``callcore``)."""
        self.config = config
        self.app = app or config.app
        self.subscribe_all = subscribe_all
        token = base64.b64encode(f"{config.ari_user}:{config.ari_password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> AriLab:
        self._http = aiohttp.ClientSession(headers=self._headers, timeout=aiohttp.ClientTimeout(total=10))
        url = self.config.ari_url.replace("http", "ws", 1) + "/ari/events"
        self._ws = await self._http.ws_connect(url, params={"app": self.app,
                                                          "subscribeAll": str(self.subscribe_all).lower()})
        self._reader = asyncio.create_task(self._read(), name="real-ari-events")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws:
            await self._ws.close()
        if self._http:
            await self._http.close()

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(msg.json())
                self._changed.set()

    async def wait(self, predicate: Callable[[Event], bool], limit: float = 20.0) -> Event:
        """The first event (seen so far or arriving within ``limit`` seconds) matching ``predicate``."""
        seen = 0
        try:
            async with asyncio.timeout(limit):
                while True:
                    for event in self.events[seen:]:
                        if predicate(event):
                            return event
                    seen = len(self.events)
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            recent = [(e.get("type"), e.get("channel", {}).get("id")) for e in self.events[-12:]]
            raise AssertionError(f"no matching ARI event within {limit} s; last events: {recent}") from None

    async def rest(self, method: str, path: str, **params: Any) -> tuple[int, Any]:
        assert self._http is not None
        query = {k: str(v) for k, v in params.items()}
        async with self._http.request(method, f"{self.config.ari_url}/ari{path}", params=query) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body


def of_type(kind: str, channel_id: str | None = None) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        if event.get("type") != kind:
            return False
        return channel_id is None or event.get("channel", {}).get("id") == channel_id
    return match


async def run_sipp(binary: str, config: LabConfig, *args: str, local_ip: str | None = None,
                   calls: int | None = 1, limit: int = 60) -> asyncio.subprocess.Process:
    """Start SIPp against Asterisk (background, no keyboard), from ``local_ip`` (the trunk address by
    default: callers are the trunk's); ``calls`` ends it after that many calls (None: runs until stopped)."""
    extra = ["-m", str(calls)] if calls is not None else []
    if limit:
        extra += ["-timeout", str(limit)]
    return await asyncio.create_subprocess_exec(
        binary, config.sip, "-i", local_ip or config.trunk_ip, "-nostdin", *extra, *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def stop(proc: asyncio.subprocess.Process) -> int:
    """Stop a SIPp process that may already have exited (a busy or finished scenario)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    return await proc.wait()


async def finish(proc: asyncio.subprocess.Process, limit: float = 60.0) -> int:
    try:
        async with asyncio.timeout(limit):
            return await proc.wait()
    except TimeoutError:
        return await stop(proc)


def scenario(name: str) -> str:
    return str(SCENARIOS / name)


@contextlib.asynccontextmanager
async def phone(binary: str, config: LabConfig, ari: AriRest, endpoint: str, port: int) -> AsyncIterator[None]:
    """An operator's phone for ``endpoint`` (agent1001...) on the phones' address: registered (waits until
    Asterisk shows the endpoint online), answering qualify OPTIONS and every call; unregistered by stopping."""
    config.need_agent()
    proc = await run_sipp(binary, config, "-sf", scenario("phone.xml"), "-oocsf", scenario("phone_calls.xml"),
                          "-s", endpoint, "-au", endpoint, "-ap", config.agent_password, "-p", str(port),
                          local_ip=config.phone_ip, calls=1, limit=0)
    try:
        async with asyncio.timeout(10):
            while True:
                if proc.returncode is not None:
                    err = await proc.stderr.read() if proc.stderr else b""
                    raise AssertionError(f"phone {endpoint} exited ({proc.returncode}): {err[-500:]!r}")
                status, body = await ari.rest("GET", f"/endpoints/PJSIP/{endpoint}")
                if status == 200 and body.get("state") == "online":
                    break
                await asyncio.sleep(0.1)
        yield
    finally:
        await stop(proc)
