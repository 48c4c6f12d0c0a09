"""The operator desktop and the supervisor wallboard in a real headless Chromium (Playwright driving the
system's ``chromium``), against the whole service and the simulated Asterisk.

Screenshots go to a temporary directory on every run, and to ``$CALLCORE_SCREENSHOTS`` when it is set
(``docs/screenshots`` for the README).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_service_runtime import until
from web_rig import AGENT_PASSWORD, CALLER, SUPERVISOR_PASSWORD, Rig, running

pytestmark = [pytest.mark.postgres, pytest.mark.browser]

playwright_api = pytest.importorskip("playwright.async_api",
                                     reason="playwright is not installed (pip install -e '.[test]')")
expect = playwright_api.expect
VIEW = {"width": 1440, "height": 900}


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CALLCORE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set CALLCORE_CHROMIUM)")
    async with playwright_api.async_playwright() as pw:
        try:
            b = await pw.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        except Exception as exc:  # e.g. missing shared libraries on this machine
            pytest.skip(f"Chromium at {path} does not start: {exc}")
        try:
            yield b
        finally:
            await b.close()


class Shots:
    def __init__(self, tmp: Path) -> None:
        self.dirs = [tmp / "screenshots"]
        if os.environ.get("CALLCORE_SCREENSHOTS"):
            self.dirs.append(Path(os.environ["CALLCORE_SCREENSHOTS"]))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    async def take(self, page: Any, name: str) -> None:
        for d in self.dirs:
            await page.screenshot(path=str(d / f"{name}.png"), full_page=False)
        assert (self.dirs[0] / f"{name}.png").stat().st_size > 10_000


async def open_page(browser: Any, rig: Rig, path: str, login: str, password: str, locale: str = "en-US") -> Any:
    context = await browser.new_context(viewport=VIEW, locale=locale)
    context.set_default_timeout(5000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # (the page asks who is signed in before the form is shown: that one 401 is expected)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "401" not in msg.text
            else None)
    page.errors = errors
    await page.goto(f"{rig.url}{path}")
    try:
        await expect(page.get_by_test_id("signin")).to_be_visible()
    except AssertionError:
        raise AssertionError(f"no sign-in form; page errors: {errors}") from None
    await page.get_by_test_id("login").fill(login)
    await page.get_by_test_id("password").fill(password)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("user")).to_be_visible()
    return page


async def test_inbound_call_on_the_desktop_and_the_wallboard(browser: Any, pg_dsn: str, tmp_path: Path) -> None:
    shots = Shots(tmp_path)
    async with running(pg_dsn, tmp_path) as rig:
        acd = rig.run.service.acd
        assert acd is not None
        desk = await open_page(browser, rig, "/desktop", "2001", AGENT_PASSWORD)
        state = desk.get_by_test_id("agent-state")
        await expect(state).to_contain_text("Logged out")
        await desk.get_by_test_id("shift-start").click()
        await expect(state).to_contain_text("Ready")
        await desk.get_by_test_id("pause-reason").select_option("coaching")
        await desk.get_by_test_id("pause").click()
        await expect(state).to_contain_text("Paused: coaching")

        board = await open_page(browser, rig, "/wallboard", "lead", SUPERVISOR_PASSWORD)
        await expect(board.get_by_test_id("live")).to_have_class("live up")
        await expect(board.get_by_test_id("waiting-support")).to_have_text("0")

        # a caller arrives while the only operator of the queue is paused: the wallboard shows it within 1 s
        await rig.sim.inject_call(queue="support", caller_number=CALLER, caller_name="Ivan Smirnov")
        await expect(board.get_by_test_id("waiting-support")).to_have_text("1", timeout=1000)
        await expect(board.get_by_test_id("waiting-call")).to_contain_text(CALLER, timeout=1000)

        # the operator becomes ready: the call is connected and pops without a click
        await desk.get_by_test_id("ready").click()
        await expect(desk.get_by_test_id("caller-number")).to_have_text(CALLER, timeout=5000)
        await expect(desk.get_by_test_id("caller-name")).to_have_text("Ivan Smirnov")
        await expect(state).to_contain_text("On call")
        await expect(desk.get_by_test_id("repeat-open")).to_be_visible()
        await expect(desk.get_by_test_id("history-tickets")).to_contain_text("Charged twice in March")
        await expect(desk.get_by_test_id("history-calls")).to_contain_text("escalated")
        await expect(desk.get_by_test_id("script-greeting")).to_contain_text(
            "Hello Ivan Smirnov, thank you for calling Acme support. My name is Anna Petrova.")
        await expect(desk.get_by_test_id("script-closing")).to_be_visible()
        await expect(desk.get_by_test_id("phrases")).to_contain_text("I am here to solve this with you")

        # a complaint registered during the call, tied to the call and the caller
        await desk.get_by_test_id("ticket-type").select_option("claim")
        await desk.get_by_test_id("ticket-text").fill("Wants the second charge refunded")
        await desk.get_by_test_id("ticket-submit").click()
        await expect(desk.get_by_test_id("ticket-result")).to_contain_text("Registered ticket #")
        await expect(desk.get_by_test_id("history-tickets")).to_contain_text("Wants the second charge refunded")
        pool = rig.run.service.pool
        assert pool is not None
        claims = await pool.fetch("SELECT caller_number, call_id FROM tickets WHERE type = 'claim'")
        call_id = acd.current_call("2001")["call_id"]  # type: ignore[index]
        assert [(t["caller_number"], t["call_id"]) for t in claims] == [(CALLER, call_id)]

        # the caller is abusive: flag the call for review, the supervisors see it at once
        await desk.get_by_test_id("flag-reason").select_option("abusive")
        await desk.get_by_test_id("flag-note").fill("Shouting and swearing from the first minute")
        await desk.get_by_test_id("flag-submit").click()
        await expect(board.get_by_test_id("flag")).to_contain_text("Abusive caller")
        await expect(board.get_by_test_id("tickets")).to_contain_text("Wants the second charge refunded")

        # help chat, both ways, live
        await desk.get_by_test_id("chat-input").fill("Customer insists on two refunds, what can I offer?")
        await desk.get_by_test_id("chat-send").click()
        await expect(board.get_by_test_id("sup-chat-log")).to_contain_text("Customer insists on two refunds")
        await board.get_by_test_id("reply-input").fill("Offer one refund now and a callback from billing")
        await board.get_by_test_id("reply-send").click()
        await expect(desk.get_by_test_id("chat-log")).to_contain_text("Offer one refund now")
        await desk.get_by_test_id("chat-input").fill("Thanks, doing that")
        await desk.get_by_test_id("chat-send").click()
        await expect(board.get_by_test_id("sup-chat-log")).to_contain_text("Thanks, doing that")

        # listen from the operator's tile, then from the chat
        await expect(board.get_by_test_id("agent-2001")).to_contain_text(CALLER)
        await board.get_by_test_id("listen-2001").click()
        await until(lambda: len(acd.engine.state.supervisors) == 1, "the supervisor's listen leg")
        await board.get_by_test_id("chat-listen").click()
        await until(lambda: len(acd.engine.state.supervisors) == 2, "a second listen leg from the chat")
        assert {s.mode for s in acd.engine.state.supervisors.values()} == {"listen"}

        await desk.get_by_test_id("hold").click()
        await expect(desk.get_by_test_id("held")).to_be_visible()
        await desk.get_by_test_id("resume").click()
        await expect(desk.get_by_test_id("held")).to_be_hidden()
        # attended transfer to a colleague, who answers; the operator returns to the caller
        await desk.get_by_test_id("consult-agent").fill("2002")
        await desk.get_by_test_id("consult-go").click()
        await expect(desk.get_by_test_id("consult-state")).to_contain_text("Talking to 2002")
        assert acd.current_call("2001")["held"] is True  # type: ignore[index]
        await desk.get_by_test_id("consult-return").click()
        await expect(desk.get_by_test_id("consult-state")).to_have_count(0)
        await expect(desk.get_by_test_id("hold")).to_be_enabled()
        assert acd.current_call("2001")["held"] is False  # type: ignore[index]
        await shots.take(desk, "desktop")
        await shots.take(board, "wallboard")

        # transfer to a department (its queue), then the disposition ends wrap-up
        await desk.get_by_test_id("departments").get_by_role("button", name="Transfer").first.click()
        await expect(state).to_contain_text("Wrap-up")
        await until(lambda: acd.snapshot()["queues"]["billing"]["waiting"] == 1, "the caller waits in billing")
        await expect(board.get_by_test_id("waiting-billing")).to_have_text("1")
        await desk.get_by_test_id("disp-code").select_option("escalated")
        await desk.get_by_test_id("disp-notes").fill("Refund of the second charge promised")
        await desk.get_by_test_id("disp-submit").click()
        await expect(state).to_contain_text("Ready")
        assert acd.engine.state.agents["2001"].last_disposition_done
        assert desk.errors == [] and board.errors == []


async def test_preview_call_from_the_desktop(browser: Any, pg_dsn: str, tmp_path: Path) -> None:
    shots = Shots(tmp_path)
    async with running(pg_dsn, tmp_path) as rig:
        svc = rig.run.service
        await until(lambda: svc.dialer is not None and "renewals" in svc.dialer.runners, "campaign running")
        desk = await open_page(browser, rig, "/desktop", "2001", AGENT_PASSWORD)
        await desk.get_by_test_id("shift-start").click()
        await expect(desk.get_by_test_id("agent-state")).to_contain_text("Ready")
        await desk.get_by_test_id("preview-next").click()
        lead = desk.get_by_test_id("preview-lead")
        await expect(lead).to_contain_text("+12025550141")
        await expect(lead).to_contain_text("Good afternoon Olga Sidorova, this is Anna Petrova from Acme about "
                                           "renewing your Gold plan.")
        await shots.take(desk, "desktop-preview")
        await desk.get_by_test_id("preview-call").click()
        await expect(desk.get_by_test_id("caller-number")).to_have_text("+12025550141", timeout=8000)
        await expect(desk.get_by_test_id("call-project")).to_contain_text("renewals")
        await expect(desk.get_by_test_id("agent-state")).to_contain_text("On call")
        # attended transfer of the customer to a colleague: consult, then complete
        await desk.get_by_test_id("consult-agent").fill("2002")
        await desk.get_by_test_id("consult-go").click()
        await expect(desk.get_by_test_id("consult-state")).to_contain_text("Talking to 2002")
        await desk.get_by_test_id("consult-complete").click()
        await expect(desk.get_by_test_id("agent-state")).to_contain_text("Wrap-up")
        acd = svc.acd
        assert acd is not None
        assert [c.status for c in acd.engine.state.calls.values()] == ["transferred"]
        assert desk.errors == []


async def test_language_follows_the_browser_and_switches(browser: Any, pg_dsn: str, tmp_path: Path) -> None:
    shots = Shots(tmp_path)
    async with running(pg_dsn, tmp_path) as rig:
        context = await browser.new_context(viewport=VIEW, locale="ru-RU")
        context.set_default_timeout(5000)
        page = await context.new_page()
        await page.goto(f"{rig.url}/desktop")
        await expect(page.get_by_test_id("signin")).to_contain_text("Рабочее место оператора")
        await page.get_by_test_id("login").fill("2001")
        await page.get_by_test_id("password").fill("not-the-password")
        await page.get_by_test_id("signin-submit").click()
        await expect(page.get_by_test_id("signin-error")).to_have_text("Неверный логин или пароль.")
        await shots.take(page, "signin-ru")
        await page.get_by_test_id("password").fill(AGENT_PASSWORD)
        await page.get_by_test_id("signin-submit").click()
        await expect(page.get_by_test_id("agent-state")).to_contain_text("Не на смене")
        await expect(page.get_by_test_id("shift-start")).to_have_text("Начать смену")
        await shots.take(page, "desktop-ru")
        await page.get_by_test_id("lang-en").click()
        await expect(page.get_by_test_id("agent-state")).to_contain_text("Logged out")
        await page.reload()  # the choice is kept
        await expect(page.get_by_test_id("shift-start")).to_have_text("Start shift")
        await page.get_by_test_id("signout").click()
        await expect(page.get_by_test_id("signin")).to_be_visible()
        await page.reload()
        await expect(page.get_by_test_id("signin")).to_be_visible()  # signed out for good


async def test_wallboard_with_a_thousand_operators(browser: Any, pg_dsn: str, tmp_path: Path) -> None:
    shots = Shots(tmp_path)
    async with running(pg_dsn, tmp_path, extra_agents=1000) as rig:
        acd = rig.run.service.acd
        assert acd is not None
        reasons = ("break", "lunch", "training")
        for n in range(1000):
            aid = str(3000 + n)
            await acd.login(aid)
            if n % 5 == 0:
                await acd.pause(aid, reasons[n % 3])
        board = await open_page(browser, rig, "/wallboard", "lead", SUPERVISOR_PASSWORD)
        await expect(board.get_by_test_id("count-available")).to_contain_text("800")
        await expect(board.get_by_test_id("count-paused")).to_contain_text("200")
        tiles = board.get_by_test_id("operators").locator(".tile")
        assert await tiles.count() == 240  # the page draws a bounded number of tiles and says how many more
        await expect(board.get_by_test_id("operators")).to_contain_text("760 more operators")
        await board.get_by_test_id("project-filter").select_option("q:billing")
        await expect(board.get_by_test_id("count-available")).to_contain_text("400")
        await expect(board.get_by_test_id("queue-support")).to_have_count(0)
        await board.get_by_test_id("count-paused").click()  # filter by state: the 100 paused billing operators
        assert await tiles.count() == 100
        await expect(tiles.first).to_contain_text("Paused:")
        await board.get_by_test_id("search").fill("3005")  # n = 5: billing, paused
        await expect(tiles).to_have_count(1)
        await expect(tiles.first).to_contain_text("Petrov 1")
        await expect(tiles.first).to_contain_text("Paused: training")
        await board.get_by_test_id("search").fill("")
        await board.get_by_test_id("count-paused").click()
        await board.get_by_test_id("project-filter").select_option("")
        await shots.take(board, "wallboard-1000")
        assert board.errors == []
