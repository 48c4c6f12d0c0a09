"""How journal events become rows: idempotency keys and payload JSON."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import msgspec


class EventKeys:
    """Version-4-shaped UUID strings: random per journal instance, then a 48-bit sequence number.

    Keys of one instance are unique by construction; two instances differ in 74 random bits.
    """

    def __init__(self) -> None:
        r = secrets.randbits(62)
        self._prefix = (f"{r >> 30:08x}-{(r >> 14) & 0xFFFF:04x}-4{(r >> 2) & 0xFFF:03x}-"
                        f"{0x8 | (r & 0x3):x}{secrets.randbits(12):03x}-")
        self.seq = 0

    def next(self) -> str:
        self.seq += 1
        return f"{self._prefix}{self.seq:012x}"


def seq_of(key: str) -> int:
    """The sequence number inside a key made by ``EventKeys``."""
    return int(key[-12:], 16)


def _fallback(obj: Any) -> Any:
    return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_fallback)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def encode_payload(payload: Mapping[str, Any] | None) -> str:
    """JSON text of a payload; NUL characters (refused by jsonb) become U+FFFD; unknown types become str."""
    if not payload:
        return "{}"
    text = _encoder.encode(payload if type(payload) is dict else dict(payload)).decode()
    if "\\u0000" in text:
        text = _encoder.encode(_scrub(msgspec.json.decode(text))).decode()
    return text


def clean_text(value: str | None) -> str | None:
    """``value`` without NUL characters (refused by PostgreSQL text)."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value
