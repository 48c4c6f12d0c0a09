"""The README stays true: its first commands, every setting, every CLI command, every API route."""

from __future__ import annotations

import re
from pathlib import Path

from callcore.cli import COMMANDS
from callcore.config import settings_reference
from callcore.http.routes import ROUTES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_first_lines_give_the_demo_and_test_commands() -> None:
    block = README.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block[0].endswith(".venv/bin/callcore demo")
    assert block[1].endswith(".venv/bin/python -m pytest")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert block[1] in ci, ".ci/run must run exactly the README's test command"


def test_every_setting_is_documented_with_its_default() -> None:
    for env, default, _doc in settings_reference():
        row = re.search(rf"^\| `{env}` \| `(.*?)` \|", README, re.MULTILINE)
        assert row, f"{env} missing from the configuration table"
        assert row.group(1) == default, f"{env}: README says {row.group(1)}, code says {default}"


def test_every_cli_command_is_documented() -> None:
    for name in COMMANDS:
        assert f"callcore {name}" in README, name


def test_every_api_route_is_documented() -> None:
    for r in ROUTES:
        assert f"| {r.method} | `{r.path}` |" in README, f"{r.method} {r.path}"
