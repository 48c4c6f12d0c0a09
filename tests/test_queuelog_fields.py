"""queue_log: the configurable agent column and RINGCANCELED for agents still ringing when the caller leaves."""

from __future__ import annotations

import pytest
from test_report import SCENARIO, ev

from callcore.directory.queuelog import QueueLogWriter, queue_log_lines

RINGING_ABANDON = [
    ev(0, "call.queued", "r1", caller_number="+7900"),
    ev(1, "call.offered", "r1", agent="a1"),
    ev(1, "call.offered", "r1", agent="a2"),
    ev(3.5, "call.abandoned", "r1", wait=3.5, why="hangup"),
]


def test_ring_canceled_for_every_agent_still_ringing_then_abandon() -> None:
    lines = [ln.split("|")[3:] for ln in queue_log_lines(RINGING_ABANDON)]
    assert lines == [["NONE", "ENTERQUEUE", "", "+7900", "1"],
                     ["a1", "RINGCANCELED", "2500"],
                     ["a2", "RINGCANCELED", "2500"],
                     ["NONE", "ABANDON", "1", "1", "4"]]


def test_no_ring_canceled_once_the_offer_failed_or_was_answered() -> None:
    events = [*RINGING_ABANDON[:2], ev(2, "call.offer_failed", "r1", agent="a1"),
              ev(4, "call.abandoned", "r1", wait=4.0)]
    assert [ln.split("|")[4] for ln in queue_log_lines(events)] == ["ENTERQUEUE", "RINGNOANSWER", "ABANDON"]
    assert not any("RINGCANCELED" in ln for ln in queue_log_lines(SCENARIO, {"a1": ["sales"]}))


@pytest.mark.parametrize(("field", "shown"), [("id", "a1"), ("agent", "Agent/a1"), ("endpoint", "PJSIP/1001")])
def test_agent_column(field: str, shown: str) -> None:
    lines = list(queue_log_lines(SCENARIO, {"a1": ["sales"]}, agent_field=field,
                                 endpoints={"a1": "PJSIP/1001"}))
    agents = {ln.split("|")[3] for ln in lines if ln.split("|")[4] in ("ADDMEMBER", "CONNECT", "PAUSE")}
    assert shown in agents
    plain = list(queue_log_lines(SCENARIO, {"a1": ["sales"]}))
    assert len(lines) == len(plain)
    assert all(ln.split("|")[3] == "NONE" for ln in lines if ln.split("|")[4] in ("ENTERQUEUE", "ABANDON"))


def test_unknown_agent_field_is_refused() -> None:
    with pytest.raises(ValueError, match="agent field"):
        QueueLogWriter(agent_field="name")
