"""Leads with several possible time zones: how many hours a day the window is open in all of them, and the
campaign's choice of how to resolve them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time
from typing import Any

import phonenumbers
import pytest
from phonenumbers import timezone as pn_tz

from callcore.dialer.campaign import CampaignSettings, Lead, Outcome, apply_outcome, dial_refusal
from callcore.dialer.compliance import CallingWindow, RefusalCode, ZonePolicy, resolve_zones, shared_open_hours
from callcore.dialer.store import settings_from_json, settings_to_json
from callcore.errors import InputError

DAY = datetime(2026, 12, 3, tzinfo=UTC).timestamp()


def russian_mobile_zones() -> tuple[str, ...]:
    return tuple(pn_tz.time_zones_for_number(phonenumbers.parse("+79161234567")))


def test_a_russian_mobile_leaves_about_two_hours_of_a_nine_to_nine_window() -> None:
    zones = russian_mobile_zones()
    assert len(zones) >= 10
    hours = shared_open_hours(CallingWindow(time(9), time(21)), zones, DAY)
    assert 1.0 <= hours <= 3.0
    assert shared_open_hours(CallingWindow(time(9), time(21)), ("Europe/Moscow",), DAY) == pytest.approx(12.0)


def test_resolve_zones_policies() -> None:
    zones = russian_mobile_zones()
    assert resolve_zones(zones) == zones
    assert resolve_zones(zones, ZonePolicy.DEFAULT_ZONE, "Europe/Moscow") == ("Europe/Moscow",)
    assert resolve_zones(zones, ZonePolicy.DEFAULT_ZONE, "America/New_York") == zones   # not one of them
    assert resolve_zones(("Asia/Tokyo",), ZonePolicy.DEFAULT_ZONE, "Europe/Moscow") == ("Asia/Tokyo",)
    assert resolve_zones(zones, ZonePolicy.COLUMN) == zones   # no zone from the column: strictest
    with pytest.raises(InputError):
        resolve_zones(zones, ZonePolicy.DEFAULT_ZONE, "")


def _settings(**kw: Any) -> CampaignSettings:
    return CampaignSettings(caller_id="+74950000000", queue="sales", window=CallingWindow(time(9), time(21)), **kw)


def test_settings_validate_the_zone_policy() -> None:
    for kw, field in (({"zone_policy": ZonePolicy.DEFAULT_ZONE}, "default_zone"),
                      ({"zone_policy": ZonePolicy.DEFAULT_ZONE, "default_zone": "Mars/Olympus"}, "default_zone"),
                      ({"zone_policy": ZonePolicy.COLUMN}, "zone_column")):
        with pytest.raises(InputError) as info:
            _settings(**kw)
        assert info.value.field == field
    with pytest.raises(InputError, match="zone policy must be one of"):
        settings_from_json({"caller_id": "+7495", "queue": "q", "zone_policy": "loosest"})
    s = _settings(zone_policy=ZonePolicy.DEFAULT_ZONE, default_zone="Europe/Moscow")
    assert settings_from_json(settings_to_json(s)) == s
    assert "default-zone Europe/Moscow" in s.zone_rule.text()


def test_the_dialing_decision_follows_the_campaign_policy() -> None:
    lead = Lead("1", "+79161234567", russian_mobile_zones())
    at = DAY + 10 * 3600                          # 13:00 in Moscow, 22:00 in Kamchatka
    strict = dial_refusal(_settings(), lead, at, on_dnc_list=False)
    assert strict is not None and strict.code is RefusalCode.OUTSIDE_WINDOW
    assert strict.retry_at == DAY + 86_400 + 7 * 3600   # tomorrow 09:00 Kaliningrad = 10:00 Moscow
    moscow = _settings(zone_policy=ZonePolicy.DEFAULT_ZONE, default_zone="Europe/Moscow")
    assert dial_refusal(moscow, lead, at, on_dnc_list=False) is None
    late = dial_refusal(moscow, lead, DAY + 19 * 3600, on_dnc_list=False)     # 22:00 in Moscow
    assert late is not None and late.retry_at == DAY + 86_400 + 6 * 3600      # 09:00 Moscow
    elsewhere = _settings(zone_policy=ZonePolicy.DEFAULT_ZONE, default_zone="America/New_York")
    assert dial_refusal(elsewhere, lead, at, on_dnc_list=False) is not None   # not one of its zones
    # a call that ends outside the window is rescheduled by the same zones
    after = apply_outcome(moscow, dataclasses.replace(lead, attempts=1), Outcome.OUTSIDE_WINDOW, DAY + 19 * 3600)
    assert after.next_attempt_at == DAY + 86_400 + 6 * 3600


@pytest.mark.postgres
async def test_upload_summary_and_campaign_report_say_how_many_leads_are_ambiguous(
        pg_dsn: str, tmp_path: Any) -> None:
    import asyncio
    import io

    import asyncpg

    from callcore.dialer.cli import campaign_main
    from callcore.dialer.upload import UploadOptions, upload_leads

    async def runner(action: Any) -> None:
        c = await asyncpg.connect(pg_dsn)
        try:
            await action(c)
        finally:
            await c.close()

    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("INSERT INTO queues (name) VALUES ('sales')")
        err = io.StringIO()
        code = await asyncio.to_thread(campaign_main, ["create", "spring", "--queue", "sales", "--caller-id",
                                                       "+74950000000"], runner=runner, out=io.StringIO(), err=err)
        assert code == 0, err.getvalue()
        p = tmp_path / "leads.csv"
        p.write_text("phone\n+79161234567\n+74951234567\n+12125550123\n")
        report = await upload_leads(conn, "spring", p, UploadOptions(workers=0))
    finally:
        await conn.close()
    assert report.ambiguous == 1 and report.ambiguous_widest >= 10
    note = next(line for line in report.lines() if "several possible time zones" in line)
    assert "+79161234567" in note and "--tz-column" in note

    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(campaign_main, ["report", "spring"], runner=runner, out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "1 leads have several possible time zones" in text and "h a day" in text, text


@pytest.mark.postgres
async def test_column_and_default_zone_policies_through_upload_and_report(pg_dsn: str, tmp_path: Any) -> None:
    import asyncio
    import io

    import asyncpg

    from callcore.dialer.cli import campaign_main
    from callcore.dialer.upload import UploadOptions, upload_leads

    async def runner(action: Any) -> None:
        c = await asyncpg.connect(pg_dsn)
        try:
            await action(c)
        finally:
            await c.close()

    async def cli(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(campaign_main, list(argv), runner=runner, out=out, err=err)
        assert code == 0, err.getvalue()
        return out.getvalue()

    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("INSERT INTO queues (name) VALUES ('sales')")
        await cli("create", "bycol", "--queue", "sales", "--caller-id", "+74950000000", "--zones", "column",
                  "--zone-column", "Пояс")
        await cli("create", "moscow", "--queue", "sales", "--caller-id", "+74950000000", "--default-zone",
                  "Europe/Moscow")
        p = tmp_path / "leads.csv"
        p.write_text("phone;Пояс\n+79161234567;Asia/Yekaterinburg\n+79161234568;Europe/Moskva\n"
                     "+79161234569;\n+79161234570;Asia/Vladivostok\n", encoding="utf-8")
        report = await upload_leads(conn, "bycol", p, UploadOptions(workers=0))
        assert (report.inserted, report.rejected_total) == (3, 1)
        [bad] = report.samples
        assert (bad.line, bad.reason, bad.field) == (3, "bad-timezone", "tz") and "Europe/Moskva" in bad.detail
        text = "\n".join(report.lines())
        assert "time zones: column 'Пояс'" in text
        assert "1 leads have several possible time zones" in text and "no zone in column 'Пояс'" in text
        zones = dict(await conn.fetch("SELECT l.phone_e164, coalesce(z.zones, l.tz) FROM leads l "
                                      "LEFT JOIN zone_sets z ON z.id = l.zone_set"))
        assert zones["+79161234567"] == ["Asia/Yekaterinburg"] and len(zones["+79161234569"]) >= 10

        nocol = tmp_path / "nocol.csv"
        nocol.write_text("phone\n+79161234567\n", encoding="utf-8")
        with pytest.raises(InputError, match="Пояс") as info:
            await upload_leads(conn, "bycol", nocol, UploadOptions(workers=0))
        assert info.value.where == f"{nocol}:1"

        report = await upload_leads(conn, "moscow", nocol, UploadOptions(workers=0))
        text = "\n".join(report.lines())
        assert "time zones: default-zone Europe/Moscow" in text
        assert "1 of them can be in Europe/Moscow and are dialled by its clock" in text
    finally:
        await conn.close()
    out = await cli("report", "moscow")
    assert "time zones: default-zone Europe/Moscow" in out
    assert "can be dialled 12.0 h a day (by the clock of Europe/Moscow)" in out, out
    assert "time zones: column 'Пояс'" in await cli("report", "bycol")
