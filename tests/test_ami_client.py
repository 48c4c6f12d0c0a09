"""AMI client against the simulated AMI server: login, registrations, Ping, reconnect, no re-sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from callcore.ami import AmiClient, AmiTimeout, AmiUnavailable, RegistrationChange
from callcore.ami.client import ACTIONS
from callcore.config import Secret, Settings
from callcore.errors import AmiAuthError, AmiError, Unavailable
from callcore.sim.ami import SimAmi


def settings(sim: SimAmi, **kw: object) -> Settings:
    base: dict[str, object] = {"ami_host": "127.0.0.1", "ami_port": sim.port, "ami_user": sim.user,
                               "ami_secret": Secret(sim.secret), "ami_timeout": 1.0, "ami_ping_interval": 0.2}
    base.update(kw)
    return Settings().replace(**base)


@pytest.fixture
async def sim() -> AsyncIterator[SimAmi]:
    async with SimAmi() as s:
        yield s


async def wait_for(predicate: Callable[[], object], limit: float = 5.0) -> None:
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_login_and_registrations(sim: SimAmi) -> None:
    sim.set_registered("agent1001", True)
    async with AmiClient(settings(sim)) as client:
        assert client.health()["logged_in"] and client.version == "11.0.0"
        assert client.registered("agent1001") is True
        assert client.registered("agent1002") is False
        assert client.registered("nobody") is None
        changes: list[RegistrationChange] = []
        client.on_registration_change(changes.append)
        iterator = client.registration_changes()
        first = asyncio.ensure_future(iterator.__anext__())
        await asyncio.sleep(0)
        sim.set_registered("agent1002", True)
        assert await asyncio.wait_for(first, 5) == RegistrationChange("agent1002", True)
        sim.set_registered("agent1001", False)
        await wait_for(lambda: client.registered("agent1001") is False)
        assert changes == [RegistrationChange("agent1002", True), RegistrationChange("agent1001", False)]
        await wait_for(lambda: client.fully_booted)
        assert sim.logins == 1
    assert sim.received("Logoff")


async def test_wrong_secret_is_a_clear_error_without_a_loop(sim: SimAmi) -> None:
    client = AmiClient(settings(sim, ami_secret=Secret("wrong")))
    with pytest.raises(AmiAuthError, match="callcore"):
        await client.start()
    await asyncio.sleep(0.3)
    assert len(sim.received("Login")) == 1
    assert client.health()["auth_failed"] is True
    await client.stop()


async def test_header_injection_refused(sim: SimAmi) -> None:
    async with AmiClient(settings(sim)) as client:
        with pytest.raises(AmiError, match="Channel"):
            await client.action("Hangup", Channel="PJSIP/x\r\nAction: Command\r\nCommand: core restart now")
        assert not sim.received("Hangup") and not sim.received("Command")
        assert await client.ping()


async def test_utf8_across_tiny_chunks(sim: SimAmi) -> None:
    sim.chunk_size = 1
    seen: list[dict[str, str]] = []
    async with AmiClient(settings(sim)) as client:
        client.on_event("Newchannel", lambda name, fields: seen.append(fields))
        sim.emit_event("Newchannel", CallerIDName="José Müller 北京 😀", Channel="PJSIP/trunk-00000000")
        await wait_for(lambda: bool(seen))
    assert seen[0]["CallerIDName"] == "José Müller 北京 😀"


async def test_pending_action_fails_and_is_not_resent_after_reconnect(sim: SimAmi) -> None:
    async with AmiClient(settings(sim, ami_ping_interval=30.0), backoff_max=0.2) as client:
        sim.go_silent()
        pending = asyncio.ensure_future(client.action("Originate", Channel="PJSIP/1001", within=5.0))
        await wait_for(lambda: client._protocol is not None and bool(client._protocol.responses))
        sim.resume()
        sim.drop_connections()
        with pytest.raises(AmiUnavailable) as info:
            await pending
        assert isinstance(info.value, Unavailable)
        await wait_for(lambda: client.logged_in and sim.logins == 2)
        await asyncio.sleep(0.2)
        assert sim.received("Originate") == []  # lost while silent, and never re-sent
        assert client.health()["reconnects"] == 1


async def test_action_timeout_and_half_open_detection(sim: SimAmi) -> None:
    async with AmiClient(settings(sim, ami_ping_interval=0.1, ami_timeout=0.3), backoff_max=0.2) as client:
        before = ACTIONS.labels(action="coreshowchannels", result="timeout")._value.get()
        sim.go_silent()
        with pytest.raises(AmiTimeout):
            await client.action("CoreShowChannels")
        assert ACTIONS.labels(action="coreshowchannels", result="timeout")._value.get() == before + 1
        await wait_for(lambda: not client.logged_in)  # unanswered Ping -> connection dropped
        with pytest.raises(AmiUnavailable):
            await client.action("Ping")
        sim.resume()
        await wait_for(lambda: client.logged_in)
        assert client.health()["last_ping_rtt"] is not None or await client.ping()
        assert sim.logins == 2


async def test_unreachable_at_start_then_connects(sim: SimAmi) -> None:
    port = sim.port
    await sim.stop()
    client = AmiClient(settings(sim, ami_port=port), backoff_max=0.2)
    await client.start()
    assert client.health()["connected"] is False
    sim2 = SimAmi(port=port)
    await sim2.start()
    try:
        await wait_for(lambda: client.logged_in)
        assert await client.list_action("CoreShowChannels") == []
    finally:
        await client.stop()
        await sim2.stop()


async def test_shutdown_event_and_reload(sim: SimAmi) -> None:
    async with AmiClient(settings(sim), backoff_max=0.2) as client:
        await wait_for(lambda: client.fully_booted)
        sim.send_shutdown()
        await wait_for(lambda: not client.fully_booted)
        sim.set_registered("agent1003", True)
        sim.emit_event("Reload", Module="res_pjsip.so", Status="0")
        await wait_for(lambda: client.registered("agent1003") is True)


async def test_no_contacts_found_means_nobody_registered(sim: SimAmi) -> None:
    # with no phone registered Asterisk answers PJSIPShowContacts with an error, not an empty list
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    await reader.readline()
    writer.write(b"Action: Login\r\nUsername: callcore\r\nSecret: callcore-secret\r\nActionID: 1\r\n\r\n"
                 b"Action: PJSIPShowContacts\r\nActionID: 2\r\n\r\n")
    raw = b""
    while b"ActionID: 2" not in raw or not raw.endswith(b"\r\n\r\n"):
        raw += await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    assert raw.endswith(b"Response: Error\r\nActionID: 2\r\nMessage: No Contacts found\n\r\n\r\n")
    async with AmiClient(settings(sim)) as client:
        assert client.registrations.snapshot() == {"agent1001": False, "agent1002": False, "agent1003": False}
        assert await client.list_action("PJSIPShowContacts") == []
        with pytest.raises(AmiError, match="Did not find context nosuch"):
            await client.list_action("ShowDialplan", Context="nosuch")  # other errors stay errors


async def test_refresh_after_the_last_phone_left_unregisters_it(sim: SimAmi) -> None:
    sim.set_registered("agent1001", True)
    async with AmiClient(settings(sim)) as client:
        assert client.registered("agent1001") is True
        changes: list[RegistrationChange] = []
        client.on_registration_change(changes.append)
        sim._registered["agent1001"] = False  # the contact expired; the ContactStatus event was missed
        sim.emit_event("Reload", Module="res_pjsip.so", Status="0")
        await wait_for(lambda: client.registered("agent1001") is False)
        assert changes == [RegistrationChange("agent1001", False)]
