"""The FastAGI scripts: ``route``, ``lookup``, ``dnc-check`` and ``callback``.

Each reads the AGI environment, asks the store, and sets channel variables. A database failure sets the
script's error variables (e.g. ``CALLCORE_ROUTE_REASON=error``) so the dialplan takes its fallback.
"""

from __future__ import annotations

import datetime as dt
import functools

import phonenumbers
import structlog

from callcore.agi import names
from callcore.agi.routing import ERROR_VARIABLES, decide_route, number_candidates
from callcore.agi.server import Script
from callcore.agi.session import AgiSession
from callcore.agi.store import AgiStore
from callcore.clock import Clock
from callcore.errors import StoreError

log = structlog.get_logger(__name__)

LOOKUP_ERROR = {names.VAR_LOOKUP_STATUS: "error"}
DNC_ERROR = {names.VAR_DNC: "1", names.VAR_DNC_REASON: "error"}
CALLBACK_ERROR = {names.VAR_CALLBACK: "0", names.VAR_CALLBACK_REASON: "error"}
MAX_CALLBACK_DELAY = 7 * 24 * 3600


@functools.lru_cache(maxsize=4096)
def to_e164(number: str, region: str = "US") -> str | None:
    """E.164 form of a dialled or caller number, or None when it is not a valid number."""
    raw = number.strip()
    if not raw or len(raw) > 32:
        return None
    try:
        parsed = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _candidates(number: str, region: str) -> list[str]:
    out = number_candidates(number)
    e164 = to_e164(number, region)
    if e164 and e164 not in out:
        out.append(e164)
    return out


class AgiScripts:
    def __init__(self, store: AgiStore, clock: Clock, *, region: str = "US",
                 default_queue: str = names.DEFAULT_QUEUE,
                 after_hours_queue: str = names.AFTER_HOURS_QUEUE) -> None:
        self._store = store
        self._clock = clock
        self._region = region
        self._default_queue = default_queue
        self._after_hours_queue = after_hours_queue

    def scripts(self) -> list[Script]:
        return [
            Script(names.SCRIPT_ROUTE, self.route, ERROR_VARIABLES),
            Script(names.SCRIPT_LOOKUP, self.lookup, LOOKUP_ERROR),
            Script(names.SCRIPT_DNC_CHECK, self.dnc_check, DNC_ERROR),
            Script(names.SCRIPT_CALLBACK, self.callback, CALLBACK_ERROR),
        ]

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now(), dt.UTC)

    async def route(self, session: AgiSession) -> None:
        env = session.env
        dialled = env.arg(1) or env.dialled
        now = self._now()
        try:
            facts = await self._store.route_facts(_candidates(dialled, self._region),
                                                  _candidates(env.caller_number, self._region), now)
        except StoreError as exc:
            log.warning("agi.route.store_failed", error=str(exc), dialled=dialled)
            await session.set_variables(dict(ERROR_VARIABLES))
            return
        decision = decide_route(facts, now, default_queue=env.params.get("default", self._default_queue),
                                after_hours_queue=self._after_hours_queue)
        await session.set_variables(decision.variables())

    async def lookup(self, session: AgiSession) -> None:
        env = session.env
        number = env.arg(1) or env.caller_number
        try:
            info = await self._store.caller_info(_candidates(number, self._region))
        except StoreError as exc:
            log.warning("agi.lookup.store_failed", error=str(exc))
            await session.set_variables(dict(LOOKUP_ERROR))
            return
        await session.set_variables({
            names.VAR_CALLER_NAME: info.name or env.caller_name,
            names.VAR_LAST_CALL: info.last_call.astimezone(dt.UTC).isoformat(timespec="seconds")
            if info.last_call else "",
            names.VAR_CALL_COUNT: str(info.calls),
            names.VAR_OPEN_TICKETS: str(info.open_tickets),
            names.VAR_VIP: "1" if info.vip else "0",
            names.VAR_LOOKUP_STATUS: "ok",
        })

    async def dnc_check(self, session: AgiSession) -> None:
        env = session.env
        e164 = to_e164(env.arg(1) or env.get("extension"), env.params.get("region", self._region))
        if e164 is None:
            await session.set_variables({names.VAR_DNC: "1", names.VAR_DNC_REASON: "invalid"})
            return
        try:
            listed = await self._store.is_dnc(e164)
        except StoreError as exc:
            log.warning("agi.dnc.store_failed", error=str(exc))
            await session.set_variables(dict(DNC_ERROR))
            return
        await session.set_variables({names.VAR_DNC: "1" if listed else "0",
                                     names.VAR_DNC_REASON: "listed" if listed else "clear"})

    async def callback(self, session: AgiSession) -> None:
        env = session.env
        raw = env.arg(1) or env.caller_number
        number = to_e164(raw, self._region) or "".join(c for c in raw if c.isdigit() or c == "+")
        if not any(c.isdigit() for c in number):
            await session.set_variables({names.VAR_CALLBACK: "0", names.VAR_CALLBACK_REASON: "invalid"})
            return
        queue = env.arg(2) or await session.get_variable(names.VAR_QUEUE) or self._default_queue
        try:
            delay = max(0, min(MAX_CALLBACK_DELAY, int(env.arg(3, "0"))))
        except ValueError:
            delay = 0
        due = self._now() + dt.timedelta(seconds=delay)
        try:
            added = await self._store.add_callback(number, queue, due, f"inbound {env.get('uniqueid')}")
        except StoreError as exc:
            log.warning("agi.callback.store_failed", error=str(exc))
            await session.set_variables(dict(CALLBACK_ERROR))
            return
        await session.set_variables({names.VAR_CALLBACK: "1",
                                     names.VAR_CALLBACK_REASON: "queued" if added else "duplicate"})
