"""The functional core stays pure: no pure module of the dialer or the ACD imports asyncio, a network or
database library, or any shell module (only other pure modules and the exception root)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "callcore"
FORBIDDEN = ("asyncio", "aiohttp", "asyncpg", "panoramisk", "socket", "structlog", "prometheus_client")
ACD_CORE = ("agent", "calls", "commands", "engine", "events", "model", "operator", "policy", "resync",
            "routing", "state")


def pure_modules() -> list[str]:
    mods = [f"callcore.dialer.core.{p.stem}" for p in sorted((ROOT / "dialer" / "core").glob("*.py"))]
    mods += ["callcore.dialer.campaign", "callcore.dialer.pacer", "callcore.dialer.compliance"]
    acd_core = ROOT / "acd" / "core"
    if acd_core.is_dir():
        mods += [f"callcore.acd.core.{p.stem}" for p in sorted(acd_core.glob("*.py"))]
    else:
        mods += [f"callcore.acd.{m}" for m in ACD_CORE if (ROOT / "acd" / f"{m}.py").exists()]
    return mods


PURE = set(pure_modules())
ALLOWED = PURE | {"callcore.errors", "callcore.dialer", "callcore.acd", "callcore.dialer.core", "callcore.acd.core"}


def path_of(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    pkg = ROOT / rel / "__init__.py"
    return pkg if pkg.exists() else ROOT / f"{rel}.py"


def imports(module: str) -> set[str]:
    tree = ast.parse(path_of(module).read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            if node.module.startswith("callcore"):  # `from callcore.dialer import pacer` names a module
                out |= {f"{node.module}.{a.name}" for a in node.names
                        if path_of(f"{node.module}.{a.name}").exists()}
    return out


def test_the_pure_modules_are_found() -> None:
    assert "callcore.dialer.core.engine" in PURE and "callcore.dialer.pacer" in PURE
    assert any(m.endswith(".engine") and ".acd." in m for m in PURE)


@pytest.mark.parametrize("module", sorted(PURE))
def test_pure_module_imports_nothing_impure(module: str) -> None:
    bad = sorted(m for m in imports(module)
                 if m.split(".")[0] in FORBIDDEN or (m.startswith("callcore") and m not in ALLOWED))
    assert bad == [], f"{module} imports {bad}"


def test_the_check_catches_a_shell_import(tmp_path: Path) -> None:
    tree = ast.parse("import asyncio\nfrom callcore.dialer.store import DialerStore\n")
    names = {n.names[0].name if isinstance(n, ast.Import) else n.module for n in ast.walk(tree)
             if isinstance(n, ast.Import | ast.ImportFrom)}
    bad = {m for m in names if m and (m.split(".")[0] in FORBIDDEN or (m.startswith("callcore") and m not in ALLOWED))}
    assert bad == {"asyncio", "callcore.dialer.store"}


# --- the database boundary --------------------------------------------------------------------------------

# Modules allowed to talk to asyncpg outside callcore/store: none (every query goes through callcore.store.db).
NOT_YET_ON_THE_BOUNDARY: set[str] = set()


def asyncpg_importers() -> set[str]:
    out = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).as_posix()
        if rel.startswith("callcore/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "asyncpg" for n in names):
                out.add(rel)
    return out


def test_only_the_store_imports_asyncpg() -> None:
    assert asyncpg_importers() <= NOT_YET_ON_THE_BOUNDARY


def test_only_the_store_matches_driver_errors_by_name() -> None:
    """No module outside callcore/store recognises a database error by its class name."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if not rel.startswith("callcore/store/") and any(
                name in text for name in ("ViolationError", "UndefinedTableError", "ConnectionDoesNotExistError",
                                          "CannotConnectNowError", "InterfaceError\"", "InterfaceError'")):
            offenders.append(rel)
    assert set(offenders) <= NOT_YET_ON_THE_BOUNDARY
