"""structlog set-up: JSON lines off a TTY, readable console on a TTY, secrets redacted.

Bind call/channel ids per task with ``structlog.contextvars.bind_contextvars(call_id=..., channel_id=...)``
(contextvars follow asyncio tasks), or ``log.bind(...)`` on a logger.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from callcore.config import Secret

_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|api_key|authorization|dsn|database_url", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@")
_API_KEY_QUERY = re.compile(r"(api_key=)[^&\s]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _API_KEY_QUERY.sub(r"\1***", text)


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, Secret):
        return "***"
    if key and _SECRET_KEYS.search(key):
        return "***"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    return value


def redact_processor(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact(event_dict[key], key)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write (it may be replaced after configuration,
    e.g. by a test harness or a daemoniser), never to a stream captured once and closed since."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    stream = _CurrentStderr() if stream is None or stream is sys.stderr else stream
    console = fmt == "console" or (fmt == "auto" and hasattr(stream, "isatty") and stream.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def configure_cli_logging(env: Any = None) -> None:
    """One-shot commands log like the service (CALLCORE_LOG_FORMAT/LEVEL), always to stderr.

    A bad configuration is not reported here: the command itself loads the settings and names the setting.
    """
    import os

    env = os.environ if env is None else env
    fmt = env.get("CALLCORE_LOG_FORMAT", "auto")
    level = env.get("CALLCORE_LOG_LEVEL", "info")
    if fmt not in ("auto", "json", "console") or level not in ("debug", "info", "warning", "error"):
        return
    configure_logging(level, fmt, stream=sys.stderr)
