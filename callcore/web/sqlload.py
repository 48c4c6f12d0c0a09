"""Named SQL of the web package (``callcore/web/sql/<name>.sql``)."""

from __future__ import annotations

from callcore.store.sqlfiles import load_sql


def sql(name: str) -> str:
    return load_sql("callcore.web", name)
