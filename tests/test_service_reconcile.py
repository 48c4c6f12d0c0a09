"""Calls that ended while the instance was down: the decision of how each open call record is closed."""

from __future__ import annotations

from typing import Any

from callcore.service.reconcile import UNKNOWN, closing_events


def row(call_id: str, *, answered: bool = False, acd_end: float | None = None, acd_end_type: str | None = None,
        destroyed: float | None = None) -> dict[str, Any]:
    return {"call_id": call_id, "channel_id": f"ch-{call_id}", "answered": answered, "acd_end": acd_end,
            "acd_end_type": acd_end_type, "destroyed": destroyed}


def test_live_calls_stay_open_and_others_close_from_the_best_source() -> None:
    rows = [row("live", answered=True),
            row("journaled", answered=True, acd_end=10.0, acd_end_type="call.ended", destroyed=11.0),
            row("gave-up", acd_end=12.0, acd_end_type="call.abandoned"),
            row("hung-up-while-down", answered=True, destroyed=20.0),
            row("left-while-waiting", destroyed=21.0),
            row("nothing-known", answered=True)]
    got = {c[0]: (c[2], c[3]) for c in closing_events(rows, {"live"}, now=99.0)}
    assert "live" not in got
    assert got["journaled"] == ({"outcome": "answered", "reason": "journal"}, 10.0)
    assert got["gave-up"] == ({"outcome": "abandoned", "reason": "journal"}, 12.0)
    assert got["hung-up-while-down"] == ({"outcome": "answered", "reason": "channel-destroyed"}, 20.0)
    assert got["left-while-waiting"] == ({"outcome": "abandoned", "reason": "channel-destroyed"}, 21.0)
    assert got["nothing-known"] == ({"outcome": UNKNOWN, "reason": UNKNOWN}, 99.0)
