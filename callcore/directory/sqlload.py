"""Named SQL of the directory package (``callcore/directory/sql/<name>.sql``)."""

from __future__ import annotations

import importlib
import importlib.resources
from functools import cache

PACKAGE = "callcore.directory"


@cache
def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``, via ``callcore.store.sqlfiles`` when it is available."""
    try:
        sqlfiles = importlib.import_module("callcore.store.sqlfiles")
    except ImportError:
        return importlib.resources.files(PACKAGE).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return str(sqlfiles.load_sql(PACKAGE, name))
