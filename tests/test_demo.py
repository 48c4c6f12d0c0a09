"""The demo end to end, shortened: simulated Asterisk, service, HTTP logins, campaign, summary from the DB."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from callcore.config import Secret, load_settings
from callcore.service.demo import DemoOptions, DemoState, parse, render, run_demo

pytestmark = pytest.mark.postgres


async def test_demo_runs_and_summarises_from_the_database(pg_server: str, tmp_path: Path) -> None:
    out = io.StringIO()
    opts = DemoOptions(duration=5.0, rate=2.0, seed=2, agents=6, time_scale=4.0, campaign=True, plain=True,
                       workdir=tmp_path)
    code = await run_demo(opts, load_settings({}).replace(database_url=Secret(pg_server)), out)
    text = out.getvalue()
    assert code == 0, text
    assert "3 operators logged in through the HTTP API" in text and "3 operators dialled *55" in text
    assert "outbound campaign 'reminders' (predictive)" in text
    assert re.search(r"operator desktop: +http://127\.0\.0\.1:\d+/desktop +\(sign in as 2001 / demo-operator\)", text)
    assert re.search(r"supervisor wallboard: http://127\.0\.0\.1:\d+/wallboard \(sign in as supervisor / ", text)
    m = re.search(r"journal: (\d+) events in PostgreSQL", text)
    assert m and int(m.group(1)) > 20, text
    answered = sum(int(n) for n in re.findall(r"queue (?:sales|support): offered \d+, answered (\d+)", text))
    assert answered >= 1, text
    summary = text[text.index("\nsummary"):].splitlines()
    assert summary[-1].startswith("  simulated Asterisk: ") and "{" not in summary[-1], summary[-1]
    created = re.search(r"database '(callcore_demo_\d+_[0-9a-f]+)' created", text)
    assert created, text
    import asyncpg

    from callcore.store.pg import with_database

    conn = await asyncpg.connect(with_database(pg_server, "postgres"))
    try:
        assert not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", created.group(1))
    finally:
        await conn.close()


def test_options_are_validated() -> None:
    assert parse(["--duration", "5", "--agents", "3"]).agents == 3
    with pytest.raises(SystemExit):
        parse(["--rate", "0"])
    with pytest.raises(SystemExit):
        parse(["--agents", "0"])


def test_live_view_renders_queues_agents_and_journal() -> None:
    state = DemoState(snapshot={"queues": {"sales": {"waiting": 2, "longest_wait": 3.5, "offered": 9,
                                                      "answered": 7, "abandoned": 1, "service_level": 0.875}},
                                "agents_by_state": {"available": 2, "on_call": 3, "paused": 0}},
                      sim={"calls_injected": 9, "event:Dial": 4, "event:StasisStart": 6},
                      journal={"buffered": 3, "db_ok": True, "spilling": False})
    text = render(state, 10.0, 20.0)
    assert "available=2  on_call=3" in text and "paused" not in text
    assert re.search(r"sales\s+2\s+3.5s\s+9\s+7\s+1\s+87.5%", text)
    assert "ARI events=10" in text and "buffered=3" in text
    assert "[" + "#" * 15 + "." * 15 + "]" in text


async def test_each_demo_run_has_its_own_database_and_drops_only_that(pg_server: str) -> None:
    import asyncpg

    from callcore.service.demo import _database, _drop_database
    from callcore.store.pg import with_database

    admin = await asyncpg.connect(with_database(pg_server, "postgres"))
    try:
        await admin.execute("DROP DATABASE IF EXISTS callcore_demo")
        await admin.execute("CREATE DATABASE callcore_demo")   # e.g. an older demo's, or someone's data
        settings = load_settings({}).replace(database_url=Secret(pg_server))
        first_dsn, _, first_name = await _database(settings, io.StringIO())
        second_dsn, _, second_name = await _database(settings, io.StringIO())
        assert first_name != second_name and first_dsn != second_dsn
        names = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
        assert {first_name, second_name, "callcore_demo"} <= names
        await _drop_database(second_dsn, second_name)
        names = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
        assert first_name in names and "callcore_demo" in names and second_name not in names
        await _drop_database(first_dsn, first_name)
    finally:
        await admin.execute("DROP DATABASE IF EXISTS callcore_demo")
        await admin.close()


async def test_the_demo_asks_for_a_server_not_for_the_service_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a configured URL the demo must not create the service's ``callcore`` database."""
    import callcore.store.pg as pg

    asked: list[str] = []

    async def resolve(dsn: str, *, purpose: str = "service", **_kw: object) -> object:
        asked.append(purpose)
        raise RuntimeError("stop here")

    monkeypatch.setattr(pg, "resolve_database", resolve)
    from callcore.service.demo import _database

    with pytest.raises(RuntimeError):
        await _database(load_settings({}), io.StringIO())
    assert asked == ["test"]
