"""Journal events as Asterisk ``queue_log`` lines (pure), for existing queue-statistics tools.

Line format: ``epoch|callid|queue|agent|EVENT|data1|data2|...``. The call id is callcore's call id, the
agent field is the agent id, ``Agent/<id>`` or the agent's endpoint (``agent_field``; ``NONE`` when no agent
is involved). Agent-level events (pause, login) carry no queue in the journal: they are written once per
queue the agent belongs to (``memberships``), or with queue ``NONE``.

Mapping: call.queued -> ENTERQUEUE|url|callerid|position; call.offer_failed -> RINGNOANSWER|ringms;
call.answered -> CONNECT|holdtime|leg|ringtime; call.ended -> COMPLETEAGENT or COMPLETECALLER
|holdtime|calltime|origposition; call.abandoned -> RINGCANCELED|ringms (per agent still ringing), then
ABANDON|position|origposition|waittime;
call.overflowed -> EXITWITHTIMEOUT (timeout) or EXITEMPTY (leaveempty)|position|origposition|waittime;
call.callback -> EXITWITHKEY|key|position|origposition|waittime; call.transferred ->
BLINDTRANSFER|extension|context|holdtime|calltime|origposition; agent.state -> ADDMEMBER (login),
REMOVEMEMBER (logout), PAUSE|reason, UNPAUSE|reason; service.started (``callcore run`` starting) ->
``NONE|NONE|NONE|QUEUESTART|``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from callcore.directory.stats import EventRow


@dataclass(slots=True)
class _CallTrack:
    queue: str
    entered: float
    position: int
    answered: float | None = None
    hold: int = 0
    offers: dict[str, float] = field(default_factory=dict)


def _clean(value: object) -> str:
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


AGENT_FIELDS = ("id", "agent", "endpoint")


class QueueLogWriter:
    """Turns events (in time order) into queue_log lines, keeping the per-call context it needs."""

    def __init__(self, memberships: Mapping[str, Iterable[str]] | None = None, *, agent_field: str = "id",
                 endpoints: Mapping[str, str] | None = None,
                 history: Iterable[tuple[str, str, float, float | None]] | None = None) -> None:
        """``agent_field``: what the agent column holds: ``id`` (callcore's agent id), ``agent``
        (``Agent/<id>``, as app_queue's agent channels) or ``endpoint`` (the agent's endpoint from
        ``endpoints``, e.g. ``PJSIP/1001``; the id when unknown).

        ``history`` (agent, queue, valid_from, valid_to or None) gives the memberships at each instant and
        wins over ``memberships``: login and pause lines name the queues the agent belonged to then. Before
        an agent's first recorded membership its first known queues are used."""
        if agent_field not in AGENT_FIELDS:
            raise ValueError(f"agent field must be one of {', '.join(AGENT_FIELDS)}, got {agent_field!r}")
        self._agent_field = agent_field
        self._endpoints = dict(endpoints or {})
        self._memberships = {a: sorted(qs) for a, qs in (memberships or {}).items()}
        self._history: dict[str, list[tuple[str, float, float | None]]] = {}
        for agent, queue, since, until in history or ():
            self._history.setdefault(agent, []).append((queue, since, until))
        self._calls: dict[str, _CallTrack] = {}
        self._waiting: dict[str, list[str]] = {}

    def _line(self, ev: EventRow, queue: str, agent: str | None, event: str, *data: object) -> str:
        parts = [str(int(ev.ts)), _clean(ev.call_id or "NONE"), _clean(queue), _clean(self._agent(agent)), event]
        return "|".join(parts + [_clean(d) for d in data])

    def set_history(self, history: Iterable[tuple[str, str, float, float | None]]) -> None:
        """Replace the membership history (the live writer reloads it as memberships change)."""
        self._history = {}
        for agent, queue, since, until in history:
            self._history.setdefault(agent, []).append((queue, since, until))

    def _queues_at(self, agent: str, ts: float) -> list[str]:
        rows = self._history.get(agent)
        if rows is None:
            return self._memberships.get(agent, [])
        now = sorted({q for q, since, until in rows if since <= ts and (until is None or ts < until)})
        if now or any(since <= ts for _, since, _ in rows):
            return now
        first = min(since for _, since, _ in rows)
        return sorted({q for q, since, _ in rows if since == first})

    def _agent(self, agent: str | None) -> str:
        if not agent:
            return "NONE"
        if self._agent_field == "agent":
            return f"Agent/{agent}"
        if self._agent_field == "endpoint":
            return self._endpoints.get(agent, agent)
        return agent

    def _ring_canceled(self, ev: EventRow, track: _CallTrack) -> list[str]:
        """RINGCANCELED|ringms for every agent still ringing when the caller leaves."""
        lines = [self._line(ev, track.queue, agent, "RINGCANCELED", round((ev.ts - since) * 1000))
                 for agent, since in sorted(track.offers.items()) if agent]
        track.offers.clear()
        return lines

    def _leave(self, call_id: str) -> int:
        """Remove from its queue's waiting list; returns the position it had."""
        track = self._calls.get(call_id)
        if track is None:
            return 0
        waiting = self._waiting.get(track.queue, [])
        if call_id in waiting:
            pos = waiting.index(call_id) + 1
            waiting.remove(call_id)
            return pos
        return 0

    def feed(self, ev: EventRow) -> list[str]:
        if ev.type == "agent.state":
            return self._agent_state(ev)
        if ev.type == "service.started":   # as app_queue writes when it loads
            return [self._line(ev, "NONE", None, "QUEUESTART", "")]
        if not ev.call_id or not ev.type.startswith("call."):
            return []
        p = ev.payload
        cid = ev.call_id
        if ev.type == "call.queued":
            queue = ev.queue or "NONE"
            self._leave(cid)
            waiting = self._waiting.setdefault(queue, [])
            waiting.append(cid)
            self._calls[cid] = _CallTrack(queue, ev.ts, len(waiting))
            return [self._line(ev, queue, None, "ENTERQUEUE", "", p.get("caller_number", ""), len(waiting))]
        track = self._calls.get(cid)
        if track is None:
            return []
        queue, wait = track.queue, round(ev.ts - track.entered)
        match ev.type:
            case "call.offered":
                agent = str(p.get("agent") or ev.agent_id or "")
                track.offers[agent] = ev.ts
                return []
            case "call.offer_failed":
                agent = str(p.get("agent") or ev.agent_id or "")
                ring_ms = round((ev.ts - track.offers.pop(agent, ev.ts)) * 1000)
                return [self._line(ev, queue, agent, "RINGNOANSWER", ring_ms)]
            case "call.answered":
                self._leave(cid)
                track.answered, track.hold = ev.ts, wait
                ring = round(ev.ts - track.offers.pop(ev.agent_id or "", ev.ts))
                track.offers.clear()
                return [self._line(ev, queue, ev.agent_id, "CONNECT", wait, p.get("leg_id", ""), ring)]
            case "call.ended":
                self._calls.pop(cid, None)
                talk = round(float(p.get("talk", ev.ts - (track.answered or ev.ts))))
                kind = "COMPLETEAGENT" if "agent" in str(p.get("why", "")) else "COMPLETECALLER"
                return [self._line(ev, queue, ev.agent_id, kind, track.hold, talk, track.position)]
            case "call.abandoned":
                pos = self._leave(cid) or int(p.get("position") or 0)
                self._calls.pop(cid, None)
                return [*self._ring_canceled(ev, track), self._line(ev, queue, None, "ABANDON", pos, track.position,
                                                                    wait)]
            case "call.overflowed":
                pos = self._leave(cid)
                kind = "EXITEMPTY" if p.get("reason") == "leaveempty" else "EXITWITHTIMEOUT"
                return [self._line(ev, queue, None, kind, pos, track.position, wait)]
            case "call.callback":
                pos = self._leave(cid) or int(p.get("position") or 0)
                self._calls.pop(cid, None)
                return [self._line(ev, queue, None, "EXITWITHKEY", p.get("digit", ""), pos, track.position,
                                   wait)]
            case "call.transferred":
                target = p.get("to_queue") or p.get("to_number") or ""
                context = "callcore-queue" if p.get("to_queue") else "callcore-transfer"
                talk = round(ev.ts - (track.answered or ev.ts))
                return [self._line(ev, queue, ev.agent_id, "BLINDTRANSFER", target, context, track.hold, talk,
                                   track.position)]
            case _:
                return []

    def _agent_state(self, ev: EventRow) -> list[str]:
        if not ev.agent_id:
            return []
        before, after = ev.payload.get("from"), ev.payload.get("to")
        if before == "logged_out" and after != "logged_out":
            events = [("ADDMEMBER", "")]
            if after == "paused":
                events.append(("PAUSE", str(ev.payload.get("reason", ""))))
        elif after == "logged_out":
            events = [("REMOVEMEMBER", "")]
        elif after == "paused":
            events = [("PAUSE", str(ev.payload.get("reason", "")))]
        elif before == "paused":
            events = [("UNPAUSE", "")]
        else:
            return []
        queues = self._queues_at(ev.agent_id, ev.ts) or ["NONE"]
        plain = EventRow(ev.ts, ev.type, None, ev.agent_id)
        return [self._line(plain, q, ev.agent_id, name, data) for name, data in events for q in queues]


def queue_log_lines(events: Iterable[EventRow], memberships: Mapping[str, Iterable[str]] | None = None, *,
                    agent_field: str = "id", endpoints: Mapping[str, str] | None = None) -> Iterator[str]:
    writer = QueueLogWriter(memberships, agent_field=agent_field, endpoints=endpoints)
    for ev in events:
        yield from writer.feed(ev)
