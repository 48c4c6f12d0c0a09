"""The pure parts of the desktop and wallboard: script sections and the wallboard's figures and alerts."""

from __future__ import annotations

from callcore.web import wallboard as wb
from callcore.web.script import DEFAULT_PHRASES, sections


def test_script_sections_in_order_and_difficult_phrases() -> None:
    text = ("Hi Ann.\n[closing]\nBye Ann.\n[difficult]\nStay calm.\n\nI hear you.\n[questions]\nWhat happened?\n"
            "[custom]\nSomething else.")
    got = sections(text)
    assert got["sections"] == [{"id": "greeting", "text": "Hi Ann."}, {"id": "questions", "text": "What happened?"},
                               {"id": "closing", "text": "Bye Ann."}, {"id": "custom", "text": "Something else."}]
    assert got["phrases"] == ["Stay calm.", "I hear you."]


def test_a_plain_script_is_the_greeting_with_default_phrases() -> None:
    got = sections("Hello {caller_name}.")
    assert got == {"sections": [{"id": "greeting", "text": "Hello {caller_name}."}], "phrases": list(DEFAULT_PHRASES)}
    assert sections("") == {"sections": [], "phrases": list(DEFAULT_PHRASES)}


def snapshot(offered: int, answered: int, abandoned: int, sl: float | None) -> dict[str, object]:
    return {"queues": {"sales": {"waiting": 2, "longest_wait": 40.0, "connected": 1, "agents": {"on_call": 1},
                                 "offered": offered, "answered": answered, "abandoned": abandoned,
                                 "service_level": sl,
                                 "calls": [{"call_id": f"c{i}", "caller_number": "5", "wait": 1.0} for i in range(9)]}}}


def test_queue_rows_prefer_todays_records_and_cap_the_waiting_list() -> None:
    snap = snapshot(10, 8, 2, 0.5)
    live = wb.queue_rows(snap, {})["sales"]
    assert live["offered"] == 10 and live["abandon_rate"] == 0.2 and not live["today"] and len(live["calls"]) == 8
    today = wb.queue_rows(snap, {"sales": {"offered": 100, "answered": 99, "abandoned": 1, "service_level": 0.9}})
    assert today["sales"]["offered"] == 100 and today["sales"]["service_level"] == 0.9 and today["sales"]["today"]
    assert today["sales"]["waiting"] == 2  # waiting is always live


def test_alerts_name_what_is_wrong() -> None:
    queues = wb.queue_rows(snapshot(20, 10, 4, 0.5), {})
    campaigns = {"spring": {"abandon_24h": 0.04}, "quiet": {"abandon_24h": 0.01}}
    agents = {"a1": {"id": "a1", "state": "on_call", "since": 0.0},
              "a2": {"id": "a2", "state": "on_call", "since": 990.0}}
    kinds = [(a["kind"], a.get("queue") or a.get("campaign") or a.get("agent_id")) for a in
             wb.alerts(queues, campaigns, agents, help_waiting=3, now=1000.0)]
    assert kinds == [("service_level", "sales"), ("abandonment", "sales"), ("campaign_abandonment", "spring"),
                     ("long_call", "a1"), ("help_waiting", None)]


def test_no_rate_alert_on_a_handful_of_calls() -> None:
    queues = wb.queue_rows(snapshot(3, 1, 2, 0.0), {})
    assert wb.alerts(queues, {}, {}, help_waiting=0, now=0.0) == []


def test_agent_row_changes_only_with_the_state() -> None:
    a = {"agent_id": "a1", "name": "Ann", "state": "on_call", "since": 5.0, "pause_reason": "", "registered": True,
         "mode": "ring", "call_id": "c1", "queue": "sales", "in_state_seconds": 3.0}
    later = {**a, "in_state_seconds": 9.0}
    call = {"caller_number": "555", "caller_name": "Bob", "held": False}
    assert wb.agent_row(a, ("sales",), call) == wb.agent_row(later, ("sales",), call)
    assert wb.agent_row(a, ("sales",), call)["caller"] == "555"
