"""ARI ``/channels`` resource of the simulated Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from callcore.sim.ari_resources import media_handlers
from callcore.sim.core import RestError
from callcore.sim.engine import Engine
from callcore.sim.httputil import Handler, no_content, params, reply
from callcore.sim.model import Chan
from callcore.sim.wire import HANGUP_REASONS, parse_caller_id

NOT_IN_STASIS = "Channel not in Stasis application"


def add_channel_routes(app: web.Application, eng: Engine) -> None:
    r = app.router
    tasks: set[asyncio.Task[None]] = set()

    async def control_turn(c: Chan) -> None:
        """Wait while the channel's control queue is busy (a playback or DTMF being sent), as REST
        commands queued on an Asterisk channel do."""
        for _ in range(60_000):
            if c.gone or not eng.channel_busy(c):
                return
            await asyncio.sleep(0.005)

    def deferred(c: Chan, action: Callable[[], None]) -> None:
        async def run() -> None:
            await control_turn(c)
            action()

        task = asyncio.get_running_loop().create_task(run(), name=f"sim-control-{c.id}")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def list_channels(request: web.Request) -> web.Response:
        return reply([c.json() for c in eng.channels.values() if not c.gone])

    async def originate(request: web.Request) -> web.Response:
        p = await params(request)
        channel_id = request.match_info.get("channelId") or p.get("channelId")
        endpoint = p.get("endpoint")
        if not endpoint:
            raise RestError(400, "Endpoint must be specified")
        app_name, extension = p.get("app"), p.get("extension")
        if not app_name and not extension:
            raise RestError(400, "Application or extension must be specified")
        caller = p.get("callerId")
        c = eng.originate(
            endpoint,
            app=app_name,
            app_args=p.listing("appArgs") if app_name else None,
            context=p.get("context") or "default",
            extension=extension,
            priority=int(p.number("priority", 1)),
            caller_id=parse_caller_id(caller) if caller else None,
            timeout=p.number("timeout", 30.0),
            variables=p.variables(),
            channel_id=channel_id,
            other_id=p.get("otherChannelId"),
            formats=p.get("formats"),
        )
        return reply(c.json())

    async def create(request: web.Request) -> web.Response:
        p = await params(request)
        endpoint = p.get("endpoint")
        if not endpoint:
            raise RestError(400, "Endpoint must be specified")
        app_name = p.get("app")
        if not app_name:
            raise RestError(400, "Application must be specified")
        c = eng.create(
            endpoint,
            app=app_name,
            app_args=p.listing("appArgs"),
            channel_id=p.get("channelId"),
            other_id=p.get("otherChannelId"),
            variables=p.variables(),
        )
        return reply(c.json())

    async def get_channel(request: web.Request) -> web.Response:
        return reply(eng.chan(request.match_info["channelId"]).json())

    async def hangup(request: web.Request) -> web.Response:
        p = await params(request)
        c = eng.chan(request.match_info["channelId"])
        code = p.get("reason_code")
        reason = p.get("reason")
        if code and reason:
            raise RestError(400, "The reason and reason_code can't both be specified")
        if code:
            try:
                cause = int(code)
            except ValueError:
                raise RestError(400, "Invalid reason for hangup reason code provided",
                                reason="Invalid Reason Code") from None
        elif reason:
            if reason not in HANGUP_REASONS:
                raise RestError(400, "Invalid reason for hangup reason provided", reason="Invalid Reason")
            cause = HANGUP_REASONS[reason]
        else:
            cause = 16
        eng.hangup(c, cause, request={"cause": 32, "soft": True})
        return no_content()

    def stasis_op(fn_name: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            p = await params(request)
            c = eng.stasis_chan(request.match_info["channelId"])
            if fn_name == "answer":
                eng.answer(c)
            elif fn_name == "ring":
                pass
            elif fn_name == "progress":
                eng.progress(c)
            elif fn_name in ("moh", "silence"):
                eng.progress(c)
                c.moh = fn_name == "moh"
            elif fn_name == "unmoh":
                c.moh = False
            elif fn_name in ("hold", "unhold"):
                c.held = fn_name == "hold"
            elif fn_name in ("mute", "unmute"):
                c.muted = fn_name == "mute"
            elif fn_name == "dtmf":
                digits = p.get("dtmf")
                if not digits:
                    raise RestError(400, "DTMF is required")
                eng.progress(c)
                deferred(c, lambda: eng.send_dtmf_from_app(c, digits))
            elif fn_name in ("continue", "redirect"):
                if fn_name == "redirect" and not p.get("endpoint"):
                    raise RestError(400, "Endpoint parameter not provided")
                if fn_name == "continue" and p.get("context") == "dialer-amd":
                    deferred(c, lambda: eng.continue_to_amd(c) if c.stasis_app and not c.gone else None)
                else:
                    deferred(c, lambda: eng.redirect_or_continue(c) if c.stasis_app and not c.gone else None)
            elif fn_name == "move":
                target = p.get("app")
                if not target:
                    raise RestError(400, "Application must be specified")
                eng.move(c, target, p.listing("appArgs"))
            elif fn_name == "dial":
                eng.dial(c, p.number("timeout", 0.0))
            return no_content()

        return handler

    play, record = media_handlers(eng, lambda r: f"channel:{eng.stasis_chan(r.match_info['channelId']).id}")

    async def get_variable(request: web.Request) -> web.Response:
        p = await params(request)
        name = p.get("variable")
        if not name:  # checked before the channel, as Asterisk does
            raise RestError(400, "Variable name is required")
        c = eng.chan(
            request.match_info["channelId"],
            message="Provided channel was not found",
            reason="Channel Not Found",
        )
        builtin = {
            "CALLERID(num)": c.caller_number,
            "CALLERID(name)": c.caller_name,
            "CHANNEL(name)": c.name,
            "UNIQUEID": c.id,
            "CHANNEL(state)": c.state,
        }
        if name in builtin:
            return reply({"value": builtin[name]})
        if name not in c.variables:
            raise RestError(404, "Provided variable was not found", reason="Variable Not Found")
        return reply({"value": c.variables[name]})

    async def set_variable(request: web.Request) -> web.Response:
        p = await params(request)
        name = p.get("variable")
        if not name:
            raise RestError(400, "Variable name is required")
        c = eng.stasis_chan(request.match_info["channelId"])  # 404, or 409 once it has left Stasis
        await control_turn(c)
        eng.varset(eng.chan(c.id), name, p.text("value"))
        return no_content()

    async def snoop(request: web.Request) -> web.Response:
        p = await params(request)
        s = eng.snoop(
            request.match_info["channelId"],
            spy=p.text("spy", "none"),
            whisper=p.text("whisper", "none"),
            app=p.get("app"),
            app_args=p.text("appArgs"),
            snoop_id=request.match_info.get("snoopId") or p.get("snoopId"),
        )
        return reply(s.json())

    async def rtp_statistics(request: web.Request) -> web.Response:
        c = eng.chan(request.match_info["channelId"], message="Channel cannot be found.")
        return reply(
            {"channel_uniqueid": c.id, "txcount": 0, "rxcount": 0, "local_ssrc": 0, "remote_ssrc": 0}
        )

    base = "/ari/channels"
    one = base + "/{channelId}"
    r.add_get(base, list_channels)
    r.add_post(base, originate)
    r.add_post(base + "/create", create)
    r.add_get(one, get_channel)
    r.add_post(one, originate)
    r.add_delete(one, hangup)
    for path, post, delete in (
        ("answer", "answer", None),
        ("ring", "ring", "ring"),
        ("progress", "progress", None),
        ("moh", "moh", "unmoh"),
        ("silence", "silence", "unmoh"),
        ("hold", "hold", "unhold"),
        ("mute", "mute", "unmute"),
        ("dtmf", "dtmf", None),
        ("continue", "continue", None),
        ("redirect", "redirect", None),
        ("move", "move", None),
        ("dial", "dial", None),
    ):
        r.add_post(f"{one}/{path}", stasis_op(post))
        if delete:
            r.add_delete(f"{one}/{path}", stasis_op(delete))
    r.add_post(one + "/play", play)
    r.add_post(one + "/play/{playbackId}", play)
    r.add_post(one + "/record", record)
    r.add_get(one + "/variable", get_variable)
    r.add_post(one + "/variable", set_variable)
    r.add_post(one + "/snoop", snoop)
    r.add_post(one + "/snoop/{snoopId}", snoop)
    r.add_get(one + "/rtp_statistics", rtp_statistics)
