"""Import direction: the pure cores import no I/O library and no shell module; the product never imports
the test rigs."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "callcore"
IO_MODULES = ("asyncio", "aiohttp", "asyncpg", "structlog", "prometheus_client")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_acd_core_imports_no_io_and_no_shell() -> None:
    files = sorted((ROOT / "acd" / "core").glob("*.py"))
    assert len(files) > 5
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in IO_MODULES, f"{path.name} imports {name}"
            assert not name.startswith(("callcore.acd.runtime.executor", "callcore.ari", "callcore.store",
                                        "callcore.testkit", "callcore.http")), f"{path.name} imports {name}"


def test_product_never_imports_the_test_rigs() -> None:
    for path in sorted(ROOT.rglob("*.py")):
        if path.is_relative_to(ROOT / "testkit"):
            continue
        bad = [n for n in _imports(path) if n.startswith("callcore.testkit")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
