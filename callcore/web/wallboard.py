"""The wallboard's figures and alerts, computed from the ACD snapshot and the dialer's campaign figures.

Pure: the HTTP layer's feed gathers the inputs, calls ``queue_rows`` / ``agent_row`` / ``alerts`` and sends
only the operators whose row changed since the previous update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Thresholds:
    service_level: float = 0.80      # alert below this share answered within the queue's threshold
    abandonment: float = 0.05        # alert above this share of offered calls abandoned (queues)
    campaign_abandonment: float = 0.03  # the regulatory limit of outbound abandoned calls
    long_call: float = 600.0         # seconds
    min_offered: int = 5             # rates are not judged on fewer calls


def queue_rows(snapshot: Mapping[str, Any], today: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per queue: live waiting/longest wait/connected/staffing, and today's offered/answered/abandoned/SL
    (from the call records when given, else the counters since this instance started)."""
    rows: dict[str, Any] = {}
    for name, q in snapshot.get("queues", {}).items():
        day = today.get(name) or q
        offered = int(day.get("offered") or 0)
        abandoned = int(day.get("abandoned") or 0)
        rows[name] = {
            "waiting": q.get("waiting", 0), "longest_wait": q.get("longest_wait", 0.0),
            "connected": q.get("connected", 0), "agents": q.get("agents", {}),
            "offered": offered, "answered": int(day.get("answered") or 0), "abandoned": abandoned,
            "service_level": day.get("service_level"),
            "abandon_rate": abandoned / offered if offered else None,
            "calls": [{"call_id": c["call_id"], "caller_number": c.get("caller_number", ""), "wait": c["wait"]}
                      for c in q.get("calls", [])[:8]],
            "today": name in today,
        }
    return rows


def agent_row(agent: Mapping[str, Any], queues: tuple[str, ...], call: Mapping[str, Any] | None) -> dict[str, Any]:
    """What one operator's tile shows; ``since`` is absolute so the row changes only with the state."""
    row = {"id": agent["agent_id"], "name": agent.get("name") or agent["agent_id"], "state": agent["state"],
           "since": agent.get("since", 0.0), "reason": agent.get("pause_reason", ""), "queues": list(queues),
           "registered": agent.get("registered"), "mode": agent.get("mode"), "call_id": agent.get("call_id"),
           "queue": agent.get("queue")}
    if call:
        row["caller"] = call.get("caller_number") or ""
        row["caller_name"] = call.get("caller_name") or ""
        row["held"] = bool(call.get("held"))
    return row


def alerts(queues: Mapping[str, Any], campaigns: Mapping[str, Any], agents: Mapping[str, Any],
           help_waiting: int, now: float, t: Thresholds = Thresholds()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, q in sorted(queues.items()):
        sl = q.get("service_level")
        if q["offered"] >= t.min_offered and sl is not None and sl < t.service_level:
            out.append({"kind": "service_level", "level": "warning", "queue": name, "value": sl,
                        "limit": t.service_level})
        rate = q.get("abandon_rate")
        if q["offered"] >= t.min_offered and rate is not None and rate > t.abandonment:
            out.append({"kind": "abandonment", "level": "critical", "queue": name, "value": rate,
                        "limit": t.abandonment})
    for name, c in sorted(campaigns.items()):
        rate = c.get("abandon_24h")
        if rate is not None and rate > t.campaign_abandonment:
            out.append({"kind": "campaign_abandonment", "level": "critical", "campaign": name, "value": rate,
                        "limit": t.campaign_abandonment})
    long_calls = [a for a in agents.values() if a["state"] == "on_call" and now - a["since"] > t.long_call]
    for a in sorted(long_calls, key=lambda a: a["since"])[:10]:
        out.append({"kind": "long_call", "level": "warning", "agent_id": a["id"], "value": now - a["since"],
                    "limit": t.long_call})
    if len(long_calls) > 10:
        out.append({"kind": "long_calls_more", "level": "warning", "value": len(long_calls) - 10})
    if help_waiting:
        out.append({"kind": "help_waiting", "level": "warning", "value": help_waiting})
    return out
