"""``callcore campaign`` and ``callcore dnc`` end to end: the real entry point in a subprocess, on a fresh
test database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from callcore.dialer.campaign import Mode
from callcore.dialer.cli import _campaign_parser, build_settings
from callcore.errors import InputError

REPO = Path(__file__).resolve().parents[1]


async def cli(dsn: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env.update(CALLCORE_DATABASE_URL=dsn, CALLCORE_LOG_LEVEL="warning")
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "callcore", *args, cwd=REPO, env=env,
                                                stdout=pipe, stderr=pipe)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_build_settings_from_options() -> None:
    ns = _campaign_parser().parse_args(["create", "spring", "--mode", "predictive", "--queue", "sales",
                                        "--caller-id", "+74950000000", "--window", "10:00-20:00",
                                        "--retry", "busy=60,no_answer=120", "--amd", "--max-attempts", "4"])
    s = build_settings(ns)
    assert (s.mode, s.queue, s.amd, s.max_attempts, s.retry.busy, s.retry.no_answer) == (
        Mode.PREDICTIVE, "sales", True, 4, 60.0, 120.0)
    assert f"{s.window.start:%H:%M}-{s.window.end:%H:%M}" == "10:00-20:00"
    with pytest.raises(InputError):
        build_settings(_campaign_parser().parse_args(["create", "x", "--caller-id", "1", "--queue", "q",
                                                      "--retry", "lunch=5"]))


async def test_campaign_and_dnc_commands(pg_dsn: str, tmp_path: Path) -> None:
    for queue in ("sales", "q"):   # a campaign names an existing queue
        assert (await cli(pg_dsn, "queue", "create", queue))[0] == 0
    code, out, err = await cli(pg_dsn, "campaign", "create", "spring", "--mode", "predictive", "--queue",
                               "sales", "--caller-id", "+74950000000", "--window", "09:00-21:00")
    assert code == 0, err
    code, _, err = await cli(pg_dsn, "campaign", "create", "spring", "--queue", "q", "--caller-id", "1")
    assert code == 1 and "already exists" in err
    code, _, err = await cli(pg_dsn, "campaign", "create", "autumn", "--caller-id", "+7495")
    assert code == 2 and "queue" in err

    code, out, err = await cli(pg_dsn, "dnc", "add", "8 916 000 00 01", "--note", "asked")
    assert code == 0 and "+79160000001" in out, err
    code, out, _ = await cli(pg_dsn, "dnc", "check", "+79160000001")
    assert code == 3 and "asked" in out

    leads = tmp_path / "leads.csv"
    leads.write_bytes("Телефон;ФИО;Город\n89161234567;Иван;Москва\n89160000001;Блок;Тверь\nxx;Bad;-\n"
                      .encode("cp1251"))
    rejects = tmp_path / "rejects.csv"
    code, out, err = await cli(pg_dsn, "campaign", "upload", "spring", str(leads), "--map",
                               "phone=Телефон,name=ФИО", "--dry-run")
    assert code == 0 and "would insert 1" in out and "dry run" in out, err
    code, out, err = await cli(pg_dsn, "campaign", "upload", "spring", str(leads), "--map",
                               "phone=Телефон,name=ФИО", "--reject-file", str(rejects))
    assert code == 0 and "inserted 1" in out and "Windows-1251" in out, err
    assert "invalid-number" in rejects.read_text(encoding="utf-8-sig")
    code, _, err = await cli(pg_dsn, "campaign", "upload", "spring", str(leads), "--map", "phone=Tel")
    assert code == 2 and f"{leads}:1" in err and "Tel" in err

    assert (await cli(pg_dsn, "campaign", "start", "spring"))[0] == 0
    code, out, _ = await cli(pg_dsn, "campaign", "list", "--json")
    [row] = json.loads(out)
    assert (row["name"], row["state"], row["leads"], row["remaining"]) == ("spring", "running", 1, 1)
    code, out, _ = await cli(pg_dsn, "campaign", "show", "spring", "--json")
    assert json.loads(out)["settings"]["window"] == "09:00-21:00"
    code, out, _ = await cli(pg_dsn, "campaign", "report", "spring")
    assert code == 0 and "leads remaining: 1 of 1" in out and "abandonment 24 h" in out
    code, _, err = await cli(pg_dsn, "campaign", "report", "nope")
    assert code == 1 and "does not exist" in err
