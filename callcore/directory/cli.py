"""``callcore queue ...`` and ``callcore agent ...``: manage the directory in PostgreSQL.

Exit codes: 0 done, 1 failed (not found, already exists, database trouble), 2 bad input (the message
names the field).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any, TypeAlias

from callcore import clihelp
from callcore.acd.core import strategies
from callcore.directory import store
from callcore.directory.model import agent_json, build_agent, build_queue, parse_level_pair, queue_json
from callcore.errors import InputError
from callcore.store.db import Database

Db: TypeAlias = Database
Action = clihelp.Action
Runner = clihelp.Runner

# option dest -> QueueConfig field
QUEUE_OPTIONS: dict[str, tuple[str, str]] = {
    "strategy": ("--strategy", strategies.help_text()),
    "weight": ("--weight", "priority of this queue's callers over other queues' (higher first)"),
    "moh_class": ("--moh", "music-on-hold class"),
    "announce_position_every": ("--announce-every", "seconds between position announcements (0: off)"),
    "announce_holdtime": ("--announce-holdtime", "true|false: announce the expected wait"),
    "max_wait": ("--max-wait", "seconds before overflow (0: unlimited)"),
    "overflow": ("--overflow", "queue:NAME | dialplan:CONTEXT,EXTEN[,PRIO] | voicemail:BOX"),
    "join_empty": ("--join-empty", "never | no_members | none_available"),
    "leave_empty": ("--leave-empty", "never | no_members | none_available"),
    "max_len": ("--max-len", "max waiting callers (0: unlimited)"),
    "callback_digit": ("--callback-digit", "DTMF digit that requests a callback"),
    "wrapup_time": ("--wrapup", "seconds of wrap-up after each call"),
    "ring_timeout": ("--ring-timeout", "seconds to ring an agent"),
    "max_no_answer": ("--max-no-answer", "missed offers before the agent is paused (0: never)"),
    "service_level_threshold": ("--sl-threshold", "service level threshold, seconds"),
    "recording": ("--recording", "none | all | percent:N"),
    "script": ("--script", "call script shown to the agent"),
    "voicemail_context": ("--voicemail-context", "dialplan context for voicemail overflow"),
    "transfer_context": ("--transfer-context", "dialplan context for transfers to numbers"),
}


async def with_db(action: Action) -> None:
    """Run ``action`` on a connection to the configured (or discovered) database."""
    await clihelp.with_db(action, tables="directory")


def _run(prog: str, action: Action, err: IO[str], runner: Runner | None) -> int:
    return clihelp.run_action(prog, action, err, runner or with_db)


def _print_json(data: Any, out: IO[str]) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --- queue -------------------------------------------------------------------------------------


def queue_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcore queue", description="Manage ACD queues.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("create", "update"):
        p = sub.add_parser(cmd, help=f"{cmd} a queue")
        p.add_argument("name")
        for dest, (flag, text) in QUEUE_OPTIONS.items():
            p.add_argument(flag, dest=dest, help=text)
        p.add_argument("--disposition", dest="dispositions", action="append",
                       help="disposition code (repeat, or comma-separated)")
        p.add_argument("--skill", dest="skills", action="append",
                       help="skill requirement, e.g. 'lang_ru>=3, after 30 s >=1, after 60 s dropped' "
                            "(repeat)")
    sub.add_parser("list", help="list queues").add_argument("--json", action="store_true")
    sub.add_parser("show", help="show one queue as JSON").add_argument("name")
    sub.add_parser("delete", help="delete a queue").add_argument("name")
    return parser


def _queue_changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {k: getattr(args, k) for k in QUEUE_OPTIONS if getattr(args, k) is not None}
    if args.dispositions is not None:
        codes = [c.strip() for item in args.dispositions for c in item.split(",")]
        changes["dispositions"] = [c for c in codes if c]
    if args.skills is not None:
        changes["skills"] = list(args.skills)
    return changes


def queue_main(argv: list[str], *, out: IO[str] | None = None, err: IO[str] | None = None,
               runner: Runner | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = queue_parser().parse_args(argv)

    async def action(db: Db) -> None:
        if args.cmd == "create":
            spec = await store.create_queue(db, build_queue({"name": args.name, **_queue_changes(args)}))
            out.write(f"queue {spec.name} created\n")
        elif args.cmd == "update":
            changes = _queue_changes(args)
            if not changes:
                raise InputError("nothing to change: give at least one option")
            await store.update_queue(db, args.name, changes)
            out.write(f"queue {args.name} updated\n")
        elif args.cmd == "show":
            _print_json(queue_json(await store.get_queue(db, args.name)), out)
        elif args.cmd == "delete":
            await store.delete_queue(db, args.name)
            out.write(f"queue {args.name} deleted\n")
        else:
            queues = await store.list_queues(db)
            if args.json:
                _print_json([queue_json(q) for q in queues], out)
                return
            out.write(f"{'NAME':20} {'STRATEGY':14} {'WRAPUP':>6} {'MAXWAIT':>7} OVERFLOW\n")
            for q in queues:
                overflow = queue_json(q)["overflow"] or "-"
                out.write(f"{q.name:20} {q.strategy:14} {q.wrapup_time:>6g} {q.max_wait:>7g} {overflow}\n")

    return _run("callcore queue", action, err, runner)


# --- agent -------------------------------------------------------------------------------------


def agent_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcore agent", description="Manage agents (operators).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("create", "update"):
        p = sub.add_parser(cmd, help=f"{cmd} an agent")
        p.add_argument("id")
        p.add_argument("--name")
        p.add_argument("--endpoint", help="device to ring, e.g. PJSIP/1001")
        p.add_argument("--skill", action="append", default=[], help="SKILL:LEVEL, e.g. lang_ru:3 (repeat)")
        p.add_argument("--queue", action="append", default=[], help="QUEUE[:PENALTY], e.g. sales:0 (repeat)")
        if cmd == "update":
            p.add_argument("--remove-skill", action="append", default=[], help="skill to remove (repeat)")
            p.add_argument("--remove-queue", action="append", default=[], help="queue to leave (repeat)")
    sub.add_parser("list", help="list agents").add_argument("--json", action="store_true")
    sub.add_parser("show", help="show one agent as JSON").add_argument("id")
    sub.add_parser("delete", help="delete an agent").add_argument("id")
    sub.add_parser("token", help="issue a new API token for the agent (printed once)").add_argument("id")
    return parser


def _levels(items: list[str], fld: str, hi: int) -> dict[str, int]:
    return dict(parse_level_pair(item, fld, hi=hi) for item in items)


def agent_main(argv: list[str], *, out: IO[str] | None = None, err: IO[str] | None = None,
               runner: Runner | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = agent_parser().parse_args(argv)

    async def action(db: Db) -> None:
        if args.cmd in ("create", "update"):
            fields: dict[str, Any] = {k: getattr(args, k) for k in ("name", "endpoint") if getattr(args, k)}
            skills = _levels(args.skill, "skill", 100)
            queues = _levels(args.queue, "queue", 1000)
            if args.cmd == "create":
                spec = build_agent({"id": args.id, **fields, "skills": skills, "memberships": queues})
                await store.create_agent(db, spec)
                out.write(f"agent {args.id} created\n")
                return
            current = await store.get_agent(db, args.id)
            if skills or args.remove_skill:
                merged = {**current.skills, **skills}
                fields["skills"] = {k: v for k, v in merged.items() if k not in args.remove_skill}
            if queues or args.remove_queue:
                merged = {**current.memberships, **queues}
                fields["memberships"] = {k: v for k, v in merged.items() if k not in args.remove_queue}
            if not fields:
                raise InputError("nothing to change: give at least one option")
            await store.update_agent(db, args.id, fields)
            out.write(f"agent {args.id} updated\n")
        elif args.cmd == "show":
            _print_json(agent_json(await store.get_agent(db, args.id)), out)
        elif args.cmd == "delete":
            await store.delete_agent(db, args.id)
            out.write(f"agent {args.id} deleted\n")
        elif args.cmd == "token":
            token = await store.issue_agent_token(db, args.id)
            out.write(f"{token}\n")
            err.write("store this token now: it is not shown again (a new one replaces it)\n")
        else:
            agents = await store.list_agents(db)
            if args.json:
                _print_json([agent_json(a) for a in agents], out)
                return
            out.write(f"{'ID':12} {'NAME':20} {'ENDPOINT':18} QUEUES\n")
            for a in agents:
                queues_text = ",".join(f"{q}:{p}" for q, p in sorted(a.memberships.items())) or "-"
                out.write(f"{a.id:12} {a.name:20} {a.endpoint:18} {queues_text}\n")

    return _run("callcore agent", action, err, runner)
