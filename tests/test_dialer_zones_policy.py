"""Leads with several possible time zones: how many hours a day the window is open in all of them, and the
campaign's choice of how to resolve them."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import phonenumbers
import pytest
from phonenumbers import timezone as pn_tz

from callcore.dialer.compliance import CallingWindow, resolve_zones, shared_open_hours
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
    assert resolve_zones(zones, "default:Europe/Moscow") == ("Europe/Moscow",)
    assert resolve_zones(zones, "default:America/New_York") == zones   # not one of the number's zones
    assert resolve_zones(("Europe/Moscow",), "default:Asia/Tokyo") == ("Europe/Moscow",)
    with pytest.raises(InputError):
        resolve_zones(zones, "loosest")


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
