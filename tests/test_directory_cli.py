from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from callcore.directory.cli import agent_main, queue_main

Runner = Callable[[Callable[[Any], Awaitable[None]]], Awaitable[None]]


def make_runner(dsn: str) -> Runner:
    async def runner(action: Callable[[Any], Awaitable[None]]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await action(conn)
        finally:
            await conn.close()

    return runner


def run(main: Callable[..., int], dsn: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, runner=make_runner(dsn))
    return code, out.getvalue(), err.getvalue()


def test_queue_commands(pg_dsn: str) -> None:
    code, out, _ = run(
        queue_main,
        pg_dsn,
        "create",
        "sales",
        "--strategy",
        "round-robin",
        "--wrapup",
        "10",
        "--disposition",
        "sale,no_sale",
        "--skill",
        "lang=ru>=2, after 30 s >=1",
        "--overflow",
        "voicemail:100",
        "--announce-holdtime",
        "yes",
    )
    assert code == 0 and "created" in out
    code, _, err = run(queue_main, pg_dsn, "create", "sales")
    assert code == 1 and "already exists" in err
    code, _, err = run(queue_main, pg_dsn, "create", "bad", "--wrapup", "ten")
    assert code == 2 and "wrapup_time" in err
    code, _, err = run(queue_main, pg_dsn, "create", "bad", "--strategy", "best")
    assert code == 2 and "strategy" in err
    assert run(queue_main, pg_dsn, "update", "sales", "--max-wait", "60")[0] == 0
    code, out, _ = run(queue_main, pg_dsn, "show", "sales")
    shown = json.loads(out)
    assert (shown["max_wait"], shown["wrapup_time"], shown["strategy"]) == (60.0, 10.0, "round-robin")
    assert shown["dispositions"] == ["sale", "no_sale"] and shown["announce_holdtime"] is True
    assert shown["skills"][0]["relax"] == [{"after": 30.0, "level": 1}]
    code, out, _ = run(queue_main, pg_dsn, "list")
    assert code == 0 and "sales" in out and "voicemail:100" in out
    assert run(queue_main, pg_dsn, "update", "sales")[0] == 2
    assert run(queue_main, pg_dsn, "delete", "sales")[0] == 0
    code, _, err = run(queue_main, pg_dsn, "show", "sales")
    assert code == 1 and "does not exist" in err


def test_agent_commands(pg_dsn: str) -> None:
    run(queue_main, pg_dsn, "create", "sales")
    run(queue_main, pg_dsn, "create", "support")
    code, _, err = run(
        agent_main,
        pg_dsn,
        "create",
        "1001",
        "--name",
        "Ann",
        "--endpoint",
        "PJSIP/1001",
        "--skill",
        "lang=ru:3",
        "--skill",
        "lang=en:1",
        "--queue",
        "sales:0",
        "--queue",
        "support",
    )
    assert code == 0, err
    code, _, err = run(agent_main, pg_dsn, "create", "1002", "--skill", "lang=ru:high")
    assert code == 2 and "skill" in err
    code, _, err = run(agent_main, pg_dsn, "create", "1002", "--endpoint", "nonsense")
    assert code == 2 and "endpoint" in err
    code, _, err = run(agent_main, pg_dsn, "create", "1003", "--queue", "nope:1")
    assert code == 1 and "nope" in err
    code, _, _ = run(
        agent_main,
        pg_dsn,
        "update",
        "1001",
        "--queue",
        "support:5",
        "--remove-queue",
        "sales",
        "--remove-skill",
        "lang=en",
    )
    assert code == 0
    shown = json.loads(run(agent_main, pg_dsn, "show", "1001")[1])
    assert shown == {
        "id": "1001",
        "name": "Ann",
        "endpoint": "PJSIP/1001",
        "skills": {"lang=ru": 3},
        "memberships": {"support": 5},
    }
    code, out, err = run(agent_main, pg_dsn, "token", "1001")
    assert code == 0 and out.startswith("cca_") and "not shown again" in err
    assert "support:5" in run(agent_main, pg_dsn, "list")[1]
    assert run(agent_main, pg_dsn, "delete", "1001")[0] == 0
    assert run(agent_main, pg_dsn, "token", "1001")[0] == 1


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        queue_main(["frobnicate"], err=io.StringIO())
    assert exc.value.code == 2
