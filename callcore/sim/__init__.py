"""A simulated Asterisk 22 speaking ARI over HTTP and websocket, for demos, tests and benchmarks."""

from callcore.sim.behaviour import EndpointBehaviour, Outcome
from callcore.sim.engine import Engine
from callcore.sim.server import SimAsterisk

__all__ = ["EndpointBehaviour", "Engine", "Outcome", "SimAsterisk"]
