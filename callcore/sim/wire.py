"""Wire formats of Asterisk 22's ARI: timestamps, hangup causes, resource JSON shapes."""

from __future__ import annotations

import random
import time

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


QOS_VARS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES")


def qos_values(r: random.Random) -> tuple[str, ...]:
    """Plausible RTPAUDIOQOS* values (as chan_pjsip sets them on hangup)."""
    mes = 85.0 + r.random() * 5.0
    return (
        f"ssrc={r.getrandbits(31)};themssrc={r.getrandbits(31)};lp=0;rxjitter=0.000000;"
        f"rxcount={r.randint(100, 3000)};txjitter=0.000250;txcount={r.randint(100, 3000)};rlp=0;"
        f"rtt=0.000000;rxmes=0.000000;txmes={mes:.6f}",
        "minrxjitter=000.000000;maxrxjitter=000.000750;avgrxjitter=000.000353;stdevrxjitter=000.000174;"
        "mintxjitter=000.000000;maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;",
        "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  stdevrxlost=000.000000;"
        "  mintxlost=000.000000;  maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;",
        "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     stdevrtt=000.000000;",
        f"   minrxmes={mes:010.6f};   maxrxmes={mes:010.6f};   avgrxmes={mes:010.6f};"
        "   stdevrxmes=000.000000;"
        "   mintxmes=000.000000;   maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;",
    )
