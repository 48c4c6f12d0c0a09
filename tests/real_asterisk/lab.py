"""Helpers of the real-Asterisk suite: settings from the environment, a tiny ARI controller
(REST + event websocket) acting as the Stasis application, and SIPp processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import tempfile
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
            # Asterisk unregisters an application when the websocket that registered it closes; a new
            # websocket of the same application racing with that close can lose its registration
            # ("Stasis app ... doesn't exist" on the next call): wait until Asterisk has let it go.
            with contextlib.suppress(aiohttp.ClientError):
                for _ in range(40):
                    if (await self.rest("GET", f"/applications/{self.app}"))[0] != 200:
                        break
                    await asyncio.sleep(0.05)
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


SIPP_LOGS = Path(os.environ.get("CALLCORE_TEST_SIPP_LOGS") or Path(tempfile.gettempdir()) / "callcore-sipp")
_error_files: dict[int, Path] = {}


def _new_error_file() -> Path:
    SIPP_LOGS.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="sipp-", suffix=".err", dir=SIPP_LOGS)
    os.close(fd)
    return Path(name)


async def clean_asterisk(ari: AriRest, limit: float = 5.0) -> None:
    """Hang up every channel and destroy every bridge an earlier test (or a killed SIPp) left behind."""
    for _ in range(int(limit / 0.1)):
        chans = (await ari.rest("GET", "/channels"))[1] or []
        bridges = (await ari.rest("GET", "/bridges"))[1] or []
        if not chans and not bridges:
            return
        for c in chans:
            await ari.rest("DELETE", f"/channels/{c['id']}")
        for b in bridges:
            await ari.rest("DELETE", f"/bridges/{b['id']}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"Asterisk still has channels {chans} / bridges {bridges} after cleaning")


async def run_sipp(binary: str, config: LabConfig, *args: str, local_ip: str | None = None,
                   calls: int | None = 1, limit: int = 60) -> asyncio.subprocess.Process:
    """Start SIPp against Asterisk (background, no keyboard), from ``local_ip`` (the trunk address by
    default: callers are the trunk's); ``calls`` ends it after that many calls (None: runs until stopped).
    ``-aa``: an UPDATE, OPTIONS, INFO or NOTIFY that arrives while the scenario is between two steps is
    answered 200 as a phone does, not taken for an unexpected message. Its errors go to a file under
    SIPP_LOGS, which ``sipp_errors`` reads."""
    extra = ["-m", str(calls)] if calls is not None else []
    if limit:
        extra += ["-timeout", str(limit)]
    error_file = _new_error_file()
    proc = await asyncio.create_subprocess_exec(
        binary, config.sip, "-i", local_ip or config.trunk_ip, "-nostdin", "-aa", *extra, *args,
        "-trace_err", "-error_file", str(error_file),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _error_files[proc.pid] = error_file
    return proc


def sipp_errors(proc: asyncio.subprocess.Process) -> str:
    """The last lines SIPp wrote to its error file (why a call of the scenario failed)."""
    path = _error_files.get(proc.pid)
    if path is None or not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    entries = re.split(r"(?=\d{4}-\d\d-\d\d\t)", text)  # SIPp does not always end an entry with a newline
    wanted = [e.strip() for e in entries if e.strip() and "receive timeout on message" not in e
              and "out-of-call" not in e and not e.startswith("The following events")]
    return " | ".join(wanted[-3:])[-1500:]


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


async def succeeded(proc: asyncio.subprocess.Process, what: str, limit: float = 60.0) -> None:
    """Wait for a SIPp scenario to end; fails with SIPp's own reason unless every call of it passed."""
    rc = await finish(proc, limit)
    assert rc == 0, f"{what}: SIPp exited with {rc}: {sipp_errors(proc) or 'no error logged'}"


def scenario(name: str) -> str:
    return str(SCENARIOS / name)


async def unregister(binary: str, config: LabConfig, endpoint: str, port: int) -> None:
    """Remove the phone's binding (REGISTER with Expires: 0 from its address), as a phone switched off
    does: a binding left by a stopped phone stays Unreachable, and a new registration of the same
    contact is not qualified again before the next qualify interval."""
    proc = await run_sipp(binary, config, "-sf", scenario("phone.xml"), "-set", "expires", "0", "-s", endpoint,
                          "-au", endpoint, "-ap", config.agent_password, "-p", str(port),
                          local_ip=config.phone_ip, calls=1, limit=10)
    await succeeded(proc, f"unregistering {endpoint}", 15)


@contextlib.asynccontextmanager
async def phone(binary: str, config: LabConfig, ari: AriRest, endpoint: str, port: int) -> AsyncIterator[None]:
    """An operator's phone for ``endpoint`` (agent1001...) on the phones' address: registered (waits until
    Asterisk shows the endpoint online), answering qualify OPTIONS and every call; unregistered at the end."""
    config.need_agent()
    await unregister(binary, config, endpoint, port)
    proc = await run_sipp(binary, config, "-sf", scenario("phone.xml"), "-oocsf", scenario("phone_calls.xml"),
                          "-set", "expires", "300", "-s", endpoint, "-au", endpoint, "-ap", config.agent_password,
                          "-p", str(port), local_ip=config.phone_ip, calls=1, limit=0)
    try:
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
        except TimeoutError:
            raise AssertionError(f"phone {endpoint} not online within 10 s (registered and qualified)") from None
        yield
    finally:
        await stop(proc)
        await unregister(binary, config, endpoint, port)
