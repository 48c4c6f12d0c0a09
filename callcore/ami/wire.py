"""AMI wire format: CRLF header blocks ended by an empty line, after a one-line banner.

``FrameDecoder`` decodes UTF-8 incrementally, so a character split across TCP chunks survives, and keeps
the partial block between chunks. ``encode_action`` refuses CR or LF in any header name or value (an
embedded line break would inject headers or a whole second action).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping, Sequence

from panoramisk.message import Message

from callcore.errors import AmiError

EOL = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
MAX_BUFFER = 1 << 20

HeaderValue = str | int | Sequence[str]


class AmiProtocolError(AmiError):
    """The peer does not speak AMI (no banner, an oversized block)."""


def check_header(name: str, value: str) -> None:
    if not name or any(c in name for c in "\r\n:") or name != name.strip():
        raise AmiError(f"bad AMI header name {name[:40]!r}")
    if "\r" in value or "\n" in value:
        raise AmiError(f"AMI header {name!r} contains CR or LF (refused: it would inject headers)")


def encode_action(fields: Iterable[tuple[str, HeaderValue]]) -> bytes:
    """One action as wire bytes. A sequence value repeats the header (``Variable: a=1``, ``Variable: b=2``).
    AmiError naming the header when a name or value holds CR or LF."""
    lines: list[str] = []
    for name, value in fields:
        values = [value] if isinstance(value, str | int) else list(value)
        for v in values:
            text = str(v)
            check_header(name, text)
            lines.append(f"{name}: {text}")
    return (EOL.join(lines) + EOL + EOL).encode("utf-8")


def parse_block(block: str) -> Message | None:
    """A header block as a panoramisk Message (repeated headers become lists); None if it is neither
    a Response nor an Event."""
    headers: dict[str, str | list[str]] = {}
    for line in block.split(EOL):
        line = line.rstrip("\r\n")
        name, sep, value = line.partition(":")
        if not sep or not name:
            continue
        value = value[1:] if value.startswith(" ") else value
        if name in headers:
            prev = headers[name]
            headers[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            headers[name] = value
    if "Response" not in headers and "Event" not in headers:
        return None
    return Message(headers)


def fields_of(message: Mapping[str, object]) -> dict[str, str]:
    """A plain dict of a message (lists joined by newlines), for logs and callbacks."""
    return {k: "\n".join(v) if isinstance(v, list) else str(v) for k, v in message.items()}


class FrameDecoder:
    """Feed bytes, get banner and messages. UTF-8 split across chunks is decoded correctly."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += self._decoder.decode(data)
        if self.banner is None:
            line, sep, rest = self._buffer.partition(EOL)
            if not sep:
                if len(self._buffer) > 256:
                    raise AmiProtocolError("no AMI banner")
                return []
            if not line.startswith(BANNER_PREFIX):
                raise AmiProtocolError(f"not an AMI banner: {line[:60]!r}")
            self.banner = line[len(BANNER_PREFIX):].strip()
            self._buffer = rest
        out: list[Message] = []
        while True:
            block, sep, rest = self._buffer.partition(EOL + EOL)
            if not sep:
                break
            self._buffer = rest
            message = parse_block(block)
            if message is not None:
                out.append(message)
        if len(self._buffer) > MAX_BUFFER:
            raise AmiProtocolError(f"AMI block larger than {MAX_BUFFER} bytes")
        return out
