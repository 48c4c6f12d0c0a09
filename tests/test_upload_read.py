"""Lead file reading: encodings, delimiters, column maps, phone normalisation, batch cleaning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as pn_tz

from callcore.dialer.csvread import (
    BadPhone,
    Phone,
    PhoneNormalizer,
    RowReader,
    detect_format,
    number_type,
    parse_map,
    parse_tz,
    resolve_columns,
    sniff_delimiter,
)
from callcore.dialer.upload import BAD_ROW, BAD_TZ, INVALID, clean_batch
from callcore.errors import InputError


def write(tmp_path: Path, data: bytes, name: str = "leads.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --- encodings and delimiters ---------------------------------------------------------------------


def test_utf8_without_bom(tmp_path: Path) -> None:
    fmt = detect_format(write(tmp_path, "phone,name\n+79161234567,Иван\n".encode()))
    assert (fmt.encoding, fmt.delimiter, fmt.note) == ("utf-8", ",", "")


def test_utf8_with_bom_is_stripped_from_the_header(tmp_path: Path) -> None:
    p = write(tmp_path, b"\xef\xbb\xbf" + "телефон;фио\n89161234567;Иван\n".encode())
    fmt = detect_format(p)
    assert fmt.encoding == "utf-8-sig" and fmt.delimiter == ";"
    with RowReader(p, fmt) as r:
        assert r.header == ["телефон", "фио"]
        assert list(r) == [(2, ["89161234567", "Иван"])]


def test_cp1251_fallback_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    p = write(tmp_path, "phone\tname\n+79161234567\tИван Петров\n".encode("cp1251"))
    fmt = detect_format(p)
    assert fmt.encoding == "cp1251" and fmt.delimiter == "\t"
    assert "line 2" in fmt.note and "Windows-1251" in fmt.note
    with RowReader(p, fmt) as r:
        assert list(r) == [(2, ["+79161234567", "Иван Петров"])]


def test_neither_utf8_nor_cp1251_is_an_error_with_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, b"phone,name\n1,\xff\n2,\x98\n")
    with pytest.raises(InputError) as exc:
        detect_format(p)
    assert exc.value.where == f"{p}:3"


def test_utf16_and_binary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="UTF-16"):
        detect_format(write(tmp_path, "phone\n1\n".encode("utf-16")))
    with pytest.raises(InputError, match="NUL") as exc:
        detect_format(write(tmp_path, b"phone\n1\n2\x00\n", "b.csv"))
    assert exc.value.where is not None and exc.value.where.endswith(":3")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        detect_format(tmp_path / "nope.csv")


@pytest.mark.parametrize(("header", "expected"), [
    ("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("phone", ","),
    ('"x;y",b,c', ","), ("a;b,c;d", ";"),
])
def test_sniff_delimiter(header: str, expected: str) -> None:
    assert sniff_delimiter(header) == expected


def test_quoted_multiline_fields_keep_the_first_line_number(tmp_path: Path) -> None:
    p = write(tmp_path, b'phone,note\n+79161234567,"two\nlines"\n\n+79161234568,x\n')
    fmt = detect_format(p)
    with RowReader(p, fmt) as r:
        assert [line for line, _ in r] == [2, 5]


def test_empty_file_needs_a_header(tmp_path: Path) -> None:
    p = write(tmp_path, b"")
    with pytest.raises(InputError, match="header"):
        RowReader(p, detect_format(p))


# --- columns -------------------------------------------------------------------------------------


def test_parse_map() -> None:
    assert parse_map("phone=Телефон,name=ФИО") == {"phone": "Телефон", "name": "ФИО"}
    assert parse_map(None) == {}
    with pytest.raises(InputError) as exc:
        parse_map("email=E")
    assert exc.value.field == "--map"
    with pytest.raises(InputError):
        parse_map("phone")


def test_resolve_columns_by_map_guess_and_extras() -> None:
    cols = resolve_columns(["Телефон", "ФИО", "Город", ""], {"phone": "телефон"}, None, "f.csv")
    assert (cols.phone, cols.name, cols.tz) == (0, 1, None)
    assert cols.extra == ((2, "Город"), (3, "column_4"))
    with pytest.raises(InputError) as exc:
        resolve_columns(["a", "b"], {}, None, "f.csv")
    assert exc.value.where == "f.csv:1" and exc.value.field == "phone"
    with pytest.raises(InputError, match="not in the header"):
        resolve_columns(["phone"], {}, "zone", "f.csv")
    with pytest.raises(InputError, match="twice"):
        resolve_columns(["phone", "Phone"], {}, None, "f.csv")


def test_parse_tz() -> None:
    assert parse_tz("Europe/Moscow|Asia/Omsk") == ("Europe/Moscow", "Asia/Omsk")
    assert isinstance(parse_tz("Mars/Olympus"), str)


# --- phone numbers -------------------------------------------------------------------------------


def reference(raw: str, region: str) -> tuple[str, tuple[str, ...]] | None:
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    zones = tuple(z for z in pn_tz.time_zones_for_number(num) if z != "Etc/Unknown")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), zones


def outcome(p: Phone | BadPhone) -> tuple[str, tuple[str, ...]] | None:
    return (p.e164, p.tz) if isinstance(p, Phone) else None


digits = st.text("0123456789", min_size=1, max_size=13)
shapes = st.one_of(
    digits.map(lambda d: "+" + d),
    digits.map(lambda d: "8" + d),
    digits.map(lambda d: "7" + d),
    digits,
    st.builds(lambda a, b, c: f"+7 ({a}) {b}-{c}", st.text("0123456789", min_size=3, max_size=3),
              st.text("0123456789", min_size=3, max_size=3), st.text("0123456789", min_size=4, max_size=4)),
    st.text(" +-()0123456789x.", max_size=18),
)


@settings(max_examples=400, deadline=None)
@given(raw=shapes, region=st.sampled_from(["RU", "KZ", "US", "DE", "GB", "IT", "UA"]))
@example(raw="+08216000000", region="RU")
@example(raw="73010000000", region="KZ")
@example(raw="+112012000000", region="RU")
def test_fast_normaliser_agrees_with_phonenumbers(raw: str, region: str) -> None:
    assert outcome(PhoneNormalizer(region, cache_size=0).normalize(raw)) == reference(raw, region)


@pytest.mark.parametrize("raw", ["+7 (916) 123-45-67", "89161234567", "79161234567", "9161234567",
                                 "+7 916 123 45 67"])
def test_russian_mobile_shapes(raw: str) -> None:
    p = PhoneNormalizer("RU").normalize(raw)
    assert isinstance(p, Phone) and p.e164 == "+79161234567"
    assert "Europe/Moscow" in p.tz and "Asia/Vladivostok" in p.tz   # mobile: every zone of the country


def test_geographic_number_gets_its_own_zone_and_cache_returns_same() -> None:
    norm = PhoneNormalizer("RU")
    first = norm.normalize("+1 212 555 0123")
    assert isinstance(first, Phone) and first.tz == ("America/New_York",)
    assert norm.normalize("+1 212 555 0123") is first
    assert norm.normalize("84951234567") == Phone("+74951234567", ("Europe/Moscow",))


@pytest.mark.parametrize("raw", ["", "abc", "12345", "+999 1234567", "8 (000) 000-00-00"])
def test_invalid_numbers_have_a_reason(raw: str) -> None:
    p = PhoneNormalizer("RU").normalize(raw)
    assert isinstance(p, BadPhone) and p.reason


def test_unknown_region() -> None:
    with pytest.raises(InputError) as exc:
        PhoneNormalizer("XX")
    assert exc.value.field == "--region"


# --- batch cleaning ------------------------------------------------------------------------------


def test_clean_batch_rejects_with_line_field_and_reason() -> None:
    cols = resolve_columns(["phone", "name", "tz", "city"], {}, None, "f.csv")
    rows = [
        (2, ["89161234567", " Иван ", "", "Москва"]),
        (3, ["123", "x", "", ""]),
        (4, ["89161234568", "y", "Mars/Base", ""]),
        (5, ["89161234569", "z"]),
        (6, ["89161234570", "w", "Europe/Samara", "Самара", "", ""]),
        (7, ["89161234571", "v", "", "", "extra"]),
    ]
    records, rejects = clean_batch(rows, cols, "RU")
    assert [(r.line, r.reason, r.field) for r in rejects] == [
        (3, INVALID, "phone"), (4, BAD_TZ, "tz"), (5, BAD_ROW, "row"), (7, BAD_ROW, "row")]
    assert [r[0] for r in records] == [2, 6]
    assert [r[1] for r in records] == ["+79161234567", "+79161234570"]
    line, e164, name, zones, data = records[0][2].removesuffix("\n").split("\t")
    assert (line, e164, name, json.loads(data)) == ("2", "+79161234567", "Иван", {"city": "Москва"})
    assert "Europe/Moscow" in zones.split("|")
    assert records[1][2].split("\t")[3] == "Europe/Samara"


def test_clean_batch_escapes_copy_text() -> None:
    cols = resolve_columns(["phone", "name", "note"], {}, None, "f.csv")
    rows = [(2, ["89161234567", "a\tb\\c", "line1\nline2\r end"])]
    records, _rejects = clean_batch(rows, cols, "RU")
    text = records[0][2]
    assert text.count("\t") == 4 and text.count("\n") == 1 and "\r" not in text
    _line, _e164, name, _zones, data = text.removesuffix("\n").split("\t")
    assert name == "a\\tb\\\\c"
    # COPY text unescaping (backslash sequences) gives back the JSON, which gives back the value
    assert json.loads(data.replace("\\\\", "\\")) == {"note": "line1\nline2\r end"}


@settings(max_examples=1500, deadline=None)
@given(cc=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
       nsn=st.text("0123456789", min_size=2, max_size=14).filter(lambda d: d[0] != "0"))
def test_compiled_number_type_agrees_with_phonenumbers(cc: int, nsn: str) -> None:
    expected = phonenumbers.number_type(phonenumbers.PhoneNumber(country_code=cc, national_number=int(nsn)))
    assert number_type(cc, nsn) == expected


@pytest.mark.parametrize("e164", ["+79161234567", "+74951234567", "+77012345678", "+12125550123",
                                  "+16135550123", "+18005550123", "+442071234567", "+447911123456",
                                  "+4930123456", "+4915112345678", "+33142685300", "+380441234567",
                                  "+8613812345678", "+97143123456"])
def test_compiled_number_type_on_real_shapes(e164: str) -> None:
    num = phonenumbers.parse(e164)
    nsn = str(num.national_number)
    assert num.country_code is not None
    assert number_type(num.country_code, nsn) == phonenumbers.number_type(num)


def test_compiled_number_type_on_every_region_example() -> None:
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for ntype in range(12):
            example = phonenumbers.example_number_for_type(region, ntype)
            if example is None or example.country_code is None or example.italian_leading_zero:
                continue
            nsn = str(example.national_number)
            assert number_type(example.country_code, nsn) == phonenumbers.number_type(example), (region, nsn)
            checked += 1
    assert checked > 500


def test_normaliser_on_every_region_example_in_international_and_national_form() -> None:
    pn = phonenumbers
    for region in sorted(pn.SUPPORTED_REGIONS):
        norm = PhoneNormalizer(region, cache_size=0)
        for ntype in range(12):
            ex = pn.example_number_for_type(region, ntype)
            if ex is None:
                continue
            for fmt in (pn.PhoneNumberFormat.E164, pn.PhoneNumberFormat.INTERNATIONAL,
                        pn.PhoneNumberFormat.NATIONAL):
                raw = pn.format_number(ex, fmt)
                assert outcome(norm.normalize(raw)) == reference(raw, region), (region, raw)
    ru = PhoneNormalizer("RU", cache_size=0)
    for raw in ("+78121234567", "+7 800 555 35 35", "88121234567", "8 (812) 123-45-67"):
        assert outcome(ru.normalize(raw)) == reference(raw, "RU")


def test_mixed_utf8_and_cp1251_is_refused_not_garbled(tmp_path: Path) -> None:
    data = "phone,name\n+79161234567,Иван\n".encode() + "+79161234568,Пётр\n".encode("cp1251")
    p = write(tmp_path, data)
    with pytest.raises(InputError, match="mixes encodings") as exc:
        detect_format(p)
    assert exc.value.where == f"{p}:3"


def test_bad_byte_after_the_first_megabyte_is_still_found(tmp_path: Path) -> None:
    body = "".join(f"+7916{i:07d},Иван\n" for i in range(60_000)).encode()   # > 1 MiB of UTF-8
    p = write(tmp_path, b"phone,name\n" + body + b"+79160000000,\xcf\xe5\xf2\xf0\n")
    with pytest.raises(InputError, match="mixes encodings") as exc:
        detect_format(p)
    assert exc.value.where == f"{p}:60002"


@settings(max_examples=400, deadline=None)
@given(keys=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique_by=str.casefold),
       values=st.lists(st.text(max_size=8), min_size=4, max_size=4))
def test_extra_columns_json_is_what_msgspec_writes(keys: list[str], values: list[str]) -> None:
    """The template path for values needing no escaping writes the same COPY text as encoding the dict."""
    import msgspec

    from callcore.dialer.upload import copy_field

    header = ["phone", *keys]
    cols = resolve_columns(header, {}, None, "f.csv")
    fields = ["+79161234567", *values[: len(keys)]]
    [record], _ = clean_batch([(2, fields)], cols, "RU")
    data = record[2].removesuffix("\n").split("\t")[4]
    expected = {key: fields[i].strip() for i, key in cols.extra}
    assert data == copy_field(msgspec.json.encode(expected).decode())


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "tab\there", "{brace}", "line\u2028sep", "del\x7f",
                                   "", "  padded  ", "Москва"])
def test_extra_column_values_that_need_escaping_or_not(value: str) -> None:
    cols = resolve_columns(["phone", "note", "{x}"], {}, None, "f.csv")
    [record], _ = clean_batch([(2, ["+79161234567", value, "}{"])], cols, "RU")
    data = record[2].removesuffix("\n").split("\t")[4]
    unescaped = re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1], m[1]), data)  # COPY text
    assert json.loads(unescaped) == {"note": value.strip(), "{x}": "}{"}
