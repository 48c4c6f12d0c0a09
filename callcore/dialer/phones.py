"""Phone-number normalisation to E.164 with the candidate time zones of the number.

Same answers as ``phonenumbers`` (parse, number type, validity, time zones), with a fast path for the
common shapes that builds the number directly and checks it against per-region compiled type patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from callcore.errors import InputError


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    tz: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BadPhone:
    reason: str


_STRIP = str.maketrans("", "", " -().\u00a0\t/")
_UNKNOWN_TZ = "Etc/Unknown"
_TZ_END = 1 + TIMEZONE_LONGEST_PREFIX


_GEOGRAPHICAL: dict[tuple[int, int], bool] = {}


def _zones(cc: int, nsn: str, ntype: int) -> tuple[str, ...]:
    geo = _GEOGRAPHICAL.get((ntype, cc))
    if geo is None:
        geo = _GEOGRAPHICAL[(ntype, cc)] = bool(phonenumbers.is_number_type_geographical(ntype, cc))
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


_TYPE_BY_NAME = dict(_TYPES)
_UNKNOWN = PhoneNumberType.UNKNOWN
Match = Callable[[str], "re.Match[str] | None"]
# per number length: general pattern, the type patterns folded into one, mobile (when it applies), and
# whether the region's mobile and fixed-line patterns are the same
_Plan = tuple[Match, Match | None, Match | None, bool]
_NO_PLAN: Any = object()


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
        self._plans: dict[int, _Plan | None] = {}
        mobile = metadata.mobile
        self.mobile = re.compile(mobile.national_number_pattern) if mobile is not None and \
            mobile.national_number_pattern else None

    def _combined(self, length: int) -> re.Pattern[str] | None:
        if length not in self._by_len:
            alts = [f"(?P<{name}>{getattr(self.md, name).national_number_pattern})"
                    for name, _t in _TYPES if _desc_applies(getattr(self.md, name), length)]
            self._by_len[length] = re.compile("|".join(alts)) if alts else None
        return self._by_len[length]

    def _plan(self, length: int) -> _Plan | None:
        """What ``type_of`` needs for numbers of ``length`` digits, worked out once per length."""
        md = self.md
        plan: _Plan | None = None
        if _desc_applies(md.general_desc, length):
            combined = self._combined(length)
            mobile = self.mobile.fullmatch if self.mobile is not None and _desc_applies(md.mobile, length) \
                else None
            plan = (self.general.fullmatch, combined.fullmatch if combined is not None else None, mobile,
                    bool(md.same_mobile_and_fixed_line_pattern))
        self._plans[length] = plan
        return plan

    def type_of(self, nsn: str) -> int:
        plan = self._plans.get(len(nsn), _NO_PLAN)
        if plan is _NO_PLAN:
            plan = self._plan(len(nsn))
        if plan is None:
            return _UNKNOWN
        general, combined, mobile, same = plan
        if combined is None or general(nsn) is None:
            return _UNKNOWN
        m = combined(nsn)
        if m is None:
            return _UNKNOWN
        name = m.lastgroup   # the alternative that matched: its group closes last
        if name == "fixed_line":
            if same or (mobile is not None and mobile(nsn) is not None):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if name == "mobile":
            return _UNKNOWN if same else PhoneNumberType.MOBILE
        return _TYPE_BY_NAME[name or ""]


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


_PREFIXES: dict[int, tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]] = {}


def _may_have_national_prefix(cc: int, nsn: str) -> bool:
    """Would phonenumbers strip a national prefix from ``+<cc><nsn>``? It keeps the digits when they
    form a viable number and the rest after the prefix does not; anything else is left to it."""
    prefixes = _PREFIXES.get(cc)
    if prefixes is None:
        prefixes = _PREFIXES[cc] = _national_prefixes(cc)
    for prefix, general in prefixes:
        m = prefix.match(nsn)
        if m and not (general.fullmatch(nsn) and not general.fullmatch(nsn[m.end():])):
            return True
    return False


@lru_cache(maxsize=512)
def _typer(region: str) -> _RegionTyper | None:
    md = PhoneMetadata.metadata_for_region(region, None)
    return None if md is None else _RegionTyper(md)


_COUNTRY_CODES = frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
# country code -> how to type its numbers: a typer per region (with its leading-digits pattern, or None),
# or None when phonenumbers itself must answer (non-geographic "001" codes, unknown codes)
_BY_CC: dict[int, tuple[tuple[Match | None, _RegionTyper], ...] | None] = {}


def _cc_typers(cc: int) -> tuple[tuple[Match | None, _RegionTyper], ...] | None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc)
    plan: tuple[tuple[Match | None, _RegionTyper], ...] | None = None
    if regions and "001" not in regions:
        typers = [t for t in (_typer(r) for r in regions) if t is not None]
        if len(regions) == 1:
            plan = tuple((None, t) for t in typers)
        else:
            plan = tuple((t.leading.match if t.leading is not None else None, t) for t in typers)
    _BY_CC[cc] = plan
    return plan


def number_type(cc: int, nsn: str) -> int:
    """Same answer as ``phonenumbers.number_type`` for ``+<cc><nsn>`` (nsn without a leading zero)."""
    typers = _BY_CC[cc] if cc in _BY_CC else _cc_typers(cc)
    if typers is None:
        return phonenumbers.number_type(PhoneNumber(country_code=cc, national_number=int(nsn)))
    if len(typers) == 1:
        return typers[0][1].type_of(nsn)
    for leading, typer in typers:
        if leading is not None:
            if leading(nsn):
                return typer.type_of(nsn)
        else:
            ntype = typer.type_of(nsn)
            if ntype != _UNKNOWN:
                return ntype
    return _UNKNOWN


_CC_OF: dict[str, tuple[int, int] | None] = {}   # first three digits -> (length, country code)


def _country_code(head: str) -> tuple[int, int] | None:
    found = next(((n, int(head[:n])) for n in (1, 2, 3) if head[:n] in _COUNTRY_CODES), None)
    _CC_OF[head] = found
    return found


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
        if text.isdigit() or (text[0] == "+" and text[1:].isdigit()):
            compact = text   # nothing to strip
        else:
            compact = text.translate(_STRIP)
        intl = compact.startswith("+")
        digits = compact[1:] if intl else compact
        if digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 17:
            if intl:
                if digits[0] != "0":
                    head = digits[:3]
                    found = _CC_OF[head] if head in _CC_OF else _country_code(head)
                    if found is None:
                        return BadPhone(f"unknown country code in {text!r}")
                    n, cc = found
                    nsn = digits[n:]
                    if not _may_have_national_prefix(cc, nsn):   # else phonenumbers may strip it: it decides
                        return self._checked(cc, nsn, text)
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
        if ntype == _UNKNOWN:
            return BadPhone(f"not a valid number: {text!r}")
        geo = _GEOGRAPHICAL.get((ntype, cc))
        if geo is None:
            geo = _GEOGRAPHICAL[(ntype, cc)] = bool(phonenumbers.is_number_type_geographical(ntype, cc))
        e164 = f"+{cc}{nsn}"
        return Phone(e164, _zones_for_prefix(e164[1:_TZ_END] if geo else str(cc)))

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
