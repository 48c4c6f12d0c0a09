"""One FastAGI session over an asyncio stream: read the environment, send commands, read replies."""

from __future__ import annotations

import asyncio

from callcore.agi.protocol import (
    MAX_ENV_LINES,
    MAX_REPLY_LINES,
    AgiEnv,
    AgiReply,
    build_env,
    decode_line,
    encode_command,
    get_variable_command,
    parse_env_line,
    parse_reply,
    parse_status_line,
    set_variable_command,
    verbose_command,
)
from callcore.errors import AgiError, AgiHangup


class AgiTimeout(AgiError):
    """Asterisk did not send the expected data in time."""


class AgiProtocolError(AgiError):
    """Asterisk (or whatever connected) sent something that is not FastAGI."""


class LineReader:
    """Bounded line reads with a per-read timeout; every failure becomes an AgiError subclass."""

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self._reader = reader
        self.timeout = timeout

    async def readline(self) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise AgiHangup("connection closed by Asterisk") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiProtocolError("line longer than the line limit") from exc
        except TimeoutError as exc:
            raise AgiTimeout(f"no data from Asterisk within {self.timeout:g} s") from exc
        except (ConnectionError, OSError) as exc:
            raise AgiHangup(f"connection lost: {exc}") from exc
        return decode_line(raw)


async def read_env(lines: LineReader) -> AgiEnv:
    """The ``agi_*`` block up to its empty line (bounded in lines and line length)."""
    pairs: list[tuple[str, str]] = []
    for _ in range(MAX_ENV_LINES):
        line = await lines.readline()
        if line == "":
            if not pairs:
                raise AgiProtocolError("empty AGI environment")
            return build_env(pairs)
        pair = parse_env_line(line)
        if pair is None:
            raise AgiProtocolError(f"not an AGI environment line: {line[:60]!r}")
        pairs.append(pair)
    raise AgiProtocolError(f"AGI environment longer than {MAX_ENV_LINES} lines")


class AgiSession:
    """Commands on one channel. Raises AgiHangup once the channel is known to be gone."""

    def __init__(self, env: AgiEnv, lines: LineReader, writer: asyncio.StreamWriter) -> None:
        self.env = env
        self._lines = lines
        self._writer = writer
        self.hung_up = False
        self.commands_sent = 0

    async def command(self, command: str) -> AgiReply:
        if self.hung_up:
            raise AgiHangup("channel hung up")
        data = encode_command(command)
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise AgiHangup(f"connection lost: {exc}") from exc
        self.commands_sent += 1
        reply = await self._read_reply()
        if reply.dead_channel:
            self.hung_up = True
        return reply

    async def _read_reply(self) -> AgiReply:
        line = await self._lines.readline()
        while line.strip() in ("HANGUP", ""):
            if line.strip() == "HANGUP":
                self.hung_up = True
            line = await self._lines.readline()
        try:
            code, last, _ = parse_status_line(line)
        except AgiError as exc:
            raise AgiProtocolError(str(exc)) from exc
        collected = [line]
        while not last:
            if len(collected) >= MAX_REPLY_LINES:
                raise AgiProtocolError(f"{code} multi-line reply longer than {MAX_REPLY_LINES} lines")
            nxt = await self._lines.readline()
            collected.append(nxt)
            last = nxt.startswith(f"{code} ")
        try:
            return parse_reply(collected)
        except AgiError as exc:
            raise AgiProtocolError(str(exc)) from exc

    async def set_variable(self, name: str, value: str | int) -> AgiReply:
        return await self.command(set_variable_command(name, str(value)))

    async def set_variables(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            await self.set_variable(name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command(get_variable_command(name))
        if reply.ok and reply.result == 1:
            return reply.data if reply.data is not None else ""
        return None

    async def verbose(self, message: str, level: int = 1) -> AgiReply:
        return await self.command(verbose_command(message, level))
