"""Log lines are JSON off a TTY, carry bound ids, and never show a secret."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from callcore.config import Secret
from callcore.logs import configure_logging, redact_text


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_json_lines_redact_secrets_and_carry_bound_ids() -> None:
    out = io.StringIO()
    configure_logging("info", "auto", stream=out)  # StringIO is not a TTY: JSON
    log = structlog.get_logger("t")
    with structlog.contextvars.bound_contextvars(call_id="c-1", channel_id="ch-9"):
        log.info("connect", dsn="postgresql://u:hunter2@db/callcore", password="hunter2", secret=Secret("s3"),
                 url="ws://pbx:8088/ari/events?app=callcore&api_key=callcore:hunter2", note="plain")
    log.debug("hidden")
    [line] = out.getvalue().splitlines()
    rec = json.loads(line)
    assert "hunter2" not in line and "s3" not in line
    assert rec["call_id"] == "c-1" and rec["channel_id"] == "ch-9" and rec["note"] == "plain"
    assert rec["event"] == "connect" and rec["level"] == "info"


def test_console_format_on_request() -> None:
    out = io.StringIO()
    configure_logging("debug", "console", stream=out)
    structlog.get_logger("t").debug("shown", token="abc12345")
    text = out.getvalue()
    assert "shown" in text and "abc12345" not in text and not text.lstrip().startswith("{")


def test_redact_text_keeps_the_user_and_host() -> None:
    assert redact_text("postgresql://callcore:pw@10.0.0.5:5432/db") == "postgresql://callcore:***@10.0.0.5:5432/db"
    assert redact_text("GET /ari/events?app=x&api_key=u:p") == "GET /ari/events?app=x&api_key=***"
