"""SQL lives in ``.sql`` files next to the code that runs it.

``load_sql("callcore.acd", "pick_agent")`` returns the text of ``callcore/acd/sql/pick_agent.sql``.
``migrations_dir()`` finds the top-level ``sql/`` directory: inside an installed wheel it is shipped as
``callcore/_sql``; in a checkout (or an editable install) it is ``<repo>/sql``.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from callcore.errors import StoreError


@functools.cache
def load_sql(package: str, name: str) -> str:
    """Text of ``<package dir>/sql/<name>.sql`` (cached). StoreError naming the file when it is missing."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise StoreError(f"bad SQL file name {name!r} (expected a plain name such as 'insert_event')")
    where = f"{package.replace('.', '/')}/sql/{name}.sql"
    try:
        resource = importlib.resources.files(package).joinpath("sql", f"{name}.sql")
        return resource.read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise StoreError(f"SQL file {where}: package {package!r} does not exist") from None
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise StoreError(f"SQL file {where} does not exist") from None


def migrations_dir() -> Path:
    """Directory holding ``migrations/`` and ``schema.sql``.

    ``callcore/_sql`` when installed from a wheel, else ``<repo>/sql``.
    """
    package_root = Path(str(importlib.resources.files("callcore")))
    shipped = package_root / "_sql"
    if shipped.is_dir():
        return shipped
    checkout = package_root.parent / "sql"
    if checkout.is_dir():
        return checkout
    raise StoreError(f"no SQL directory found: looked for {shipped} and {checkout}")
