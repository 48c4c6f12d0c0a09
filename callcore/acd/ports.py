"""What the HTTP layer (operator and supervisor API) needs from the running ACD.

``callcore.acd.runtime.service.AcdService`` implements it on top of the pure core and ARI. Methods raise
``NotFound`` (unknown agent/queue/call), ``Conflict`` (state does not allow it, e.g. disposition
while not in wrap-up) or ``InputError`` (bad argument); the HTTP layer maps those to status codes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class AcdPort(Protocol):
    # --- operator ---------------------------------------------------------------------------------
    async def login(self, agent_id: str, *, endpoint: str | None = None) -> dict[str, Any]:
        """Log the agent in (ring mode unless a persistent session is connected); returns agent state."""
        ...

    async def logout(self, agent_id: str) -> dict[str, Any]: ...
    async def pause(self, agent_id: str, reason: str) -> dict[str, Any]: ...
    async def ready(self, agent_id: str) -> dict[str, Any]: ...
    def agent_state(self, agent_id: str) -> dict[str, Any]: ...

    def current_call(self, agent_id: str) -> dict[str, Any] | None:
        """caller number/name, queue, wait time, lead/caller data, rendered call script, call_id."""
        ...

    async def disposition(self, agent_id: str, code: str, notes: str = "",
                          callback_at: float | None = None) -> dict[str, Any]:
        """Record the outcome of the agent's last call; ends wrap-up."""
        ...

    async def transfer(self, agent_id: str, *, queue: str | None = None,
                       number: str | None = None) -> dict[str, Any]:
        """Blind transfer of the customer to another queue or an external/department number."""
        ...

    async def call_control(self, agent_id: str, action: str) -> dict[str, Any]:
        """hold (music to the caller) | resume | hangup of the agent's connected call."""
        ...

    async def consult(self, agent_id: str, *, number: str | None = None,
                      agent: str | None = None) -> dict[str, Any]:
        """Attended transfer: caller on hold, ring a number or a colleague (then call_control complete|return)."""
        ...

    async def dial(self, agent_id: str, *, number: str, queue: str, endpoint: str,
                   caller_id: str) -> dict[str, Any]:
        """Manual dial (guards already checked): the answered customer is connected to this agent."""
        ...

    def events(self, agent_id: str) -> AsyncIterator[dict[str, Any]]:
        """State changes and call offers for one agent (for SSE/websocket)."""
        ...

    # --- supervisor -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Queues (waiting calls, longest wait, counters, service level) and agents by state."""
        ...

    async def supervise(self, agent_id: str, mode: str, supervisor_endpoint: str) -> dict[str, Any]:
        """mode: listen | whisper | barge, via ARI snoop channels on the agent's call."""
        ...

    async def reload(self) -> None:
        """Re-read queues and agents from PostgreSQL and apply them without a restart."""
        ...
