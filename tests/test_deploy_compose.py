"""deploy/compose.yaml: services, mounts, settings, loopback-only listeners, and agreement with the files it
mounts (asterisk-config, Prometheus, Grafana).

No YAML library is a dependency: ``parse_yaml`` reads the block-style subset compose files use here
(mappings, lists, quoted and plain scalars, JSON-style flow lists) and refuses anything else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SERVICES = {"postgres", "callcore", "callcore-migrate", "callcore-queuelog", "prometheus", "grafana", "asterisk"}


# --- a small YAML reader ------------------------------------------------------------------------------

class YamlSubsetError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise YamlSubsetError(f"unsupported flow sequence {text!r}") from None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.startswith(("{", "&", "*", "|", ">", "!")):
        raise YamlSubsetError(f"unsupported YAML construct {text!r}")
    return text


def parse_yaml(text: str) -> Any:
    lines = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError("tab indentation")
        content = _strip_comment(raw)
        if content.strip():
            lines.append((len(content) - len(content.lstrip()), content.strip()))

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- ") or lines[i][1] == "-":
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
                item = lines[i][1][1:].strip()
                if re.match(r"^[\w.-]+:(\s|$)", item):
                    raise YamlSubsetError(f"mappings inside lists are not supported: {item!r}")
                items.append(_scalar(item))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            m = re.match(r"^(\"[^\"]+\"|'[^']+'|[^:\s][^:]*?):(?:\s+(.*))?$", lines[i][1])
            if not m:
                raise YamlSubsetError(f"cannot read line {lines[i][1]!r}")
            key, rest = str(_scalar(m.group(1))), m.group(2)
            if key in mapping:
                raise YamlSubsetError(f"duplicate key {key!r}")
            i += 1
            if rest:
                mapping[key] = _scalar(rest)
            elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("-"))):
                mapping[key], i = block(i, lines[i][0])
            else:
                mapping[key] = None
        return mapping, i

    if not lines:
        return None
    value, end = block(0, lines[0][0])
    if end != len(lines):
        raise YamlSubsetError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def test_parse_yaml_subset() -> None:
    text = ('a: 1\nb:\n  c: "x: y"  # note\n  d:\n    - one\n    - "two"\n  e: ["p", "q"]\n'
            "f:\n- top\nempty:\n")
    assert parse_yaml(text) == {"a": "1", "b": {"c": "x: y", "d": ["one", "two"], "e": ["p", "q"]},
                                "f": ["top"], "empty": None}
    for bad in ("a: &x 1\n", "a:\n  - k: v\n", "a: 1\na: 2\n", "a: {b: 1}\n"):
        with pytest.raises(YamlSubsetError):
            parse_yaml(bad)


# --- the compose file ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = parse_yaml(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svc = compose["services"]
    assert isinstance(svc, dict)
    return svc


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {str(k): str(v) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    out = []
    for vol in service.get("volumes") or []:
        src, dest = vol.split(":")[:2]
        if src.startswith((".", "/")):
            out.append(((DEPLOY / src).resolve(), dest))
    return out


def container_file(service: dict[str, Any], path: str) -> Path | None:
    """The repository file a path inside the service's container comes from, through its bind mounts."""
    for host, dest in bind_mounts(service):
        if path == dest or path.startswith(dest.rstrip("/") + "/"):
            return host / path[len(dest):].lstrip("/")
    return None


def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_bind_mounts_point_at_repository_files(services: dict[str, dict[str, Any]]) -> None:
    mounted = set()
    for name, svc in services.items():
        for host, _ in bind_mounts(svc):
            assert host.exists(), f"{name} mounts {host}, which does not exist"
            assert host.is_relative_to(REPO), f"{name} mounts {host}, outside the repository"
            mounted.add(host.relative_to(REPO).as_posix())
    assert {"asterisk-config", "deploy/prometheus", "deploy/grafana/provisioning",
            "deploy/grafana/dashboards"} <= mounted


def test_build_context_has_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    builds = [svc["build"] for svc in services.values() if "build" in svc]
    assert builds
    for ctx in builds:
        assert (DEPLOY / ctx / "Dockerfile").is_file()
    image = services["callcore-migrate"].get("image")
    assert image and services["callcore"].get("image") == image, \
        "callcore runs the image callcore-migrate builds"


def test_callcore_env_names_are_real_settings_and_valid(services: dict[str, dict[str, Any]]) -> None:
    from callcore.config import load_settings, settings_reference

    known = {name for name, _, _ in settings_reference()}
    for name, svc in services.items():
        env = env_of(svc)
        unknown = {k for k in env if k.startswith("CALLCORE_")} - known
        assert not unknown, f"{name} sets unknown settings {sorted(unknown)}"
        if any(k.startswith("CALLCORE_") for k in env):
            load_settings(env)


def test_published_ports_are_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        if svc.get("network_mode") == "host":
            assert not svc.get("ports"), f"{name} uses the host network: 'ports' would be ignored"


def test_host_network_services_listen_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    cc = env_of(services["callcore"])
    assert cc["CALLCORE_HTTP_HOST"] == "127.0.0.1" and cc["CALLCORE_AGI_HOST"] == "127.0.0.1"
    prom_args = services["prometheus"]["command"]
    assert any(re.fullmatch(r"--web\.listen-address=127\.0\.0\.1:\d+", a) for a in prom_args), prom_args
    assert env_of(services["grafana"])["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"


def test_start_order(services: dict[str, dict[str, Any]]) -> None:
    assert services["callcore"]["depends_on"]["callcore-migrate"]["condition"] == "service_completed_successfully"
    assert services["callcore-migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["callcore-migrate"]["command"] == ["db", "migrate"]
    assert services["callcore"]["command"] == ["run"]
    assert "healthcheck" in services["postgres"]


# --- agreement between the pieces ---------------------------------------------------------------------

def _conf_value(path: Path, section: str, key: str) -> str | None:
    current = None
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            current = m.group(1)
        elif current == section and "=" in line:
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip()
    return None


def test_callcore_reaches_asterisk_as_configured(services: dict[str, dict[str, Any]]) -> None:
    cfg = REPO / "asterisk-config"
    cc = env_of(services["callcore"])
    ari = urlsplit(cc["CALLCORE_ARI_URL"])
    assert ari.hostname == _conf_value(cfg / "http.conf", "general", "bindaddr")
    assert str(ari.port) == _conf_value(cfg / "http.conf", "general", "bindport")
    user = cc.get("CALLCORE_ARI_USER", "callcore")
    assert _conf_value(cfg / "ari.conf", user, "password") == cc["CALLCORE_ARI_PASSWORD"]
    ami_user = cc.get("CALLCORE_AMI_USER", "callcore")
    assert _conf_value(cfg / "manager.conf", ami_user, "secret") == cc["CALLCORE_AMI_SECRET"]
    assert cc["CALLCORE_AMI_HOST"] == _conf_value(cfg / "manager.conf", "general", "bindaddr")
    agi = re.findall(r"agi://([\d.]+):(\d+)", (cfg / "extensions.conf").read_text())
    assert agi and set(agi) == {(cc["CALLCORE_AGI_HOST"], cc["CALLCORE_AGI_PORT"])}


def test_database_url_matches_postgres(services: dict[str, dict[str, Any]]) -> None:
    pg = env_of(services["postgres"])
    host_port = {p.split(":")[2]: p.split(":")[1] for p in services["postgres"]["ports"]}["5432"]
    for name in ("callcore", "callcore-migrate", "callcore-queuelog"):
        url = urlsplit(env_of(services[name])["CALLCORE_DATABASE_URL"])
        assert (url.username, url.password, url.path.lstrip("/")) == (
            pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
        assert (url.hostname, str(url.port)) == ("127.0.0.1", host_port), f"{name} on the host network"


def test_prometheus_scrapes_callcore_and_loads_the_rules(services: dict[str, dict[str, Any]]) -> None:
    prom = services["prometheus"]
    args = dict(a.split("=", 1) for a in prom["command"] if "=" in a)
    config = container_file(prom, args["--config.file"])
    assert config and config.is_file()
    text = config.read_text()
    targets = re.findall(r'targets:\s*\[\s*"([^"]+)"', text.split("job_name: callcore", 1)[1])
    cc = env_of(services["callcore"])
    assert targets[0] == f"{cc['CALLCORE_HTTP_HOST']}:{cc['CALLCORE_HTTP_PORT']}"
    for rule in re.findall(r"(?m)^\s*-\s*(\S+\.ya?ml)\s*$", text.split("rule_files:", 1)[1]):
        assert (config.parent / rule).is_file(), rule


def test_grafana_provisioning_resolves(services: dict[str, dict[str, Any]]) -> None:
    gf = services["grafana"]
    provisioning = container_file(gf, "/etc/grafana/provisioning")
    assert provisioning and provisioning.is_dir()
    ds = (provisioning / "datasources" / "prometheus.yml").read_text()
    assert re.search(r"(?m)^\s*uid:\s*prometheus\s*$", ds)
    prom_listen = next(a for a in services["prometheus"]["command"] if a.startswith("--web.listen-address="))
    url = re.search(r"(?m)^\s*url:\s*(\S+)\s*$", ds)
    assert url and urlsplit(url.group(1)).netloc == prom_listen.split("=", 1)[1]
    provider = (provisioning / "dashboards" / "callcore.yml").read_text()
    path = re.search(r"(?m)^\s*path:\s*(\S+)\s*$", provider)
    assert path
    dashboards = container_file(gf, path.group(1))
    assert dashboards and (dashboards / "callcore.json").is_file()
    home = env_of(gf).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        home_file = container_file(gf, home)
        assert home_file and home_file.is_file()


def test_asterisk_image_is_an_exact_release_pinned_by_digest(services: dict[str, dict[str, Any]]) -> None:
    """Not a rolling tag (22, latest, stable): an exact X.Y.Z release tag and its sha256 digest."""
    image = services["asterisk"]["image"]
    m = re.fullmatch(r"(?P<repo>[\w./-]+):(?P<tag>[\w.-]+)@sha256:(?P<digest>[0-9a-f]{64})", image)
    assert m, f"{image!r} is not repository:tag@sha256:<digest>"
    assert re.match(r"\d+\.\d+\.\d+(?:[_-]|$)", m["tag"]), f"tag {m['tag']!r} is not an exact release"
    assert m["tag"].split(".")[0] == "22", "asterisk-config/ and the fakes are written for Asterisk 22"
    for other in ("postgres", "prometheus", "grafana"):
        tag = services[other]["image"].rpartition(":")[2]
        assert tag not in ("latest", "stable", ""), f"{other} uses a rolling tag"


def test_queue_log_table_writer_runs_a_valid_command(services: dict[str, dict[str, Any]]) -> None:
    from callcore.directory.report import parser

    svc = services["callcore-queuelog"]
    assert svc["image"] == services["callcore"]["image"]
    assert svc["depends_on"]["callcore-migrate"]["condition"] == "service_completed_successfully"
    args = parser().parse_args(svc["command"][1:])
    assert (svc["command"][0], args.cmd, args.follow, args.table) == ("report", "queue-log", True, True)
