"""Generate deploy/grafana/dashboards/callcore.json (the committed file is the source Grafana loads).

    python deploy/grafana/make_dashboard.py          # rewrite the JSON
    python deploy/grafana/make_dashboard.py --check  # exit 1 if the committed JSON is out of date

Every expression uses metric names exported by callcore (checked by tests/test_deploy_metrics.py) or
recorded by deploy/prometheus/callcore-rules.yml.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards" / "callcore.json"
# the datasource is a dashboard variable: the dashboard imports into any Grafana, whatever its datasource uid
DS = {"type": "prometheus", "uid": "${datasource}"}
INST = 'instance=~"$instance"'
Q = 'queue=~"$queue"'
C = 'campaign=~"$campaign"'
ABANDON_TARGET = 0.03
SERVICE_LEVEL_TARGET = 0.80
WIDTH = 24

Panel = dict[str, Any]


class Layout:
    """Places panels left to right, wrapping rows of the 24-column grid, and numbers them."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str) -> None:
        self.y += self.row_h
        self.x, self.row_h = 0, 0
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": self.y}})
        self.y += 1

    def add(self, panel: Panel, w: int, h: int = 8) -> None:
        if self.x + w > WIDTH:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


_SELECTOR = re.compile(r"(?<![\w:])(callcore_\w+|up)(\{([^}]*)\})?(?![\w:(])")


def per_instance(expr: str) -> str:
    """Add the ``$instance`` matcher to every series callcore exports (recorded series are per queue or
    campaign across instances and keep no instance label)."""
    def add(m: re.Match[str]) -> str:
        body = m.group(3)
        return f"{m.group(1)}{{{body + ', ' if body else ''}{INST}}}"
    return _SELECTOR.sub(add, expr)


def target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DS, "expr": per_instance(expr), "legendFormat": legend, "refId": ref, "range": True}


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def timeseries(title: str, targets: list[dict[str, Any]], unit: str = "short", *, stack: bool = False,
               description: str = "", th: dict[str, Any] | None = None, min0: bool = True,
               max_: float | None = None) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 5, "showPoints": "never",
                   "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                   "thresholdsStyle": {"mode": "dashed" if th else "off"}},
        "thresholds": th or thresholds((None, "green")),
    }
    if min0:
        defaults["min"] = 0
    if max_ is not None:
        defaults["max"] = max_
    return {"type": "timeseries", "title": title, "description": description, "datasource": DS,
            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title: str, expr: str, unit: str = "short", *, th: dict[str, Any] | None = None,
         mappings: list[dict[str, Any]] | None = None, description: str = "", legend: str = "") -> Panel:
    return {"type": "stat", "title": title, "description": description, "datasource": DS,
            "targets": [target(expr, legend)],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": th or thresholds((None, "green")),
                                         "mappings": mappings or []}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "area", "textMode": "auto",
                        "orientation": "auto", "justifyMode": "auto"}}


UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "index": 0}, "1": {"text": "UP", "index": 1}}}]
YES_NO = [{"type": "value", "options": {"0": {"text": "no", "index": 0}, "1": {"text": "SPILLING", "index": 1}}}]
RED_GREEN = thresholds((None, "red"), (1, "green"))


def queues(lay: Layout) -> None:
    lay.row("Queues")
    lay.add(timeseries("Calls waiting", [target(f"sum by (queue) (callcore_queue_calls_waiting{{{Q}}})",
                                                "{{queue}}")]), 8)
    lay.add(timeseries("Longest wait", [target(f"max by (queue) (callcore_queue_longest_wait_seconds{{{Q}}})",
                                               "{{queue}}")], "s",
                       th=thresholds((None, "green"), (120, "orange"), (300, "red"))), 8)
    lay.add(timeseries("Service level", [target(f"min by (queue) (callcore_queue_service_level{{{Q}}})",
                                                "{{queue}}")], "percentunit", max_=1,
                       th=thresholds((None, "red"), (SERVICE_LEVEL_TARGET, "green")),
                       description=f"Target {SERVICE_LEVEL_TARGET:.0%} (dashed line)."), 8)
    rate = "sum by (queue) (rate(callcore_queue_calls_{}_total{{{}}}[$__rate_interval])) * 60"
    lay.add(timeseries("Offered / answered / abandoned (calls per minute)", [
        target(rate.format("offered", Q), "offered {{queue}}", "A"),
        target(rate.format("answered", Q), "answered {{queue}}", "B"),
        target(rate.format("abandoned", Q), "abandoned {{queue}}", "C"),
        target(rate.format("overflowed", Q), "overflowed {{queue}}", "D"),
    ], "cpm"), 8)
    lay.add(timeseries("Wait time p90 (answered and abandoned)", [target(
        "histogram_quantile(0.90, sum by (queue, le) "
        f"(rate(callcore_queue_wait_seconds_bucket{{{Q}}}[$__rate_interval])))", "{{queue}}")], "s"), 8)
    lay.add(timeseries("Abandonment (30 min)", [
        target(f"queue:callcore_queue_abandon_ratio:30m{{{Q}}}", "abandoned {{queue}}", "A"),
    ], "percentunit", max_=1, th=thresholds((None, "green"), (0.10, "red")),
        description="Abandoned / offered over 30 minutes (recording rule); alert above 10 %."), 4)
    lay.add(timeseries("Talk time p50", [target(
        "histogram_quantile(0.50, sum by (queue, le) "
        f"(rate(callcore_queue_talk_seconds_bucket{{{Q}}}[$__rate_interval])))", "{{queue}}")], "s"), 4)


def agents(lay: Layout) -> None:
    lay.row("Agents")
    lay.add(timeseries("Agents by state", [target("sum by (state) (callcore_agents)", "{{state}}")], stack=True), 16)
    lay.add(stat("Agents logged in", 'sum(callcore_agents{state!="logged_out"})',
                 th=thresholds((None, "red"), (1, "green"))), 4)
    lay.add(stat("Agents available", 'sum(callcore_agents{state="available"})',
                 th=thresholds((None, "orange"), (1, "green"))), 4)


def dialer(lay: Layout) -> None:
    lay.row("Dialer")
    target_line = f"vector({ABANDON_TARGET})"
    lay.add(timeseries("Abandonment vs target", [
        target(f"campaign:callcore_dialer_abandon_ratio:24h{{{C}}}", "24 h {{campaign}}", "A"),
        target(f"campaign:callcore_dialer_abandon_ratio:30d{{{C}}}", "30 days {{campaign}}", "B"),
        target(target_line, "target", "C"),
    ], "percentunit", th=thresholds((None, "green"), (0.025, "orange"), (ABANDON_TARGET, "red")),
        description="Abandoned / live (human) answers; recording rules in callcore-rules.yml."), 8)
    lay.add(timeseries("Attempts by outcome (per minute)", [target(
        f"sum by (outcome) (rate(callcore_dialer_attempts_total{{{C}}}[$__rate_interval])) * 60", "{{outcome}}")],
        "cpm", stack=True), 8)
    lay.add(timeseries("Leads blocked at dial time (per minute)", [target(
        f"sum by (reason) (rate(callcore_dialer_blocked_total{{{C}}}[$__rate_interval])) * 60", "{{reason}}")],
        "cpm", stack=True), 8)
    lay.add(timeseries("Calls in flight", [target(
        f"sum by (campaign) (callcore_dialer_calls_in_flight{{{C}}})", "{{campaign}}")]), 12)
    lay.add(timeseries("Dial level (calls in flight per active operator)", [target(
        f"max by (campaign) (callcore_dialer_dial_level{{{C}}})", "{{campaign}}")],
        description="Set by the pacer between the campaign's dial-level bounds."), 12)
    lay.add(timeseries("Live answers (per minute)", [target(
        f'sum by (campaign) (rate(callcore_dialer_attempts_total{{{C}, outcome=~"human|abandoned"}}'
        "[$__rate_interval])) * 60", "{{campaign}}")], "cpm"), 12)
    lay.add(stat("Abandonment 24 h (worst campaign)", f"max(campaign:callcore_dialer_abandon_ratio:24h{{{C}}})",
                 "percentunit", th=thresholds((None, "green"), (0.025, "orange"), (ABANDON_TARGET, "red"))), 6)
    lay.add(stat("Abandonment 30 days (worst campaign)", f"max(campaign:callcore_dialer_abandon_ratio:30d{{{C}}})",
                 "percentunit", th=thresholds((None, "green"), (0.025, "orange"), (ABANDON_TARGET, "red"))), 6)


def health(lay: Layout) -> None:
    lay.row("Health")
    lay.add(stat("callcore", 'min(up{job="callcore"})', mappings=UP_DOWN, th=RED_GREEN), 4, 4)
    lay.add(stat("ARI connected", "min(callcore_ari_connected)", mappings=UP_DOWN, th=RED_GREEN), 4, 4)
    lay.add(stat("AMI connected", "min(callcore_ami_connected)", mappings=UP_DOWN, th=RED_GREEN,
                 description="Only exported while AMI is enabled."), 4, 4)
    lay.add(stat("Journal spilling", "max(callcore_journal_spilling)", mappings=YES_NO,
                 th=thresholds((None, "green"), (1, "red"))), 4, 4)
    lay.add(stat("ARI reconnects (24 h)", "sum(increase(callcore_ari_reconnects_total[24h]))",
                 th=thresholds((None, "green"), (1, "orange"), (10, "red"))), 4, 4)
    lay.add(stat("Journal DB errors (1 h)", "sum(increase(callcore_journal_db_errors_total[1h]))",
                 th=thresholds((None, "green"), (1, "red"))), 4, 4)
    lay.add(timeseries("ARI events per second by type", [target(
        "sum by (type) (rate(callcore_ari_events_total[$__rate_interval]))", "{{type}}")], "ops", stack=True), 12)
    lay.add(timeseries("ARI events dropped per second", [target(
        "sum by (consumer) (rate(callcore_ari_events_dropped_total[$__rate_interval]))", "{{consumer}}")], "ops"), 12)
    lay.add(timeseries("Journal buffer depth", [target("sum(callcore_journal_buffer_events)", "in memory")]), 8)
    lay.add(timeseries("Journal flush latency p99", [target(
        "histogram_quantile(0.99, sum by (le) (rate(callcore_journal_flush_seconds_bucket[$__rate_interval])))",
        "p99")], "s"), 8)
    lay.add(timeseries("Journal and projections per second", [
        target("sum(rate(callcore_journal_events_written_total[$__rate_interval]))", "written", "A"),
        target("sum(rate(callcore_journal_spilled_events_total[$__rate_interval]))", "spilled", "B"),
        target("sum(rate(callcore_journal_db_errors_total[$__rate_interval]))", "DB errors", "C"),
        target("sum(rate(callcore_journal_rejected_events_total[$__rate_interval]))", "rejected", "D"),
        target("sum(rate(callcore_journal_dropped_events_total[$__rate_interval]))", "lost", "G"),
        target("sum(rate(callcore_projection_dropped_total[$__rate_interval]))", "projections dropped", "E"),
        target("sum(rate(callcore_projection_errors_total[$__rate_interval]))", "projections failed", "F"),
    ], "ops"), 8)
    lay.add(timeseries("FastAGI sessions per second", [target(
        "sum by (script, result) (rate(callcore_agi_sessions_total[$__rate_interval]))", "{{script}} {{result}}")],
        "ops", stack=True), 8)
    lay.add(timeseries("FastAGI sessions in progress", [target("sum(callcore_agi_active_sessions)", "active")]), 4)
    lay.add(timeseries("ARI request latency p99", [target(
        "histogram_quantile(0.99, sum by (method, le) (rate(callcore_ari_request_seconds_bucket[$__rate_interval])))",
        "{{method}}")], "s"), 12)


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": f"{name}-var"},
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0}


def datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "regex": "", "refresh": 1, "multi": False, "includeAll": False, "current": {}, "options": [],
            "hide": 0}


def dashboard() -> dict[str, Any]:
    lay = Layout()
    queues(lay)
    agents(lay)
    dialer(lay)
    health(lay)
    return {
        "uid": "callcore",
        "title": "callcore",
        "description": "callcore contact center: queues, agents, dialer and service health",
        "tags": ["callcore", "asterisk"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            datasource_variable(),
            variable("instance", "Instance", 'label_values(callcore_build_info{job="callcore"}, instance)'),
            variable("queue", "Queue", "label_values(callcore_queue_calls_offered_total, queue)"),
            variable("campaign", "Campaign", "label_values(callcore_dialer_attempts_total, campaign)"),
        ]},
        "links": [],
        "panels": lay.panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
