"""FastAGI server over real sockets, against a scripted fake Asterisk client."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest

from callcore.agi import names
from callcore.agi.routing import DidRoute, RouteFacts
from callcore.agi.scripts import AgiScripts
from callcore.agi.server import SESSIONS, AgiServer, Script
from callcore.agi.session import AgiSession
from callcore.agi.store import CallerInfo
from callcore.clock import ManualClock
from callcore.config import Settings
from callcore.errors import StoreError

Reply = Callable[[str], list[str]]


def env_block(script: str, **extra: str) -> bytes:
    values = {"network": "yes", "network_script": script, "request": f"agi://127.0.0.1:4573/{script}",
              "channel": "PJSIP/trunk-00000000", "language": "en", "type": "PJSIP",
              "uniqueid": "callcore-lab-1795917285.4", "version": "GIT-22-69535d4837",
              "callerid": "15551230700", "calleridname": "Caller 15551230700", "dnid": "700",
              "context": "inbound", "extension": "700", "priority": "3"}
    values.update(extra)
    return "".join(f"agi_{k}: {v}\n" for k, v in values.items()).encode() + b"\n"


def ok(cmd: str) -> list[str]:
    return ["200 result=1"]


class FakeAsterisk:
    """Connects like Asterisk does, answers each command with ``reply(cmd)``, records the commands."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.commands: list[str] = []

    async def run(self, head: bytes, reply: Reply = ok, *, chunk: int = 0) -> list[str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        if chunk:
            for i in range(0, len(head), chunk):
                writer.write(head[i:i + chunk])
                await writer.drain()
        else:
            writer.write(head)
        await writer.drain()
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 5)
                if not line:
                    break
                cmd = line.decode("utf-8").rstrip("\n")
                self.commands.append(cmd)
                writer.write("".join(x + "\n" for x in reply(cmd)).encode("utf-8"))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
        return self.commands


class FakeStore:
    def __init__(self) -> None:
        self.facts = RouteFacts(DidRoute("700", "sales", 3))
        self.fail = False
        self.callbacks: list[tuple[str, str]] = []
        self.dnc = {"+12025550143"}

    async def route_facts(self, dids: list[str], callers: list[str], now: dt.datetime) -> RouteFacts:
        if self.fail:
            raise StoreError("database down")
        return self.facts if "700" in dids else RouteFacts()

    async def caller_info(self, callers: list[str]) -> CallerInfo:
        if self.fail:
            raise StoreError("database down")
        return CallerInfo("José Müller", 4, dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC), 2, True)

    async def is_dnc(self, phone_e164: str) -> bool:
        if self.fail:
            raise StoreError("database down")
        return phone_e164 in self.dnc

    async def add_callback(self, number: str, queue: str, due_at: dt.datetime, note: str) -> bool:
        if self.fail:
            raise StoreError("database down")
        dup = (number, queue) in self.callbacks
        self.callbacks.append((number, queue))
        return not dup


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def settings(**kw: object) -> Settings:
    base: dict[str, object] = {"agi_host": "127.0.0.1", "agi_port": 0, "agi_session_timeout": 2.0}
    base.update(kw)
    return Settings().replace(**base)


def sets(commands: list[str]) -> dict[str, str]:
    out = {}
    for c in commands:
        if c.startswith("SET VARIABLE "):
            name, _, value = c[len("SET VARIABLE "):].partition(" ")
            out[name] = value.strip('"')
    return out


def count(script: str, result: str) -> float:
    return SESSIONS.labels(script=script, result=result)._value.get()  # type: ignore[no-any-return]


async def test_route_sets_queue_priority_reason(store: FakeStore) -> None:
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        before = count("route", "ok")
        cmds = await FakeAsterisk(srv.port).run(env_block("route"))
    assert sets(cmds) == {"CALLCORE_QUEUE": "sales", "CALLCORE_PRIORITY": "3", "CALLCORE_ROUTE_REASON": "did"}
    assert count("route", "ok") == before + 1


async def test_route_with_database_down_sets_error_reason(store: FakeStore) -> None:
    store.fail = True
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        cmds = await FakeAsterisk(srv.port).run(env_block("/route"))
    assert sets(cmds)[names.VAR_ROUTE_REASON] == "error"
    assert sets(cmds)[names.VAR_QUEUE] == names.DEFAULT_QUEUE


async def test_lookup_utf8_name_and_split_header(store: FakeStore) -> None:
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        head = env_block("lookup", calleridname="Zoë Ærø")
        cmds = await FakeAsterisk(srv.port).run(head, chunk=3)
    v = sets(cmds)
    assert v["CALLCORE_CALLER_NAME"] == "José Müller"
    assert v["CALLCORE_OPEN_TICKETS"] == "2" and v["CALLCORE_CALL_COUNT"] == "4" and v["CALLCORE_VIP"] == "1"
    assert v["CALLCORE_LAST_CALL"] == "2026-11-01T10:00:00+00:00"


async def test_dnc_check(store: FakeStore) -> None:
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        listed = sets(await FakeAsterisk(srv.port).run(env_block("dnc-check", arg_1="2025550143")))
        clear = sets(await FakeAsterisk(srv.port).run(env_block("dnc-check", arg_1="+12025550199")))
        bad = sets(await FakeAsterisk(srv.port).run(env_block("dnc-check", arg_1="12")))
        store.fail = True
        err = sets(await FakeAsterisk(srv.port).run(env_block("dnc-check", arg_1="+12025550199")))
    assert listed == {"CALLCORE_DNC": "1", "CALLCORE_DNC_REASON": "listed"}
    assert clear == {"CALLCORE_DNC": "0", "CALLCORE_DNC_REASON": "clear"}
    assert bad["CALLCORE_DNC"] == "1" and err == {"CALLCORE_DNC": "1", "CALLCORE_DNC_REASON": "error"}


async def test_callback_reads_queue_variable_and_detects_duplicates(store: FakeStore) -> None:
    def reply(cmd: str) -> list[str]:
        return ["200 result=1 (support)"] if cmd.startswith("GET VARIABLE") else ["200 result=1"]

    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        first = sets(await FakeAsterisk(srv.port).run(env_block("callback", callerid="+12025550143"), reply))
        second = sets(await FakeAsterisk(srv.port).run(env_block("callback", callerid="+12025550143"), reply))
    assert store.callbacks[0] == ("+12025550143", "support")
    assert first["CALLCORE_CALLBACK_REASON"] == "queued" and second["CALLCORE_CALLBACK_REASON"] == "duplicate"


async def test_connect_and_close_and_garbage_do_not_hurt(store: FakeStore) -> None:
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        garbage = (b"", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"agi_network: yes\n", b"\xff\xfe\x00\n\n")
        for payload in garbage:
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            w.write(payload)
            await w.drain()
            w.write_eof()
            assert await asyncio.wait_for(r.read(), 5) == b""
            w.close()
        cmds = await FakeAsterisk(srv.port).run(env_block("route"))
        assert sets(cmds)["CALLCORE_QUEUE"] == "sales"
        assert srv.active == 0


async def test_endless_header_and_long_line_are_cut(store: FakeStore) -> None:
    async with AgiServer(settings(), AgiScripts(store, ManualClock()).scripts()) as srv:
        before = count("none", "protocol_error")
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"".join(b"agi_x%d: y\n" % i for i in range(1000)))
        assert await asyncio.wait_for(r.read(), 5) == b""
        w.close()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"agi_network_script: " + b"a" * 100_000)
        await w.drain()
        assert await asyncio.wait_for(r.read(), 5) == b""
        w.close()
        assert count("none", "protocol_error") == before + 2


async def test_silent_client_and_missing_blank_line_time_out(store: FakeStore) -> None:
    scripts = AgiScripts(store, ManualClock()).scripts()
    async with AgiServer(settings(agi_session_timeout=0.3), scripts) as srv:
        before = count("none", "timeout")
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(env_block("route")[:-1])  # no terminating blank line
        assert await asyncio.wait_for(r.read(), 5) == b""
        w.close()
        # Header complete, then no reply to the first command: error variables are attempted, then close.
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(env_block("route"))
        data = await asyncio.wait_for(r.read(), 5)
        w.close()
        assert data.startswith(b"SET VARIABLE CALLCORE_QUEUE")
        assert count("none", "timeout") == before + 1


async def test_hangup_mid_command_and_multiline_replies(store: FakeStore) -> None:
    seen: list[object] = []

    async def script(session: AgiSession) -> None:
        seen.append((await session.command("SET VARIABLE")).code)
        seen.append(await session.get_variable("CALLERID(num)"))
        seen.append(session.hung_up)
        await session.verbose("after hangup")

    replies = iter([
        ["520-Invalid command syntax.  Proper usage follows:", "Sets a variable to the current channel.",
         "520 End of proper usage."],
        ["HANGUP", "200 result=1 (15551230701)"],
    ])
    async with AgiServer(settings(), [Script("hangup-test", script)]) as srv:
        before = count("hangup-test", "hangup")
        cmds = await FakeAsterisk(srv.port).run(env_block("hangup-test"), lambda c: next(replies))
    assert seen == [520, "15551230701", True]
    assert cmds == ["SET VARIABLE", "GET VARIABLE CALLERID(num)"]
    assert count("hangup-test", "hangup") == before + 1


async def test_failing_script_sets_error_vars_and_server_survives(store: FakeStore) -> None:
    async def boom(session: AgiSession) -> None:
        raise RuntimeError("bug")

    async with AgiServer(settings(), [Script("boom", boom, {"CALLCORE_ROUTE_REASON": "error"}),
                                      *AgiScripts(store, ManualClock()).scripts()]) as srv:
        cmds = await FakeAsterisk(srv.port).run(env_block("boom"))
        assert cmds == ['SET VARIABLE CALLCORE_ROUTE_REASON "error"']
        unknown = await FakeAsterisk(srv.port).run(env_block("nope"))
        assert unknown == []
        assert sets(await FakeAsterisk(srv.port).run(env_block("route")))["CALLCORE_QUEUE"] == "sales"


async def test_crlf_in_caller_name_never_reaches_a_command(store: FakeStore) -> None:
    async def echo(session: AgiSession) -> None:
        await session.set_variable("CALLCORE_CALLER_NAME", session.env.caller_name + "\r\nHANGUP")

    async with AgiServer(settings(), [Script("echo", echo)]) as srv:
        cmds = await FakeAsterisk(srv.port).run(env_block("echo", calleridname='Eve "x"\r'))
    assert cmds == ['SET VARIABLE CALLCORE_CALLER_NAME "Eve \\"x\\"  HANGUP"']


async def test_session_cap(store: FakeStore) -> None:
    gate = asyncio.Event()
    entered: asyncio.Queue[None] = asyncio.Queue()

    async def hold(session: AgiSession) -> None:
        entered.put_nowait(None)
        await gate.wait()
        await session.set_variable("DONE", "1")

    async with AgiServer(settings(agi_max_sessions=2), [Script("hold", hold)]) as srv:
        before = count("none", "rejected")
        held = [asyncio.create_task(FakeAsterisk(srv.port).run(env_block("hold"))) for _ in range(2)]
        for _ in range(2):
            await asyncio.wait_for(entered.get(), 5)
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(env_block("hold"))
        try:
            assert await asyncio.wait_for(r.read(), 5) == b""
        except ConnectionResetError:
            pass  # closed with our header unread: a reset is as good as a close
        w.close()
        assert count("none", "rejected") == before + 1
        gate.set()
        assert [await t for t in held] == [['SET VARIABLE DONE "1"']] * 2
