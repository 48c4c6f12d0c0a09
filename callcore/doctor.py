"""``callcore doctor``: check a live installation and say in plain words what is wrong.

Checks ARI (reachable, credentials, Stasis application registered), AMI (login, Ping), the FastAGI port,
PostgreSQL (reachable, every migration applied) and the dialplan contexts callcore relies on (through
AMI ``ShowDialPlan``). Prints one line per check; exit code 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from callcore.agi import names
from callcore.config import Settings
from callcore.errors import AmiAuthError, AmiError, CallcoreError

CHECK_TIMEOUT = 10.0
LOCAL_DATABASE = "postgresql://postgres@127.0.0.1:5432/callcore"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # "ok", "fail", "skip"
    detail: str


def render(checks: list[Check]) -> str:
    marks = {"ok": "OK  ", "fail": "FAIL", "skip": "SKIP"}
    lines = [f"{marks[c.status]} {c.name}: {c.detail}" for c in checks]
    failed = [c for c in checks if c.status == "fail"]
    lines.append(f"{len(failed)} problem(s) found." if failed else "Everything callcore needs is in place.")
    return "\n".join(lines)


async def check_ari(settings: Settings) -> list[Check]:
    base = settings.ari_url.rstrip("/") + "/ari"
    token = base64.b64encode(f"{settings.ari_user}:{settings.ari_password.reveal()}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    timeout = aiohttp.ClientTimeout(total=settings.ari_timeout)
    out: list[Check] = []
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        try:
            async with http.get(f"{base}/asterisk/info") as resp:
                if resp.status == 401:
                    return [Check("ARI", "fail", f"Asterisk refused ARI user {settings.ari_user!r}: the "
                                  "password in ari.conf and CALLCORE_ARI_PASSWORD differ")]
                if resp.status != 200:
                    return [Check("ARI", "fail", f"GET /ari/asterisk/info answered {resp.status}: is ARI "
                                  "enabled (ari.conf [general] enabled = yes, res_ari loaded)?")]
                info: dict[str, Any] = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return [Check("ARI", "fail", f"cannot reach Asterisk's HTTP server at {settings.ari_url} "
                          f"({exc or 'timeout'}): check http.conf (enabled, bindaddr, bindport) and "
                          "CALLCORE_ARI_URL")]
        version = info.get("system", {}).get("version", "?")
        out.append(Check("ARI", "ok",
                         f"Asterisk {version} at {settings.ari_url}, user {settings.ari_user!r}"))
        try:
            async with http.get(f"{base}/applications/{settings.ari_app}") as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = 0
            out.append(Check("Stasis application", "fail", f"lookup failed: {exc or 'timeout'}"))
        if status == 200:
            out.append(Check("Stasis application", "ok", f"{settings.ari_app!r} is registered"))
        elif status:
            out.append(Check("Stasis application", "fail",
                             f"{settings.ari_app!r} is not registered in Asterisk: the callcore service is "
                             "not running or not connected (the application exists only while its event "
                             "websocket is open); calls would go to the callcore-fallback context"))
        try:
            out.append(await _check_sounds(http, base))
        except (aiohttp.ClientError, TimeoutError) as exc:
            out.append(Check("Safe-harbour recording", "fail", f"lookup failed: {exc or 'timeout'}"))
    return out


async def _check_sounds(http: aiohttp.ClientSession, base: str) -> Check:
    """The recording a live person hears when no operator is free in time (abandoned-call rules)."""
    from callcore.dialer.sounds import SAFE_HARBOUR_ID

    async with http.get(f"{base}/sounds") as resp:
        if resp.status != 200:
            return Check("Safe-harbour recording", "fail", f"GET /ari/sounds answered {resp.status}")
        ids = {str(s.get("id")) for s in await resp.json()}
    if SAFE_HARBOUR_ID in ids:
        return Check("Safe-harbour recording", "ok", f"Asterisk has {SAFE_HARBOUR_ID}")
    return Check("Safe-harbour recording", "fail", f"Asterisk has no {SAFE_HARBOUR_ID}: answered customers "
                 "no operator takes in time would hear silence; install it with `python -m "
                 "callcore.dialer.sounds /var/lib/asterisk/sounds/en` on the Asterisk host")


async def check_ami(settings: Settings) -> list[Check]:
    from callcore.ami import AmiClient

    if not settings.ami_enabled:
        return [Check("AMI", "skip", "disabled (CALLCORE_AMI_ENABLED=false); dialplan names not checked")]
    client = AmiClient(settings)
    try:
        try:
            await client.start()
        except AmiAuthError:
            return [Check("AMI", "fail", f"login refused for user {settings.ami_user!r}: the secret in "
                          "manager.conf and CALLCORE_AMI_SECRET differ (or the user is missing)")]
        if not client.logged_in:
            return [Check("AMI", "fail", f"cannot reach AMI at {settings.ami_host}:{settings.ami_port} "
                          f"({client.last_error}): check manager.conf (enabled, bindaddr, port)")]
        ok = await client.ping()
        rtt = client.last_ping_rtt
        ping = f", Ping {rtt * 1000:.1f} ms" if ok and rtt is not None else ", but Ping got no answer"
        out = [Check("AMI", "ok" if ok else "fail",
                     f"logged in as {settings.ami_user!r} at {settings.ami_host}:{settings.ami_port}{ping}")]
        out.append(await _check_dialplan(client))
        snapshot = client.registrations.snapshot()
        if snapshot:
            up = sorted(e for e, r in snapshot.items() if r)
            out.append(Check("PJSIP phones", "ok", f"{len(up)} of {len(snapshot)} endpoints registered"
                             + (f" ({', '.join(up[:10])})" if up else "")))
        return out
    finally:
        await client.stop()


async def _check_dialplan(client: Any) -> Check:
    missing: list[str] = []
    for context in names.DIALPLAN_CONTEXTS:
        try:
            await client.list_action("ShowDialPlan", Context=context)
        except AmiError as exc:
            if "not find" in str(exc).lower() or "not found" in str(exc).lower():
                missing.append(context)
            else:
                return Check("Dialplan", "fail", f"ShowDialPlan failed ({exc}): the AMI user needs "
                             "write = config,reporting in manager.conf")
    if missing:
        return Check("Dialplan", "fail", f"context(s) {', '.join(missing)} missing: install "
                     "asterisk-config/extensions.conf and run `dialplan reload`")
    return Check("Dialplan", "ok", f"contexts {', '.join(names.DIALPLAN_CONTEXTS)} present")


async def check_agi(settings: Settings) -> list[Check]:
    if not settings.agi_enabled:
        return [Check("FastAGI", "skip", "disabled (CALLCORE_AGI_ENABLED=false): inbound calls will use the "
                      "dialplan fallback")]
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(settings.agi_host, settings.agi_port), 3.0)
    except (OSError, TimeoutError) as exc:
        return [Check("FastAGI", "fail", f"nothing listens on {settings.agi_host}:{settings.agi_port} "
                      f"({exc or 'timeout'}): the callcore service is not running, so every inbound call "
                      "takes the callcore-fallback context")]
    writer.close()
    return [Check("FastAGI", "ok", f"listening on {settings.agi_host}:{settings.agi_port}")]


async def check_database(settings: Settings) -> list[Check]:
    from callcore.store import migrate, pg

    dsn = settings.database_url.reveal() or LOCAL_DATABASE
    shown = "the configured database" if settings.database_url else LOCAL_DATABASE
    try:
        conn = await pg.connect(dsn, connect_timeout=5.0)
    except Exception as exc:
        return [Check("Database", "fail", f"cannot connect to {shown} ({type(exc).__name__}: {exc}): check "
                      "CALLCORE_DATABASE_URL and that PostgreSQL runs")]
    try:
        states = await migrate.status(conn)
        from callcore.directory.references import dangling

        broken = await dangling(conn) if all(s.state == "applied" for s in states) else []
    except Exception as exc:
        return [Check("Database", "fail", f"connected, but the migration state is unreadable ({exc})")]
    finally:
        await conn.close()
    refs = [Check("References", "fail", str(d) + ": fix it or create the queue") for d in broken]
    pending = [f"{s.version:04d}_{s.name}" for s in states if s.state == "pending"]
    changed = [f"{s.version:04d}_{s.name}" for s in states if s.state in ("changed", "unknown")]
    if changed:
        return [Check("Database", "fail", f"applied migrations differ from this version's files: "
                      f"{', '.join(changed)}")]
    if pending:
        return [Check("Database", "fail", f"migrations not applied: {', '.join(pending)}; run `callcore db "
                      "migrate`")]
    return [Check("Database", "ok", f"{shown} reachable, {len(states)} migrations applied"), *refs]


CheckFn = Callable[[Settings], Awaitable[list[Check]]]


async def _guarded(name: str, fn: CheckFn, settings: Settings) -> list[Check]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await fn(settings)
    except TimeoutError:
        return [Check(name, "fail", f"no answer within {CHECK_TIMEOUT:g} s")]
    except CallcoreError as exc:
        return [Check(name, "fail", str(exc))]


async def collect(settings: Settings) -> list[Check]:
    groups = [("ARI", check_ari), ("AMI", check_ami), ("FastAGI", check_agi), ("Database", check_database)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_guarded(n, fn, settings), name=f"doctor-{n.lower()}") for n, fn in groups]
    return [c for t in tasks for c in t.result()]


async def run_doctor(settings: Settings) -> int:
    checks = await collect(settings)
    print(render(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0
