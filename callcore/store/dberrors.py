"""Is this failure "PostgreSQL cannot be used right now"? For code that catches broadly (HTTP boundary,
credential cache, background loops) and must tell an outage (retry later, answer 503) from a bug."""

from __future__ import annotations

from callcore.errors import CallcoreError, DatabaseUnavailable
from callcore.store.db import translate as _translate


def translate(exc: BaseException) -> CallcoreError | None:
    """The project's error for a driver failure (``callcore.store.db.ERROR_TABLE``), None for anything else."""
    return _translate(exc)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(translate(exc), DatabaseUnavailable)
