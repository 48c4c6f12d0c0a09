"""Campaigns, leads, dial attempts and callbacks in PostgreSQL (the dialer's persistence adapter).

Settings are kept whole as JSON (``campaigns.settings``) with mode, queue and caller id copied into
columns for listing. Every method takes plain values and returns plain dataclasses; the pure rules
(retry scheduling, guards) live in ``callcore.dialer.campaign`` and ``compliance``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import structlog

from callcore.dialer.campaign import (
    DAY,
    CampaignSettings,
    FinalReason,
    Lead,
    LeadStatus,
    MachineHandling,
    Mode,
    Outcome,
    RetryDelays,
)
from callcore.dialer.compliance import CallingWindow, ZonePolicy, ZoneRule
from callcore.errors import Conflict, InputError, NotFound
from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

log = structlog.get_logger(__name__)

PKG = "callcore.dialer"
STATES = ("created", "running", "paused", "stopped", "archived")
_TRANSITIONS = {
    "start": ({"created", "paused", "stopped", "running"}, "running"),
    "pause": ({"running", "paused"}, "paused"),
    "stop": ({"created", "running", "paused", "stopped"}, "stopped"),
}


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


# --- settings <-> JSON ------------------------------------------------------------------------------


def settings_to_json(settings: CampaignSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, CallingWindow):
            value = f"{value.start:%H:%M}-{value.end:%H:%M}"
        elif isinstance(value, RetryDelays):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return out


def settings_from_json(data: Mapping[str, Any]) -> CampaignSettings:
    """Inverse of ``settings_to_json``; InputError naming the field for unknown or bad values."""
    known = {f.name for f in dataclasses.fields(CampaignSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown campaign setting {unknown[0]!r}", field=unknown[0])
    kw: dict[str, Any] = dict(data)
    try:
        if "mode" in kw:
            kw["mode"] = Mode(kw["mode"])
        if "machine_handling" in kw:
            kw["machine_handling"] = MachineHandling(kw["machine_handling"])
    except ValueError as exc:
        raise InputError(str(exc), field="mode") from None
    if "zone_policy" in kw:
        kw["zone_policy"] = ZoneRule.from_json(kw).policy
    if "window" in kw:
        kw["window"] = CallingWindow.parse(str(kw["window"]))
    if "retry" in kw:
        retry = kw["retry"]
        if not isinstance(retry, Mapping) or set(retry) - {f.name for f in dataclasses.fields(RetryDelays)}:
            raise InputError("retry must map busy/no_answer/machine/failed/congestion to seconds",
                             field="retry")
        kw["retry"] = RetryDelays(**{k: float(v) for k, v in retry.items()})
    return CampaignSettings(**kw)


# --- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    state: str
    settings: CampaignSettings
    created_at: datetime
    leads: int = 0
    remaining: int = 0


def _campaign(row: Any) -> Campaign:
    keys = set(row.keys())
    return Campaign(row["id"], row["name"], row["state"], settings_from_json(json.loads(row["settings"])),
                    row["created_at"], int(row["leads"]) if "leads" in keys else 0,
                    int(row["remaining"]) if "remaining" in keys else 0)


@dataclass(frozen=True, slots=True)
class Archived:
    name: str
    was: str                  # the state before
    leads_waiting: int        # leads not done: kept, no longer dialled
    leads_dialing: int        # calls in progress: they end and are recorded as usual
    callbacks_cancelled: int

    def lines(self) -> list[str]:
        out = [f"campaign {self.name} archived (was {self.was}): it is never dialled again; its leads, "
               "attempts and uploads are kept and callcore campaign report still works"]
        if self.leads_waiting:
            out.append(f"  {self.leads_waiting} leads not yet done stay as they are (not dialled)")
        if self.leads_dialing:
            out.append(f"  {self.leads_dialing} calls in progress end normally and are recorded")
        out.append(f"  {self.callbacks_cancelled} pending callbacks cancelled; the do-not-call list is unchanged")
        return out


@dataclass(frozen=True, slots=True)
class Deleted:
    name: str
    leads: int
    attempts: int
    uploads: int
    callbacks: int

    def lines(self) -> list[str]:
        return [f"campaign {self.name} deleted with {self.leads} leads, {self.attempts} dial attempts, "
                f"{self.uploads} uploads and {self.callbacks} callbacks; the do-not-call list is unchanged "
                "and call events already journaled (callcore report) are kept"]


@dataclass(frozen=True, slots=True)
class ClaimedLead:
    id: int
    campaign_id: int
    phone: str
    name: str
    zones: tuple[str, ...]
    data: dict[str, Any]
    status: LeadStatus          # the status before it was claimed
    attempts: int
    next_attempt_at: float | None
    last_outcome: str | None
    last_abandoned_at: float | None
    callback_agent: str | None

    def to_lead(self, attempt_times: Sequence[float] = (), last_abandoned_at: float | None = None) -> Lead:
        """The pure-core view; ``attempt_times``/``last_abandoned_at`` are per number, across campaigns."""
        known = [t for t in (self.last_abandoned_at, last_abandoned_at) if t is not None]
        last = self.last_outcome
        outcome = Outcome(last) if last is not None and last in Outcome._value2member_map_ else None
        return Lead(str(self.id), self.phone, self.zones, self.status, self.attempts, tuple(attempt_times),
                    self.next_attempt_at, outcome, max(known) if known else None, None, self.callback_agent)


def _claimed(row: Any) -> ClaimedLead:
    return ClaimedLead(row["id"], row["campaign_id"], row["phone_e164"], row["name"], tuple(row["tz"]),
                       json.loads(row["data"]), LeadStatus(row["prev_state"]), row["attempts"],
                       _epoch(row["next_attempt_at"]), row["last_outcome"], _epoch(row["last_abandoned_at"]),
                       row["callback_agent"])


@dataclass(frozen=True, slots=True)
class OpenAttempt:
    id: str
    campaign: str
    lead: ClaimedLead
    started_at: float
    answered_at: float | None
    amd_status: str | None
    agent_id: str | None
    facts: frozenset[str]


@dataclass(frozen=True, slots=True)
class CampaignReport:
    name: str
    state: str
    attempts_by_outcome: dict[str, int]
    leads_by_state: dict[str, int]
    answered_24h: int
    abandoned_24h: int
    answered_30d: int
    abandoned_30d: int
    zone_policy: str = ZonePolicy.STRICTEST.value

    @property
    def attempts(self) -> int:
        return sum(n for k, n in self.attempts_by_outcome.items() if k != "in-progress")

    @property
    def contact_rate(self) -> float:
        return self.attempts_by_outcome.get(Outcome.HUMAN.value, 0) / self.attempts if self.attempts else 0.0

    @property
    def leads_remaining(self) -> int:
        return sum(n for s, n in self.leads_by_state.items() if s != LeadStatus.DONE.value)

    @staticmethod
    def _rate(abandoned: int, answered: int) -> float:
        return abandoned / answered if answered else 0.0

    def lines(self) -> list[str]:
        out = [f"campaign {self.name} ({self.state})",
               f"attempts: {self.attempts}, contact rate {self.contact_rate:.1%}"]
        out += [f"  {k}: {n}" for k, n in sorted(self.attempts_by_outcome.items())]
        out.append(f"abandonment 24 h: {self._rate(self.abandoned_24h, self.answered_24h):.2%} "
                   f"({self.abandoned_24h}/{self.answered_24h}), 30 d: "
                   f"{self._rate(self.abandoned_30d, self.answered_30d):.2%} "
                   f"({self.abandoned_30d}/{self.answered_30d})")
        out.append(f"leads remaining: {self.leads_remaining} of {sum(self.leads_by_state.values())}")
        out += [f"  {k}: {n}" for k, n in sorted(self.leads_by_state.items())]
        return out


# --- the store -----------------------------------------------------------------------------------


class DialerStore:
    """All dialer SQL, through the database boundary: failures are ``callcore.errors`` (DatabaseUnavailable
    when PostgreSQL is away, DataRejected/UniqueViolation when it refuses a statement)."""

    def __init__(self, pool: Database) -> None:
        self.pool: Database = database(pool)

    # campaigns
    async def create_campaign(self, name: str, settings: CampaignSettings) -> Campaign:
        if not name or len(name) > 100 or any(c in name for c in ",/ \t\n"):
            raise InputError(f"campaign name {name!r} must be a plain word (letters, digits, - or _)",
                             field="name")
        row = await self.pool.fetchrow(load_sql(PKG, "campaign_insert"), name, settings.mode.value,
                                       settings.queue, settings.caller_id,
                                       json.dumps(settings_to_json(settings)))
        if row is None:
            raise Conflict(f"campaign {name!r} already exists")
        log.info("campaign_created", campaign=name, mode=settings.mode.value)
        return _campaign(row)

    async def get_campaign(self, name: str) -> Campaign:
        row = await self.pool.fetchrow(load_sql(PKG, "campaign_get"), name)
        if row is None:
            raise NotFound(f"campaign {name!r} does not exist")
        return _campaign(row)

    async def list_campaigns(self) -> list[Campaign]:
        return [_campaign(r) for r in await self.pool.fetch(load_sql(PKG, "campaign_list"))]

    async def running_campaigns(self) -> list[Campaign]:
        return [_campaign(r) for r in await self.pool.fetch(load_sql(PKG, "campaign_running"))]

    async def change_state(self, name: str, action: str) -> Campaign:
        """``start``, ``pause`` or ``stop``; Conflict when the current state does not allow it."""
        if action not in _TRANSITIONS:
            raise InputError(f"unknown action {action!r}", field="action")
        allowed, target = _TRANSITIONS[action]
        campaign = await self.get_campaign(name)
        if campaign.state not in allowed:
            hint = " (an archived campaign is kept for its reports and never dialled again)" \
                if campaign.state == "archived" else ""
            raise Conflict(f"campaign {name!r} is {campaign.state}: cannot {action}{hint}")
        await self.pool.execute(load_sql(PKG, "campaign_set_state"), campaign.id, target)
        log.info("campaign_state", campaign=name, state=target, was=campaign.state)
        return dataclasses.replace(campaign, state=target)

    async def archive_campaign(self, name: str) -> Archived:
        """Stop dialing ``name`` for good, keeping its leads, attempts and uploads (reports keep working);
        pending callbacks are cancelled. Calls in progress end normally and are recorded."""
        campaign = await self.get_campaign(name)
        row = await self.pool.fetchone(load_sql(PKG, "campaign_archive"), campaign.id)
        if not row["archived"]:
            raise Conflict(f"campaign {name!r} is already archived")
        log.info("campaign_archived", campaign=name, was=campaign.state,
                 callbacks_cancelled=int(row["callbacks_cancelled"]))
        return Archived(name, campaign.state, int(row["leads_waiting"]), int(row["leads_dialing"]),
                        int(row["callbacks_cancelled"]))

    async def delete_campaign(self, name: str, *, force: bool = False) -> Deleted:
        """Delete ``name`` with its leads, uploads, callbacks and (with ``force``) its dial history. Refused
        while it runs or has calls in progress, and without ``force`` once it has dial attempts (reports
        would lose them: archive instead). The do-not-call list is not touched."""
        campaign = await self.get_campaign(name)
        async with self.pool.transaction() as conn:
            row = await conn.fetchrow(load_sql(PKG, "campaign_footprint"), campaign.id)
            if row is None:
                raise NotFound(f"campaign {name!r} does not exist")
            gone = Deleted(name, int(row["leads"]), int(row["attempts"]), int(row["uploads"]),
                           int(row["callbacks"]))
            if row["state"] == "running":
                raise Conflict(f"campaign {name!r} is running: stop it first (callcore campaign stop {name}), "
                               "then delete it once its calls have ended")
            busy = max(int(row["dialing"]), int(row["open_attempts"]))
            if busy:
                raise Conflict(f"campaign {name!r} has {busy} calls in progress: wait until they end "
                               "(callcore campaign report shows in-progress attempts), then delete it")
            if gone.attempts and not force:
                raise Conflict(f"campaign {name!r} has history ({gone.attempts} dial attempts, {gone.leads} "
                               f"leads): archive it to stop dialing and keep its reports (callcore campaign "
                               f"archive {name}), or delete it with --force to remove the history too")
            await conn.execute(load_sql(PKG, "campaign_delete"), campaign.id)
        log.warning("campaign_deleted", campaign=name, leads=gone.leads, attempts=gone.attempts,
                    uploads=gone.uploads, callbacks=gone.callbacks)
        return gone

    async def update_settings(self, name: str, settings: CampaignSettings) -> Campaign:
        campaign = await self.get_campaign(name)
        await self.pool.execute(load_sql(PKG, "campaign_update_settings"), campaign.id, settings.mode.value,
                                settings.queue, settings.caller_id, json.dumps(settings_to_json(settings)))
        return dataclasses.replace(campaign, settings=settings)

    # claiming
    async def claim_leads(self, campaign_id: int, count: int, instance: str, now: float,
                          agent_id: str | None = None) -> list[ClaimedLead]:
        """Due leads, claimed for ``instance``; with ``agent_id`` that agent's personal callbacks first."""
        if count <= 0:
            return []
        personal: list[ClaimedLead] = []
        if agent_id is not None:
            rows = await self.pool.fetch(load_sql(PKG, "claim_personal_callbacks"), campaign_id, _ts(now),
                                         count, instance, agent_id)
            personal = sorted((_claimed(r) for r in rows), key=lambda lead: (lead.next_attempt_at or 0.0, lead.id))
        rest: list[ClaimedLead] = []
        if len(personal) < count:
            rows = await self.pool.fetch(load_sql(PKG, "claim_leads"), campaign_id, _ts(now),
                                         count - len(personal), instance)
            rest = sorted((_claimed(r) for r in rows), key=lambda lead: (lead.next_attempt_at or 0.0, lead.id))
        return personal + rest

    async def touch_claims(self, instance: str, lead_ids: Sequence[int], now: float) -> None:
        if lead_ids:
            await self.pool.execute(load_sql(PKG, "touch_claims"), instance, list(lead_ids), _ts(now))

    async def release_orphan_claims(self, campaign_id: int, instance: str, before: float,
                                    held: Sequence[int]) -> int:
        """Claims of ``instance`` made before ``before`` that it does not hold (their reply was lost in a
        database outage): back to the queue at once instead of after the claim TTL (see the SQL file)."""
        rows = await self.pool.fetch(load_sql(PKG, "release_orphan_claims"), campaign_id, instance, _ts(before),
                                     list(held))
        if rows:
            log.warning("orphan_claims_released", count=len(rows), campaign_id=campaign_id)
        return len(rows)

    async def recover_stale(self, older_than: float, campaign_id: int | None = None) -> int:
        """Leads whose claim was not refreshed since ``older_than`` (epoch seconds; their instance died):
        back to the queue, their open attempt resolved from the journal (see the SQL file)."""
        rows = await self.pool.fetch(load_sql(PKG, "recover_stale_claims"), _ts(older_than), campaign_id)
        if rows:
            log.warning("stale_claims_recovered", count=len(rows),
                        instances=sorted({r["claimed_by"] or "" for r in rows}),
                        resolved=sorted({r["outcome"] for r in rows if r["outcome"]}))
        return len(rows)

    async def open_attempts(self, instance: str) -> list[OpenAttempt]:
        """Attempts ``instance`` started and never closed, with their lead and journal facts."""
        return [OpenAttempt(r["attempt_id"], r["campaign"], _claimed(r), _epoch(r["started_at"]) or 0.0,
                            _epoch(r["answered_at"]), r["amd_status"] or r["journal_amd"],
                            r["agent_id"] or r["journal_agent"], frozenset(r["facts"] or ()))
                for r in await self.pool.fetch(load_sql(PKG, "attempts_open"), instance)]

    async def number_history(self, numbers: Sequence[str], now: float,
                             lockout: float) -> tuple[dict[str, list[float]], dict[str, float]]:
        """Attempt start times of the last 2 days and the last abandonment within ``lockout`` per number."""
        if not numbers:
            return {}, {}
        times = await self.pool.fetch(load_sql(PKG, "attempt_times"), list(numbers), _ts(now - 2 * DAY))
        aband = await self.pool.fetch(load_sql(PKG, "last_abandoned"), list(numbers), _ts(now - lockout))
        return ({r["number"]: list(r["times"]) for r in times}, {r["number"]: r["at"] for r in aband})

    async def release_lead(self, lead_id: int, lead: Lead, attempted_at: float | None = None) -> None:
        """Store the lead's state from the pure core (after an attempt or a refusal) and drop the claim."""
        await self.pool.execute(
            load_sql(PKG, "release_lead"), lead_id, lead.status.value if lead.status is not LeadStatus.DIALING
            else LeadStatus.SCHEDULED.value, lead.attempts, _ts(lead.next_attempt_at),
            lead.last_outcome.value if lead.last_outcome else None,
            lead.final_reason.value if isinstance(lead.final_reason, FinalReason) else None,
            _ts(lead.last_abandoned_at), lead.callback_agent, _ts(attempted_at))

    async def get_lead(self, lead_id: int) -> ClaimedLead:
        row = await self.pool.fetchrow(load_sql(PKG, "lead_get"), lead_id)
        if row is None:
            raise NotFound(f"lead {lead_id} does not exist")
        return _claimed(row)

    # attempts
    async def start_attempt(self, attempt_id: str, lead_id: int, campaign_id: int, number: str, instance: str,
                            now: float) -> None:
        await self.pool.execute(load_sql(PKG, "attempt_start"), attempt_id, lead_id, campaign_id, number, _ts(now),
                                instance)

    async def finish_attempt(self, attempt_id: str, *, outcome: str, ended_at: float,
                             answered_at: float | None = None, cause: int | None = None,
                             amd_status: str | None = None, amd_cause: str | None = None,
                             abandoned: bool = False, agent_id: str | None = None) -> None:
        await self.pool.execute(load_sql(PKG, "attempt_finish"), attempt_id, _ts(answered_at), _ts(ended_at),
                                outcome, cause, amd_status, amd_cause, abandoned, agent_id)

    # reports
    async def abandon_counts(self, campaign_id: int, since: float) -> tuple[int, int]:
        row = await self.pool.fetchone(load_sql(PKG, "report_abandon"), campaign_id, _ts(since))
        return int(row["answered"]), int(row["abandoned"])

    async def report(self, name: str, now: float) -> CampaignReport:
        c = await self.get_campaign(name)
        attempts = {(r["outcome"] or "in-progress"): int(r["n"])
                    for r in await self.pool.fetch(load_sql(PKG, "report_attempts"), c.id)}
        leads = {r["state"]: int(r["n"]) for r in await self.pool.fetch(load_sql(PKG, "report_leads"), c.id)}
        a24, b24 = await self.abandon_counts(c.id, now - DAY)
        a30, b30 = await self.abandon_counts(c.id, now - 30 * DAY)
        return CampaignReport(c.name, c.state, attempts, leads, a24, b24, a30, b30, c.settings.zone_policy.value)

    # callbacks (dialer dispositions and the inbound callback keypress)
    async def add_callback(self, *, due_at: float, lead_id: int | None = None,
                           caller_number: str | None = None, campaign_id: int | None = None,
                           queue: str | None = None, agent_id: str | None = None, note: str = "") -> int:
        if lead_id is None and not caller_number:
            raise InputError("a callback needs a lead or a caller number", field="caller_number")
        if campaign_id is None and not queue:
            raise InputError("a callback needs a campaign or a queue", field="queue")
        cid = await self.pool.fetchval(load_sql(PKG, "callback_add"), lead_id, caller_number, campaign_id,
                                       queue, agent_id, _ts(due_at), note)
        return int(cid)

    async def claim_due_callbacks(self, now: float, limit: int, instance: str,
                                  queue: str | None = None) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(load_sql(PKG, "callback_claim_due"), _ts(now), limit, instance, queue)
        return [dict(r) for r in rows]

    async def finish_callback(self, callback_id: int, state: str, due_at: float | None = None) -> None:
        if state not in ("done", "failed", "cancelled", "pending"):
            raise InputError(f"unknown callback state {state!r}", field="state")
        await self.pool.execute(load_sql(PKG, "callback_finish"), callback_id, state, _ts(due_at))
