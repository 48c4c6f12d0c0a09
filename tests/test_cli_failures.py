"""The command line fails like a Unix tool: bad settings are one line and exit 2 before anything connects,
a component's failure is one ``callcore: <message>`` line, and a closed output pipe is not an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from callcore import cli
from callcore.errors import AmiAuthError, ConfigError

BAD_TOKENS = "short=admin:ops"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env.update(extra)
    return env


def _callcore(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callcore", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_short_api_token_fails_config_check_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLCORE_API_TOKENS", BAD_TOKENS)
    assert cli.main(["config", "check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CALLCORE_API_TOKENS" in err[0] and "8 characters" in err[0]
    assert "short" not in err[0]   # the token itself is never shown


def test_short_api_token_stops_run_before_connecting() -> None:
    # the ARI URL points at nothing: had run connected anything, it would have failed differently (or hung)
    proc = _callcore("run", env=_env(CALLCORE_API_TOKENS=BAD_TOKENS, CALLCORE_ARI_URL="http://127.0.0.1:9",
                                     CALLCORE_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("callcore: configuration error: CALLCORE_API_TOKENS")


def test_a_component_failure_inside_the_task_group_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from callcore.service import main as run_main

    async def serve(stop: Any = None) -> int:
        raise ExceptionGroup("unhandled errors in a TaskGroup",
                             [AmiAuthError("AMI login refused: Authentication failed (check ami_user/ami_secret)")])

    monkeypatch.setattr(run_main, "serve", serve)
    assert cli.main(["run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["callcore: AMI login refused: Authentication failed (check ami_user/ami_secret)"]

    async def serve_config(stop: Any = None) -> int:
        raise ExceptionGroup("x", [ExceptionGroup("y", [ConfigError("CALLCORE_AMI_PORT", "bad")])])

    monkeypatch.setattr(run_main, "serve", serve_config)
    assert cli.main(["run"]) == 2


@pytest.mark.postgres
def test_wrong_ami_secret_ends_in_one_line(pg_dsn: str, tmp_path: Path) -> None:
    import asyncio

    from callcore.sim import SimAsterisk
    from callcore.sim.ami import SimAmi

    async def scenario() -> subprocess.CompletedProcess[str]:
        async with SimAsterisk(seed=1) as sim:
            ami = SimAmi(endpoints=[])
            await ami.start()
            try:
                env = _env(CALLCORE_ARI_URL=sim.ari_url, CALLCORE_DATABASE_URL=pg_dsn, CALLCORE_HTTP_PORT="0",
                           CALLCORE_AGI_PORT="0", CALLCORE_AMI_ENABLED="true", CALLCORE_AMI_HOST="127.0.0.1",
                           CALLCORE_AMI_PORT=str(ami.port), CALLCORE_AMI_SECRET="wrong-secret",
                           CALLCORE_STATE_DIR=str(tmp_path), CALLCORE_JOURNAL_SPILL_DIR=str(tmp_path / "spill"))
                return await asyncio.to_thread(_callcore, "run", env=env)
            finally:
                await ami.stop()

    proc = asyncio.run(scenario())
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("callcore: ") and "AMI" in last, proc.stderr


@pytest.mark.postgres
def test_report_into_a_closed_pipe_exits_0_quietly(pg_dsn: str) -> None:
    import asyncio

    import asyncpg

    async def seed() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute("INSERT INTO calls (call_id, queue, caller_number, entered_at, outcome) "
                               "SELECT 'c' || n, 'sales', '+7916' || lpad(n::text, 7, '0'), "
                               "now() - interval '1 hour', 'answered' FROM generate_series(1, 20000) n")
        finally:
            await conn.close()

    asyncio.run(seed())
    proc = subprocess.Popen([sys.executable, "-m", "callcore", "report", "calls", "--since", "2000-01-01"],
                            env=_env(CALLCORE_DATABASE_URL=pg_dsn), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("call_id")
    proc.stdout.close()   # like `| head -1`
    code = proc.wait(60)
    err = proc.stderr.read()
    assert code == 0 and err == "", err


def test_simulate_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--help"]) == 0
    assert "simulate dialer" in capsys.readouterr().out
    assert cli.main(["simulate"]) == 2


@pytest.mark.postgres
def test_db_commands_log_to_stderr_only(pg_dsn: str) -> None:
    for cmd in ("migrate", "status"):
        proc = _callcore("db", cmd, env=_env(CALLCORE_DATABASE_URL=pg_dsn, CALLCORE_LOG_FORMAT="json"))
        assert proc.returncode == 0, proc.stderr
        assert '"event"' not in proc.stdout and "database_resolved" not in proc.stdout, proc.stdout
    assert "0001" in proc.stdout
