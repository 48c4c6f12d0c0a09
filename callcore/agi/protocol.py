"""FastAGI wire format, pure: the environment block, command replies, and safe command building.

Asterisk opens the session with ``agi_<name>: <value>`` lines ended by an empty line, then answers every
command with one line (``200 result=1 (value)``, ``510 Invalid or unknown command``, ``511 Command Not
Permitted on a dead channel ...``) or, for a usage error, several (``520-Invalid command syntax ...``
... ``520 End of proper usage.``). When the caller hangs up, a lone ``HANGUP`` line can arrive before
any reply. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from callcore.errors import AgiError

MAX_LINE = 8192
MAX_ENV_LINES = 128
MAX_REPLY_LINES = 64

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_,.\-]*\))?$")
_REPLY = re.compile(r"^(\d{3})([ -])(.*)$")
_RESULT = re.compile(r"^result=(-?\d+)(?:\s+\((.*)\))?(?:\s+(.*))?$")


def decode_line(raw: bytes) -> str:
    """One wire line as text: UTF-8 (undecodable bytes replaced), without its line ending."""
    return raw.decode("utf-8", "replace").rstrip("\r\n")


@dataclass(frozen=True, slots=True)
class AgiEnv:
    """The ``agi_*`` block of one session (keys without the ``agi_`` prefix)."""

    values: Mapping[str, str]
    args: tuple[str, ...] = ()
    script: str = ""
    params: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    @property
    def caller_number(self) -> str:
        value = self.get("callerid")
        return "" if value in ("unknown", "") else value

    @property
    def caller_name(self) -> str:
        value = self.get("calleridname")
        return "" if value == "unknown" else value

    @property
    def dialled(self) -> str:
        """The dialled number: the DNID when Asterisk knows it, else the extension."""
        dnid = self.get("dnid")
        return dnid if dnid not in ("", "unknown") else self.get("extension")

    def arg(self, index: int, default: str = "") -> str:
        """1-based AGI argument (``agi_arg_<index>``)."""
        return self.args[index - 1] if 0 < index <= len(self.args) and self.args[index - 1] else default


def parse_env_line(line: str) -> tuple[str, str] | None:
    """``agi_key: value`` -> (key without prefix, value); None for anything that is not an agi_ line."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key.startswith("agi_") or len(key) <= 4:
        return None
    return key[4:], value[1:] if value.startswith(" ") else value


def split_script(network_script: str) -> tuple[str, dict[str, str]]:
    """``/route?x=1`` or ``route`` -> ("route", {"x": "1"}): lower-case path without slashes, query."""
    path, _, query = network_script.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return path.strip().strip("/").lower(), params


def build_env(pairs: Iterable[tuple[str, str]]) -> AgiEnv:
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key, value)
    args: list[str] = []
    n = 1
    while f"arg_{n}" in values:
        args.append(values[f"arg_{n}"])
        n += 1
    script, params = split_script(values.get("network_script", ""))
    return AgiEnv(values=values, args=tuple(args), script=script, params=params)


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: int | None = None
    data: str | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def dead_channel(self) -> bool:
        return self.code == 511


def parse_status_line(line: str) -> tuple[int, bool, str]:
    """(code, is_last, rest) of a reply line; AgiError when it is not a reply line."""
    m = _REPLY.match(line)
    if not m:
        raise AgiError(f"unexpected AGI reply line {line[:80]!r}")
    return int(m.group(1)), m.group(2) == " ", m.group(3)


def parse_reply(lines: list[str]) -> AgiReply:
    """Build a reply from its lines: one line, or a ``NNN-`` first line ... ``NNN `` last line."""
    if not lines:
        raise AgiError("empty AGI reply")
    code, last, rest = parse_status_line(lines[0])
    if not last:
        final = parse_status_line(lines[-1])
        if final[0] != code or not final[1]:
            raise AgiError(f"unterminated {code} multi-line AGI reply")
        return AgiReply(code=code, text="\n".join([rest, *lines[1:-1], final[2]]))
    if code == 200:
        m = _RESULT.match(rest)
        if m:
            return AgiReply(code=200, result=int(m.group(1)), data=m.group(2), text=rest)
    return AgiReply(code=code, text=rest)


def clean_value(value: str) -> str:
    """A value safe for one command line: CR, LF and other control characters become spaces."""
    return "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in value)


def quote(value: str) -> str:
    """Quote an argument for the AGI argument parser (backslash escapes, no line breaks)."""
    escaped = clean_value(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def check_var_name(name: str) -> str:
    if not _VAR_NAME.match(name):
        raise AgiError(f"bad channel variable name {name[:40]!r}")
    return name


def set_variable_command(name: str, value: str) -> str:
    return f"SET VARIABLE {check_var_name(name)} {quote(value)}"


def get_variable_command(name: str) -> str:
    return f"GET VARIABLE {check_var_name(name)}"


def verbose_command(message: str, level: int = 1) -> str:
    return f"VERBOSE {quote(message)} {max(1, min(4, level))}"


def encode_command(command: str) -> bytes:
    """One command as wire bytes; AgiError when it would span lines or is too long."""
    if "\n" in command or "\r" in command:
        raise AgiError("an AGI command must not contain CR or LF")
    data = command.encode("utf-8") + b"\n"
    if len(data) > MAX_LINE:
        raise AgiError(f"AGI command longer than {MAX_LINE} bytes")
    return data
