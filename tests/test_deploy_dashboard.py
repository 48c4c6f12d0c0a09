"""deploy/grafana/dashboards/callcore.json: a loadable Grafana dashboard with the expected rows and panels,
the ``datasource``, ``instance``, ``queue`` and ``campaign`` variables (no hard-coded datasource uid), a
non-overlapping layout, and up to date with its generator (deploy/grafana/make_dashboard.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "callcore.json"
GENERATOR = REPO / "deploy" / "grafana" / "make_dashboard.py"

ROWS = {
    "Queues": ["callcore_queue_calls_waiting", "callcore_queue_longest_wait_seconds", "callcore_queue_service_level",
               "callcore_queue_calls_offered_total", "callcore_queue_calls_answered_total",
               "callcore_queue_calls_abandoned_total", "histogram_quantile(0.90",
               "callcore_queue_wait_seconds_bucket"],
    "Agents": ["callcore_agents"],
    "Dialer": ["campaign:callcore_dialer_abandon_ratio:24h", "campaign:callcore_dialer_abandon_ratio:30d",
               "vector(0.03)", "callcore_dialer_attempts_total"],
    "Health": ["callcore_ari_connected", "callcore_ari_reconnects_total", "callcore_ari_events_total",
               "callcore_ari_events_dropped_total", "callcore_journal_buffer_events", "callcore_journal_spilling",
               "histogram_quantile(0.99", "callcore_journal_flush_seconds_bucket",
               "callcore_journal_db_errors_total", "callcore_ami_connected", "callcore_agi_sessions_total"],
}


@pytest.fixture(scope="module")
def dash() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def rows(dash: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title -> the panels under it (panels follow their row in a flat, uncollapsed layout)."""
    out: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in dash["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            out[current] = list(panel.get("panels", []))
        else:
            out.setdefault(current, []).append(panel)
    return out


def test_dashboard_header(dash: dict[str, Any]) -> None:
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["uid"] == "callcore" and dash["title"]
    assert "id" not in dash or dash["id"] is None, "provisioned dashboards must not carry a database id"


def test_variables(dash: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert next(iter(variables)) == "datasource", "the datasource variable comes first: the others query it"
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    assert {"instance", "queue", "campaign"} <= set(variables)
    for name in ("instance", "queue", "campaign"):
        v = variables[name]
        assert v["type"] == "query" and v["datasource"]["uid"] == "${datasource}"
        assert f", {name})" in v["query"]["query"], v["query"]
        assert v["includeAll"] and v["multi"]
    assert "callcore_build_info" in variables["instance"]["query"]["query"]


def test_no_hard_coded_datasource_uid(dash: dict[str, Any]) -> None:
    """Imported into an existing Grafana the provisioned uid does not exist: every reference is the variable."""
    def uids(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [str(node["uid"])] if node.get("type") == "prometheus" and "uid" in node else []
            return own + [u for v in node.values() for u in uids(v)]
        if isinstance(node, list):
            return [u for v in node for u in uids(v)]
        return []

    found = set(uids(dash))
    assert found == {"${datasource}"}, found


def test_raw_series_honour_the_instance_variable(dash: dict[str, Any]) -> None:
    import re

    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            for m in re.finditer(r"(?<![\w:])(callcore_\w+|up)(\{[^}]*\})?(?![\w:(])", t["expr"]):
                assert m.group(2) and 'instance=~"$instance"' in m.group(2), \
                    f"{panel['title']}: {m.group(0)} in {t['expr']} ignores $instance"


def test_rows_hold_the_expected_expressions(dash: dict[str, Any]) -> None:
    by_row = rows(dash)
    for title, needles in ROWS.items():
        assert title in by_row, f"no row {title!r}"
        exprs = " ".join(t["expr"] for p in by_row[title] for t in p.get("targets", []))
        missing = [n for n in needles if n not in exprs]
        assert not missing, f"row {title} lacks {missing}"


def test_queue_and_campaign_panels_honour_the_variables(dash: dict[str, Any]) -> None:
    by_row = rows(dash)
    for title, var in (("Queues", "$queue"), ("Dialer", "$campaign")):
        for panel in by_row[title]:
            for t in panel["targets"]:
                if "vector(" not in t["expr"]:
                    assert var in t["expr"], f"{panel['title']}: {t['expr']} ignores {var}"


def test_every_panel_uses_the_datasource_variable(dash: dict[str, Any]) -> None:
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{panel['title']}: duplicate refIds"


def test_layout_ids_unique_and_no_overlap(dash: dict[str, Any]) -> None:
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_committed_json_is_what_the_generator_produces() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
