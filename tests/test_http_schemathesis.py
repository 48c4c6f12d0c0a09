"""schemathesis against the OpenAPI document served by a running service (simulated Asterisk, PostgreSQL):
every generated request is answered as the document says (status codes, content types, bodies), valid
requests are accepted and invalid ones refused, never a 5xx. Fixed seed and budget, so the run is
repeatable and short."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.config import Secret, load_settings
from callcore.service.app import Service
from callcore.sim import EndpointBehaviour, SimAsterisk

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "schemathesis-admin-token"
SEED = 20261203
EXAMPLES = 12        # per operation and phase
BUDGET_S = 50        # schemathesis' own time budget


def _cli() -> str | None:
    exe = Path(sys.executable).with_name("schemathesis")
    return str(exe) if exe.exists() else shutil.which("schemathesis")


@pytest.fixture
async def service(pg_dsn: str, tmp_path: Path) -> AsyncIterator[int]:
    from callcore.directory import store
    from callcore.store.db import open_pool

    pool = await open_pool(pg_dsn, 1)
    try:
        await store.create_queue(pool, QueueConfig(name="sales", dispositions=("sale", "no-sale")))
        await store.create_agent(pool, AgentConfig(id="a1", name="Ann", endpoint="PJSIP/a1",
                                                   memberships={"sales": 0}))
    finally:
        await pool.close()
    async with SimAsterisk(seed=5, agents=["PJSIP/a1"]) as sim:
        sim.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        settings = load_settings({}).replace(
            ari_url=sim.ari_url, http_port=0, agi_port=0, journal_spill_dir=str(tmp_path / "spill"),
            state_dir=str(tmp_path), api_tokens=Secret(f"{TOKEN}=admin:fuzz"))
        svc = Service(settings, dsn=pg_dsn)
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop), name="service-under-schemathesis")
        await asyncio.wait_for(svc.started.wait(), 30)
        assert svc.http_port is not None
        try:
            yield svc.http_port
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_schemathesis_finds_nothing(service: int, tmp_path: Path) -> None:
    cli = _cli()
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    url = f"http://127.0.0.1:{service}/api/v1/openapi.json"
    config = Path(__file__).with_name("schemathesis.toml")
    args = [cli, "--config-file", str(config), "run", url, "-H", f"Authorization: Bearer {TOKEN}", "--seed", str(SEED),
            "--max-examples", str(EXAMPLES), "--max-time", str(BUDGET_S), "--generation-deterministic",
            "--generation-allow-x00", "false", "--phases", "examples,coverage,fuzzing",
            # event streams never end: their status and content type are checked in test_http_api
            "--exclude-path-regex", "/events$", "--request-timeout", "5", "--workers", "1",
            "--report", "junit", "--report-dir", str(tmp_path)]
    proc = await asyncio.create_subprocess_exec(*args, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), BUDGET_S + 60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-20_000:]
