"""ARI bridges, playbacks, recordings, endpoints, device states, applications, asterisk, sounds."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web

from callcore.sim.core import RestError
from callcore.sim.engine import Engine
from callcore.sim.httputil import SERVER_HEADERS, Handler, no_content, params, reply
from callcore.sim.media import SOUNDS
from callcore.sim.wire import ASTERISK_VERSION, ari_time


def wav_bytes(seconds: float) -> bytes:
    """A silent 8 kHz 16-bit mono WAV file of the given length."""
    data = b"\x00\x00" * int(8000 * max(seconds, 0.0))
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
    )
    return header + data


def media_handlers(eng: Engine, target: Callable[[web.Request], str]) -> tuple[Handler, Handler]:
    """``play`` and ``record`` handlers for a channel or a bridge; ``target`` gives the target URI (and
    raises the resource's own error when it does not exist or is not in Stasis)."""

    async def play(request: web.Request) -> web.Response:
        p = await params(request)
        pb = eng.play(target(request), p.listing("media"),
                      request.match_info.get("playbackId") or p.get("playbackId"), p.get("lang"))
        return reply(pb.json(), status=201)

    async def record(request: web.Request) -> web.Response:
        p = await params(request)
        rec = eng.record(target(request), p.get("name"), p.get("format"),
                         p.number("maxDurationSeconds", 0.0), p.text("ifExists", "fail"))
        return reply(rec.json(), status=201)

    return play, record


def add_bridge_routes(app: web.Application, eng: Engine) -> None:
    r = app.router

    async def list_bridges(request: web.Request) -> web.Response:
        return reply([b.json() for b in eng.bridges.values()])

    async def create(request: web.Request) -> web.Response:
        p = await params(request)
        bridge_id = request.match_info.get("bridgeId") or p.get("bridgeId")
        return reply(eng.create_bridge(p.get("type"), bridge_id, p.get("name")).json())

    async def get(request: web.Request) -> web.Response:
        return reply(eng.bridge(request.match_info["bridgeId"]).json())

    async def destroy(request: web.Request) -> web.Response:
        eng.destroy_bridge(eng.bridge(request.match_info["bridgeId"], reason="Not found"))
        return no_content()

    async def add(request: web.Request) -> web.Response:
        p = await params(request)
        eng.add_to_bridge(
            eng.bridge(request.match_info["bridgeId"], reason="Not found"), p.listing("channel")
        )
        return no_content()

    async def remove(request: web.Request) -> web.Response:
        p = await params(request)
        eng.remove_from_bridge(
            eng.bridge(request.match_info["bridgeId"], reason="Not found"), p.listing("channel")
        )
        return no_content()

    async def moh(request: web.Request) -> web.Response:
        eng.bridge(request.match_info["bridgeId"]).moh = request.method == "POST"
        return no_content()

    play, record = media_handlers(eng, lambda r: f"bridge:{eng.bridge(r.match_info['bridgeId']).id}")

    one = "/ari/bridges/{bridgeId}"
    r.add_get("/ari/bridges", list_bridges)
    r.add_post("/ari/bridges", create)
    r.add_get(one, get)
    r.add_post(one, create)
    r.add_delete(one, destroy)
    r.add_post(one + "/addChannel", add)
    r.add_post(one + "/removeChannel", remove)
    r.add_post(one + "/moh", moh)
    r.add_delete(one + "/moh", moh)
    r.add_post(one + "/play", play)
    r.add_post(one + "/play/{playbackId}", play)
    r.add_post(one + "/record", record)


def add_media_routes(app: web.Application, eng: Engine) -> None:
    r = app.router

    async def get_playback(request: web.Request) -> web.Response:
        return reply(eng.playback(request.match_info["playbackId"]).json())

    async def stop_playback(request: web.Request) -> web.Response:
        eng.stop_playback(eng.playback(request.match_info["playbackId"]))
        return no_content()

    async def control(request: web.Request) -> web.Response:
        p = await params(request)
        pb = eng.playback(request.match_info["playbackId"])
        op = p.get("operation")
        if not op:
            raise RestError(400, "Missing parameter operation")
        eng.control_playback(pb, op)
        return no_content()

    async def list_stored(request: web.Request) -> web.Response:
        return reply([s.json() for s in sorted(eng.stored.values(), key=lambda s: s.name)])

    async def get_stored(request: web.Request) -> web.Response:
        return reply(eng.stored_recording(request.match_info["name"]).json())

    async def delete_stored(request: web.Request) -> web.Response:
        rec = eng.stored_recording(request.match_info["name"])
        del eng.stored[rec.name]
        return no_content()

    async def stored_file(request: web.Request) -> web.Response:
        rec = eng.stored_recording(request.match_info["name"])
        return web.Response(body=wav_bytes(rec.duration), content_type="audio/wav", headers=SERVER_HEADERS)

    async def get_live(request: web.Request) -> web.Response:
        return reply(eng.live_recording(request.match_info["name"]).json())

    async def cancel_live(request: web.Request) -> web.Response:
        eng.finish_recording(eng.live_recording(request.match_info["name"]), cancel=True)
        return no_content()

    async def stop_live(request: web.Request) -> web.Response:
        eng.finish_recording(eng.live_recording(request.match_info["name"]))
        return no_content()

    async def pause_live(request: web.Request) -> web.Response:
        eng.pause_recording(eng.live_recording(request.match_info["name"]), request.method == "POST")
        return no_content()

    async def mute_live(request: web.Request) -> web.Response:
        eng.live_recording(request.match_info["name"]).muted = request.method == "POST"
        return no_content()

    r.add_get("/ari/playbacks/{playbackId}", get_playback)
    r.add_delete("/ari/playbacks/{playbackId}", stop_playback)
    r.add_post("/ari/playbacks/{playbackId}/control", control)
    r.add_get("/ari/recordings/stored", list_stored)
    r.add_get("/ari/recordings/stored/{name}", get_stored)
    r.add_delete("/ari/recordings/stored/{name}", delete_stored)
    r.add_get("/ari/recordings/stored/{name}/file", stored_file)
    r.add_get("/ari/recordings/live/{name}", get_live)
    r.add_delete("/ari/recordings/live/{name}", cancel_live)
    r.add_post("/ari/recordings/live/{name}/stop", stop_live)
    r.add_post("/ari/recordings/live/{name}/pause", pause_live)
    r.add_delete("/ari/recordings/live/{name}/pause", pause_live)
    r.add_post("/ari/recordings/live/{name}/mute", mute_live)
    r.add_delete("/ari/recordings/live/{name}/mute", mute_live)


def add_system_routes(app: web.Application, eng: Engine) -> None:
    r = app.router

    async def endpoints(request: web.Request) -> web.Response:
        tech = request.match_info.get("tech")
        keys = [k for k, ep in eng.endpoints.items() if tech is None or ep["technology"] == tech]
        if tech is not None and not keys:
            raise RestError(404, f"No Endpoints found - invalid tech {tech}")
        return reply([eng.endpoint_json(k) for k in keys])

    async def endpoint(request: web.Request) -> web.Response:
        key = f"{request.match_info['tech']}/{request.match_info['resource']}"
        if key not in eng.endpoints:
            raise RestError(404, "Endpoint not found")
        return reply(eng.endpoint_json(key))

    async def device_states(request: web.Request) -> web.Response:
        return reply([{"name": n, "state": s} for n, s in eng.device_states.items()])

    async def device_state(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.method == "GET":
            return reply({"name": name, "state": eng.device_states.get(name, "UNKNOWN")})
        if not name.startswith("Stasis:"):
            raise RestError(409, "Uncontrolled device specified")
        if request.method == "PUT":
            p = await params(request)
            eng.device_states[name] = p.text("deviceState", "UNKNOWN")
        elif eng.device_states.pop(name, None) is None:
            raise RestError(404, "Device state not found")
        return no_content()

    async def applications(request: web.Request) -> web.Response:
        names = sorted(n for n in eng.apps if eng.app_exists(n))
        return reply([eng.app_json(n) for n in names])

    def existing_app(request: web.Request) -> str:
        name = request.match_info["app"]
        if not eng.app_exists(name):
            raise RestError(404, "Application not found")
        return name

    async def application(request: web.Request) -> web.Response:
        return reply(eng.app_json(existing_app(request)))

    async def subscription(request: web.Request) -> web.Response:
        p = await params(request)
        name = existing_app(request)
        sources = p.listing("eventSource")
        if not sources:
            raise RestError(400, "Missing parameter eventSource")
        subscribe = request.method == "POST"
        for source in sources:
            scheme, _, ident = source.partition(":")
            if scheme not in ("channel", "bridge", "endpoint", "deviceState"):
                raise RestError(400, "Invalid event source URI scheme")
            target: Any = eng.find_channel(ident) if scheme == "channel" else eng.bridges.get(ident)
            if subscribe:
                if target is None or getattr(target, "gone", False):
                    raise RestError(422, "Event source does not exist")
                target.subs.add(name)
            else:
                if target is None or name not in target.subs:
                    raise RestError(422, "Event source was not subscribed to")
                target.subs.discard(name)
        return reply(eng.app_json(name))

    async def event_filter(request: web.Request) -> web.Response:
        p = await params(request)
        name = existing_app(request)
        app_obj = eng.get_app(name)
        filters: dict[str, list[dict[str, str]]] = {}
        for key in ("allowed", "disallowed"):
            value = p.body.get(key, [])
            if not isinstance(value, list) or not all(isinstance(f, dict) and "type" in f for f in value):
                raise RestError(400, f"Invalid format for '{key}' filter")
            filters[key] = [{"type": str(f["type"])} for f in value]
        app_obj.allowed, app_obj.disallowed = filters["allowed"], filters["disallowed"]
        return reply(eng.app_json(name))

    async def info(request: web.Request) -> web.Response:
        started = ari_time(eng.started)
        return reply(
            {
                "build": {
                    "os": "Linux",
                    "kernel": "6.0.0-sim",
                    "machine": "x86_64",
                    "options": "OPTIONAL_API",
                    "date": "2026-11-29 01:35:31 UTC",
                    "user": "root",
                },
                "system": {"version": ASTERISK_VERSION, "entity_id": eng.entity_id},
                "config": {
                    "name": eng.sysname,
                    "default_language": "en",
                    "setid": {"user": "root", "group": "root"},
                },
                "status": {"startup_time": started, "last_reload_time": started},
            }
        )

    async def ping(request: web.Request) -> web.Response:
        return reply({"ping": "pong", "timestamp": eng.now_str(), "asterisk_id": eng.entity_id})

    async def variable(request: web.Request) -> web.Response:
        p = await params(request)
        name = p.get("variable")
        if not name:
            raise RestError(400, "Variable name is required")
        if request.method == "GET":
            return reply({"value": eng.globals.get(name, "")})
        eng.globals[name] = p.text("value")
        return no_content()

    def sound_json(name: str) -> dict[str, Any]:
        return {"id": name, "formats": [{"language": "en", "format": "gsm"}]}

    async def sounds(request: web.Request) -> web.Response:
        return reply([sound_json(n) for n in sorted(SOUNDS)])

    async def sound(request: web.Request) -> web.Response:
        name = request.match_info["sound"]
        if name not in SOUNDS:
            raise RestError(404, "Sound not found")
        return reply(sound_json(name))

    r.add_get("/ari/endpoints", endpoints)
    r.add_get("/ari/endpoints/{tech}", endpoints)
    r.add_get("/ari/endpoints/{tech}/{resource}", endpoint)
    r.add_get("/ari/deviceStates", device_states)
    for method in ("GET", "PUT", "DELETE"):
        r.add_route(method, "/ari/deviceStates/{name}", device_state)
    r.add_get("/ari/applications", applications)
    r.add_get("/ari/applications/{app}", application)
    r.add_post("/ari/applications/{app}/subscription", subscription)
    r.add_delete("/ari/applications/{app}/subscription", subscription)
    r.add_put("/ari/applications/{app}/eventFilter", event_filter)
    r.add_get("/ari/asterisk/info", info)
    r.add_get("/ari/asterisk/ping", ping)
    r.add_get("/ari/asterisk/variable", variable)
    r.add_post("/ari/asterisk/variable", variable)
    r.add_get("/ari/sounds", sounds)
    r.add_get("/ari/sounds/{sound:.+}", sound)
