"""What the FastAGI scripts read and write in PostgreSQL, behind a small protocol (fakes in tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from callcore.agi.routing import DidRoute, Holiday, HoursWindow, RouteFacts
from callcore.errors import SchemaMissing
from callcore.store.sqlfiles import load_sql

if TYPE_CHECKING:
    from callcore.store.db import Database, Row

log = structlog.get_logger(__name__)
PKG = "callcore.agi"
QUERY_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class CallerInfo:
    name: str = ""
    calls: int = 0
    last_call: dt.datetime | None = None
    open_tickets: int = 0
    vip: bool = False
    source: str = "calls"


class AgiStore(Protocol):
    async def route_facts(self, dids: list[str], callers: list[str], now: dt.datetime) -> RouteFacts: ...
    async def caller_info(self, callers: list[str]) -> CallerInfo: ...
    async def is_dnc(self, phone_e164: str) -> bool: ...
    async def add_callback(self, number: str, queue: str, due_at: dt.datetime, note: str) -> bool: ...


class PgAgiStore:
    """AgiStore on the database. Every query has a timeout; failures are the boundary's StoreErrors, a
    table or column an older schema lacks is ``SchemaMissing``."""

    def __init__(self, db: Database, timeout: float = QUERY_TIMEOUT) -> None:
        self._db = db
        self._timeout = timeout

    async def _fetch(self, name: str, *args: Any) -> list[Row]:
        return await self._db.fetch(load_sql(PKG, name), *args, timeout=self._timeout)

    async def route_facts(self, dids: list[str], callers: list[str], now: dt.datetime) -> RouteFacts:
        did_rows = await self._fetch("route_did", dids)
        route = None
        if did_rows:
            r = did_rows[0]
            route = DidRoute(r["did"], r["queue"], r["priority"], r["language"], r["after_hours_queue"])
        vip_rows = await self._fetch("route_vip", callers) if callers else []
        queue = route.queue if route else ""
        hours = [HoursWindow(r["weekday"], r["open_at"], r["close_at"], r["tz"])
                 for r in await self._fetch("route_hours", queue)] if route else []
        holidays = [Holiday(r["day"], r["queue"], r["name"])
                    for r in await self._fetch("route_holidays", now.astimezone(dt.UTC).date(), queue)]
        return RouteFacts(route, vip_rows[0]["priority"] if vip_rows else None, hours, holidays)

    async def caller_info(self, callers: list[str]) -> CallerInfo:
        source = "calls"
        try:
            rows = await self._fetch("lookup_calls", callers)
        except SchemaMissing:
            source = "events"
            rows = await self._fetch("lookup_events", callers)
        calls = rows[0] if rows else None
        try:
            tickets = await self._fetch("lookup_tickets", callers)
            open_tickets = int(tickets[0]["open_tickets"]) if tickets else 0
        except SchemaMissing:
            open_tickets = 0
        try:
            vip = await self._fetch("route_vip", callers)
        except SchemaMissing:
            vip = []
        name = (calls["caller_name"] if calls else None) or (vip[0]["name"] if vip else "") or ""
        return CallerInfo(name=name, calls=int(calls["calls"]) if calls else 0,
                          last_call=calls["last_call"] if calls else None,
                          open_tickets=open_tickets, vip=bool(vip), source=source)

    async def is_dnc(self, phone_e164: str) -> bool:
        rows = await self._fetch("dnc_check", phone_e164)
        return bool(rows and rows[0]["listed"])

    async def add_callback(self, number: str, queue: str, due_at: dt.datetime, note: str) -> bool:
        return bool(await self._fetch("callback_insert", number, queue, due_at, note))
