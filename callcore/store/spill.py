"""The journal's spill files: append-only JSON lines on local disk, used while PostgreSQL cannot keep up.

One line per event: ``[event_key, ts, type, instance, call_id, channel_id, agent_id, queue, campaign_id,
payload_json]``. Files are named ``<run id>-<first sequence number>.jsonl`` so that sorting the names gives
the order the events were produced in (run ids grow with time). Every write is flushed and fsync'd.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
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
                self._fh = open(path, "ab", buffering=0)  # unbuffered: a failed write leaves nothing behind
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
            with open(path, "ab", buffering=0) as fh:
                write_synced(fh, encode_lines(rows), path)
        except OSError as exc:
            raise StoreError(f"cannot write journal spill file {path}: {exc}") from exc
        return path

    def close(self) -> Path | None:
        """Close the current file; returns its path (still on disk)."""
        path, self.current = self.current, None
        fh, self._fh = self._fh, None
        if fh is not None:
            with suppress(OSError):
                fh.close()
        return path


def write_synced(fh: IO[bytes], data: bytes, path: Path) -> None:
    """Append ``data`` and fsync; on failure (disk full) the file is cut back to where it was, so a
    later write never continues a partial line."""
    start = -1
    try:
        start = fh.tell()
        written = fh.write(data)
        if written != len(data):
            raise OSError(f"short write ({written} of {len(data)} bytes)")
        fh.flush()
        os.fsync(fh.fileno())
    except (OSError, ValueError) as exc:
        if start >= 0:
            with suppress(OSError, ValueError):
                fh.truncate(start)
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


WAL_SUFFIX = ".wal"


class WalWriter:
    """The journal's write-ahead log: every event is written here (one ``write`` per event) before
    ``append`` returns, so a process killed with SIGKILL loses nothing it accepted (the kernel keeps what
    was written); ``sync`` (fsync) runs per flush interval for machine crashes.

    Segments are named like spill files (``<run id>-<first seq>.wal``) and rotated at ``segment_bytes``.
    A segment is deleted once every event in it is safe (committed to PostgreSQL or in a spill file); at
    start the segments a previous run left become spill files and are replayed (duplicates are skipped
    by the event key). When a write fails (disk full) the partial line is cut off, the error is raised,
    and the caller keeps the event in memory.
    """

    def __init__(self, directory: Path, run_id: str, *, segment_bytes: int = 8 << 20) -> None:
        self.directory = directory
        self.run_id = run_id
        self.segment_bytes = segment_bytes
        self._fd = -1
        self._size = 0
        self._first = 0
        self._last = 0
        self._dirty = False
        self.current: Path | None = None
        self.closed_segments: list[tuple[Path, int]] = []  # (path, last seq in it), oldest first

    def write(self, row: Row, seq: int) -> None:
        self.write_many((row,), seq, seq)

    def write_many(self, rows: Sequence[Row], first_seq: int, last_seq: int) -> None:
        """Write ``rows`` (sequence numbers ``first_seq``..``last_seq``) in one system call."""
        if self._fd < 0 or self._size >= self.segment_bytes:
            self._open(first_seq)
        data = encode_lines(rows)
        try:
            n = os.write(self._fd, data)
            if n != len(data):
                raise OSError(f"short write ({n} of {len(data)} bytes)")
        except OSError as exc:
            with suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise StoreError(f"cannot write journal log {self.current}: {exc}") from exc
        self._size += len(data)
        self._last = last_seq
        self._dirty = True

    def _open(self, first_seq: int) -> None:
        self._rotate()
        path = self.directory / f"{self.run_id}-{first_seq:012d}{WAL_SUFFIX}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create journal log {path}: {exc}") from exc
        self.current, self._size, self._first, self._last = path, 0, first_seq, first_seq - 1

    def _rotate(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self.current is not None:
                if self._size:
                    self.closed_segments.append((self.current, self._last))
                else:
                    with suppress(OSError):
                        self.current.unlink()
            self.current = None

    def sync(self) -> None:
        """fsync the current segment when something was written since the last call."""
        if self._fd >= 0 and self._dirty:
            self._dirty = False
            with suppress(OSError):
                os.fsync(self._fd)

    def release(self, first_unsafe: int) -> int:
        """Delete segments whose events all have a sequence number below ``first_unsafe``; returns how many.
        The current segment is closed and deleted too when everything in it is safe."""
        if self._fd >= 0 and self._size and self._last < first_unsafe:
            self._rotate()
        removed = 0
        while self.closed_segments and self.closed_segments[0][1] < first_unsafe:
            path, _ = self.closed_segments.pop(0)
            with suppress(OSError):
                path.unlink()
            removed += 1
        return removed

    def close(self) -> None:
        self._rotate()


def adopt_wal_segments(directory: Path) -> list[Path]:
    """Turn the log segments a previous run left into spill files (replayed like them); returns them."""
    if not directory.is_dir():
        return []
    adopted = []
    for p in sorted(directory.iterdir()):
        if p.suffix == WAL_SUFFIX and p.is_file():
            if p.stat().st_size == 0:
                p.unlink()
                continue
            target = p.with_name(p.stem + "-log" + SUFFIX)
            p.rename(target)
            adopted.append(target)
    return adopted
