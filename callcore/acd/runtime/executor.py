"""The imperative shell around the pure core: ARI events in, ARI requests, timers and journal out.

``AcdRuntime.feed(ev)`` turns one ARI event into core events and runs them; ``run(sub)`` does that for
a subscription. ARI commands go to ``callcore.acd.runtime.lanes``: one ordered lane per call, lanes executed
concurrently by a fixed pool of ``concurrency`` workers (the cap on ARI requests in flight). ARI failures
for channels that are already gone are ordinary and only logged. Timers use ``loop.call_later`` against
the injected clock; journal entries, timers and operator notifications take effect synchronously.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from datetime import datetime
from typing import Any

import structlog

from callcore.acd.core.commands import (
    AddToBridge,
    Answer,
    CallbackRequested,
    CancelTimer,
    Command,
    ContinueInDialplan,
    CreateBridge,
    DestroyBridge,
    Hangup,
    Journal,
    Notify,
    OriginateAgent,
    Play,
    RemoveFromBridge,
    SetTimer,
    SetVariable,
    Snoop,
    StartMoh,
    StartRecording,
    StopMoh,
    StopPlayback,
    StopRecording,
)
from callcore.acd.core.engine import Engine
from callcore.acd.core.events import (
    ASTERISK_FAILED,
    ORIGINATE_FAILED,
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentSessionConnected,
    AgentSessionDisconnected,
    CallArrived,
    CallerHungUp,
    DtmfReceived,
    EndpointRegistration,
    Event,
    LiveChannel,
    PlaybackFinished,
    Resync,
    TimerFired,
)
from callcore.acd.runtime import metrics
from callcore.acd.runtime.lanes import LaneKeys, Lanes
from callcore.ari import events as E
from callcore.ari.api import AriApi
from callcore.clock import Clock
from callcore.errors import (
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnavailable,
    AriUnprocessable,
)
from callcore.store.api import JournalSink

log = structlog.get_logger(__name__)

_HANGUP_REASONS = {"no-answer": "no_answer", "busy": "busy"}
GAUGE_INTERVAL = 0.25
ASTERISK_RETRY = 1.0  # seconds before an offer that Asterisk failed (not the device) is given up


def _device_refused(exc: AriError) -> bool:
    """Asterisk could not create the operator's channel because of the device (unknown or unregistered
    endpoint: 500 "Allocation failed", 400/404 bad endpoint), as opposed to Asterisk failing."""
    if isinstance(exc, AriServerError):
        return "allocation failed" in exc.message.lower()
    return isinstance(exc, AriBadRequest | AriNotFound)


def ari_time(ts: str, default: float) -> float:
    """``2026-11-29T01:52:18.156+0000`` -> epoch seconds (``default`` when empty or unreadable)."""
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        try:
            return datetime.fromisoformat(ts).timestamp()
        except ValueError:
            return default


def _urgent(cmd: Command) -> bool:
    """Routing steps a waiting caller is held up by go first when ARI requests back up."""
    return isinstance(cmd, OriginateAgent | AddToBridge)


def _left_already(cmd: Command, exc: AriError) -> bool:
    """Removing a channel from a bridge it already left is not a failure: Asterisk answers 400 "Channel not
    found" for a channel that hung up, 422 for one that left Stasis or the bridge."""
    return isinstance(cmd, RemoveFromBridge) and isinstance(exc, AriBadRequest | AriUnprocessable)


MANUAL_PRIORITY = 1000  # a customer the operator dialled goes ahead of the queue's waiting callers


def stasis_args(app_data: str) -> tuple[str, ...]:
    """``callcore,inbound,sales,5`` (the Stasis() application data) -> ("inbound", "sales", "5")."""
    parts = [p.strip() for p in app_data.split(",")]
    return tuple(parts[1:]) if len(parts) > 1 else ()


class AcdRuntime:
    def __init__(self, engine: Engine, ari: AriApi, journal: JournalSink, clock: Clock, *,
                 app: str = "callcore",
                 notify: Callable[[str, dict[str, Any]], None] | None = None,
                 on_callback: Callable[[CallbackRequested], None] | None = None,
                 concurrency: int = 32,
                 on_request: Callable[[Command], None] | None = None) -> None:
        self.engine = engine
        self.ari = ari
        self.journal = journal
        self.clock = clock
        self.app = app
        self._notify = notify
        self._on_callback = on_callback
        self.lanes: Lanes[Command] = Lanes(self.execute, concurrency=concurrency, name="acd-ari",
                                           urgent=_urgent)
        self.keys = LaneKeys(engine.state)
        self._on_request = on_request
        self._originated: set[str] = set()  # originated legs not yet reported destroyed
        self._gauge_timer: asyncio.TimerHandle | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.ari_errors = 0

    # --- core -----------------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Run one core event now; ARI work is queued for the worker. Raises the core's request errors."""
        out = self.engine.handle(event, self.clock.now())
        for cmd in out:
            self._apply(cmd)
        self._gauges_due()
        return out

    def _gauges_due(self) -> None:
        """Gauges are recomputed at most every ``GAUGE_INTERVAL`` seconds (a pass over every call and
        agent is too dear to repeat for each event)."""
        if self._gauge_timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._refresh_gauges()
            return
        self._gauge_timer = loop.call_later(GAUGE_INTERVAL, self._flush_gauges)

    def _flush_gauges(self) -> None:
        self._gauge_timer = None
        self._refresh_gauges()

    def _apply(self, cmd: Command) -> None:
        match cmd:
            case Journal():
                self.journal.append(cmd.type, cmd.payload, call_id=cmd.call_id, channel_id=cmd.channel_id,
                                    agent_id=cmd.agent_id, queue=cmd.queue, ts=self.clock.now())
                metrics.observe(cmd)
            case SetTimer(key=key, at=at):
                self._cancel(key)
                loop = asyncio.get_running_loop()
                self._timers[key] = loop.call_later(max(0.0, at - self.clock.now()), self.fire, key)
            case CancelTimer(key=key):
                self._cancel(key)
            case Notify(agent_id=aid, payload=payload):
                if self._notify is not None:
                    self._notify(aid, dict(payload))
            case CallbackRequested():
                self.journal.append("callback.requested", {
                    "position": cmd.position, "priority": cmd.priority, "entered_at": cmd.entered_at,
                    "caller_number": cmd.caller_number, "caller_name": cmd.caller_name,
                    "callback_at": cmd.callback_at, "data": dict(cmd.data)},
                    call_id=cmd.call_id, agent_id=cmd.agent_id, queue=cmd.queue, ts=self.clock.now())
                if self._on_callback is not None:
                    self._on_callback(cmd)
            case StopMoh(channel=ch):
                key = self.keys.key(cmd)
                if not self.lanes.withdraw_last(key, lambda c: isinstance(c, StartMoh) and c.channel == ch):
                    self.lanes.submit(key, cmd)
            case _:
                self.lanes.submit(self.keys.key(cmd), cmd)

    def _cancel(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def fire(self, key: str) -> None:
        """A timer came due (also callable directly by tests driving virtual time)."""
        self._timers.pop(key, None)
        self.handle(TimerFired(key))

    def pending_timers(self) -> list[str]:
        return sorted(self._timers)

    def _refresh_gauges(self) -> None:
        st = self.engine.state
        now = self.clock.now()
        queues: dict[str, tuple[int, float, float | None]] = {}
        for name in st.queues:
            waiting = [c for c in st.calls.values() if c.queue == name and c.status == "waiting"]
            longest = max((now - c.queue_entered_at for c in waiting), default=0.0)
            sl = st.stats[name].service_level() if name in st.stats else None
            queues[name] = (len(waiting), longest, sl)
        by_state: dict[str, int] = {}
        for a in st.agents.values():
            by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
        for s in ("logged_out", "available", "reserved", "on_call", "wrap_up", "paused"):
            by_state.setdefault(s, 0)
        metrics.refresh(queues, by_state)

    # --- ARI events -> core events ---------------------------------------------------------------------

    def translate(self, ev: Any) -> list[Event]:
        st = self.engine.state
        match ev:
            case E.StasisStart(channel=ch, args=args):
                kind = args[0] if args else ""
                if kind == "inbound" and len(args) >= 2:
                    prio = int(args[2]) if len(args) > 2 and args[2].lstrip("-").isdigit() else 0
                    return [CallArrived(ch.id, args[1], prio, ch.caller.number, ch.caller.name,
                                        dict(ch.channelvars or {}))]
                if kind == "manual" and len(args) >= 3:  # a customer the agent dialled answered
                    number = args[3] if len(args) > 3 else ch.caller.number
                    return [CallArrived(ch.id, args[1], MANUAL_PRIORITY, number, "",
                                        {"manual": True, "dialled_by": args[2]}, agent_id=args[2])]
                if kind in ("agent", "supervisor", "consult"):
                    return [AgentLegAnswered(ch.id)]
                if kind == "agent-login" and len(args) >= 2:
                    return [AgentSessionConnected(args[1], ch.id)]
                return []
            case E.StasisEnd(channel=ch) | E.ChannelDestroyed(channel=ch):
                return self._gone(ch.id, getattr(ev, "cause_txt", "") or "hangup")
            case E.ChannelDtmfReceived(channel=ch, digit=digit):
                return [DtmfReceived(ch.id, digit)]
            case E.PlaybackFinished(playback=pb):
                return [PlaybackFinished(pb.id)] if pb.id in st.playbacks else []
            case E.EndpointStateChange(endpoint=ep):
                return [EndpointRegistration(f"{ep.technology}/{ep.resource}", ep.state == "online")]
            case E.Connected(snapshot=snap):
                return [self.resync_event(snap)]
        return []

    def _gone(self, channel: str, cause: str) -> list[Event]:
        st = self.engine.state
        if channel in st.calls:
            return [CallerHungUp(channel)]
        if channel in st.sessions:
            return [AgentSessionDisconnected(channel)]
        if channel in st.supervisors:
            return [AgentLegHungUp(channel)]
        if channel in st.consults or channel in st.dials:
            return [AgentLegFailed(channel, cause)]
        call = st.calls.get(st.legs.get(channel, ""))
        if call is not None:
            if call.agent_leg == channel:
                return [AgentLegHungUp(channel)]
            return [AgentLegFailed(channel, cause)]
        return []

    def resync_event(self, snap: E.Snapshot) -> Resync:
        now = self.clock.now()
        chans = []
        for ch in snap.channels:
            if ch.dialplan.app_name.lower() == "stasis":
                args = stasis_args(ch.dialplan.app_data)
            elif ch.id in self._originated:
                args = ("agent",)  # a leg this runtime originated, still ringing
            elif ch.name.startswith("Snoop/") and ch.id.startswith("snoop-"):
                args = ("snoop", ch.id.removeprefix("snoop-"))  # a supervision's snoop (requests.snoop_id)
            else:
                args = ()
            chans.append(LiveChannel(ch.id, args, ari_time(ch.creationtime, now), ch.caller.number,
                                     ch.caller.name))
        bridges = {b.id: tuple(b.channels) for b in [*snap.bridges, *snap.stasis_bridges]}
        return Resync(tuple(chans), bridges)

    def feed(self, ev: Any) -> None:
        channel = getattr(getattr(ev, "channel", None), "id", None)
        st = self.engine.state
        call = channel if channel in st.calls else st.legs.get(channel or "")
        with structlog.contextvars.bound_contextvars(channel_id=channel, call_id=call):
            for core_ev in self.translate(ev):
                try:
                    self.handle(core_ev)
                except Exception:  # an ARI event must never stop the consumer
                    log.exception("acd.event_failed", event=type(core_ev).__name__)
        match ev:
            case E.StasisEnd(channel=ch):
                self.keys.forget_channel(ch.id)
            case E.ChannelDestroyed(channel=ch):
                self.keys.forget_channel(ch.id)
                self._originated.discard(ch.id)
            case E.PlaybackFinished(playback=pb):
                self.keys.forget_media(pb.id)
            case E.Connected(snapshot=snap):
                live = {c.id for c in snap.channels}
                self.keys.prune(live, {b.id for b in [*snap.bridges, *snap.stasis_bridges]})
                self._originated &= live

    async def run(self, events: AsyncIterable[Any]) -> None:
        """Consume ARI events and execute commands until the subscription ends (then finish the queued
        commands). Cancelling it cancels the requests in flight and drops the queued ones."""
        try:
            async with asyncio.TaskGroup() as tg:
                pool = tg.create_task(self.lanes.run(), name="acd-ari-lanes")
                async for ev in events:
                    self.feed(ev)
                await self.drain()
                pool.cancel()
        finally:
            for key in list(self._timers):
                self._cancel(key)
            if self._gauge_timer is not None:
                self._gauge_timer.cancel()
                self._flush_gauges()

    # --- command execution ----------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every queued ARI command has been executed."""
        await self.lanes.drain()

    async def execute(self, cmd: Command) -> None:
        try:
            await self._execute(cmd)
        except AriError as exc:
            if isinstance(cmd, OriginateAgent | Snoop):
                self._setup_failed(cmd, exc)
            elif isinstance(exc, AriNotFound | AriConflict) or _left_already(cmd, exc):
                log.info("acd.ari_gone", command=type(cmd).__name__, error=str(exc))
            else:
                self.ari_errors += 1
                log.warning("acd.ari_failed", command=type(cmd).__name__, error=str(exc))

    def _setup_failed(self, cmd: OriginateAgent | Snoop, exc: AriError) -> None:
        """A channel this runtime asked for was refused (any status: a 409 means Asterisk judged the id
        taken, never a channel that went away): the leg it belongs to has failed."""
        self.ari_errors += 1
        log.warning("acd.ari_failed", command=type(cmd).__name__, error=str(exc))
        if isinstance(cmd, Snoop):
            if len(cmd.app_args) > 1:  # ("snoop", supervisor leg)
                self.feed_core(AgentLegFailed(cmd.app_args[1], "snoop-failed"))
            return
        if not isinstance(exc, AriUnavailable):  # unanswered requests may have created it
            self._originated.discard(cmd.leg_id)
        if _device_refused(exc):
            self.feed_core(AgentLegFailed(cmd.leg_id, ORIGINATE_FAILED))
            return
        # Asterisk failing (500s, time-outs): not the operator's fault, so no auto-pause; the offer fails a
        # moment later, so that the call is offered again at most once a second while Asterisk fails
        asyncio.get_running_loop().call_later(ASTERISK_RETRY, self.feed_core,
                                              AgentLegFailed(cmd.leg_id, ASTERISK_FAILED))

    def feed_core(self, ev: Event) -> None:
        try:
            self.handle(ev)
        except Exception:
            log.exception("acd.event_failed", event=type(ev).__name__)

    async def _execute(self, cmd: Command) -> None:
        ari = self.ari
        if self._on_request is not None:
            self._on_request(cmd)
        match cmd:
            case Answer(channel=ch):
                await ari.answer(ch)
            case StartMoh(channel=ch, moh_class=cls):
                await ari.start_moh(ch, cls)
            case StopMoh(channel=ch):
                await ari.stop_moh(ch)
            case Play(channel=ch, media=media, playback_id=pid):
                await ari.play(ch, list(media), playback_id=pid)
            case StopPlayback(playback_id=pid):
                await ari.stop_playback(pid, missing_ok=True)
            case OriginateAgent():
                self._originated.add(cmd.leg_id)
                await ari.originate(cmd.endpoint, channel_id=cmd.leg_id, app=self.app,
                                    app_args=list(cmd.app_args), caller_id=cmd.caller_id,
                                    timeout=max(1, round(cmd.timeout)))
            case Hangup(channel=ch, reason=reason):
                await ari.hangup(ch, _HANGUP_REASONS.get(reason, "normal"), missing_ok=True)
            case CreateBridge(bridge_id=bid, type=btype):
                await ari.create_bridge(bid, type=btype)
            case AddToBridge(bridge_id=bid, channels=chans, role=role):
                await ari.add_channel(bid, list(chans), role=role)
            case RemoveFromBridge(bridge_id=bid, channels=chans):
                await ari.remove_channel(bid, list(chans))
            case DestroyBridge(bridge_id=bid):
                await ari.destroy_bridge(bid, missing_ok=True)
            case StartRecording(bridge_id=bid, name=name):
                await ari.record_bridge(bid, name)
            case StopRecording(name=name):
                await ari.stop_recording(name)
            case ContinueInDialplan(channel=ch, context=ctx, exten=exten, priority=prio):
                await ari.continue_in_dialplan(ch, context=ctx, extension=exten, priority=prio)
            case SetVariable(channel=ch, name=name, value=value):
                await ari.set_variable(ch, name, value)
            case Snoop():
                await ari.snoop(cmd.channel, snoop_id=cmd.snoop_id, app=self.app, app_args=list(cmd.app_args),
                                spy=cmd.spy, whisper=cmd.whisper)
