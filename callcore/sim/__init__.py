"""A simulated Asterisk 22 speaking ARI over HTTP and websocket, for demos, tests and benchmarks.

    async with SimAsterisk(port=0, seed=1, time_scale=10.0, agents=["PJSIP/1001"]) as sim:
        sim.set_endpoint("PJSIP/1001", EndpointBehaviour(answer_delay=(0.5, 1.5)))
        sim.set_endpoint("PJSIP/*@trunk", EndpointBehaviour(p_answer=0.7, p_busy=0.1, talk_time=(30, 90)))
        cid = await sim.inject_call(queue="sales", caller_number="+15551230001", patience=30.0)
        login = await sim.inject_agent_login("PJSIP/1001")  # *55: Stasis(callcore,agent-login,1001)
        other = await sim.inject_call(args=["agent-login", "1002"], context="agents", endpoint="PJSIP/1001")

``restart(down_for)`` models ``core stop now``: new connections are refused and requests on open ones
get 503 until it is up again.

``Engine`` is the same Asterisk without the network (drive it with ``core.VirtualScheduler`` and a
``ManualClock``); ``SimAsterisk`` serves it under ``/ari`` plus a JSON control API under ``/_sim``.
"""

from callcore.sim.behaviour import EndpointBehaviour, Outcome
from callcore.sim.engine import Engine
from callcore.sim.server import SimAsterisk

__all__ = ["EndpointBehaviour", "Engine", "Outcome", "SimAsterisk"]
