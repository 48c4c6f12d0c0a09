"""Feeding cleaned lead rows to PostgreSQL in chunks, both cores busy.

Each chunk is COPYed into the temporary table ``upload_rows`` and then checked and inserted by one SQL
script (``sql/upload_chunk.sql``). The script runs in PostgreSQL while this process cleans ahead the
rows of the next chunk; once the connection is free again the next COPY starts with what was cleaned
ahead and keeps cleaning while PostgreSQL ingests. Cleaning happens batch by batch with a look at the
event loop in between, so the end of a script is noticed within one batch.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from callcore.store.db import Database, database
from callcore.store.sqlfiles import load_sql

PKG = "callcore.dialer"


class ChunkFeed:
    """Batches of COPY data (``(data, rows)`` from ``source``) grouped into chunks of ``chunk_rows``."""

    def __init__(self, source: AsyncIterator[tuple[bytes, int]], chunk_rows: int) -> None:
        self._source = source
        self._chunk_rows = chunk_rows
        self._ahead: deque[bytes] = deque()
        self._rows = 0          # rows of the current chunk, streamed or cleaned ahead
        self.exhausted = False

    @property
    def pending(self) -> bool:
        return bool(self._ahead) or not self.exhausted

    async def _pull(self) -> None:
        item = await anext(self._source, None)
        if item is None:
            self.exhausted = True
        else:
            self._ahead.append(item[0])
            self._rows += item[1]

    async def clean_ahead(self, busy: asyncio.Task[Any] | None) -> None:
        """Clean batches of the current chunk while ``busy`` (the previous script) runs."""
        while busy is not None and not busy.done() and not self.exhausted and self._rows < self._chunk_rows:
            await self._pull()
            await asyncio.sleep(0)   # lets the loop read the script's completion

    async def stream(self) -> AsyncIterator[bytes]:
        """The current chunk: what was cleaned ahead, then more until the chunk is full."""
        while True:
            while self._ahead:
                yield self._ahead.popleft()
            if self.exhausted or self._rows >= self._chunk_rows:
                break
            await self._pull()
        self._rows = 0


async def load_chunks(conn: Database | Any, feed: ChunkFeed, columns: Sequence[str]) -> None:
    """COPY every chunk of ``feed`` into ``upload_rows`` and run the chunk script after each."""
    db = database(conn)
    script = load_sql(PKG, "upload_chunk")
    step: asyncio.Task[Any] | None = None
    count = 0
    try:
        while True:
            await feed.clean_ahead(step)
            if step is not None:
                await step
                step = None
            if not feed.pending:
                break
            await db.copy_stream("upload_rows", feed.stream(), columns=columns)
            count += 1
            step = asyncio.create_task(db.execute(script), name=f"upload-chunk-{count}")
            await asyncio.sleep(0)   # the script is on its way before cleaning resumes
    finally:
        if step is not None and not step.done():
            # after a failure: the connection is usable (for the rollback) once the script has ended
            step.cancel()
            await asyncio.gather(step, return_exceptions=True)
