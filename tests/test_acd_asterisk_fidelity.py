"""Paths where Asterisk 22 is stricter than a forgiving fake: supervision ids, session resync, bridging
failures. Driven through FakeAri, which refuses what Asterisk refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from acd_rig import Rig

from callcore.acd.core.model import AgentConfig, QueueConfig
from callcore.acd.runtime.service import AcdService
from callcore.ari.fake import FakeAri


def agents(*ids: str) -> list[AgentConfig]:
    return [AgentConfig(a, a.upper(), f"PJSIP/agent{a}", memberships={"sales": 0}) for a in ids]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig([QueueConfig("sales", wrapup_time=10)], agents("1001", "1002"))
    r.start()
    yield r
    await r.stop()


async def connect_call(rig: Rig, agent: str = "1001") -> tuple[str, str]:
    await rig.svc.login(agent)
    cid = rig.fake.inject_call("+15550001")
    await rig.settle()
    (leg,) = rig.originated()
    rig.fake.answer_originated(leg)
    await rig.settle()
    assert rig.svc.agent_state(agent)["state"] == "on_call"
    return cid, leg


def snoops(fake: FakeAri) -> list[str]:
    return [c.id for c in fake.channels.values() if c.name.startswith("Snoop/")]


@pytest.mark.parametrize("mode", ["listen", "whisper"])
async def test_supervisor_leg_is_originated_beside_its_snoop(rig: Rig, mode: str) -> None:
    cid, _ = await connect_call(rig)
    sup = (await rig.svc.supervise("1001", mode, "PJSIP/sup1"))["leg_id"]
    await rig.settle()
    assert sup in rig.fake.channels, "Asterisk accepted the supervisor's channel id"
    (snoop,) = snoops(rig.fake)
    assert not snoop.lower().startswith(sup.lower()) and not sup.lower().startswith(snoop.lower())
    rig.fake.answer_originated(sup)
    await rig.settle()
    assert set(rig.fake.bridges[f"callcore-sup-{sup}"].channels) == {snoop, sup}
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert sup not in rig.fake.channels and not snoops(rig.fake)
    assert f"callcore-sup-{sup}" not in rig.fake.bridges


async def test_refused_supervisor_leg_is_journaled_and_leaves_no_snoop(rig: Rig) -> None:
    from callcore.errors import AriConflict
    cid, leg = await connect_call(rig)
    rig.fake.fail_next("originate", AriConflict("Channel with given unique ID already exists", status=409))
    sup = (await rig.svc.supervise("1001", "listen", "PJSIP/sup1"))["leg_id"]
    await rig.settle()
    failed = [e for e in rig.journal.events if e.type == "call.supervision_failed"]
    assert [(e.payload["leg_id"], e.call_id) for e in failed] == [(sup, cid)]
    assert not snoops(rig.fake) and f"callcore-sup-{sup}" not in rig.fake.bridges
    assert not rig.svc.engine.state.supervisors
    assert rig.svc.agent_state("1001")["state"] == "on_call" and leg in rig.fake.channels


async def test_supervisor_leg_id_clashing_by_prefix_is_refused_and_journaled(rig: Rig) -> None:
    """Asterisk takes a requested channel id as used when a live channel's uniqueid begins with it, and
    answers 409 "Channel with given unique ID already exists" as for an exact duplicate: the supervision
    fails visibly, whatever the clash."""
    cid, leg = await connect_call(rig)
    clash = rig.fake.inject_call("+15550002", channel_id=f"sup-1001-{int(rig.clock.now())}-10")
    await rig.settle()
    sup = (await rig.svc.supervise("1001", "listen", "PJSIP/sup1"))["leg_id"]
    assert clash.startswith(sup)
    await rig.settle()
    failed = [e for e in rig.journal.events if e.type == "call.supervision_failed"]
    assert [(e.payload["leg_id"], e.call_id) for e in failed] == [(sup, cid)]
    assert failed[0].payload["cause"] == "refused-409"
    assert sup not in rig.fake.channels and not snoops(rig.fake) and not rig.svc.engine.state.supervisors
    assert rig.svc.agent_state("1001")["state"] == "on_call" and leg in rig.fake.channels


async def test_unanswered_supervisor_leg_tears_down_snoop(rig: Rig) -> None:
    await connect_call(rig)
    sup = (await rig.svc.supervise("1001", "whisper", "PJSIP/sup1"))["leg_id"]
    await rig.settle()
    assert snoops(rig.fake)
    rig.fake.fail_originated(sup, 19)
    await rig.settle()
    assert not snoops(rig.fake) and f"callcore-sup-{sup}" not in rig.fake.bridges
    assert [e.payload["cause"] for e in rig.journal.events if e.type == "call.supervision_failed"]


async def test_session_call_end_tears_down_supervision(rig: Rig) -> None:
    await rig.svc.login("1001")
    session = rig.fake.inject_call("agent1001", args=("agent-login", "agent1001"))
    await rig.settle()
    assert rig.svc.engine.state.agents["1001"].session_channel == session
    cid = rig.fake.inject_call("+15550001")
    await rig.settle()
    assert rig.svc.agent_state("1001")["state"] == "on_call"
    sup = (await rig.svc.supervise("1001", "listen", "PJSIP/sup1"))["leg_id"]
    await rig.settle()
    rig.fake.answer_originated(sup)
    await rig.settle()
    (snoop,) = snoops(rig.fake)
    assert set(rig.fake.bridges[f"callcore-sup-{sup}"].channels) == {snoop, sup}
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert session in rig.fake.channels, "the operator's session stays"
    assert sup not in rig.fake.channels and not snoops(rig.fake)
    assert f"callcore-sup-{sup}" not in rig.fake.bridges


async def session_on_call(rig: Rig) -> tuple[str, str]:
    """Operator 1001 dialled *55 from phone agent1001 (the dialplan passes the endpoint name) and talks to a
    caller through the session bridge."""
    session = rig.fake.inject_call("agent1001", args=("agent-login", "agent1001"))
    await rig.settle()
    cid = rig.fake.inject_call("+15550001")
    await rig.settle()
    assert rig.svc.agent_state("1001")["state"] == "on_call"
    assert set(rig.fake.bridges["callcore-agent-1001"].channels) == {session, cid}
    return session, cid


async def test_session_by_endpoint_name_survives_a_websocket_drop(rig: Rig) -> None:
    session, cid = await session_on_call(rig)
    rig.fake.reconnect()
    await rig.settle()
    assert session in rig.fake.channels and cid in rig.fake.channels
    assert set(rig.fake.bridges["callcore-agent-1001"].channels) == {session, cid}
    assert rig.svc.agent_state("1001")["state"] == "on_call"
    assert (rig.svc.current_call("1001") or {}).get("call_id") == cid
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert rig.svc.agent_state("1001")["state"] == "wrap_up"
    assert rig.fake.bridges["callcore-agent-1001"].channels == [session]


async def test_session_by_endpoint_name_survives_a_service_restart(rig: Rig) -> None:
    from callcore.acd.core.events import PersistedAgent
    session, cid = await session_on_call(rig)
    await rig.stop()
    # a new process: same Asterisk, agent states from the store, the snapshot on connect
    rig.svc = AcdService(rig.fake, rig.journal, rig.clock, [QueueConfig("sales", wrapup_time=10)],
                         agents("1001", "1002"))
    rig.svc.restore([PersistedAgent("1001", "on_call", endpoint="PJSIP/agent1001")])
    rig.start()
    rig.fake.reconnect()
    await rig.settle()
    assert session in rig.fake.channels and cid in rig.fake.channels
    assert set(rig.fake.bridges["callcore-agent-1001"].channels) == {session, cid}
    assert rig.svc.agent_state("1001")["state"] == "on_call"
    assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 0
    assert len(rig.originated()) == 0, "nobody is rung for a caller who is still talking"
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert rig.svc.agent_state("1001")["state"] == "wrap_up"
    assert rig.fake.bridges["callcore-agent-1001"].channels == [session]



async def test_restart_after_the_session_ended_leaves_no_session_bridge(rig: Rig) -> None:
    from callcore.acd.core.events import PersistedAgent
    session, cid = await session_on_call(rig)
    sup = (await rig.svc.supervise("1001", "listen", "PJSIP/sup1"))["leg_id"]
    await rig.settle()
    rig.fake.answer_originated(sup)
    await rig.settle()
    await rig.stop()
    rig.fake.remote_hangup(session)  # while callcore is down
    rig.svc = AcdService(rig.fake, rig.journal, rig.clock, [QueueConfig("sales", wrapup_time=10)],
                         agents("1001", "1002"))
    rig.svc.restore([PersistedAgent("1001", "on_call", endpoint="PJSIP/agent1001")])
    rig.start()
    rig.fake.reconnect()
    await rig.settle()
    assert not [b for b in rig.fake.bridges if b.startswith(("callcore-agent-", "callcore-sup-"))]
    assert not snoops(rig.fake)
    assert rig.svc.snapshot()["queues"]["sales"]["waiting"] == 1, "the caller waits for the next operator"
    assert cid in rig.fake.channels


async def test_caller_hanging_up_from_a_session_bridge_is_not_an_ari_failure(rig: Rig) -> None:
    session, cid = await session_on_call(rig)
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert rig.svc.runtime.ari_errors == 0
    assert rig.fake.bridges["callcore-agent-1001"].channels == [session]
    assert rig.svc.agent_state("1001")["state"] == "wrap_up"


async def test_removing_a_channel_that_already_left_counts_as_gone(rig: Rig) -> None:
    from callcore.errors import AriBadRequest
    await session_on_call(rig)
    # the caller hangs up while the transfer is being carried out: Asterisk answers 400, not 404
    rig.fake.fail_next("remove_channel", AriBadRequest("Channel not found", status=400))
    await rig.svc.transfer("1001", queue="sales")
    await rig.settle()
    assert rig.fake.calls_to("remove_channel")
    assert rig.svc.runtime.ari_errors == 0


def journaled(rig: Rig, type_: str) -> list[str | None]:
    return [e.agent_id for e in rig.journal.events if e.type == type_]


async def ring_and_answer(rig: Rig) -> tuple[str, str]:
    await rig.svc.login("1001")
    await rig.svc.login("1002")
    cid = rig.fake.inject_call("+15550001")
    await rig.settle()
    (leg,) = rig.originated()
    return cid, leg


async def test_agent_leg_gone_before_the_bridge_requeues_the_caller(rig: Rig) -> None:
    cid, leg = await ring_and_answer(rig)
    agent = rig.svc.engine.state.calls[cid].legs[leg]
    rig.fake.answer_originated(leg)
    rig.fake.remote_hangup(leg)  # the agent's phone drops 200 ms after its ACK, before AddToBridge
    await rig.settle()
    assert journaled(rig, "call.answered") == []
    assert journaled(rig, "call.bridge_failed") == [agent]
    assert [e.payload["why"] for e in rig.journal.events if e.type == "call.requeued"] == ["agent-gone-before-bridge"]
    assert rig.journal.types().count("call.queued") == 1, "back in line, not a second entry"
    assert rig.svc.agent_state(agent)["misses"] == 1
    call = rig.svc.engine.state.calls[cid]
    assert call.status == "waiting" and rig.fake.moh.get(cid)
    # the caller is offered at once to the other operator, and answered only once bridged
    (_, leg2) = rig.originated()
    other = call.legs[leg2]
    assert other != agent
    rig.fake.answer_originated(leg2)
    await rig.settle()
    assert set(rig.fake.bridges[f"callcore-{cid}"].channels) == {cid, leg2}
    assert journaled(rig, "call.answered") == [other]
    assert rig.svc.snapshot()["queues"]["sales"]["answered"] == 1


async def test_refused_bridge_then_agent_stasis_end_requeues_the_caller(rig: Rig) -> None:
    from callcore.errors import AriUnprocessable
    cid, leg = await ring_and_answer(rig)
    rig.fake.fail_next("add_channel", AriUnprocessable("Channel not in Stasis application", status=422))
    rig.fake.answer_originated(leg)
    await rig.settle()
    assert journaled(rig, "call.answered") == [] and rig.svc.engine.state.calls[cid].status == "connected"
    rig.fake.remote_hangup(leg)
    await rig.settle()
    assert rig.svc.engine.state.calls[cid].status == "waiting"
    assert journaled(rig, "call.answered") == [] and len(journaled(rig, "call.bridge_failed")) == 1
    assert rig.svc.runtime.ari_errors == 0


async def test_refused_bridge_with_no_party_reported_gone_is_given_up(rig: Rig) -> None:
    from callcore.errors import AriBadRequest
    cid, leg = await ring_and_answer(rig)
    rig.fake.fail_next("add_channel", AriBadRequest("Channel not found", status=400))
    rig.fake.answer_originated(leg)
    await rig.settle()
    assert f"bridge:{cid}" in rig.svc.runtime.pending_timers()
    rig.clock.advance(2)
    rig.svc.runtime.fire(f"bridge:{cid}")
    await rig.settle()
    assert leg not in rig.fake.channels, "the agent's leg is not left open"
    assert journaled(rig, "call.answered") == []
    assert rig.svc.engine.state.calls[cid].status == "waiting"
    assert len(rig.originated()) == 2, "the caller is offered again"


async def test_caller_gone_before_the_bridge_is_an_abandon(rig: Rig) -> None:
    cid, leg = await ring_and_answer(rig)
    agent = rig.svc.engine.state.calls[cid].legs[leg]
    rig.fake.answer_originated(leg)
    rig.fake.remote_hangup(cid)
    await rig.settle()
    assert journaled(rig, "call.answered") == [] and journaled(rig, "call.ended") == []
    assert [e.payload["why"] for e in rig.journal.events if e.type == "call.abandoned"] == ["hangup-before-bridge"]
    assert leg not in rig.fake.channels
    assert rig.svc.agent_state(agent)["state"] == "available"
    snap = rig.svc.snapshot()["queues"]["sales"]
    assert snap["abandoned"] == 1 and snap["answered"] == 0


async def test_session_caller_is_answered_once_in_the_session_bridge(rig: Rig) -> None:
    await session_on_call(rig)
    assert len(journaled(rig, "call.answered")) == 1


async def test_calls_cut_by_a_crash_end_when_last_known_alive(rig: Rig) -> None:
    cid, _ = await connect_call(rig)
    waiting = rig.fake.inject_call("+15550002")
    await rig.settle()
    rig.clock.advance(60)                       # a minute of conversation
    rig.fake.disconnect("asterisk crashed")     # the websocket drops with Asterisk
    crashed_at = rig.clock.now()
    await rig.settle()
    for ch in (cid, waiting):                   # Asterisk comes back without them
        rig.fake.forget_channel(ch)
    rig.clock.advance(45)
    rig.fake.reconnect()
    await rig.settle()
    (ended,) = [e for e in rig.journal.events if e.type == "call.ended"]
    assert ended.payload["talk"] == pytest.approx(60) and ended.payload["ended_at"] == crashed_at
    (gone,) = [e for e in rig.journal.events if e.type == "call.abandoned"]
    assert gone.payload["ended_at"] == crashed_at and gone.payload["wait"] == pytest.approx(60)


async def shutdown(rig: Rig, *channels: str) -> None:
    """``core stop now``: ChannelHangupRequest(cause 4, soft), bridges left, StasisEnd, then the socket drops."""
    from callcore.ari import events as E
    for ch in channels:
        rig.fake._publish(E.ChannelHangupRequest(channel=rig.fake.channels[ch], cause=4, soft=True,
                                                 **rig.fake.base()))
    for ch in channels:
        rig.fake._destroy(ch, cause=16, request=None)
    await rig.settle()


async def test_calls_hung_up_by_an_asterisk_shutdown_are_neither_hangups_nor_abandons(rig: Rig) -> None:
    cid, leg = await connect_call(rig)
    waiting = rig.fake.inject_call("+15550002")
    await rig.settle()
    await shutdown(rig, waiting, cid, leg)
    types = rig.journal.types()
    assert "call.abandoned" not in types
    (closed,) = [e for e in rig.journal.events if e.type == "call.closed"]
    assert closed.call_id == waiting and closed.payload["outcome"] == "asterisk-shutdown"
    (ended,) = [e for e in rig.journal.events if e.type == "call.ended"]
    assert ended.call_id == cid and ended.payload["why"] == "asterisk-shutdown"
    assert rig.svc.snapshot()["queues"]["sales"]["abandoned"] == 0


async def test_ringing_agent_is_not_charged_a_miss_by_an_asterisk_shutdown(rig: Rig) -> None:
    await rig.svc.login("1001")
    cid = rig.fake.inject_call("+15550001")
    await rig.settle()
    (leg,) = rig.originated()
    await shutdown(rig, cid, leg)
    assert rig.svc.agent_state("1001")["misses"] == 0
    assert [e.payload["outcome"] for e in rig.journal.events if e.type == "call.closed"] == ["asterisk-shutdown"]


async def test_supervisor_endpoint_that_asterisk_cannot_dial_is_refused_at_once(rig: Rig) -> None:
    from callcore.errors import InputError
    await connect_call(rig)
    with pytest.raises(InputError):
        await rig.svc.supervise("1001", "listen", "sup1")
    await rig.settle()
    assert not snoops(rig.fake) and not rig.svc.engine.state.supervisors
