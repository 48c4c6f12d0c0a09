"""``AriClient``: the ARI REST interface (``callcore.ari.api.AriApi``) over one aiohttp session.

Credentials travel as an HTTP basic-auth header, never in a URL. Every failure becomes an
``AriError`` subclass: HTTP statuses map to the typed errors with Asterisk's own message (the
``message`` key, or ``error`` as in ``500 {"error": "Allocation failed"}``); connection errors and
timeouts become ``AriUnavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
import structlog

from callcore.ari.metrics import ARI_REQUEST_SECONDS, ARI_REQUESTS
from callcore.ari.models import (
    Application,
    AsteriskPing,
    Bridge,
    Channel,
    DeviceState,
    Endpoint,
    LiveRecording,
    Playback,
    StoredRecording,
)
from callcore.config import Secret, Settings
from callcore.errors import (
    AriBadRequest,
    AriConflict,
    AriError,
    AriForbidden,
    AriNotFound,
    AriServerError,
    AriUnauthorized,
    AriUnavailable,
    AriUnprocessable,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

_STATUS_ERRORS: dict[int, type[AriError]] = {
    400: AriBadRequest, 401: AriUnauthorized, 403: AriForbidden, 404: AriNotFound, 409: AriConflict,
    422: AriUnprocessable,
}
_SAFE_SEGMENT = ";:@!$&'()*+,="


def seg(value: str) -> str:
    """One URL path segment (ids may contain ';' as in Local channel ids, which stays readable)."""
    return quote(value, safe=_SAFE_SEGMENT)


def error_for(status: int, body: bytes, *, method: str, path: str, reason: str = "") -> AriError:
    """The typed exception of an ARI error response."""
    message = reason or f"HTTP {status}"
    try:
        data = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        data = None
        text = body.decode("utf-8", "replace").strip()
        if text and len(text) < 300 and "<" not in text:
            message = text
    if isinstance(data, dict):
        found = data.get("message", data.get("error"))
        if isinstance(found, str) and found:
            message = found
    cls = _STATUS_ERRORS.get(status) or (AriServerError if status >= 500 else AriError)
    return cls(message, status=status, method=method, path=path)


def _params(**kw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in kw.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def _basic_auth(user: str, password: str) -> str:
    encode = getattr(aiohttp, "encode_basic_auth", None)
    if encode is not None:
        return str(encode(user, password))
    return str(aiohttp.BasicAuth(user, password).encode())


def _decode(data: bytes, typ: type[T], method: str, path: str) -> T:
    try:
        return msgspec.json.decode(data, type=typ)
    except msgspec.DecodeError as exc:
        raise AriServerError(f"unexpected response body: {exc}", status=200, method=method,
                             path=path) from exc


class AriClient:
    """ARI REST client. Use ``async with AriClient(...) as ari`` or call ``close()``."""

    def __init__(self, url: str, user: str, password: str | Secret, app: str, *, timeout: float = 5.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = url.rstrip("/") + "/ari"
        self.app = app
        self.timeout = timeout
        pw = password.reveal() if isinstance(password, Secret) else password
        self.auth_headers = {"Authorization": _basic_auth(user, pw)}
        self._session = session
        self._owns_session = session is None
        self._req_timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, session: aiohttp.ClientSession | None = None) -> AriClient:
        return cls(settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app,
                   timeout=settings.ari_timeout, session=session)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if self._session is not None and not self._owns_session:
                raise AriUnavailable("the ARI HTTP session was closed")
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> AriClient:
        _ = self.session
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- transport -----------------------------------------------------------------------------
    async def request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                      body: Any = None) -> bytes:
        """Send one request; returns the body of a 2xx response (b"" for 204)."""
        url = self.base_url + path
        started = time.perf_counter()
        status_label = "error"
        try:
            async with self.session.request(
                method, url, params=params or None, json=body, headers=self.auth_headers,
                timeout=self._req_timeout,
            ) as resp:
                data = await resp.read()
                status_label = str(resp.status)
                if resp.status >= 300:
                    raise error_for(resp.status, data, method=method, path=path, reason=resp.reason or "")
                return data
        except AriError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            problem = type(exc).__name__ if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            raise AriUnavailable(problem, status=0, method=method, path=path) from exc
        finally:
            ARI_REQUESTS.labels(method=method, status=status_label).inc()
            ARI_REQUEST_SECONDS.labels(method=method).observe(time.perf_counter() - started)

    async def _get(self, path: str, typ: type[T], params: Mapping[str, str] | None = None) -> T:
        return _decode(await self.request("GET", path, params), typ, "GET", path)

    async def _send(self, method: str, path: str, typ: type[T], params: Mapping[str, str] | None = None,
                    body: Any = None) -> T:
        return _decode(await self.request(method, path, params, body), typ, method, path)

    async def _missing_ok(self, method: str, path: str, missing_ok: bool,
                          params: Mapping[str, str] | None = None) -> None:
        try:
            await self.request(method, path, params)
        except AriNotFound:
            if not missing_ok:
                raise

    # --- channels ------------------------------------------------------------------------------
    async def originate(
        self, endpoint: str, *, channel_id: str, app: str | None = None, app_args: Sequence[str] = (),
        context: str | None = None, extension: str | None = None, priority: int | None = None,
        caller_id: str | None = None, timeout: int = 30,  # noqa: ASYNC109
        variables: Mapping[str, str] | None = None, originator: str | None = None, formats: str | None = None,
    ) -> Channel:
        if app is None and extension is None:
            app = self.app
        params = _params(endpoint=endpoint, channelId=channel_id, app=app,
                         appArgs=list(app_args) if app_args else None, context=context, extension=extension,
                         priority=priority, callerId=caller_id, timeout=timeout, originator=originator,
                         formats=formats)
        body = {"variables": dict(variables)} if variables else None
        try:
            return await self._send("POST", "/channels", Channel, params, body)
        except AriConflict:
            try:
                existing = await self.get_channel(channel_id)
            except AriNotFound:
                raise
            log.info("ari_originate_duplicate", channel_id=channel_id)
            return existing

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._get(f"/channels/{seg(channel_id)}", Channel)

    async def list_channels(self) -> list[Channel]:
        return await self._get("/channels", list[Channel])

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal", *, missing_ok: bool = False) -> None:
        await self._missing_ok("DELETE", f"/channels/{seg(channel_id)}", missing_ok, _params(reason=reason))

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/moh", _params(mohClass=moh_class))

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/moh")

    async def start_silence(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/silence")

    async def play(self, channel_id: str, media: Sequence[str], *, playback_id: str | None = None,
                   lang: str | None = None) -> Playback:
        params = _params(media=list(media), playbackId=playback_id, lang=lang)
        return await self._send("POST", f"/channels/{seg(channel_id)}/play", Playback, params)

    async def record(self, channel_id: str, name: str, *, format: str = "wav", max_duration: int = 0,
                     max_silence: int = 0, if_exists: str = "fail", beep: bool = False,
                     terminate_on: str = "none") -> LiveRecording:
        params = _params(name=name, format=format, maxDurationSeconds=max_duration or None,
                         maxSilenceSeconds=max_silence or None, ifExists=if_exists, beep=beep,
                         terminateOn=terminate_on)
        return await self._send("POST", f"/channels/{seg(channel_id)}/record", LiveRecording, params)

    async def snoop(self, channel_id: str, *, snoop_id: str, app: str | None = None,
                    app_args: Sequence[str] = (), spy: str = "none", whisper: str = "none") -> Channel:
        params = _params(spy=spy, whisper=whisper, app=app or self.app,
                         appArgs=list(app_args) if app_args else None, snoopId=snoop_id)
        return await self._send("POST", f"/channels/{seg(channel_id)}/snoop", Channel, params)

    async def continue_in_dialplan(self, channel_id: str, *, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        params = _params(context=context, extension=extension, priority=priority, label=label)
        await self.request("POST", f"/channels/{seg(channel_id)}/continue", params)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/redirect", _params(endpoint=endpoint))

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/dtmf", _params(dtmf=dtmf))

    async def get_variable(self, channel_id: str, variable: str) -> str:
        data = await self._get(f"/channels/{seg(channel_id)}/variable", dict[str, Any],
                               _params(variable=variable))
        value = data.get("value", "")
        return value if isinstance(value, str) else str(value)

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/variable",
                           _params(variable=variable, value=value))

    # --- bridges -------------------------------------------------------------------------------
    async def create_bridge(self, bridge_id: str, *, type: str = "mixing", name: str = "") -> Bridge:
        params = _params(type=type, bridgeId=bridge_id, name=name or None)
        return await self._send("POST", "/bridges", Bridge, params)

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return await self._get(f"/bridges/{seg(bridge_id)}", Bridge)

    async def list_bridges(self) -> list[Bridge]:
        return await self._get("/bridges", list[Bridge])

    async def add_channel(self, bridge_id: str, channel_ids: Sequence[str], *, role: str | None = None,
                          absorb_dtmf: bool = False, mute: bool = False) -> None:
        params = _params(channel=list(channel_ids), role=role, absorbDTMF=absorb_dtmf or None,
                         mute=mute or None)
        await self.request("POST", f"/bridges/{seg(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request("POST", f"/bridges/{seg(bridge_id)}/removeChannel",
                           _params(channel=list(channel_ids)))

    async def start_bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{seg(bridge_id)}/moh", _params(mohClass=moh_class))

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bridge_id)}/moh")

    async def play_bridge(self, bridge_id: str, media: Sequence[str], *,
                          playback_id: str | None = None) -> Playback:
        params = _params(media=list(media), playbackId=playback_id)
        return await self._send("POST", f"/bridges/{seg(bridge_id)}/play", Playback, params)

    async def record_bridge(self, bridge_id: str, name: str, *, format: str = "wav", max_duration: int = 0,
                            if_exists: str = "fail", beep: bool = False) -> LiveRecording:
        params = _params(name=name, format=format, maxDurationSeconds=max_duration or None,
                         ifExists=if_exists, beep=beep)
        return await self._send("POST", f"/bridges/{seg(bridge_id)}/record", LiveRecording, params)

    async def destroy_bridge(self, bridge_id: str, *, missing_ok: bool = False) -> None:
        await self._missing_ok("DELETE", f"/bridges/{seg(bridge_id)}", missing_ok)

    # --- playbacks and recordings --------------------------------------------------------------
    async def get_playback(self, playback_id: str) -> Playback:
        return await self._get(f"/playbacks/{seg(playback_id)}", Playback)

    async def stop_playback(self, playback_id: str, *, missing_ok: bool = False) -> None:
        await self._missing_ok("DELETE", f"/playbacks/{seg(playback_id)}", missing_ok)

    async def control_playback(self, playback_id: str, operation: str) -> None:
        await self.request("POST", f"/playbacks/{seg(playback_id)}/control", _params(operation=operation))

    async def get_live_recording(self, name: str) -> LiveRecording:
        return await self._get(f"/recordings/live/{seg(name)}", LiveRecording)

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{seg(name)}/stop")

    async def list_stored_recordings(self) -> list[StoredRecording]:
        return await self._get("/recordings/stored", list[StoredRecording])

    async def get_stored_recording(self, name: str) -> StoredRecording:
        return await self._get(f"/recordings/stored/{seg(name)}", StoredRecording)

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{seg(name)}")

    # --- endpoints, device states, applications, asterisk --------------------------------------
    async def list_endpoints(self, technology: str | None = None) -> list[Endpoint]:
        path = f"/endpoints/{seg(technology)}" if technology else "/endpoints"
        return await self._get(path, list[Endpoint])

    async def get_endpoint(self, technology: str, resource: str) -> Endpoint:
        return await self._get(f"/endpoints/{seg(technology)}/{seg(resource)}", Endpoint)

    async def list_device_states(self) -> list[DeviceState]:
        return await self._get("/deviceStates", list[DeviceState])

    async def get_device_state(self, name: str) -> DeviceState:
        return await self._get(f"/deviceStates/{seg(name)}", DeviceState)

    async def update_device_state(self, name: str, state: str) -> None:
        await self.request("PUT", f"/deviceStates/{seg(name)}", _params(deviceState=state))

    async def get_application(self, name: str | None = None) -> Application:
        return await self._get(f"/applications/{seg(name or self.app)}", Application)

    async def subscribe(self, event_source: str, *, app: str | None = None) -> Application:
        return await self._send("POST", f"/applications/{seg(app or self.app)}/subscription", Application,
                                _params(eventSource=event_source))

    async def set_event_filter(
        self, allowed: Sequence[str] | None = None, disallowed: Sequence[str] | None = None,
        *, app: str | None = None,
    ) -> Application:
        body: dict[str, list[dict[str, str]]] = {}
        if allowed is not None:
            body["allowed"] = [{"type": t} for t in allowed]
        if disallowed is not None:
            body["disallowed"] = [{"type": t} for t in disallowed]
        return await self._send("PUT", f"/applications/{seg(app or self.app)}/eventFilter", Application,
                                body=body)

    async def asterisk_info(self) -> dict[str, Any]:
        return await self._get("/asterisk/info", dict[str, Any])

    async def ping(self) -> AsteriskPing:
        return await self._get("/asterisk/ping", AsteriskPing)
