"""The simulated Asterisk is as strict as Asterisk 22: held simulated time, subscription semantics,
the uniqueid prefix rule and early-media hang-ups."""

from __future__ import annotations

import asyncio

from callcore.sim.core import LoopScheduler


async def test_held_time_moves_only_when_advanced() -> None:
    sched = LoopScheduler(time_scale=1000.0)
    ran: list[str] = []
    sched.hold()
    sched.later(0.0, lambda: ran.append("now"))
    sched.later(0.5, lambda: ran.append("half"))
    dropped = sched.later(2.0, lambda: ran.append("dropped"))
    sched.later(3.0, lambda: ran.append("late"))
    await asyncio.sleep(0.02)  # 20 simulated seconds of loop time: nothing runs while held
    assert ran == []
    sched.advance(0.4)
    assert ran == ["now"]
    sched.advance(0.1)
    assert ran == ["now", "half"]
    dropped.cancel()
    sched.release()
    assert not sched.held and ran == ["now", "half"]  # the rest keeps its remaining 2.5 s delay
    for _ in range(200):
        if len(ran) == 3:
            break
        await asyncio.sleep(0.005)
    assert ran == ["now", "half", "late"]
    done: list[str] = []
    sched.later(0.0, lambda: done.append("free"))  # released: back on the loop
    await asyncio.sleep(0.01)
    assert done == ["free"]
