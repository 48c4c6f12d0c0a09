"""One-shot commands (``callcore db migrate``...) log in the configured format, to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CODE = ("import structlog, sys; from callcore import cli; "
        "cli.COMMANDS['probe'] = (lambda a: structlog.get_logger('p').warning('probe_event', n=1) or 0, 'x'); "
        "sys.exit(cli.main(['probe']))")


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={**clean, **env}, check=False)


def test_json_format_as_set_in_the_image() -> None:
    result = run({"CALLCORE_LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["event"] == "probe_event" and line["level"] == "warning" and line["n"] == 1


def test_console_format() -> None:
    result = run({"CALLCORE_LOG_FORMAT": "console"})
    assert result.returncode == 0
    assert "probe_event" in result.stderr
    with pytest.raises(ValueError):
        json.loads(result.stderr.strip().splitlines()[-1])


def test_level_filters() -> None:
    result = run({"CALLCORE_LOG_FORMAT": "json", "CALLCORE_LOG_LEVEL": "error"})
    assert result.returncode == 0 and "probe_event" not in result.stderr
