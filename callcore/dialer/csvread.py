"""Reading lead files: encoding and delimiter detection, streamed rows with line numbers, column
mapping and phone-number normalisation to E.164.

Everything here is synchronous and pure apart from reading the file; the upload shell
(``callcore.dialer.upload``) drives it batch by batch.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from callcore.errors import InputError

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


class RowReader:
    """Streams ``(first line number, fields)`` for every non-blank record after the header."""

    def __init__(self, path: Path, fmt: FileFormat) -> None:
        self.path = path
        self.fmt = fmt
        self._raw = path.open("rb")
        self._text = io.TextIOWrapper(self._raw, encoding=fmt.encoding, errors="strict", newline="")
        self._reader = csv.reader(self._text, delimiter=fmt.delimiter, strict=False)
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
                raise InputError(f"unreadable CSV: {exc}", where=f"{self.path}:{start}") from None
            self._last_line = reader.line_num
            if fields and (fields[0].strip() or "".join(fields).strip()):
                yield start, fields

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


# --- phone numbers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    tz: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BadPhone:
    reason: str


_STRIP = str.maketrans("", "", " -().\u00a0\t/")
_UNKNOWN_TZ = "Etc/Unknown"


def _zones(cc: int, nsn: str, ntype: int) -> tuple[str, ...]:
    geo = phonenumbers.is_number_type_geographical(ntype, cc)
    return _zones_for_prefix(f"{cc}{nsn}"[:TIMEZONE_LONGEST_PREFIX] if geo else str(cc))


@lru_cache(maxsize=65536)
def _zones_for_prefix(digits: str) -> tuple[str, ...]:
    for n in range(len(digits), 0, -1):
        zones = TIMEZONE_DATA.get(digits[:n])
        if zones is not None:
            return tuple(z for z in zones if z != _UNKNOWN_TZ)
    return ()


_TYPES = (("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
          ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
          ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
          ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL),
          ("fixed_line", PhoneNumberType.FIXED_LINE), ("mobile", PhoneNumberType.MOBILE))


def _desc_applies(desc: Any, length: int) -> bool:
    if desc is None or not desc.national_number_pattern:
        return False
    return not desc.possible_length or length in desc.possible_length


class _RegionTyper:
    """``phonenumbers.number_type`` for one region's metadata, with the type patterns that apply to a
    number length folded into one regex (alternatives in phonenumbers' order, so the first that matches
    the whole number is the type phonenumbers would report)."""

    def __init__(self, metadata: Any) -> None:
        self.md = metadata
        self.general = re.compile(metadata.general_desc.national_number_pattern or "(?!)")
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
        self._by_len: dict[int, re.Pattern[str] | None] = {}

    def _combined(self, length: int) -> re.Pattern[str] | None:
        if length not in self._by_len:
            alts = [f"(?P<{name}>{getattr(self.md, name).national_number_pattern})"
                    for name, _t in _TYPES if _desc_applies(getattr(self.md, name), length)]
            self._by_len[length] = re.compile("|".join(alts)) if alts else None
        return self._by_len[length]

    def type_of(self, nsn: str) -> int:
        md = self.md
        if not _desc_applies(md.general_desc, len(nsn)) or not self.general.fullmatch(nsn):
            return PhoneNumberType.UNKNOWN
        combined = self._combined(len(nsn))
        m = combined.fullmatch(nsn) if combined is not None else None
        if m is None:
            return PhoneNumberType.UNKNOWN
        name = next(k for k, v in m.groupdict().items() if v is not None)
        same = md.same_mobile_and_fixed_line_pattern
        if name == "fixed_line":
            mobile = md.mobile
            if same or (_desc_applies(mobile, len(nsn)) and re.fullmatch(mobile.national_number_pattern, nsn)):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if name == "mobile":
            return PhoneNumberType.UNKNOWN if same else PhoneNumberType.MOBILE
        return dict(_TYPES)[name]


@lru_cache(maxsize=512)
def _national_prefixes(cc: int) -> tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]:
    """(national prefix, general pattern) of every region sharing country code ``cc``."""
    out = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
        md = PhoneMetadata.metadata_for_region(region, None)
        if md is not None and md.national_prefix_for_parsing:
            general = md.general_desc.national_number_pattern if md.general_desc is not None else None
            out.append((re.compile(md.national_prefix_for_parsing), re.compile(general or "(?!)")))
    return tuple(out)


def _may_have_national_prefix(cc: int, nsn: str) -> bool:
    """Would phonenumbers strip a national prefix from ``+<cc><nsn>``? It keeps the digits when they
    form a viable number and the rest after the prefix does not; anything else is left to it."""
    for prefix, general in _national_prefixes(cc):
        m = prefix.match(nsn)
        if m and not (general.fullmatch(nsn) and not general.fullmatch(nsn[m.end():])):
            return True
    return False


@lru_cache(maxsize=512)
def _typer(region: str) -> _RegionTyper | None:
    md = PhoneMetadata.metadata_for_region(region, None)
    return None if md is None else _RegionTyper(md)


def number_type(cc: int, nsn: str) -> int:
    """Same answer as ``phonenumbers.number_type`` for ``+<cc><nsn>`` (nsn without a leading zero)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc)
    if not regions or "001" in regions:
        return phonenumbers.number_type(PhoneNumber(country_code=cc, national_number=int(nsn)))
    if len(regions) == 1:
        typer = _typer(regions[0])
        return typer.type_of(nsn) if typer is not None else PhoneNumberType.UNKNOWN
    for region in regions:
        typer = _typer(region)
        if typer is None:
            continue
        if typer.leading is not None:
            if typer.leading.match(nsn):
                return typer.type_of(nsn)
        else:
            ntype = typer.type_of(nsn)
            if ntype != PhoneNumberType.UNKNOWN:
                return ntype
    return PhoneNumberType.UNKNOWN


class PhoneNormalizer:
    """Raw phone text -> ``Phone`` (E.164 + candidate time zones) or ``BadPhone`` (reason).

    Fast path for the common shapes (``+CC...`` and, for region RU, ``8XXXXXXXXXX``/``7XXXXXXXXXX``/
    10 digits) that builds the number directly and only runs the validity check; everything else goes
    through ``phonenumbers.parse``. Results are cached by the raw text.
    """

    def __init__(self, region: str, cache_size: int = 200_000) -> None:
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InputError(f"unknown region {region!r} (use an ISO country code such as RU)",
                             field="--region")
        self.region = region
        self._cache: dict[str, Phone | BadPhone] = {}
        self._cache_size = cache_size

    def normalize(self, raw: str) -> Phone | BadPhone:
        hit = self._cache.get(raw)
        if hit is None:
            hit = self._compute(raw)
            if len(self._cache) < self._cache_size:
                self._cache[raw] = hit
        return hit

    def _compute(self, raw: str) -> Phone | BadPhone:
        text = raw.strip()
        if not text:
            return BadPhone("empty phone number")
        compact = text.translate(_STRIP)
        intl = compact.startswith("+")
        digits = compact[1:] if intl else compact
        if digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 17:
            if intl:
                if digits[0] != "0":
                    for n in (1, 2, 3):
                        if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                            cc, nsn = int(digits[:n]), digits[n:]
                            if _may_have_national_prefix(cc, nsn):
                                break   # phonenumbers may strip it: let it decide
                            return self._checked(cc, nsn, text)
                    else:
                        return BadPhone(f"unknown country code in {text!r}")
            elif self.region == "RU":
                if len(digits) == 11 and digits[0] in "78":
                    return self._checked(7, digits[1:], text)
                if len(digits) == 10:
                    return self._checked(7, digits, text)
        return self._slow(text)

    def _checked(self, cc: int, nsn: str, text: str) -> Phone | BadPhone:
        if not nsn or nsn[0] == "0":
            return self._slow(text)
        ntype = number_type(cc, nsn)
        if ntype == PhoneNumberType.UNKNOWN:
            return BadPhone(f"not a valid number: {text!r}")
        return Phone(f"+{cc}{nsn}", _zones(cc, nsn, ntype))

    def _slow(self, text: str) -> Phone | BadPhone:
        try:
            num = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException as exc:
            return BadPhone(f"not a phone number: {text!r} ({exc._msg})")
        ntype = phonenumbers.number_type(num)
        if ntype == PhoneNumberType.UNKNOWN:
            return BadPhone(f"not a valid number: {text!r}")
        e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
        cc = num.country_code or 0
        return Phone(e164, _zones(cc, e164[1 + len(str(cc)):], ntype))
