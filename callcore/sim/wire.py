"""Wire formats of Asterisk 22's ARI: timestamps, hangup causes, resource JSON shapes."""

from __future__ import annotations

import time
from typing import Any

ASTERISK_VERSION = "GIT-22-69535d4837"

# Q.850 cause -> text, as Asterisk prints it in ChannelDestroyed.cause_txt
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    4: "Subscriber absent",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format (incomplete number)",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    127: "Interworking, unspecified",
}

# ``DELETE /channels/{id}?reason=`` values and the Q.850 cause each one sets
HANGUP_REASONS: dict[str, int] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 19,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}

# SIP response code a PJSIP channel reports as tech_cause for a Q.850 cause
TECH_CAUSE: dict[int, int] = {17: 486, 19: 480, 21: 603, 34: 503, 1: 404, 127: 487}

# Dial event ``dialstatus`` for a failed dial
DIALSTATUS: dict[int, str] = {
    17: "BUSY",
    19: "NOANSWER",
    21: "CONGESTION",
    34: "CONGESTION",
    1: "CHANUNAVAIL",
}


def ari_time(epoch: float) -> str:
    """``2026-11-29T01:52:18.156+0000`` (UTC, milliseconds, offset without colon)."""
    ms = round(epoch * 1000)
    secs, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{millis:03d}+0000"


def http_date(epoch: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def caller_id(name: str, number: str) -> dict[str, str]:
    return {"name": name, "number": number}


def parse_caller_id(text: str) -> tuple[str, str]:
    """``"Sales queue" <15551230001>`` -> (name, number); a bare number -> ("", number)."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, rest = text.partition("<")
        return name.strip().strip('"'), rest[:-1].strip()
    return "", text


def envelope(kind: str, timestamp: str, body: dict[str, Any]) -> dict[str, Any]:
    """An event as Asterisk orders its keys (``asterisk_id``/``application`` appended on delivery)."""
    out: dict[str, Any] = {"type": kind, "timestamp": timestamp}
    out.update(body)
    return out
