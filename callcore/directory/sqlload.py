"""Named SQL of the directory package (``callcore/directory/sql/<name>.sql``)."""

from __future__ import annotations

from callcore.store.sqlfiles import load_sql

PACKAGE = "callcore.directory"


def sql(name: str) -> str:
    """The text of ``callcore/directory/sql/<name>.sql`` (cached by ``load_sql``)."""
    return load_sql(PACKAGE, name)
