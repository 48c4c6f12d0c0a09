"""``callcore account`` and ``callcore department``."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callcore.web.cli import account_main, department_main

pytestmark = pytest.mark.postgres


def make_runner(dsn: str) -> Callable[[Callable[[Any], Awaitable[None]]], Awaitable[None]]:
    async def runner(action: Callable[[Any], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("INSERT INTO agents (id, name) VALUES ('2001', 'Anna') ON CONFLICT DO NOTHING")
            await action(conn)
        finally:
            await conn.close()

    return runner


def run(main: Callable[..., int], dsn: str, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    code = main(list(argv), out=out, err=err, runner=make_runner(dsn), **extra)
    return code, out.getvalue(), err.getvalue()


def test_account_password_from_stdin_or_file_list_and_delete(pg_dsn: str, tmp_path: Path) -> None:
    code, out, _ = run(account_main, pg_dsn, "password", "2001", "--password-file", "-", stdin="secret-pass-1\n")
    assert code == 0 and "account 2001 (agent): password set" in out
    secret = tmp_path / "pw"
    secret.write_text("boss-pass-12\n", encoding="utf-8")
    code, out, _ = run(account_main, pg_dsn, "password", "lead", "--role", "supervisor", "--endpoint", "PJSIP/sup1",
                       "--password-file", str(secret))
    assert code == 0, out
    code, out, _ = run(account_main, pg_dsn, "list")
    assert code == 0 and "lead" in out and "PJSIP/sup1" in out and "secret" not in out and "argon2" not in out
    code, _, err = run(account_main, pg_dsn, "password", "2001", "--password-file", "-", stdin="short\n")
    assert code == 2 and "password" in err and "at least 8" in err
    code, _, err = run(account_main, pg_dsn, "password", "9999", "--password-file", "-", stdin="long-enough-1\n")
    assert code == 1 and "agent '9999' does not exist" in err
    code, _, err = run(account_main, pg_dsn, "password", "x", "--password-file", str(tmp_path / "missing"))
    assert code == 2 and "cannot read" in err
    assert run(account_main, pg_dsn, "delete", "lead")[0] == 0
    assert run(account_main, pg_dsn, "delete", "lead")[0] == 1


def test_department_set_list_delete(pg_dsn: str) -> None:
    code, out, _ = run(department_main, pg_dsn, "set", "Legal", "--phone", "+15550100300", "--hours", "Mon-Fri 10-17")
    assert code == 0 and "Legal saved" in out
    code, out, _ = run(department_main, pg_dsn, "set", "Legal", "--phone", "+15550100301")  # same name: changed
    code, out, _ = run(department_main, pg_dsn, "list")
    assert out.count("Legal") == 1 and "+15550100301" in out
    code, _, err = run(department_main, pg_dsn, "set", "Billing", "--phone", "1", "--queue", "nope")
    assert code == 2 and "transfer_queue" in err
    dep_id = out.splitlines()[1].split()[0]
    assert run(department_main, pg_dsn, "delete", dep_id)[0] == 0
    assert run(department_main, pg_dsn, "delete", dep_id)[0] == 1
