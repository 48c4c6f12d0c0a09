"""``callcore campaign ...`` and ``callcore dnc ...``.

Exit codes: 0 done, 1 failed (not found, conflict, database trouble), 2 bad input (the message names the
file, line and field). ``upload`` shows a progress bar on stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from callcore import clihelp
from callcore.dialer import dnc
from callcore.dialer.campaign import CampaignSettings, MachineHandling, Mode, RetryDelays
from callcore.dialer.compliance import CallingWindow, ZonePolicy
from callcore.dialer.csvread import parse_map
from callcore.dialer.store import DialerStore, settings_to_json
from callcore.dialer.upload import UploadOptions, upload_leads
from callcore.errors import InputError
from callcore.store.db import Database

Action = clihelp.Action
Runner = clihelp.Runner


async def with_db(action: Action) -> None:
    """Run ``action`` on one connection to the configured (or discovered) database."""
    await clihelp.with_db(action, tables="dialer")


def _run(prog: str, action: Action, err: IO[str], runner: Runner | None) -> int:
    return clihelp.run_action(prog, action, err, runner or with_db)


class Progress:
    """``[#####.....]  45%  90,000 rows`` on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, rows: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r[{bar:<30}] {frac:4.0%} {rows:,} rows")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\n")


# --- campaign ----------------------------------------------------------------------------------------


def _region() -> str:
    """``CALLCORE_PHONE_REGION`` (the default region of every number without a country code)."""
    from callcore.config import load_settings

    return load_settings().phone_region


def _retry(text: str) -> RetryDelays:
    values: dict[str, float] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            values[key.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise InputError(f"expected OUTCOME=SECONDS, got {part!r}", field="--retry") from None
    try:
        return RetryDelays(**values)
    except TypeError:
        raise InputError("outcomes are busy, no_answer, machine, failed, congestion",
                         field="--retry") from None


def build_settings(ns: argparse.Namespace) -> CampaignSettings:
    kw: dict[str, Any] = {"caller_id": ns.caller_id, "queue": ns.queue or "", "mode": Mode(ns.mode)}
    if ns.window:
        kw["window"] = CallingWindow.parse(ns.window)
    if ns.retry:
        kw["retry"] = _retry(ns.retry)
    if ns.machine:
        kw["machine_handling"] = MachineHandling(ns.machine)
    for name in ("max_attempts", "max_attempts_per_number_per_day", "ring_timeout", "abandon_target",
                 "dial_level_min", "dial_level_max", "safe_harbour_message", "agentless_message", "script",
                 "connect_grace", "wrapup", "agentless_lines"):
        value = getattr(ns, name)
        if value is not None:
            kw[name] = value
    policy = ns.zones or ("default-zone" if ns.default_zone else "column" if ns.zone_column else None)
    if policy:
        kw["zone_policy"] = ZonePolicy(policy)
    if ns.default_zone:
        kw["default_zone"] = ns.default_zone
    if ns.zone_column:
        kw["zone_column"] = ns.zone_column
    if ns.amd:
        kw["amd"] = True
    if ns.keypress:
        kw["agentless_record_keypress"] = True
    return CampaignSettings(**kw)


def _campaign_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore campaign", description="Outbound campaigns.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="create a campaign")
    c.add_argument("name")
    c.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.PROGRESSIVE.value)
    c.add_argument("--queue", help="queue whose operators take the answered calls")
    c.add_argument("--caller-id", required=True, help="number shown to the called person")
    c.add_argument("--window", help="calling window in the lead's local time, e.g. 09:00-21:00")
    c.add_argument("--zones", choices=[p.value for p in ZonePolicy],
                   help="numbers with several possible time zones: strictest (window open in all of them, the "
                        "default), default-zone (--default-zone when it is one of them), column (--zone-column)")
    c.add_argument("--default-zone", dest="default_zone", help="IANA zone for --zones default-zone")
    c.add_argument("--zone-column", dest="zone_column",
                   help="lead file column naming each lead's IANA zone, for --zones column")
    c.add_argument("--max-attempts", type=int, dest="max_attempts")
    c.add_argument("--per-day", type=int, dest="max_attempts_per_number_per_day",
                   help="attempts per number per local day")
    c.add_argument("--retry", help="retry delays, e.g. busy=600,no_answer=3600")
    c.add_argument("--ring-timeout", type=float, dest="ring_timeout", help="seconds (at least 15)")
    c.add_argument("--abandon-target", type=float, dest="abandon_target", help="e.g. 0.03")
    c.add_argument("--dial-level-min", type=float, dest="dial_level_min")
    c.add_argument("--dial-level-max", type=float, dest="dial_level_max")
    c.add_argument("--amd", action="store_true", help="answering machine detection")
    c.add_argument("--machine", choices=[m.value for m in MachineHandling])
    c.add_argument("--safe-harbour", dest="safe_harbour_message", help="media played on abandonment")
    c.add_argument("--agentless-message", dest="agentless_message", help="agentless: media played")
    c.add_argument("--lines", type=int, dest="agentless_lines",
                   help="agentless: simultaneous calls (default 10)")
    c.add_argument("--keypress", action="store_true", help="agentless: journal the first key pressed")
    c.add_argument("--script", help="call script shown to the operator")
    c.add_argument("--connect-grace", type=float, dest="connect_grace")
    c.add_argument("--wrapup", type=float)
    sub.add_parser("list", help="list campaigns").add_argument("--json", action="store_true")
    for name in ("show", "report"):
        s = sub.add_parser(name, help=f"{name} a campaign")
        s.add_argument("name")
        s.add_argument("--json", action="store_true")
    for name in ("start", "pause", "stop"):
        sub.add_parser(name, help=f"{name} a campaign").add_argument("name")
    sub.add_parser("archive", help="stop dialing a campaign for good, keeping its leads and reports"
                   ).add_argument("name")
    d = sub.add_parser("delete", help="delete a campaign with its leads, uploads and callbacks (refused while "
                       "it runs or has calls in progress; a campaign with dial attempts needs --force)")
    d.add_argument("name")
    d.add_argument("--force", action="store_true", help="also delete its dial history (attempts, reports)")
    u = sub.add_parser("upload", help="load leads from a CSV file")
    u.add_argument("name")
    u.add_argument("file", type=Path)
    u.add_argument("--map", help="column map, e.g. phone=Телефон,name=ФИО")
    u.add_argument("--region", default=_region(),
                   help="country of numbers without +CC (default: CALLCORE_PHONE_REGION)")
    u.add_argument("--dry-run", action="store_true", help="validate and report, load nothing")
    u.add_argument("--reject-file", type=Path, help="write rejected lines (line, reason, field) here")
    u.add_argument("--tz-column", help="column with IANA time zones (else from the number)")
    u.add_argument("--workers", type=int, help="worker processes for parsing (default: automatic)")
    return p


async def _ambiguity(conn: Database, name: str, out: IO[str]) -> None:
    """How many remaining leads have several possible time zones, and what that leaves of the window."""
    from callcore.dialer.compliance import shared_open_hours
    from callcore.dialer.upload import ambiguity_note, ambiguity_sample
    from callcore.store.sqlfiles import load_sql

    c = await DialerStore(conn).get_campaign(name)
    s = c.settings
    print(s.zone_rule.text(), file=out)
    row = await conn.fetchrow(load_sql("callcore.dialer", "campaign_ambiguous_zones"), c.id, s.default_zone)
    if row is None or not row["n"]:
        return
    zones = list(row["zones"])
    print(ambiguity_note(int(row["n"]), int(row["widest"]), ambiguity_sample(row["sample"], zones), s.zone_rule,
                         int(row["by_default"])), file=out)
    w = s.window
    day = time.time() // 86_400 * 86_400
    dial = s.dial_zones(zones)
    hours = shared_open_hours(w, dial, day)
    how = f"open in all {len(dial)} zones at once" if len(dial) > 1 else f"by the clock of {dial[0]}"
    print(f"note: with the window {w.start:%H:%M}-{w.end:%H:%M} such a lead can be dialled {hours:.1f} h a day "
          f"({how})", file=out)


def campaign_main(argv: list[str], *, runner: Runner | None = None, out: IO[str] | None = None,
                  err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    ns = _campaign_parser().parse_args(argv)
    prog = f"callcore campaign {ns.cmd}"

    async def action(conn: Database) -> None:
        store = DialerStore(conn)
        if ns.cmd == "create":
            from callcore.directory.references import require_queues

            settings = build_settings(ns)
            await require_queues(conn, [("--queue", settings.queue)])
            c = await store.create_campaign(ns.name, settings)
            print(f"campaign {c.name} created (id {c.id}, {c.settings.mode.value})", file=out)
        elif ns.cmd == "list":
            rows = await store.list_campaigns()
            if ns.json:
                print(json.dumps([{"name": c.name, "state": c.state, "mode": c.settings.mode.value,
                                   "queue": c.settings.queue, "leads": c.leads, "remaining": c.remaining}
                                  for c in rows], ensure_ascii=False), file=out)
            for c in [] if ns.json else rows:
                queue = c.settings.queue or "-"
                print(f"{c.name:20} {c.state:8} {c.settings.mode.value:12} queue={queue:10} "
                      f"leads={c.leads} remaining={c.remaining}", file=out)
        elif ns.cmd == "show":
            c = await store.get_campaign(ns.name)
            doc = {"name": c.name, "id": c.id, "state": c.state, "created_at": c.created_at.isoformat(),
                   "settings": settings_to_json(c.settings)}
            print(json.dumps(doc, ensure_ascii=False, indent=None if ns.json else 2, default=str), file=out)
        elif ns.cmd == "archive":
            print("\n".join((await store.archive_campaign(ns.name)).lines()), file=out)
        elif ns.cmd == "delete":
            print("\n".join((await store.delete_campaign(ns.name, force=ns.force)).lines()), file=out)
        elif ns.cmd in ("start", "pause", "stop"):
            c = await store.change_state(ns.name, ns.cmd)
            print(f"campaign {c.name} is {c.state}", file=out)
        elif ns.cmd == "report":
            r = await store.report(ns.name, time.time())
            if ns.json:
                print(json.dumps({"name": r.name, "state": r.state, "attempts": r.attempts_by_outcome,
                                  "contact_rate": r.contact_rate, "leads": r.leads_by_state,
                                  "leads_remaining": r.leads_remaining,
                                  "abandoned_24h": [r.abandoned_24h, r.answered_24h],
                                  "abandoned_30d": [r.abandoned_30d, r.answered_30d],
                                  "zone_policy": r.zone_policy}), file=out)
            else:
                print("\n".join(r.lines()), file=out)
                await _ambiguity(conn, ns.name, out)
        elif ns.cmd == "upload":
            opts = UploadOptions(region=ns.region, column_map=parse_map(ns.map), tz_column=ns.tz_column,
                                 dry_run=ns.dry_run, reject_file=ns.reject_file, workers=ns.workers)
            progress = Progress(err)
            try:
                report = await upload_leads(conn, ns.name, ns.file, opts, progress=progress)
            finally:
                progress.close()
            print("\n".join(report.lines()), file=out)

    return _run(prog, action, err, runner)


# --- dnc ---------------------------------------------------------------------------------------------


def _dnc_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore dnc", description="The do-not-call list.")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="put numbers on the list")
    a.add_argument("numbers", nargs="+")
    a.add_argument("--source", default="manual")
    a.add_argument("--note", default="")
    r = sub.add_parser("remove", help="take numbers off the list")
    r.add_argument("numbers", nargs="+")
    i = sub.add_parser("import", help="load a file of numbers (one per line or a CSV with a phone column)")
    i.add_argument("file", type=Path)
    i.add_argument("--source", default="import")
    i.add_argument("--note", default="")
    c = sub.add_parser("check", help="is a number on the list? (exit 3 when it is)")
    c.add_argument("number")
    for s in (a, r, i, c):
        s.add_argument("--region", default=_region(),
                       help="country of numbers without +CC (default: CALLCORE_PHONE_REGION)")
    return p


def dnc_main(argv: list[str], *, runner: Runner | None = None, out: IO[str] | None = None,
             err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    ns = _dnc_parser().parse_args(argv)
    listed = False

    async def action(conn: Database) -> None:
        nonlocal listed
        if ns.cmd == "add":
            added = await dnc.add(conn, ns.numbers, region=ns.region, source=ns.source, note=ns.note)
            print(f"added {len(added)}: {' '.join(added)}" if added else "already on the list", file=out)
        elif ns.cmd == "remove":
            removed = await dnc.remove(conn, ns.numbers, region=ns.region)
            print(f"removed {len(removed)}: {' '.join(removed)}" if removed else "not on the list", file=out)
        elif ns.cmd == "import":
            report = await dnc.import_file(conn, ns.file, region=ns.region, source=ns.source, note=ns.note)
            print("\n".join(report.lines()), file=out)
        elif ns.cmd == "check":
            entry = await dnc.check(conn, ns.number, region=ns.region)
            if entry is None:
                number = dnc.normalize_number(ns.number, ns.region)
                print(f"{number} is not on the do-not-call list", file=out)
            else:
                listed = True
                print(f"{entry.phone_e164} is on the do-not-call list since {entry.added_at:%Y-%m-%d %H:%M} "
                      f"({entry.source}{': ' + entry.note if entry.note else ''})", file=out)

    code = _run(f"callcore dnc {ns.cmd}", action, err, runner)
    return 3 if code == 0 and listed else code
