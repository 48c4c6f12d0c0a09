"""Reading lead files: encoding and delimiter detection, streamed rows with line numbers and column
mapping. Phone numbers are normalised by ``callcore.dialer.phones`` (re-exported here).

Everything here is synchronous and pure apart from reading the file; the upload shell
(``callcore.dialer.upload``) drives it batch by batch.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from callcore.dialer.phones import BadPhone, Phone, PhoneNormalizer, number_type
from callcore.errors import InputError

__all__ = ["FIELDS", "PHONE_HEADERS", "BadPhone", "Columns", "FileFormat", "Phone", "PhoneNormalizer",
           "RowReader", "detect_format", "number_type", "parse_map", "parse_tz", "resolve_columns",
           "sniff_delimiter"]

_CHUNK = 1 << 20
_DELIMITERS = (",", ";", "\t")
FIELDS = ("phone", "name", "tz")
PHONE_HEADERS = ("phone", "phone_number", "phone_e164", "number", "tel", "telephone", "msisdn", "mobile",
                  "телефон", "номер", "номер телефона", "тел", "мобильный")
_NAME_HEADERS = ("name", "full_name", "fullname", "client", "фио", "имя", "клиент", "name_full")
_TZ_HEADERS = ("tz", "timezone", "time_zone", "часовой пояс")


@dataclass(frozen=True, slots=True)
class FileFormat:
    encoding: str        # codec used to read the file: utf-8, utf-8-sig or cp1251
    delimiter: str
    sha256: str
    size: int
    note: str = ""       # why a fallback encoding was chosen


def _line_of(data: bytes, offset: int, lines_before: int) -> int:
    return lines_before + data.count(b"\n", 0, offset) + 1


def detect_format(path: Path) -> FileFormat:
    """Read the whole file once (streamed): sha256, encoding (UTF-8 with or without BOM, else
    Windows-1251 with a note), and the delimiter sniffed from the header line."""
    where = str(path)
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    cp1251 = codecs.getincrementaldecoder("cp1251")("strict")
    utf8_ok = True
    seen_utf8 = False
    note = ""
    first = b""
    lines = 0
    size = 0
    cp_error: tuple[str, str] | None = None
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open the file: {exc.strerror}", where=where) from None
    with fh:
        while chunk := fh.read(_CHUNK):
            if not size:
                if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise InputError("the file is UTF-16; save it as UTF-8 or Windows-1251 CSV",
                                     where=where + ":1")
                first = chunk[:65536]
            size += len(chunk)
            digest.update(chunk)
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise InputError("the file contains NUL bytes: not a text CSV file",
                                 where=f"{where}:{_line_of(chunk, nul, lines)}")
            if utf8_ok:
                try:
                    if not utf8.decode(chunk).isascii():
                        seen_utf8 = True
                except UnicodeDecodeError as exc:
                    utf8_ok = False
                    at = min(exc.start, len(chunk) - 1)
                    line = _line_of(chunk, at, lines)
                    if seen_utf8 or not chunk[:at].isascii():
                        # earlier text is UTF-8: reading all of it as Windows-1251 would garble it
                        raise InputError(f"byte 0x{chunk[at]:02x} is not UTF-8, but the lines before it are "
                                         "UTF-8: the file mixes encodings; re-save it as UTF-8",
                                         where=f"{where}:{line}") from None
                    note = f"not valid UTF-8 (byte 0x{chunk[at]:02x} at line {line}); read as Windows-1251"
            if cp_error is None:
                try:
                    cp1251.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = _line_of(chunk, exc.start, lines)
                    cp_error = (f"{where}:{line}", f"byte 0x{chunk[exc.start]:02x}")
            lines += chunk.count(b"\n")
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
            note = "not valid UTF-8 (truncated sequence at the end of the file); read as Windows-1251"
    if utf8_ok:
        encoding = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    else:
        if cp_error is not None:
            raise InputError(f"the file is neither UTF-8 nor Windows-1251 text ({cp_error[1]})",
                             where=cp_error[0])
        encoding = "cp1251"
    text = first.decode(encoding, errors="replace")
    header = text.split("\n", 1)[0]
    return FileFormat(encoding, sniff_delimiter(header), digest.hexdigest(), size, note)


def sniff_delimiter(header: str) -> str:
    """The most frequent of comma, semicolon and tab outside double quotes (comma when none)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_problem(exc: Exception, delimiter: str) -> str:
    """A reader error in the words of someone fixing the file (the line is the record's first)."""
    text = str(exc)
    if "unexpected end of data" in text:
        return ("a quote opened on this line is never closed: the rest of the file would be read as one "
                "field; nothing was loaded (close the quote or remove it)")
    if "expected after" in text:
        return (f"text follows a closing quote inside a field (a field that starts with a quote must end "
                f"with one before the {delimiter!r}); nothing was loaded")
    return f"unreadable CSV: {text}; nothing was loaded"


class RowReader:
    """Streams ``(first line number, fields)`` for every non-blank record after the header."""

    def __init__(self, path: Path, fmt: FileFormat) -> None:
        self.path = path
        self.fmt = fmt
        self._raw = path.open("rb")
        self._text = io.TextIOWrapper(self._raw, encoding=fmt.encoding, errors="strict", newline="")
        # strict: a quote that never closes is an error at the end of the file, not one huge last field
        self._reader = csv.reader(self._text, delimiter=fmt.delimiter, strict=True)
        self._last_line = 0
        self.header: list[str] = []
        first = self._next()
        if first is None:
            self.close()
            raise InputError("the file is empty: a header row is required", where=f"{path}:1")
        self.header = [h.strip() for h in first[1]]

    def bytes_read(self) -> int:
        return self._raw.tell()

    def _next(self) -> tuple[int, list[str]] | None:
        return next(iter(self), None)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        while True:
            start = self._last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(_csv_problem(exc, self.fmt.delimiter), where=f"{self.path}:{start}") from None
            self._last_line = reader.line_num
            if fields and (fields[0].strip() or "".join(fields).strip()):
                yield start, fields

    def batches(self, size: int) -> Iterator[list[tuple[int, list[str]]]]:
        """The rows (as from iterating) in lists of ``size``."""
        reader = self._reader
        batch: list[tuple[int, list[str]]] = []
        last = self._last_line
        try:
            for fields in reader:
                start, last = last + 1, reader.line_num
                if fields and (fields[0].strip() or "".join(fields).strip()):
                    batch.append((start, fields))
                    if len(batch) >= size:
                        self._last_line = last
                        yield batch
                        batch = []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(_csv_problem(exc, self.fmt.delimiter), where=f"{self.path}:{last + 1}") from None
        self._last_line = last
        if batch:
            yield batch

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_map(text: str | None) -> dict[str, str]:
    """``phone=Телефон,name=ФИО`` -> {"phone": "Телефон", "name": "ФИО"}."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        key, sep, column = part.partition("=")
        key = key.strip().lower()
        if not sep or not column.strip():
            raise InputError(f"expected FIELD=COLUMN, got {part!r}", field="--map")
        if key not in FIELDS:
            raise InputError(f"unknown field {key!r} (known: {', '.join(FIELDS)})", field="--map")
        out[key] = column.strip()
    return out


@dataclass(frozen=True, slots=True)
class Columns:
    phone: int
    name: int | None
    tz: int | None
    extra: tuple[tuple[int, str], ...]
    width: int


def resolve_columns(header: list[str], mapping: dict[str, str], tz_column: str | None, where: str) -> Columns:
    """Find the phone/name/tz columns by the map or by well-known header names; the rest are extras."""
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        key = h.casefold()
        if key and key in seen:
            raise InputError(f"column {h!r} appears twice in the header", where=f"{where}:1", field=h)
        seen[key] = i
    if tz_column:
        mapping = {**mapping, "tz": tz_column}

    def find(field: str, guesses: tuple[str, ...]) -> int | None:
        if field in mapping:
            idx = seen.get(mapping[field].casefold())
            if idx is None:
                raise InputError(f"column {mapping[field]!r} for {field} is not in the header "
                                 f"({', '.join(header)})", where=f"{where}:1", field=mapping[field])
            return idx
        return next((seen[g] for g in guesses if g in seen), None)

    phone = find("phone", PHONE_HEADERS)
    if phone is None:
        if len(header) == 1:
            phone = 0
        else:
            raise InputError("no phone column found; name it with --map phone=COLUMN "
                             f"(header: {', '.join(header)})", where=f"{where}:1", field="phone")
    name = find("name", _NAME_HEADERS)
    tz = find("tz", _TZ_HEADERS)
    used = {phone, name, tz}
    extra = tuple((i, h or f"column_{i + 1}") for i, h in enumerate(header) if i not in used)
    return Columns(phone, name, tz, extra, len(header))


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_tz(value: str) -> tuple[str, ...] | str:
    """IANA zone names separated by ``|``, ``,`` or spaces -> tuple, or the reason they are bad."""
    names = tuple(n for n in value.replace("|", " ").replace(",", " ").split() if n)
    bad = [n for n in names if n not in _known_zones()]
    if bad:
        return f"unknown time zone {bad[0]!r}"
    return names
