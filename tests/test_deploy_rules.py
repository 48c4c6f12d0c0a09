"""Prometheus configuration of the deployment kit: alert and recording rules, their promtool unit tests.

The structural checks read the YAML as text (no YAML library is a dependency). The promtool checks run when
``promtool`` is on PATH or at ``.ci/cache/promtool`` (``.ci/run`` puts it there) and skip otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROM_DIR = REPO / "deploy" / "prometheus"
RULES = PROM_DIR / "callcore-rules.yml"
RULE_TESTS = PROM_DIR / "tests" / "callcore-rules-test.yml"
CONFIG = PROM_DIR / "prometheus.yml"

REQUIRED_ALERTS = {
    "CallcoreDown",
    "CallcoreAriDisconnected",
    "CallcoreAmiDisconnected",
    "CallcoreJournalSpilling",
    "CallcoreJournalDbErrors",
    "CallcoreJournalEventsLost",
    "CallcoreAriEventsDropped",
    "CallcoreQueueServiceLevelLow",
    "CallcoreQueueAbandonmentHigh",
    "CallcoreQueueLongestWaitHigh",
    "CallcoreNoAgentsWhileCallsWait",
    "CallcoreDialerAbandonmentAboveTarget",
    "CallcoreDialerAbandonmentNearTarget",
}


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    cached = REPO / ".ci" / "cache" / "promtool"
    if cached.is_file():
        return str(cached)
    pytest.skip("promtool not found on PATH nor at .ci/cache/promtool (.ci/run downloads it: "
                "apt-get download prometheus && dpkg-deb -x prometheus_*.deb DIR)")


def run_promtool(*args: str, cwd: Path = PROM_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def alert_blocks(text: str) -> dict[str, str]:
    """Alert name -> the text of its rule (up to the next rule or group)."""
    blocks: dict[str, str] = {}
    parts = re.split(r"(?m)^\s*- (?=alert:|record:|name:)", text)
    for part in parts:
        m = re.match(r"alert:\s*(\S+)", part)
        if m:
            blocks[m.group(1)] = part
    return blocks


def rule_test_evals(text: str) -> list[tuple[str, bool]]:
    """(alertname, expects firing) for every alert_rule_test entry of a promtool test file."""
    out = []
    for m in re.finditer(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:(.*)", text):
        out.append((m.group(1), m.group(2).strip() != "[]"))
    return out


# --- structure (no promtool needed) -------------------------------------------------------------------

def test_every_required_alert_is_defined() -> None:
    missing = REQUIRED_ALERTS - set(alert_blocks(RULES.read_text()))
    assert not missing, f"alerts missing from {RULES.name}: {sorted(missing)}"


def test_every_alert_has_for_severity_and_annotations() -> None:
    problems = []
    for name, block in alert_blocks(RULES.read_text()).items():
        if not re.search(r"(?m)^\s*for:\s*\d+[smh]\s*$", block):
            problems.append(f"{name}: no 'for:' duration")
        sev = re.search(r"(?m)^\s*severity:\s*(\S+)\s*$", block)
        if not sev or sev.group(1) not in {"critical", "warning", "info"}:
            problems.append(f"{name}: severity label missing or not critical/warning/info")
        for key in ("summary", "description"):
            if not re.search(rf"(?m)^\s*{key}:\s*\S", block):
                problems.append(f"{name}: no {key} annotation")
    assert not problems, "\n".join(problems)


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    evals = rule_test_evals(RULE_TESTS.read_text())
    alerts = set(alert_blocks(RULES.read_text()))
    fired = {name for name, firing in evals if firing}
    quiet = {name for name, firing in evals if not firing}
    assert not (alerts - fired), f"alerts never tested firing: {sorted(alerts - fired)}"
    assert not (alerts - quiet), f"alerts never tested quiet: {sorted(alerts - quiet)}"
    unknown = {name for name, _ in evals} - alerts
    assert not unknown, f"unit tests name alerts that do not exist: {sorted(unknown)}"


def test_alert_block_parser_reads_names_and_rule_bodies() -> None:
    text = (
        "groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: x\n"
        "      - alert: One\n        expr: up == 0\n        for: 1m\n"
        "      - alert: Two\n        expr: y > 1\n"
    )
    blocks = alert_blocks(text)
    assert set(blocks) == {"One", "Two"}
    assert "for: 1m" in blocks["One"]
    assert "for:" not in blocks["Two"]


def test_config_loads_rules_relative_to_itself() -> None:
    text = CONFIG.read_text()
    files = re.findall(r"(?m)^\s*-\s*(\S+\.ya?ml)\s*$", text.split("rule_files:", 1)[1].split("scrape_configs:")[0])
    assert files, "prometheus.yml has no rule_files"
    for f in files:
        assert not f.startswith("/"), f"rule file {f} is absolute: it only resolves inside the container"
        assert (PROM_DIR / f).is_file(), f"rule file {f} does not exist next to prometheus.yml"
    assert re.search(r'job_name:\s*callcore\b', text), "no scrape job named 'callcore' (the CallcoreDown alert uses it)"


# --- promtool -----------------------------------------------------------------------------------------

def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config() -> None:
    result = run_promtool("check", "config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", str(RULE_TESTS.relative_to(PROM_DIR)))
    assert result.returncode == 0, result.stdout + result.stderr


def _fast_tests(rules_path: Path) -> str:
    """The unit tests without the slow multi-day group, pointed at ``rules_path``."""
    text = RULE_TESTS.read_text().replace("../callcore-rules.yml", str(rules_path))
    return text.split("  - name: dialer abandonment over 30 days", 1)[0]


@pytest.mark.parametrize(
    ("original", "mutated"),
    [
        ("abandon_ratio:24h > 0.03\n", "abandon_ratio:24h > 0.05\n"),
        ('outcome=~"human|abandoned"}[24h]', 'outcome=~"human"}[24h]'),
        ("(callcore_queue_service_level) < 0.80", "(callcore_queue_service_level) < 0.60"),
        ('state!="logged_out"', 'state!="paused"'),
        ("callcore_journal_spilling == 1", "callcore_journal_spiling == 1"),
    ],
)
def test_unit_tests_catch_a_broken_rule(tmp_path: Path, original: str, mutated: str) -> None:
    text = RULES.read_text()
    assert original in text, f"mutation target {original!r} not found in the rules"
    broken = tmp_path / "rules.yml"
    broken.write_text(text.replace(original, mutated, 1))
    tests = tmp_path / "tests.yml"
    tests.write_text(_fast_tests(broken))
    result = run_promtool("test", "rules", str(tests), cwd=tmp_path)
    assert result.returncode != 0, f"the unit tests still pass with {mutated!r}:\n{result.stdout}"


def test_fast_unit_tests_pass_on_the_real_rules(tmp_path: Path) -> None:
    tests = tmp_path / "tests.yml"
    tests.write_text(_fast_tests(RULES))
    result = run_promtool("test", "rules", str(tests), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
