"""PJSIP registration state of agents' phones, fed by PJSIPShowEndpoints/PJSIPShowContacts and
ContactStatus events. Pure bookkeeping: no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

GONE = {"removed"}
UNREACHABLE = {"unreachable", "unavailable"}
QUEUE_SIZE = 1000


# PJSIP listings that Asterisk answers with ``Response: Error`` when there is nothing to list: no phone
# registered must read as "nobody registered", not as "registration state unknown"
NOTHING_LISTED = {"pjsipshowcontacts": "no contacts found", "pjsipshowendpoints": "no endpoints found"}


def nothing_listed(action: str, message: str) -> bool:
    """Whether an error answer to ``action`` only says that the listing is empty."""
    return NOTHING_LISTED.get(action.lower()) == message.strip().lower()


@dataclass(frozen=True, slots=True)
class RegistrationChange:
    endpoint: str
    registered: bool | None


def _endpoint_of(fields: Mapping[str, str]) -> str:
    for key in ("EndpointName", "Endpoint", "AOR", "Aor"):
        if fields.get(key):
            return fields[key]
    return fields.get("ObjectName", "").split("/", 1)[0]


@dataclass
class Registrations:
    endpoints: set[str] = field(default_factory=set)
    contacts: dict[str, dict[str, bool]] = field(default_factory=dict)
    callbacks: list[Callable[[RegistrationChange], None]] = field(default_factory=list)
    _queues: list[asyncio.Queue[RegistrationChange]] = field(default_factory=list)

    def registered(self, endpoint: str) -> bool | None:
        uris = self.contacts.get(endpoint)
        if uris:
            return any(uris.values())
        return False if endpoint in self.endpoints else None

    def snapshot(self) -> dict[str, bool | None]:
        return {e: self.registered(e) for e in sorted(self.endpoints | set(self.contacts))}

    def replace(self, endpoints: Sequence[Mapping[str, str]], contacts: Sequence[Mapping[str, str]]) -> None:
        before = self.snapshot()
        self.endpoints = {e.get("ObjectName", "") for e in endpoints if e.get("ObjectName")}
        self.contacts = {}
        for c in contacts:
            endpoint = _endpoint_of(c)
            uri = c.get("Uri") or c.get("URI") or c.get("ObjectName", "")
            if endpoint:
                status = c.get("Status", "").lower()
                self.contacts.setdefault(endpoint, {})[uri] = status not in UNREACHABLE
        self._notify(before)

    def apply_contact_status(self, fields: Mapping[str, str]) -> None:
        endpoint = _endpoint_of(fields)
        if not endpoint:
            return
        before = self.snapshot()
        status = fields.get("ContactStatus", "").lower()
        uri = fields.get("URI") or fields.get("Uri", "")
        uris = self.contacts.setdefault(endpoint, {})
        if status in GONE:
            uris.pop(uri, None)
        else:
            uris[uri] = status not in UNREACHABLE
        self.endpoints.add(endpoint)
        self._notify(before)

    def _notify(self, before: Mapping[str, bool | None]) -> None:
        after = self.snapshot()
        for endpoint in sorted(set(before) | set(after)):
            if before.get(endpoint) != after.get(endpoint):
                change = RegistrationChange(endpoint, after.get(endpoint))
                for cb in self.callbacks:
                    try:
                        cb(change)
                    except Exception as exc:
                        log.error("ami.registration_callback_failed", error=repr(exc))
                for q in self._queues:
                    if q.full():
                        q.get_nowait()
                    q.put_nowait(change)

    async def changes(self) -> AsyncIterator[RegistrationChange]:
        q: asyncio.Queue[RegistrationChange] = asyncio.Queue(QUEUE_SIZE)
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)
