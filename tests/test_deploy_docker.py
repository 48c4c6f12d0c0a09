"""The Dockerfile: its structure, and its commands exercised outside a container.

No Docker engine is needed: the build stage's COPY lines are replayed into a temporary directory, the wheel
is built there as the build stage builds it, installed into a fresh virtual environment (dependencies come
from the test interpreter's environment), and ``callcore --help``, the shipped SQL migrations and the
HEALTHCHECK command are run from it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction; continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages, ``${ARG}`` in FROM resolved."""
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            m = re.match(r"(?i)(\S+)(?:\s+AS\s+(\S+))?$", rest)
            assert m, f"unreadable FROM {rest!r}"
            base = re.sub(r"\$\{?(\w+)\}?", lambda v: global_args.get(v.group(1), v.group(0)), m.group(1))
            result.append(Stage(base, m.group(2) or str(len(result))))
        elif not result:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                global_args[name.strip()] = default.strip().strip('"')
        else:
            result[-1].instructions.append((keyword, rest))
    return global_args, result


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"not an exec-form array: {args}"
    return value


@pytest.fixture(scope="module")
def parsed() -> list[Stage]:
    return stages(DOCKERFILE.read_text())[1]


# --- structure ----------------------------------------------------------------------------------------

def test_parser_joins_continuations_and_resolves_args() -> None:
    text = ("# c\nARG IMG=python:3.11-slim\nFROM ${IMG} AS b\nRUN a \\\n    # note\n    && b\n"
            "FROM $IMG AS r\nUSER app\n")
    args, st = stages(text)
    assert args == {"IMG": "python:3.11-slim"}
    assert [(s.name, s.base) for s in st] == [("b", "python:3.11-slim"), ("r", "python:3.11-slim")]
    assert st[0].args("RUN") == ["a && b"]
    assert st[1].instructions == [("USER", "app")]


def test_multi_stage_on_a_slim_python_base(parsed: list[Stage]) -> None:
    assert len(parsed) >= 2, "the image must be built in several stages"
    for stage in parsed:
        assert re.match(r"python:3\.11[\w.-]*-slim", stage.base), f"stage {stage.name} is based on {stage.base}"
    runtime = parsed[-1]
    copies = runtime.args("COPY")
    assert copies and all(c.startswith(f"--from={parsed[0].name} ") for c in copies), \
        "the runtime stage only takes artefacts of the build stage"


def test_runtime_runs_as_non_root_with_callcore_entrypoint(parsed: list[Stage]) -> None:
    runtime = parsed[-1]
    keywords = [k for k, _ in runtime.instructions]
    assert "USER" in keywords and "ENTRYPOINT" in keywords
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    user = runtime.args("USER")[-1].split(":")[0]
    assert user not in ("root", "0", ""), f"the runtime user is {user!r}"
    assert exec_form(runtime.args("ENTRYPOINT")[-1]) == ["callcore"]
    assert exec_form(runtime.args("CMD")[-1]) == ["run"]


def test_healthcheck_hits_healthz(parsed: list[Stage]) -> None:
    check = parsed[-1].args("HEALTHCHECK")
    assert len(check) == 1
    options, _, command = check[0].partition("CMD ")
    assert re.search(r"--interval=\d+s", options) and re.search(r"--timeout=\d+s", options)
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"] and "/healthz" in argv[2]


def test_exposes_http_and_agi_ports(parsed: list[Stage]) -> None:
    runtime = parsed[-1]
    exposed = {p.split("/")[0] for e in runtime.args("EXPOSE") for p in e.split()}
    env = " ".join(runtime.args("ENV"))
    http = re.search(r"CALLCORE_HTTP_PORT=(\d+)", env)
    agi = re.search(r"CALLCORE_AGI_PORT=(\d+)", env)
    assert http and agi
    assert {http.group(1), agi.group(1)} <= exposed
    assert "CALLCORE_HTTP_HOST=0.0.0.0" in env and "CALLCORE_AGI_HOST=0.0.0.0" in env, \
        "inside a container the service must listen on all interfaces"


def test_env_names_are_real_settings(parsed: list[Stage]) -> None:
    from callcore.config import settings_reference

    known = {name for name, _, _ in settings_reference()}
    used = set(re.findall(r"\b(CALLCORE_\w+)=", " ".join(parsed[-1].args("ENV"))))
    assert used and used <= known, f"unknown settings: {sorted(used - known)}"


def test_build_context_keeps_what_the_build_copies() -> None:
    ignored = [p.strip() for p in DOCKERIGNORE.read_text().splitlines() if p.strip() and not p.startswith("#")]
    _, st = stages(DOCKERFILE.read_text())
    sources = [src for c in st[0].args("COPY") for src in c.split()[:-1] if not src.startswith("--")]
    assert sources
    for src in sources:
        assert (REPO / src).exists(), f"the build stage copies {src}, which does not exist"
        assert not any(fnmatch.fnmatch(src, pat) for pat in ignored), f".dockerignore excludes {src}"
    assert {".git", ".venv"} <= set(ignored)


# --- the build stage's commands, outside a container ---------------------------------------------------

def _build_wheel(context: Path, out: Path) -> Path:
    """Build as the build stage does; ``python -m build`` when installed, else pip's PEP 517 build."""
    try:
        import build  # noqa: F401

        cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(context)]
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(context)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        text = result.stdout + result.stderr
        if re.search(r"(?i)no matching distribution|could not find a version|network|connection", text):
            pytest.skip(f"the build backend (hatchling) cannot be fetched: {text[-500:]}")
        pytest.fail(f"wheel build failed:\n{text[-4000:]}")
    wheels = list(out.glob("callcore-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from the build stage's COPY set installed (no deps)."""
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    _, st = stages(DOCKERFILE.read_text())
    for copy in st[0].args("COPY"):
        *srcs, dest = copy.split()
        for src in srcs:
            target = context / dest / Path(src).name if dest.endswith("/") else context / dest
            if (REPO / src).is_dir():
                shutil.copytree(REPO / src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / src, target)
    wheel = _build_wheel(context, root / "dist")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies come from the test interpreter's environment, after the venv's own packages
    (Path(site) / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                             "--no-index", str(wheel)], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0 and "no such option: --python" in result.stderr:
        pytest.skip("pip is too old for --python")
    assert result.returncode == 0, result.stderr
    (root / "wheel-path").write_text(str(wheel))
    return env_dir


def _run_in(env_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CALLCORE_", "PYTHONPATH"))}
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, cwd=env_dir, env=clean,
                          check=False)


def test_wheel_ships_the_sql_migrations(installed: Path) -> None:
    wheel = Path((installed.parent / "wheel-path").read_text())
    with zipfile.ZipFile(wheel) as z:
        shipped = {Path(n).name for n in z.namelist() if re.match(r"callcore/_sql/migrations/[^/]+\.sql$", n)}
    expected = {p.name for p in (REPO / "sql" / "migrations").glob("*.sql")}
    assert expected and shipped == expected


def test_installed_callcore_help_runs(installed: Path) -> None:
    result = _run_in(installed, str(installed / "bin" / "callcore"), "--help")
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "db" in result.stdout


def test_installed_package_finds_its_migrations(installed: Path) -> None:
    code = ("import callcore, json; from callcore.store.sqlfiles import migrations_dir; d = migrations_dir(); "
            "print(json.dumps([callcore.__file__, str(d), sorted(p.name for p in (d / 'migrations').glob('*.sql'))]))")
    result = _run_in(installed, str(installed / "bin" / "python"), "-c", code)
    assert result.returncode == 0, result.stderr
    package_file, mdir, names = json.loads(result.stdout)
    assert Path(package_file).resolve().is_relative_to(installed.resolve()), \
        f"callcore was imported from {package_file}, not from the installed wheel"
    assert Path(mdir).name == "_sql" and Path(mdir).resolve().is_relative_to(installed.resolve())
    assert names == sorted(p.name for p in (REPO / "sql" / "migrations").glob("*.sql"))


# --- HEALTHCHECK ----------------------------------------------------------------------------------------

def _healthcheck_argv() -> list[str]:
    _, st = stages(DOCKERFILE.read_text())
    argv = exec_form(st[-1].args("HEALTHCHECK")[0].partition("CMD ")[2])
    return [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]


async def _healthcheck_exit(port: int, host: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCORE_")}
    env["CALLCORE_HTTP_PORT"] = str(port)
    if host is not None:
        env["CALLCORE_HTTP_HOST"] = host
    proc = await asyncio.create_subprocess_exec(*_healthcheck_argv(), env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    return await asyncio.wait_for(proc.wait(), 30)


async def _serve(status: int, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"}, status=status)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def test_healthcheck_passes_when_healthz_answers_200() -> None:
    runner, port = await _serve(200)
    try:
        assert await _healthcheck_exit(port) == 0
    finally:
        await runner.cleanup()


async def test_healthcheck_fails_when_healthz_answers_503() -> None:
    runner, port = await _serve(503)
    try:
        assert await _healthcheck_exit(port) != 0
    finally:
        await runner.cleanup()


async def test_healthcheck_fails_when_nothing_listens() -> None:
    runner, port = await _serve(200)
    await runner.cleanup()
    assert await _healthcheck_exit(port) != 0


async def test_healthcheck_follows_the_http_host() -> None:
    runner, port = await _serve(200, host="127.0.0.2")
    try:
        assert await _healthcheck_exit(port, "127.0.0.2") == 0
        assert await _healthcheck_exit(port, "127.0.0.1") != 0, "nothing listens there"
    finally:
        await runner.cleanup()


async def test_healthcheck_checks_a_wildcard_address_on_loopback() -> None:
    runner, port = await _serve(200, host="0.0.0.0")
    try:
        assert await _healthcheck_exit(port, "0.0.0.0") == 0
    finally:
        await runner.cleanup()
