"""structlog's logging methods take the message as their first parameter, named ``event``: a call that also
passes ``event=`` raises TypeError instead of logging, which turned every handled error of the ACD executor
(``log.exception("acd.event_failed", event=...)``) into a crash of the whole service."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "callcore"
LEVELS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "msg"}


def test_no_log_call_passes_event_as_a_keyword() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LEVELS and node.args
                    and any(k.arg == "event" for k in node.keywords)):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not bad, f"log calls passing event= (TypeError at run time): {bad}"


def test_the_check_finds_such_a_call() -> None:
    tree = ast.parse('log.exception("x.failed", event=type(ev).__name__)')
    call = tree.body[0].value  # type: ignore[attr-defined]
    assert call.func.attr in LEVELS and any(k.arg == "event" for k in call.keywords)
