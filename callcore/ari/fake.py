"""``FakeAri``: an in-memory ``AriApi`` for unit tests of the subsystems that drive calls.

It keeps channels, bridges, playbacks and recordings, records every call in ``calls`` as
``(method_name, kwargs)``, raises scripted failures (``fail_next``), raises the same typed errors as
Asterisk for impossible operations (unknown channel -> AriNotFound, not in Stasis -> AriConflict, and
so on), and publishes the events real Asterisk 22 sends for each operation to subscribers of
``fake.session`` (the same ``subscribe()`` interface as ``AriSession``; ``fake.events(...)`` too).

Faithful details: an app hangup gives ``ChannelHangupRequest(cause=32, soft=True)``, a remote hangup
one without cause. Subscription semantics are Asterisk 22's: the app receives a channel's events only
while the channel is in its Stasis or while the app is subscribed to it (originated with ``app``, or
``subscribe("channel:<id>")``); a channel originated into dialplan (``context``/``extension``, no ``app``)
is invisible until it enters Stasis and again once it leaves; ``ChannelDestroyed`` follows only for
subscribed channels, not for inbound or snoop channels that left Stasis. What Asterisk would not have
sent is kept in ``withheld``. A requested channel id that is a (case-insensitive) prefix of a live
channel's uniqueid is refused with 409, as Asterisk's channel storage does; an originated channel
enters Stasis only when ``answer_originated`` is called.
Test drivers: ``inject_call``, ``answer_originated``, ``fail_originated``, ``enter_stasis``,
``remote_hangup``, ``press_dtmf``, ``finish_playback``, ``finish_recording``, ``reconnect``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import msgspec

from callcore.ari import events as E
from callcore.ari.dispatch import EventFilter, Subscription
from callcore.ari.fake_bridges import FakeBridgesMixin
from callcore.ari.models import (
    CallerId,
    Channel,
    DialplanCEP,
    LiveRecording,
    Playback,
    StoredRecording,
)
from callcore.clock import Clock
from callcore.errors import AriBadRequest, AriNotFound, AriServerError, AriUnavailable

_DIAL_STATUS = {16: "ANSWER", 17: "BUSY", 19: "NOANSWER", 21: "CONGESTION", 34: "CONGESTION", 127: "CANCEL"}
_CAUSE_TXT = {16: "Normal Clearing", 17: "User busy", 19: "No user responding", 21: "Call Rejected",
              34: "Circuit/channel congestion", 127: "Interworking, unspecified"}


class FakeSession:
    """The ``AriSession`` face of a FakeAri: ``client``, ``subscribe``, ``connected``, ``wait_connected``."""

    def __init__(self, fake: FakeAri) -> None:
        self.client = fake
        self.app = fake.app
        self._fake = fake

    def subscribe(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        return self._fake.events(name, maxsize, filter)

    def events(self, name: str, maxsize: int = 10000, filter: EventFilter | None = None) -> Subscription:
        return self._fake.events(name, maxsize, filter)

    @property
    def connected(self) -> bool:
        return self._fake.connected

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not self._fake.connected:
            raise AriUnavailable("fake ARI is disconnected")


class FakeAri(FakeBridgesMixin):
    def __init__(self, app: str = "callcore", *, clock: Clock | None = None,
                 asterisk_id: str = "fake") -> None:
        super().__init__(app, asterisk_id=asterisk_id, clock=clock)
        self.session = FakeSession(self)

    # --- drivers -------------------------------------------------------------------------------
    def inject_call(self, caller_number: str = "+15551230001", *, channel_id: str | None = None,
                    args: Sequence[str] = ("inbound", "sales"), caller_name: str = "",
                    exten: str = "100") -> str:
        """A SIP call enters ``Stasis(app, *args)`` unanswered; returns its channel id."""
        cid = channel_id or f"{int(time.time())}.{self._seq + 1}"
        self._seq += 1
        ch = Channel(id=cid, name=f"PJSIP/trunk-{self._seq:08x}", state="Ring",
                     caller=CallerId(name=caller_name, number=caller_number), creationtime=self.ts(),
                     dialplan=DialplanCEP(context="inbound", exten=exten, priority=1, app_name="Stasis",
                                          app_data=",".join([self.app, *args])))
        self.channels[cid] = ch
        self.in_stasis.add(cid)
        self._publish(E.StasisStart(channel=ch, args=list(args), **self.base()))
        return cid

    def enter_stasis(self, channel_id: str, args: Sequence[str] = ()) -> None:
        """A channel running dialplan (e.g. after AMD) executes ``Stasis(app, *args)``."""
        ch = self.channel(channel_id)
        self.in_stasis.add(channel_id)
        self._publish(E.StasisStart(channel=ch, args=list(args), **self.base()))

    def answer_originated(self, channel_id: str) -> None:
        """The far end of an originated channel answers: state Up, Dial ANSWER, then StasisStart."""
        ch = self.set_state(channel_id, "Up")
        self._publish(E.ChannelStateChange(channel=ch, **self.base()))
        self._publish(E.Dial(peer=ch, dialstatus="ANSWER", dialstring=self.dialstrings.get(channel_id, ""),
                             **self.base()))
        args = self.pending_stasis.pop(channel_id, None)
        if args is not None:
            self.enter_stasis(channel_id, args)

    def fail_originated(self, channel_id: str, cause: int = 19) -> None:
        """The originated call is not answered (17 busy, 19 no answer, 21/34 congestion)."""
        ch = self.channel(channel_id)
        self._publish(E.Dial(peer=ch, dialstatus=_DIAL_STATUS.get(cause, "CHANUNAVAIL"),
                             dialstring=self.dialstrings.get(channel_id, ""), **self.base()))
        self.pending_stasis.pop(channel_id, None)
        self._destroy(channel_id, cause=cause, request=None)

    def remote_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The far end hangs up (BYE): ChannelHangupRequest without cause, then StasisEnd etc."""
        self._destroy(channel_id, cause=cause, request=(None, None))

    def press_dtmf(self, channel_id: str, digits: str, duration_ms: int = 100) -> None:
        ch = self.channel(channel_id)
        for d in digits:
            self._publish(E.ChannelDtmfReceived(channel=ch, digit=d, duration_ms=duration_ms, **self.base()))

    def finish_playback(self, playback_id: str, *, failed: bool = False) -> None:
        pb = self.playbacks.pop(playback_id, None)
        if pb is None:
            raise AriNotFound("Playback not found", status=404)
        done = msgspec.structs.replace(pb, state="failed" if failed else "done")
        self._publish(E.PlaybackFinished(playback=done, **self.base()))

    def finish_recording(self, name: str, duration: int = 1) -> None:
        rec = self.live_recordings.pop(name, None)
        if rec is None:
            raise AriNotFound("Recording not found", status=404)
        done = msgspec.structs.replace(rec, state="done", duration=duration)
        self.stored_recordings[name] = StoredRecording(name=name, format=rec.format)
        self._publish(E.RecordingFinished(recording=done, **self.base()))

    def disconnect(self, reason: str = "fake disconnect") -> None:
        if self.connected:
            self.connected = False
            self._publish(E.Disconnected(reason=reason))

    def reconnect(self) -> None:
        """Disconnected (if connected) then Connected(snapshot), as after a websocket outage."""
        self.disconnect()
        self.connected = True
        self._publish(E.Connected(snapshot=self.snapshot(), reconnect=True))

    def _destroy(self, channel_id: str, *, cause: int,
                 request: tuple[int | None, bool | None] | None) -> None:
        ch = self.channel(channel_id)
        if request is not None:
            self._publish(E.ChannelHangupRequest(channel=ch, cause=request[0], soft=request[1],
                                                 **self.base()))
        for bridge in list(self.bridges.values()):
            if channel_id in bridge.channels:
                nb = self.bridge_without(bridge.id, channel_id)
                self._publish(E.ChannelLeftBridge(bridge=nb, channel=ch, **self.base()))
        if channel_id in self.in_stasis:
            self._publish(E.StasisEnd(channel=ch, **self.base()))
            self.in_stasis.discard(channel_id)
        if channel_id in self.subscribed:
            self._publish(E.ChannelDestroyed(channel=ch, cause=cause, cause_txt=_CAUSE_TXT.get(cause, ""),
                                             **self.base()))
        self.forget_channel(channel_id)

    # --- AriApi: channels ----------------------------------------------------------------------
    async def originate(
        self, endpoint: str, *, channel_id: str, app: str | None = None, app_args: Sequence[str] = (),
        context: str | None = None, extension: str | None = None, priority: int | None = None,
        caller_id: str | None = None, timeout: int = 30,  # noqa: ASYNC109
        variables: Mapping[str, str] | None = None, originator: str | None = None, formats: str | None = None,
    ) -> Channel:
        self._enter("originate", endpoint=endpoint, channel_id=channel_id, app=app, app_args=list(app_args),
                    context=context, extension=extension, priority=priority, caller_id=caller_id,
                    timeout=timeout, variables=dict(variables or {}), originator=originator, formats=formats)
        if app is None and extension is None:
            app = self.app  # as AriClient.originate does
        if channel_id in self.channels:  # AriClient answers a 409 for the very same id with that channel
            return self.channels[channel_id]
        if "/" not in endpoint:
            raise AriBadRequest("Invalid endpoint specified", status=400, method="POST", path="/channels")
        self.check_new_id(channel_id, "/channels")
        ch = Channel(id=channel_id, name=f"{endpoint}-{self._seq:08x}", state="Down", creationtime=self.ts())
        self._seq += 1
        self.channels[channel_id] = ch
        if app:
            self.subscribed.add(channel_id)
            self.pending_stasis[channel_id] = list(app_args)
        self.variables[channel_id] = dict(variables or {})
        self.dialstrings[channel_id] = endpoint.split("/", 1)[1]
        self._publish(E.Dial(peer=ch, dialstatus="", dialstring=self.dialstrings[channel_id], **self.base()))
        return ch

    async def get_channel(self, channel_id: str) -> Channel:
        self._enter("get_channel", channel_id=channel_id)
        return self.channel(channel_id)

    async def list_channels(self) -> list[Channel]:
        self._enter("list_channels")
        return list(self.channels.values())

    async def answer(self, channel_id: str) -> None:
        self._enter("answer", channel_id=channel_id)
        self.stasis_channel(channel_id)
        if self.channels[channel_id].state != "Up":
            ch = self.set_state(channel_id, "Up")
            self._publish(E.ChannelStateChange(channel=ch, **self.base()))

    async def ring(self, channel_id: str) -> None:
        self._enter("ring", channel_id=channel_id)
        self.stasis_channel(channel_id)

    async def ring_stop(self, channel_id: str) -> None:
        self._enter("ring_stop", channel_id=channel_id)
        self.stasis_channel(channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal", *, missing_ok: bool = False) -> None:
        self._enter("hangup", channel_id=channel_id, reason=reason, missing_ok=missing_ok)
        if channel_id not in self.channels:
            if missing_ok:
                return
            raise AriNotFound("Channel not found", status=404, method="DELETE",
                              path=f"/channels/{channel_id}")
        self._destroy(channel_id, cause=16, request=(32, True))

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        self._enter("start_moh", channel_id=channel_id, moh_class=moh_class)
        self.stasis_channel(channel_id)
        self.moh[channel_id] = moh_class or "default"

    async def stop_moh(self, channel_id: str) -> None:
        self._enter("stop_moh", channel_id=channel_id)
        self.stasis_channel(channel_id)
        self.moh.pop(channel_id, None)

    async def start_silence(self, channel_id: str) -> None:
        self._enter("start_silence", channel_id=channel_id)
        self.stasis_channel(channel_id)

    async def play(self, channel_id: str, media: Sequence[str], *, playback_id: str | None = None,
                   lang: str | None = None) -> Playback:
        self._enter("play", channel_id=channel_id, media=list(media), playback_id=playback_id, lang=lang)
        self.stasis_channel(channel_id)
        return self._start_playback(f"channel:{channel_id}", media, playback_id, lang)

    async def record(self, channel_id: str, name: str, *, format: str = "wav", max_duration: int = 0,
                     max_silence: int = 0, if_exists: str = "fail", beep: bool = False,
                     terminate_on: str = "none") -> LiveRecording:
        self._enter("record", channel_id=channel_id, name=name, format=format, max_duration=max_duration,
                    max_silence=max_silence, if_exists=if_exists, beep=beep, terminate_on=terminate_on)
        self.stasis_channel(channel_id)
        return self._start_recording(f"channel:{channel_id}", name, format, if_exists)

    async def snoop(self, channel_id: str, *, snoop_id: str, app: str | None = None,
                    app_args: Sequence[str] = (), spy: str = "none", whisper: str = "none") -> Channel:
        self._enter("snoop", channel_id=channel_id, snoop_id=snoop_id, app=app, app_args=list(app_args),
                    spy=spy, whisper=whisper)
        path = f"/channels/{channel_id}/snoop"
        if spy == "none" and whisper == "none":  # Asterisk checks the request before the channel
            raise AriBadRequest("Direction must be specified for at least spy or whisper", status=400,
                                method="POST", path=path)
        if channel_id not in self.channels:
            raise AriNotFound("Provided channel was not found", status=404, method="POST", path=path)
        if snoop_id and self.id_taken(snoop_id):  # the Snoop channel's allocation fails: 500, not 409
            raise AriServerError("Snoop channel could not be created", status=500, method="POST", path=path)
        ch = Channel(id=snoop_id, name=f"Snoop/{channel_id}-{self._seq:08x}", state="Up",
                     creationtime=self.ts())
        self._seq += 1
        self.channels[snoop_id] = ch
        self.enter_stasis(snoop_id, app_args)
        return ch

    async def continue_in_dialplan(self, channel_id: str, *, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        self._enter("continue_in_dialplan", channel_id=channel_id, context=context, extension=extension,
                    priority=priority, label=label)
        ch = self.stasis_channel(channel_id)
        self._publish(E.StasisEnd(channel=ch, **self.base()))
        self.in_stasis.discard(channel_id)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        self._enter("redirect", channel_id=channel_id, endpoint=endpoint)
        self.stasis_channel(channel_id)

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        self._enter("send_dtmf", channel_id=channel_id, dtmf=dtmf)
        self.stasis_channel(channel_id)
        if not dtmf:
            raise AriBadRequest("DTMF is required", status=400)

    async def get_variable(self, channel_id: str, variable: str) -> str:
        self._enter("get_variable", channel_id=channel_id, variable=variable)
        self.channel(channel_id)
        value = self.variables.get(channel_id, {}).get(variable)
        if value is None:
            raise AriNotFound("Provided variable was not found", status=404)
        return value

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        self._enter("set_variable", channel_id=channel_id, variable=variable, value=value)
        ch = self.stasis_channel(channel_id)  # Asterisk: 409 for a channel that is not in Stasis
        self.variables.setdefault(channel_id, {})[variable] = value
        self._publish(E.ChannelVarset(channel=ch, variable=variable, value=value, **self.base()))


__all__ = ["FakeAri", "FakeSession"]
