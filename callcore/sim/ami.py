"""A simulated AMI server speaking the wire format recorded from Asterisk 22.

``SimAmi(host, port, user, secret)``; ``await sim.start()`` (port 0 picks a free port: ``sim.port``);
control: ``set_registered(endpoint, bool)`` (ContactStatus events), ``emit_event(name, **fields)``,
``send_shutdown()``, ``drop_connections()``, ``go_silent()``/``resume()`` (half-open: nothing is read
or answered, the sockets stay open), ``chunk_size`` (write in tiny chunks to split UTF-8 characters).
``actions`` records every action received, ``logins`` counts successful logins.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcore.agi.names import DIALPLAN_CONTEXTS

VERSION = "11.0.0"
EOL = "\r\n"
EXTENSIONS_CONF = Path(__file__).resolve().parents[2] / "asterisk-config" / "extensions.conf"
_SPECIAL_SECTIONS = {"general", "globals"}


def parse_dialplan(text: str) -> dict[str, list[str]]:
    """Contexts of an ``extensions.conf`` text and their extensions, in file order."""
    contexts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and "]" in line:
            name = line[1:line.index("]")].strip()
            current = None if name in _SPECIAL_SECTIONS else contexts.setdefault(name, [])
            continue
        key, sep, value = line.partition("=>")
        if current is None or not sep or key.strip().lower() != "exten":
            continue
        exten = value.split(",", 1)[0].strip()
        if exten and exten not in current:
            current.append(exten)
    return contexts


def default_dialplan(path: Path | None = None) -> dict[str, list[str]]:
    """The dialplan callcore ships (``asterisk-config/extensions.conf``) when it is readable and has
    contexts, else every context in ``callcore.agi.names.DIALPLAN_CONTEXTS`` with an ``s`` extension."""
    try:
        parsed = parse_dialplan((path or EXTENSIONS_CONF).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        parsed = {}
    return parsed or {context: ["s"] for context in DIALPLAN_CONTEXTS}


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    authed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class SimContact:
    endpoint: str
    uri: str
    registered: bool


@dataclass
class SimAmi:
    host: str = "127.0.0.1"
    port: int = 0
    user: str = "callcore"
    secret: str = "callcore-secret"
    endpoints: list[str] = field(default_factory=lambda: ["agent1001", "agent1002", "agent1003"])
    contexts: dict[str, list[str]] = field(default_factory=default_dialplan)
    channels: list[dict[str, str]] = field(default_factory=list)
    chunk_size: int = 0
    actions: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    silent: bool = False

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._registered: dict[str, bool] = {e: False for e in self.endpoints}

    # --- control -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SimAmi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def drop_connections(self) -> None:
        for conn in list(self._conns):
            conn.writer.transport.abort()
        self._conns.clear()

    def go_silent(self) -> None:
        self.silent = True

    def resume(self) -> None:
        self.silent = False

    def set_registered(self, endpoint: str, registered: bool) -> None:
        if endpoint not in self.endpoints:
            self.endpoints.append(endpoint)
        was = self._registered.get(endpoint, False)
        self._registered[endpoint] = registered
        if was == registered:
            return
        status = "Created" if registered else "Removed"
        self._broadcast(self._event("ContactStatus", [
            ("URI", self._uri(endpoint)), ("ContactStatus", status), ("AOR", endpoint),
            ("EndpointName", endpoint), ("RoundtripUsec", "0"), ("UserAgent", "SIPp")]))

    def emit_event(self, name: str, **fields: str) -> None:
        self._broadcast(self._event(name, list(fields.items())))

    def send_shutdown(self, restart: bool = False) -> None:
        self._broadcast(self._event("Shutdown", [("Shutdown", "Cleanly"),
                                                  ("Restart", "True" if restart else "False")]))

    def received(self, action: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action", "").lower() == action.lower()]

    # --- wire --------------------------------------------------------------------------------------
    def _uri(self, endpoint: str) -> str:
        return f"sip:{endpoint}@127.0.0.1:5070"

    @staticmethod
    def _block(pairs: Iterable[tuple[str, str]]) -> str:
        return "".join(f"{k}: {v}{EOL}" for k, v in pairs) + EOL

    def _event(self, name: str, pairs: list[tuple[str, str]], action_id: str | None = None) -> str:
        head = [("Event", name)]
        if action_id is not None:
            head.append(("ActionID", action_id))
        else:
            head += [("Privilege", "system,all"), ("SystemName", "callcore-lab")]
        return self._block(head + pairs)

    def _broadcast(self, text: str) -> None:
        for conn in list(self._conns):
            if conn.authed:
                self._spawn(self._write(conn, text))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"sim-ami-{next(self._ids)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, conn: _Conn, text: str) -> None:
        if self.silent:
            return
        data = text.encode("utf-8")
        async with conn.lock:
            await self._send(conn, data)

    async def _send(self, conn: _Conn, data: bytes) -> None:
        try:
            if self.chunk_size > 0:
                for i in range(0, len(data), self.chunk_size):
                    conn.writer.write(data[i:i + self.chunk_size])
                    await conn.writer.drain()
                    await asyncio.sleep(0)
            else:
                conn.writer.write(data)
                await conn.writer.drain()
        except (ConnectionError, OSError):
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        self._conns.add(conn)
        try:
            await self._write(conn, f"Asterisk Call Manager/{VERSION}{EOL}")
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                if self.silent:
                    continue  # half-open: the action is lost, nothing answers
                fields: dict[str, str] = {}
                for line in raw.decode("utf-8", "replace").split(EOL):
                    k, sep, v = line.partition(":")
                    if sep:
                        fields.setdefault(k.strip(), v.strip())
                self.actions.append(fields)
                if not await self._handle(conn, fields):
                    return
        finally:
            self._conns.discard(conn)
            writer.close()

    async def _handle(self, conn: _Conn, f: Mapping[str, str]) -> bool:
        action = f.get("Action", "").lower()
        aid = f.get("ActionID", "")
        ok = [("Response", "Success"), ("ActionID", aid)]
        if action == "login":
            if f.get("Username") == self.user and f.get("Secret") == self.secret:
                conn.authed = True
                self.logins += 1
                await self._write(conn, self._block([*ok, ("Message", "Authentication accepted")]))
                await self._write(conn, self._event("FullyBooted", [("Uptime", "1"), ("LastReload", "1"),
                                                                    ("Status", "Fully Booted")]))
                return True
            await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                 ("Message", "Authentication failed")]))
            return False
        if not conn.authed:
            await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                 ("Message", "Permission denied")]))
            return True
        if action == "ping":
            await self._write(conn, self._block([*ok, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]))
        elif action == "logoff":
            await self._write(conn, self._block([("Response", "Goodbye"), ("ActionID", aid),
                                                 ("Message", "Thanks for all the fish.")]))
            return False
        elif action == "pjsipshowcontacts":
            items = [self._event("ContactList", [
                ("ObjectType", "contact"), ("ObjectName", f"{e};@{i}"), ("Uri", self._uri(e)),
                ("Aor", e), ("Endpoint", e), ("Status", "Reachable"), ("RoundtripUsec", "0")], aid)
                for i, e in enumerate(self.endpoints) if self._registered.get(e)]
            if not items:  # Asterisk answers an error, not an empty list (its message ends in a newline)
                await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                     ("Message", "No Contacts found\n")]))
                return True
            await self._list(conn, aid, "A listing of Contacts follows, presented as ContactList events",
                             items, "ContactListComplete")
        elif action == "pjsipshowendpoints" and not self.endpoints:
            await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                 ("Message", "No endpoints found\n")]))
        elif action == "pjsipshowendpoints":
            items = [self._event("EndpointList", [
                ("ObjectType", "endpoint"), ("ObjectName", e), ("Transport", "transport-udp"), ("Aor", e),
                ("Contacts", f"{e}/{self._uri(e)}," if self._registered.get(e) else ""),
                ("DeviceState", "Not in use" if self._registered.get(e) else "Unavailable")], aid)
                for e in self.endpoints]
            await self._list(conn, aid, "A listing of Endpoints follows, presented as EndpointList events",
                             items, "EndpointListComplete")
        elif action == "coreshowchannels":
            items = [self._event("CoreShowChannel", list(c.items()), aid) for c in self.channels]
            await self._list(conn, aid, "Channels will follow", items, "CoreShowChannelsComplete")
        elif action == "showdialplan":
            await self._dialplan(conn, aid, f.get("Context", ""))
        else:
            await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                 ("Message", "Invalid/unknown command")]))
        return True

    async def _list(self, conn: _Conn, aid: str, message: str, items: list[str], complete: str) -> None:
        await self._write(conn, self._block([("Response", "Success"), ("ActionID", aid),
                                             ("EventList", "start"), ("Message", message)]))
        for item in items:
            await self._write(conn, item)
        await self._write(conn, self._event(complete, [("EventList", "Complete"),
                                                       ("ListItems", str(len(items)))], aid))

    async def _dialplan(self, conn: _Conn, aid: str, context: str) -> None:
        wanted = [context] if context else list(self.contexts)
        if context and context not in self.contexts:
            await self._write(conn, self._block([("Response", "Error"), ("ActionID", aid),
                                                 ("Message", f"Did not find context {context}")]))
            return
        items = [self._event("ListDialplan", [("Context", c), ("Extension", x), ("Priority", "1"),
                                              ("Application", "NoOp"), ("AppData", ""),
                                              ("Registrar", "pbx_config")], aid)
                 for c in wanted for x in self.contexts[c]]
        await self._list(conn, aid, "DialPlan list will follow", items, "ShowDialPlanComplete")
