"""The journal's spill files: append-only JSON lines on local disk, used while PostgreSQL cannot keep up.

One line per event: ``[event_key, ts, type, instance, call_id, channel_id, agent_id, queue, campaign_id,
payload_json]``. Files are named ``<run id>-<first sequence number>.jsonl`` so that sorting the names gives
the order the events were produced in (run ids grow with time). Every write is flushed and fsync'd.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import msgspec
import structlog

from callcore.errors import StoreError

log = structlog.get_logger(__name__)

# event_key, ts, type, instance, call_id, channel_id, agent_id, queue, campaign_id, payload (JSON text)
Row = tuple[str, float, str, str, str | None, str | None, str | None, str | None, str | None, str]
ROW_FIELDS = 10
SUFFIX = ".jsonl"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def encode_lines(rows: Sequence[Row]) -> bytes:
    return b"".join(_encoder.encode(row) + b"\n" for row in rows)


def decode_line(line: bytes) -> Row | None:
    """The row of one spill line; None when the line is damaged."""
    try:
        value = _decoder.decode(line)
    except msgspec.DecodeError:
        return None
    if not isinstance(value, list) or len(value) != ROW_FIELDS:
        return None
    key, ts, typ, instance, *ids, payload = value
    if not (isinstance(key, str) and isinstance(ts, int | float) and isinstance(typ, str)
            and isinstance(instance, str) and isinstance(payload, str)
            and all(i is None or isinstance(i, str) for i in ids)):
        return None
    return (key, float(ts), typ, instance, ids[0], ids[1], ids[2], ids[3], ids[4], payload)


class SpillWriter:
    """Appends batches to the current spill file of a run; a new file per spill episode."""

    def __init__(self, directory: Path, run_id: str) -> None:
        self.directory = directory
        self.run_id = run_id
        self.current: Path | None = None
        self._fh: IO[bytes] | None = None

    def path_for(self, first_seq: int) -> Path:
        return self.directory / f"{self.run_id}-{first_seq:012d}{SUFFIX}"

    def append(self, rows: Sequence[Row], first_seq: int) -> Path:
        """Write ``rows`` to the current file (opened, named after ``first_seq``, when there is none)."""
        if self._fh is None:
            path = self.path_for(first_seq)
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._fh = open(path, "ab")
            except OSError as exc:
                raise StoreError(f"cannot create journal spill file {path}: {exc}") from exc
            self.current = path
        assert self.current is not None
        write_synced(self._fh, encode_lines(rows), self.current)
        return self.current

    def write_separate(self, rows: Sequence[Row], first_seq: int) -> Path:
        """Write ``rows`` to a file of their own (events older than those in the current file)."""
        path = self.path_for(first_seq)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                write_synced(fh, encode_lines(rows), path)
        except OSError as exc:
            raise StoreError(f"cannot write journal spill file {path}: {exc}") from exc
        return path

    def close(self) -> Path | None:
        """Close the current file; returns its path (still on disk)."""
        path, self.current = self.current, None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        return path


def write_synced(fh: IO[bytes], data: bytes, path: Path) -> None:
    try:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        raise StoreError(f"cannot write journal spill file {path}: {exc}") from exc


def spill_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == SUFFIX and p.is_file())


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


class SpillReader:
    """Reads spill files in order, batch by batch, remembering how far it got in each file."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.offset = 0
        self.damaged = 0

    def read(self, path: Path, limit: int) -> tuple[list[Row], int]:
        """Up to ``limit`` complete lines of ``path`` after the position reached (partial lines wait).

        Returns the rows and the position after them; call ``advance`` with it once they are safe.
        """
        if path != self.path:
            self.path, self.offset = path, 0
        rows: list[Row] = []
        offset = self.offset
        with open(path, "rb") as fh:
            fh.seek(offset)
            while len(rows) < limit:
                line = fh.readline()
                if not line or not line.endswith(b"\n"):
                    break
                offset += len(line)
                row = decode_line(line)
                if row is None:
                    self.damaged += 1
                    log.error("journal_spill_line_damaged", file=str(path), offset=offset - len(line))
                    continue
                rows.append(row)
        return rows, offset

    def advance(self, path: Path, offset: int) -> None:
        if path == self.path:
            self.offset = offset

    def at_end(self, path: Path) -> bool:
        """True when every complete line of ``path`` has been read."""
        if path != self.path:
            return False
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return True
        if size <= self.offset:
            return True
        with open(path, "rb") as fh:
            fh.seek(self.offset)
            return b"\n" not in fh.read()

    def forget(self) -> None:
        self.path, self.offset = None, 0
