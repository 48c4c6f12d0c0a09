"""Every metric the dashboard and the alert rules query is exported by callcore.

Names are parsed out of the PromQL in ``deploy/prometheus/callcore-rules.yml`` and
``deploy/grafana/dashboards/callcore.json`` and compared with the series names callcore exposes: once with
every ``callcore.*`` module imported (a clean subprocess renders ``callcore.metrics.REGISTRY``), and once by
scraping ``/metrics`` of a running ``Service`` against the simulated Asterisk.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "callcore-rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "callcore.json"

# names Prometheus itself provides
BUILTIN = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan", "atan2"}


# --- PromQL and exposition parsing --------------------------------------------------------------------

def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, labels, keywords and variables removed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"'(?:[^'\\]|\\.)*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", s):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def rule_exprs(text: str) -> list[str]:
    """The ``expr:`` of every rule of a Prometheus rule file (inline or ``|`` block)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value in ("|", ">", "|-", ">-"):
            body = []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                body.append(nxt)
            out.append("\n".join(body))
        else:
            out.append(value.strip("'\""))
    return out


def recorded_names(text: str) -> set[str]:
    return set(re.findall(r"(?m)^\s*-?\s*record:\s*(\S+)\s*$", text))


def dashboard_exprs(dash: dict[str, object]) -> list[str]:
    exprs: list[str] = []

    def walk(panels: object) -> None:
        for p in panels if isinstance(panels, list) else []:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append(t["expr"])
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    templating = dash.get("templating", {})
    for var in templating.get("list", []) if isinstance(templating, dict) else []:
        if var.get("type") == "datasource":
            continue
        query = var.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        m = re.match(r"\s*label_values\(\s*([A-Za-z_:][\w:]*(?:\{[^}]*\})?)\s*,", query)
        if m:
            exprs.append(m.group(1))
        elif query:
            exprs.append(query)
    return exprs


def exposed_series(exposition: str) -> set[str]:
    """Series names a Prometheus text exposition can produce, from its ``# TYPE`` lines and samples."""
    names: set[str] = set()
    for m in re.finditer(r"(?m)^# TYPE (\S+) (\w+)$", exposition):
        name, kind = m.groups()
        if kind == "counter":
            base = name.removesuffix("_total")
            names.add(base + "_total")
        elif kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
        elif kind == "summary":
            names |= {name, name + "_sum", name + "_count"}
        else:
            names.add(name)
    names |= set(re.findall(r"(?m)^([A-Za-z_:][\w:]*)[{ ]", exposition))
    return names


def referenced() -> dict[str, set[str]]:
    """Metric name -> where it is used (rule file / dashboard)."""
    uses: dict[str, set[str]] = {}
    for expr in rule_exprs(RULES.read_text()):
        for n in metric_names(expr):
            uses.setdefault(n, set()).add("callcore-rules.yml")
    for expr in dashboard_exprs(json.loads(DASHBOARD.read_text())):
        for n in metric_names(expr):
            uses.setdefault(n, set()).add("callcore.json")
    return uses


def unknown_names(uses: dict[str, set[str]], exported: set[str], recorded: set[str]) -> list[str]:
    problems = []
    for name in sorted(uses):
        if name in BUILTIN or name in exported:
            continue
        if ":" in name:
            if name not in recorded:
                problems.append(f"{name} (used in {sorted(uses[name])}) is not defined by a recording rule")
            continue
        problems.append(f"{name} (used in {sorted(uses[name])}) is not exported by callcore")
    return problems


# --- the parsers --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('up{job="callcore"} == 0', {"up"}),
        ("histogram_quantile(0.9, sum by (queue, le) (rate(callcore_queue_wait_seconds_bucket"
         '{queue=~"$queue"}[$__rate_interval])))', {"callcore_queue_wait_seconds_bucket"}),
        ("a:b:c / (x_total > 0) and on (queue) y >= 10", {"a:b:c", "x_total", "y"}),
        ('sum(m{state!="logged_out"}) unless on () vector(0.03) offset 5m', {"m"}),
        ("increase(e_total[30d]) * 1e3 > 0 or ignoring (i) group_left (j) f", {"e_total", "f"}),
    ],
)
def test_metric_names_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_rule_exprs_reads_inline_and_block_exprs() -> None:
    text = ("rules:\n  - record: r:x:sum\n    expr: sum(x)\n  - alert: A\n    expr: |\n      a > 1\n"
            "        and on (q) b\n    for: 1m\n  - alert: B\n    expr: 'c == 0'\n")
    assert [metric_names(e) for e in rule_exprs(text)] == [{"x"}, {"a", "b"}, {"c"}]
    assert recorded_names(text) == {"r:x:sum"}


def test_exposed_series_from_type_lines() -> None:
    text = ("# HELP a_total x\n# TYPE a_total counter\n# TYPE h histogram\n# TYPE g gauge\n"
            'g{q="1"} 2.0\n')
    assert {"a_total", "h_bucket", "h_sum", "h_count", "g"} <= exposed_series(text)
    assert "h" not in exposed_series(text)
    assert "a" not in exposed_series(text)


def test_a_misspelled_name_is_reported() -> None:
    exported = {"callcore_ari_connected", "callcore_queue_wait_seconds_bucket"}
    uses = {n: {"t"} for n in metric_names(
        "callcore_ari_conected == 0 or histogram_quantile(0.9, rate(callcore_queue_wait_seconds_bucket[5m]))"
        " or queue:undefined:ratio")}
    problems = unknown_names(uses, exported, recorded=set())
    assert len(problems) == 2
    assert "callcore_ari_conected" in problems[0]
    assert "queue:undefined:ratio" in problems[1]


def test_the_files_reference_the_expected_families() -> None:
    uses = referenced()
    for name in ("callcore_ari_connected", "callcore_journal_spilling", "callcore_queue_service_level",
                 "callcore_agents", "callcore_dialer_attempts_total", "callcore_queue_wait_seconds_bucket",
                 "callcore_journal_flush_seconds_bucket", "callcore_agi_sessions_total", "up"):
        assert name in uses, f"{name} is not used by the rules or the dashboard"


# --- against callcore ---------------------------------------------------------------------------------

IMPORT_ALL = r"""
import importlib, pkgutil, sys
import callcore
from callcore import metrics
failed = []
for mod in pkgutil.walk_packages(callcore.__path__, "callcore."):
    if mod.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(mod.name)
    except Exception as exc:
        failed.append(f"{mod.name}: {exc!r}")
for f in failed:
    print("IMPORT-FAILED", f, file=sys.stderr)
sys.stdout.write(metrics.render().decode())
"""


def test_every_referenced_metric_is_defined_by_callcore() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=120,
                            cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    exported = exposed_series(result.stdout)
    problems = unknown_names(referenced(), exported, recorded_names(RULES.read_text()))
    assert not problems, "\n".join(problems) + "\n" + result.stderr


SCRAPE = r"""
import asyncio, json, sys
import aiohttp
from callcore.config import Secret, Settings
from callcore.service.app import Service
from callcore.sim import SimAsterisk


async def main(dsn: str, spill: str) -> None:
    sim = SimAsterisk(agents=["PJSIP/2001"])
    await sim.start()
    settings = Settings().replace(
        ari_url=sim.ari_url, ari_user=sim.user, ari_password=Secret(sim.password), database_url=Secret(dsn),
        http_port=0, agi_port=0, ami_enabled=False, journal_spill_dir=spill, log_level="warning")
    service = Service(settings, dsn=dsn)
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(service.run(stop), name="service")
            await asyncio.wait_for(service.started.wait(), 30)
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{service.http_port}"
                async with http.get(base + "/healthz") as r:
                    health = r.status
                async with http.get(base + "/metrics") as r:
                    text = await r.text()
            stop.set()
            await task
    finally:
        await sim.close()
    print(json.dumps({"health": health, "metrics": text, "dialer": service.dialer is not None}))


asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def scrape_service(pg_dsn: str, tmp_path: Path) -> dict[str, object]:
    for module in ("callcore.service.app", "callcore.sim"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} does not exist: no service to scrape")
    result = subprocess.run([sys.executable, "-c", SCRAPE, pg_dsn, str(tmp_path / "spill")], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_running_service_exports_every_referenced_metric(pg_dsn: str, tmp_path: Path) -> None:
    scraped = scrape_service(pg_dsn, tmp_path)
    assert scraped["health"] == 200
    exported = exposed_series(str(scraped["metrics"]))
    # CallcoreAmiDisconnected fires on callcore_ami_connected == 0: with AMI disabled (as here) the service
    # must not export the gauge at all
    assert "callcore_ami_connected" not in exported
    uses = referenced()
    # AMI metrics are only exported while AMI is enabled, the dialer's once the service runs a dialer; both
    # are checked as defined by the import-everything test above
    optional = ("callcore_ami_",) if scraped["dialer"] else ("callcore_ami_", "callcore_dialer_")
    uses = {n: u for n, u in uses.items() if not n.startswith(optional)}
    problems = unknown_names(uses, exported, recorded_names(RULES.read_text()))
    assert not problems, "\n".join(problems)
