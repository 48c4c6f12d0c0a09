"""Browser sign-in, sessions, CSRF, security headers and the desktop's API, against the running service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_service_runtime import until
from web_rig import AGENT_PASSWORD, CALLER, SUPERVISOR_PASSWORD, Rig, running

pytestmark = pytest.mark.postgres


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # the service listens on 127.0.0.1


async def sign_in(http: aiohttp.ClientSession, rig: Rig, login: str, password: str) -> dict[str, Any]:
    async with http.post(f"{rig.url}/api/v1/session", json={"login": login, "password": password}) as r:
        assert r.status == 200, await r.text()
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=43200" in cookie
        body: dict[str, Any] = await r.json()
        return body


async def test_sign_in_session_csrf_and_sign_out(pg_dsn: str, tmp_path: Path) -> None:
    async with running(pg_dsn, tmp_path) as rig, aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.post(f"{rig.url}/api/v1/session", json={"login": "2001", "password": "wrong-password"}) as r:
            assert r.status == 401
        async with http.post(f"{rig.url}/api/v1/session", json={"login": "nobody", "password": "wrong-password"}) as r:
            assert r.status == 401
        me = await sign_in(http, rig, "2001", AGENT_PASSWORD)
        assert me["role"] == "agent" and me["login"] == "2001" and me["csrf"]
        base = f"{rig.url}/api/v1/agents/2001"
        async with http.get(f"{base}/desk") as r:
            desk = await r.json()
            assert r.status == 200 and desk["projects"]["queues"] == ["outbound", "support"]
            assert [d["name"] for d in desk["departments"]] == ["Billing", "Legal"]
        async with http.post(f"{base}/login", json={}) as r:  # no CSRF header: refused
            assert r.status == 403, await r.text()
        async with http.post(f"{base}/login", json={}, headers={"X-CSRF-Token": "forged"}) as r:
            assert r.status == 403
        async with http.post(f"{base}/login", json={}, headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200 and (await r.json())["state"] == "available"
        async with http.get(f"{rig.url}/api/v1/agents/2002/desk") as r:  # acts only as itself
            assert r.status == 403
        async with http.get(f"{rig.url}/api/v1/snapshot") as r:
            assert r.status == 403
        async with http.delete(f"{rig.url}/api/v1/session", headers={"X-CSRF-Token": me["csrf"]}) as r:
            assert r.status == 200
        async with http.get(f"{base}/desk") as r:
            assert r.status == 401


async def test_pages_are_served_with_security_headers(pg_dsn: str, tmp_path: Path) -> None:
    async with running(pg_dsn, tmp_path) as rig, aiohttp.ClientSession(cookie_jar=jar()) as http:
        for path in ("/desktop", "/wallboard", "/ui/desktop.js", "/ui/app.css"):
            async with http.get(f"{rig.url}{path}") as r:
                assert r.status == 200, path
                csp = r.headers["Content-Security-Policy"]
                assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
                assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
                text = await r.text()
                if path.endswith(".html") or path in ("/desktop", "/wallboard"):
                    assert "<script>" not in text and 'type="module"' in text  # no inline script
                    assert "http://" not in text and "https://" not in text  # nothing from elsewhere
        async with http.get(f"{rig.url}/healthz") as r:
            assert r.headers["X-Frame-Options"] == "DENY"


async def test_call_card_history_chat_flag_and_hold(pg_dsn: str, tmp_path: Path) -> None:
    async with running(pg_dsn, tmp_path) as rig, aiohttp.ClientSession(cookie_jar=jar()) as agent, \
            aiohttp.ClientSession(cookie_jar=jar()) as sup:
        me = await sign_in(agent, rig, "2001", AGENT_PASSWORD)
        boss = await sign_in(sup, rig, "lead", SUPERVISOR_PASSWORD)
        assert boss["endpoint"] == "PJSIP/sup1"
        h = {"X-CSRF-Token": me["csrf"]}
        hs = {"X-CSRF-Token": boss["csrf"]}
        base = f"{rig.url}/api/v1/agents/2001"
        async with agent.post(f"{base}/login", json={}, headers=h) as r:
            assert r.status == 200
        await rig.sim.inject_call(queue="support", caller_number=CALLER, caller_name="Ivan Smirnov")
        acd = rig.run.service.acd
        assert acd is not None
        await until(lambda: acd.agent_state("2001")["state"] == "on_call", "the call connected")
        async with agent.get(f"{base}/call/card") as r:
            card = (await r.json())["call"]
        assert card["caller_number"] == CALLER and card["history"]["repeat_open"] is True
        assert card["history"]["calls"][0]["disposition_code"] == "escalated"
        assert [s["id"] for s in card["sections"]] == ["greeting", "questions", "answers", "closing"]
        assert "Hello Ivan Smirnov" in card["sections"][0]["text"] and "Anna Petrova" in card["sections"][0]["text"]
        assert card["phrases"][0].startswith("I understand you are upset")
        async with agent.post(f"{base}/hold", headers=h) as r:
            assert r.status == 200 and (await r.json())["call"]["held"] is True
        async with agent.post(f"{base}/hold", headers=h) as r:
            assert r.status == 409
        async with agent.post(f"{base}/resume", headers=h) as r:
            assert r.status == 200 and (await r.json())["call"]["held"] is False
        async with agent.post(f"{base}/flag", json={"reason": "abusive", "note": "shouting"}, headers=h) as r:
            assert r.status == 201, await r.text()
        async with agent.post(f"{base}/flag", json={"reason": "bored"}, headers=h) as r:
            assert r.status in (400, 422)
        async with sup.get(f"{rig.url}/api/v1/flags") as r:
            flags = (await r.json())["flags"]
        assert flags[0]["reason"] == "abusive" and flags[0]["caller_number"] == CALLER
        async with agent.post(f"{base}/help", json={"text": "Customer wants a refund twice"}, headers=h) as r:
            req = await r.json()
        assert req["call_id"] == card["call_id"]
        async with sup.post(f"{rig.url}/api/v1/help-requests/{req['id']}/messages",
                            json={"text": "Offer one refund"}, headers=hs) as r:
            assert r.status == 201
        async with agent.post(f"{base}/help/{req['id']}/messages", json={"text": "Thanks"}, headers=h) as r:
            assert r.status == 201
        async with agent.get(f"{base}/help/{req['id']}/messages") as r:
            assert [m["text"] for m in (await r.json())["messages"]] == ["Offer one refund", "Thanks"]
        async with sup.get(f"{rig.url}/api/v1/help-threads") as r:
            (thread,) = (await r.json())["help_requests"]
        assert thread["messages"] == 2 and thread["last_role"] == "agent"
        async with agent.get(f"{base}/departments") as r:
            billing = next(d for d in (await r.json())["departments"] if d["name"] == "Billing")
        async with agent.post(f"{base}/transfer/department", json={"department_id": billing["id"]}, headers=h) as r:
            assert r.status == 200, await r.text()
        await until(lambda: acd.snapshot()["queues"]["billing"]["waiting"] == 1, "caller waiting in billing")
        async with sup.get(f"{rig.url}/api/v1/wallboard") as r:
            board = await r.json()
        assert board["queues"]["billing"]["waiting"] == 1 and board["agents"]["2001"]["state"] == "wrap_up"
        assert board["agents"]["2001"]["queues"] == ["outbound", "support"]


async def test_admin_sets_passwords_through_the_api(pg_dsn: str, tmp_path: Path) -> None:
    bearer = {"Authorization": "Bearer test-admin-token"}
    async with running(pg_dsn, tmp_path) as rig, aiohttp.ClientSession(headers=bearer, cookie_jar=jar()) as admin, \
            aiohttp.ClientSession(cookie_jar=jar()) as agent:
        old = await sign_in(agent, rig, "2002", AGENT_PASSWORD)
        async with admin.put(f"{rig.url}/api/v1/accounts/2002", json={"password": "short"}) as r:
            assert r.status in (400, 422)
        async with admin.put(f"{rig.url}/api/v1/accounts/ghost", json={"password": "long-enough-1"}) as r:
            assert r.status == 404  # role agent needs an existing agent
        async with admin.put(f"{rig.url}/api/v1/accounts/2002", json={"password": "a-new-password"}) as r:
            assert r.status == 200
        async with agent.get(f"{rig.url}/api/v1/agents/2002/desk") as r:  # the old session ended
            assert r.status == 401, old
        await sign_in(agent, rig, "2002", "a-new-password")
        async with admin.get(f"{rig.url}/api/v1/accounts") as r:
            listed = (await r.json())["accounts"]
        assert {a["login"] for a in listed} == {"2001", "2002", "lead"}
        assert all("password_hash" not in a for a in listed)
        assert rig.run.service.pool is not None
        stored = await rig.run.service.pool.fetchval("SELECT password_hash FROM web_accounts WHERE login='2002'")
        assert stored.startswith("$argon2id$")


async def test_sessions_expire_and_wrong_passwords_lock_the_login(pg_pool: Any) -> None:
    import asyncio

    from callcore.web import accounts

    await pg_pool.execute("INSERT INTO agents (id, name) VALUES ('2001', 'Anna')")
    await accounts.set_password(pg_pool, "2001", "agent", "right-password")
    short = accounts.Sessions(ttl=0.5)
    found = await short.sign_in(pg_pool, "2001", "right-password")
    assert found is not None
    cookie, session = found
    assert await short.lookup(pg_pool, cookie) == session
    assert await accounts.Sessions(ttl=0.5).lookup(pg_pool, cookie) == session  # another instance: from the row
    await asyncio.sleep(0.7)
    assert await short.lookup(pg_pool, cookie) is None  # the cached copy expires too
    assert await accounts.Sessions(ttl=0.5).lookup(pg_pool, cookie) is None
    stored = await pg_pool.fetchval("SELECT id_hash FROM web_sessions")
    assert stored == accounts.digest(cookie) and cookie not in stored

    # signed out on another instance: this one notices at its next check
    here, there = accounts.Sessions(ttl=60, recheck=0.2), accounts.Sessions(ttl=60)
    found = await here.sign_in(pg_pool, "2001", "right-password")
    assert found is not None
    await there.sign_out(pg_pool, found[0])
    assert await here.lookup(pg_pool, found[0]) is not None  # checked less than 0.2 s ago
    await asyncio.sleep(0.3)
    assert await here.lookup(pg_pool, found[0]) is None

    locking = accounts.Sessions(ttl=60, max_failures=3, lockout=60)
    for _ in range(3):
        assert await locking.sign_in(pg_pool, "2001", "wrong-password") is None
    assert await locking.sign_in(pg_pool, "2001", "right-password") is None  # locked for a while
    assert await accounts.Sessions(ttl=60).sign_in(pg_pool, "2001", "right-password") is not None


async def test_manual_dial_connects_the_customer_and_guards_apply(pg_dsn: str, tmp_path: Path) -> None:
    async with running(pg_dsn, tmp_path) as rig, aiohttp.ClientSession(cookie_jar=jar()) as http:
        svc = rig.run.service
        await until(lambda: svc.dialer is not None and "renewals" in svc.dialer.runners, "campaign running")
        me = await sign_in(http, rig, "2001", AGENT_PASSWORD)
        h = {"X-CSRF-Token": me["csrf"]}
        base = f"{rig.url}/api/v1/agents/2001"
        async with http.post(f"{base}/login", json={}, headers=h) as r:
            assert r.status == 200
        assert svc.pool is not None
        await svc.pool.execute("INSERT INTO dnc (phone_e164) VALUES ('+12025550177')")
        async with http.post(f"{base}/dial", json={"number": "+1 202 555 0177", "campaign": "renewals"},
                             headers=h) as r:
            assert r.status == 409 and "dnc" in await r.text()
        async with http.post(f"{base}/dial", json={"number": "not a number", "campaign": "renewals"},
                             headers=h) as r:
            assert r.status in (400, 422)
        async with http.post(f"{base}/dial", json={"number": "+1 202 555 0188", "campaign": "renewals"},
                             headers=h) as r:
            assert r.status == 200, await r.text()
        acd = svc.acd
        assert acd is not None
        await until(lambda: acd.agent_state("2001")["state"] == "on_call", "the dialled customer connected")
        call = acd.current_call("2001")
        assert call is not None and call["caller_number"] == "+12025550188" and call["data"]["manual"] is True
