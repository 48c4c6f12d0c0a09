"""``callcore account`` (sign-in accounts of the desktop and wallboard) and ``callcore department`` (the
department directory operators see and transfer to).

The password is read from ``--password-file`` (a file, or ``-`` for standard input: one line) or asked on
the terminal; it never appears on the command line, where other users could see it in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import IO

from callcore import clihelp
from callcore.errors import InputError
from callcore.store.db import Database
from callcore.web import accounts, records


def account_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore account", description="Sign-in accounts of the desktop and wallboard")
    sub = p.add_subparsers(dest="cmd", required=True)
    pw = sub.add_parser("password", help="create an account or set its password (ends its sessions)")
    pw.add_argument("login", help="the agent id for an operator, any name for a supervisor or admin")
    pw.add_argument("--role", choices=accounts.ROLES, default="agent")
    pw.add_argument("--endpoint", default="", help="a supervisor's phone for listen/whisper/barge (PJSIP/...)")
    pw.add_argument("--password-file", help="read the password from this file ('-': standard input)")
    sub.add_parser("list", help="list accounts").add_argument("--json", action="store_true")
    sub.add_parser("delete", help="delete an account").add_argument("login")
    return p


def _password(source: str | None, stdin: IO[str]) -> str:
    if source == "-":
        text = stdin.readline()
    elif source:
        try:
            text = Path(source).read_text(encoding="utf-8").splitlines()[0] if Path(source).stat().st_size else ""
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror}", field="--password-file") from None
    else:
        text = getpass.getpass("password: ")
        if getpass.getpass("again: ") != text:
            raise InputError("the two passwords differ", field="password")
    return accounts.check_password(text.rstrip("\r\n"))


def account_main(argv: list[str], *, out: IO[str] | None = None, err: IO[str] | None = None,
                 stdin: IO[str] | None = None, runner: clihelp.Runner | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = account_parser().parse_args(argv)
    try:
        password = _password(args.password_file, stdin or sys.stdin) if args.cmd == "password" else ""
    except InputError as exc:
        print(f"callcore account: {exc}", file=err)
        return clihelp.EXIT_USAGE

    async def action(db: Database) -> None:
        if args.cmd == "password":
            saved = await accounts.set_password(db, args.login, args.role, password, endpoint=args.endpoint)
            out.write(f"account {saved['login']} ({saved['role']}): password set\n")
        elif args.cmd == "delete":
            await accounts.delete_account(db, args.login)
            out.write(f"account {args.login} deleted\n")
        else:
            rows = await accounts.list_accounts(db)
            if args.json:
                clihelp.print_json(out, rows)
                return
            clihelp.print_table(out, ("LOGIN", "ROLE", "ENDPOINT", "CHANGED"),
                                [(r["login"], r["role"], r["endpoint"] or "-",
                                  r["updated_at"].isoformat(timespec="seconds")) for r in rows])

    return clihelp.run_action("callcore account", action, err, runner)


def department_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callcore department", description="The department directory")
    sub = p.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("set", help="add a department or change it (same project and name)")
    add.add_argument("name")
    add.add_argument("--phone", required=True, help="the number operators give callers (and dial on transfer)")
    add.add_argument("--hours", default="", help="opening hours as shown to operators, e.g. 'Mon-Fri 9-18'")
    add.add_argument("--project", default="", help="a queue or campaign (default: every project)")
    add.add_argument("--queue", help="transfer to this queue instead of dialling the phone number")
    sub.add_parser("list", help="list departments").add_argument("--json", action="store_true")
    sub.add_parser("delete", help="delete a department").add_argument("id", type=int)
    return p


def department_main(argv: list[str], *, out: IO[str] | None = None, err: IO[str] | None = None,
                    runner: clihelp.Runner | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = department_parser().parse_args(argv)

    async def action(db: Database) -> None:
        if args.cmd == "set":
            dep = await records.save_department(db, {"name": args.name, "phone": args.phone, "hours": args.hours,
                                                     "project": args.project, "transfer_queue": args.queue})
            out.write(f"department {dep['id']} {dep['name']} saved\n")
        elif args.cmd == "delete":
            await records.delete_department(db, args.id)
            out.write(f"department {args.id} deleted\n")
        else:
            rows = await records.departments(db)
            if args.json:
                clihelp.print_json(out, rows)
                return
            clihelp.print_table(out, ("ID", "PROJECT", "NAME", "PHONE", "HOURS", "QUEUE"),
                                [(str(r["id"]), r["project"] or "*", r["name"], r["phone"], r["hours"] or "-",
                                  r["transfer_queue"] or "-") for r in rows])

    return clihelp.run_action("callcore department", action, err, runner)
