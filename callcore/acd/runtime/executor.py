"""The imperative shell around the pure core: ARI events in, ARI requests, timers and journal out.

``AcdRuntime.feed(ev)`` turns one ARI event into core events and runs them; ``run(sub)`` does that for
a subscription. ARI commands go to ``callcore.acd.runtime.lanes``: one ordered lane per call, lanes executed
concurrently by a fixed pool of ``concurrency`` workers (the cap on ARI requests in flight). ARI failures
for channels that are already gone are ordinary and only logged. Timers use ``loop.call_later`` against
the injected clock; journal entries, timers and operator notifications take effect synchronously.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable
from datetime import datetime
from typing import Any

import structlog

from callcore.acd.core.calls import call_bridge
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
    SHUTDOWN,
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegHungUp,
    AgentSessionConnected,
    AgentSessionDisconnected,
    BridgeFailed,
    CallArrived,
    CallBridged,
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
from callcore.service import looplag
from callcore.store.api import JournalSink, journal_batch

log = structlog.get_logger(__name__)

_HANGUP_REASONS = {"no-answer": "no_answer", "busy": "busy"}
SHUTDOWN_SOFTHANGUP = 4  # ChannelHangupRequest cause (a soft-hangup flag) of an Asterisk shutting down
GAUGE_INTERVAL = 0.25
GAUGE_INTERVAL_OVERLOADED = 2.0
AGENT_BRIDGE_PREFIX = "callcore-agent-"
YIELD_EVERY = 50  # ARI events handled back to back at most before the loop runs something else
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
                 on_request: Callable[[Command], None] | None = None,
                 dialplan_moh: bool = False) -> None:
        """``dialplan_moh``: the dialplan starts MOH before Stasis() (``CALLCORE_ACD_DIALPLAN_MOH``)."""
        self.engine = engine
        self.dialplan_moh = dialplan_moh
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
        self._shutting_down: set[str] = set()  # channels Asterisk hangs up because it is stopping
        self._lost_at: float | None = None  # when the ARI connection was lost (None while connected)
        self._gauge_timer: asyncio.TimerHandle | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.ari_errors = 0
        self._received: dict[int, float] = {}  # id(ARI event) -> monotonic time the websocket reader had it
        self._cause = 0.0  # monotonic time of what caused the event being handled (see ``handle``)
        self._routing: dict[str, float] = {}  # agent leg / caller channel -> cause of its routing decision
        self._precreated: dict[str, str] = {}  # bridge created ahead of the agent's answer -> its call

    # --- core -----------------------------------------------------------------------------------------

    def stamp(self, ev: Any) -> bool:
        """Subscription filter of the ACD's events: notes when the websocket reader had ``ev`` (routing
        latency counts from there, so a backlog of events shows in it). Always accepts."""
        received = self._received
        if len(received) > 100_000:  # events dropped on overflow never reach ``feed``
            received.clear()
        received[id(ev)] = time.monotonic()
        return True

    def handle(self, event: Event, cause: float | None = None) -> list[Command]:
        """Run one core event now; ARI work is queued for the worker. Raises the core's request errors.
        ``cause``: monotonic time of what brought the event (default now), for the routing latency."""
        self._cause = time.monotonic() if cause is None else cause
        out = self.engine.handle(event, self.clock.now())
        with journal_batch(self.journal):  # one log write for the decision's journal entries
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
        # overloaded: the gauges are refreshed less often (``callcore_shed_total{what="gauges"}``)
        interval = GAUGE_INTERVAL_OVERLOADED if looplag.shedding("gauges") else GAUGE_INTERVAL
        self._gauge_timer = loop.call_later(interval, self._flush_gauges)

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
            case OriginateAgent(leg_id=leg, app_args=("agent", call_id, *_)):
                self._routing[leg] = self._cause
                self.lanes.submit(self.keys.key(cmd), cmd)
                self._precreate_bridge(call_id)
            case OriginateAgent(leg_id=leg):
                self._routing[leg] = self._cause
                self.lanes.submit(self.keys.key(cmd), cmd)
            case CreateBridge(bridge_id=bid) if bid in self._precreated:
                del self._precreated[bid]  # created while the agent rang: the call owns it from now on
            case AddToBridge(bridge_id=bid, channels=chans) if bid.startswith(AGENT_BRIDGE_PREFIX) and chans:
                self._routing[chans[0]] = self._cause
                self.lanes.submit(self.keys.key(cmd), cmd)
            case StopMoh(channel=ch):
                key = self.keys.key(cmd)
                # MOH started and stopped before either went out: neither goes (the caller's joining a
                # bridge queued in between does not need it)
                if not self.lanes.withdraw_last(key, lambda c: isinstance(c, StartMoh) and c.channel == ch,
                                                past=lambda c: isinstance(c, AddToBridge | CreateBridge)):
                    self.lanes.submit(key, cmd)
            case _:
                self.lanes.submit(self.keys.key(cmd), cmd)

    def _precreate_bridge(self, call_id: str) -> None:
        """Create the caller's bridge while the agent's phone rings (on the caller's lane, after its answer
        and MOH), so that the agent's answer costs one request (add both) before they talk instead of two.
        The core's own CreateBridge for it is then dropped; a caller who leaves without being bridged
        takes the bridge with them (``_drop_precreated``)."""
        call = self.engine.state.calls.get(call_id)
        bid = call_bridge(call_id)
        if call is None or call.bridge_id is not None or bid in self._precreated:
            return
        self._precreated[bid] = call_id
        create = CreateBridge(bid, "mixing")
        self.lanes.submit(self.keys.key(create), create)

    def _drop_precreated(self, channel: str) -> None:
        bid = call_bridge(channel)
        if self._precreated.pop(bid, None) is not None:
            destroy = DestroyBridge(bid)
            self.lanes.submit(self.keys.key(destroy), destroy)

    def _cancel(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def fire(self, key: str) -> None:
        """A timer came due (also callable directly by tests driving virtual time)."""
        handle = self._timers.pop(key, None)
        self.handle(TimerFired(key), cause=handle.when() if handle is not None else None)

    def pending_timers(self) -> list[str]:
        return sorted(self._timers)

    def _refresh_gauges(self) -> None:
        st = self.engine.state
        now = self.clock.now()
        queues: dict[str, tuple[int, float, float | None]] = {}
        st.sync()
        for name in st.queues:
            qi = st.index.queues.get(name)
            waiting = qi.waiting if qi is not None else []
            # the line is in priority order: the longest wait is the earliest entry among its calls
            longest = max((now - st.calls[k[3]].queue_entered_at for k in waiting), default=0.0)
            sl = st.stats[name].service_level() if name in st.stats else None
            queues[name] = (len(waiting), longest, sl)
        metrics.refresh(queues, dict(st.index.agents_by_state))

    # --- ARI events -> core events ---------------------------------------------------------------------

    def translate(self, ev: Any) -> list[Event]:
        st = self.engine.state
        match ev:
            case E.StasisStart(channel=ch, args=args):
                kind = args[0] if args else ""
                if kind == "inbound" and len(args) >= 2:
                    prio = int(args[2]) if len(args) > 2 and args[2].lstrip("-").isdigit() else 0
                    # an answered channel is not answered again; MOH the dialplan started is not restarted
                    up = ch.state == "Up"
                    return [CallArrived(ch.id, args[1], prio, ch.caller.number, ch.caller.name,
                                        dict(ch.channelvars or {}), answered=up,
                                        moh=up and self.dialplan_moh)]
                if kind == "manual" and len(args) >= 3:  # a customer the agent dialled answered
                    number = args[3] if len(args) > 3 else ch.caller.number
                    return [CallArrived(ch.id, args[1], MANUAL_PRIORITY, number, "",
                                        {"manual": True, "dialled_by": args[2]}, agent_id=args[2])]
                if kind in ("agent", "supervisor", "consult"):
                    return [AgentLegAnswered(ch.id)]
                if kind == "agent-login" and len(args) >= 2:
                    return [AgentSessionConnected(args[1], ch.id)]
                return []
            case E.ChannelHangupRequest(channel=ch, cause=cause, soft=True) if cause == SHUTDOWN_SOFTHANGUP:
                self._shutting_down.add(ch.id)  # Asterisk is stopping: not the caller's nor the agent's doing
                return []
            case E.StasisEnd(channel=ch) | E.ChannelDestroyed(channel=ch):
                if ch.id in self._shutting_down:
                    return self._gone(ch.id, SHUTDOWN, why=SHUTDOWN)
                return self._gone(ch.id, getattr(ev, "cause_txt", "") or "hangup")
            case E.Disconnected():
                if self._lost_at is None:
                    self._lost_at = self.clock.now()  # every channel was last known alive now
                return []
            case E.ChannelDtmfReceived(channel=ch, digit=digit):
                return [DtmfReceived(ch.id, digit)]
            case E.PlaybackFinished(playback=pb):
                return [PlaybackFinished(pb.id)] if pb.id in st.playbacks else []
            case E.EndpointStateChange(endpoint=ep):
                return [EndpointRegistration(f"{ep.technology}/{ep.resource}", ep.state == "online")]
            case E.Connected(snapshot=snap):
                return [self.resync_event(snap)]
        return []

    def _gone(self, channel: str, cause: str, why: str = "") -> list[Event]:
        st = self.engine.state
        if channel in st.calls:
            return [CallerHungUp(channel, why)]
        if channel in st.sessions:
            return [AgentSessionDisconnected(channel)]
        if channel in st.supervisors:
            return [AgentLegHungUp(channel, why)]
        if channel in st.consults or channel in st.dials:
            return [AgentLegFailed(channel, cause)]
        call = st.calls.get(st.legs.get(channel, ""))
        if call is not None:
            if call.agent_leg == channel:
                return [AgentLegHungUp(channel, why)]
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
        lost_at, self._lost_at = self._lost_at, None
        return Resync(tuple(chans), bridges, lost_at=lost_at)

    def feed(self, ev: Any) -> None:
        channel = getattr(getattr(ev, "channel", None), "id", None)
        st = self.engine.state
        call = channel if channel in st.calls else st.legs.get(channel or "")
        received = self._received.pop(id(ev), None)
        with structlog.contextvars.bound_contextvars(channel_id=channel, call_id=call):
            for core_ev in self.translate(ev):
                try:
                    self.handle(core_ev, received)
                except Exception:  # an ARI event must never stop the consumer
                    log.exception("acd.event_failed", event_type=type(core_ev).__name__)
        match ev:
            case E.StasisEnd(channel=ch):
                self._drop_precreated(ch.id)
                self.keys.forget_channel(ch.id)
                self._shutting_down.discard(ch.id)
            case E.ChannelDestroyed(channel=ch):
                self._drop_precreated(ch.id)
                self.keys.forget_channel(ch.id)
                self._originated.discard(ch.id)
                self._shutting_down.discard(ch.id)
            case E.PlaybackFinished(playback=pb):
                self.keys.forget_media(pb.id)
            case E.Connected(snapshot=snap):
                live = {c.id for c in snap.channels}
                self._precreated = {b: c for b, c in self._precreated.items() if c in live}
                self.keys.prune(live, {b.id for b in [*snap.bridges, *snap.stasis_bridges]})
                self._originated &= live
                self._shutting_down &= live

    async def run(self, events: AsyncIterable[Any]) -> None:
        """Consume ARI events and execute commands until the subscription ends (then finish the queued
        commands). Cancelling it cancels the requests in flight and drops the queued ones."""
        try:
            async with asyncio.TaskGroup() as tg:
                pool = tg.create_task(self.lanes.run(), name="acd-ari-lanes")
                fed = 0
                async for ev in events:
                    self.feed(ev)
                    fed += 1
                    if fed % YIELD_EVERY == 0:
                        # a backlog is taken without waiting: let the API, /metrics, timers and the ARI
                        # workers run between slices of it
                        await asyncio.sleep(0)
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
            elif isinstance(cmd, AddToBridge) and cmd.confirm and not isinstance(exc, AriUnavailable):
                # one party left before the bridge (400 Channel not found, 422 not in Stasis): not answered
                log.info("acd.bridge_refused", call_id=cmd.confirm, error=str(exc))
                self.feed_core(BridgeFailed(cmd.confirm, str(exc)))
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
        if cmd.app_args[:1] == ("supervisor",):  # nobody waits on it: the supervision fails now, visibly
            self.feed_core(AgentLegFailed(cmd.leg_id, f"refused-{exc.status}" if exc.status else "unavailable"))
            return
        # Asterisk failing (500s, time-outs): not the operator's fault, so no auto-pause; the offer fails a
        # moment later, so that the call is offered again at most once a second while Asterisk fails
        asyncio.get_running_loop().call_later(ASTERISK_RETRY, self.feed_core,
                                              AgentLegFailed(cmd.leg_id, ASTERISK_FAILED))

    def feed_core(self, ev: Event) -> None:
        try:
            self.handle(ev)
        except Exception:
            log.exception("acd.event_failed", event_type=type(ev).__name__)

    async def _execute(self, cmd: Command) -> None:
        ari = self.ari
        if self._on_request is not None:
            self._on_request(cmd)
        match cmd:
            case OriginateAgent(leg_id=ch) | AddToBridge(channels=(ch, *_)) if ch in self._routing:
                metrics.ROUTING.observe(max(0.0, time.monotonic() - self._routing.pop(ch)))
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
                if cmd.confirm:
                    self.feed_core(CallBridged(cmd.confirm))
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
