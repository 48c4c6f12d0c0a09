"""panoramisk's AMIProtocol with its faults fixed in place.

Overridden: ``data_received`` (per-chunk decoding lost UTF-8 split across chunks -> incremental decoder),
``send`` (no CR/LF check -> every header checked, AmiError naming it), ``handle_message`` (dispatch to our
client instead of panoramisk's Manager) and ``connection_lost``/``close`` (unanswered actions were queued
for re-sending after a reconnect -> every pending action fails with AmiUnavailable, nothing is re-sent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from callcore.ami.wire import AmiProtocolError, FrameDecoder, encode_action
from callcore.errors import AmiError, Unavailable


class AmiUnavailable(AmiError, Unavailable):
    """AMI is not connected (or the connection dropped while an action waited for its answer)."""


class AmiTimeout(AmiError):
    """An AMI action got no complete answer in time."""


class CallcoreAmiProtocol(AMIProtocol):  # type: ignore[misc]
    closed: bool
    transport: Any
    responses: dict[str, Any]
    def __init__(self, on_event: Callable[[Message], None], on_lost: Callable[[Exception | None], None],
                 on_banner: Callable[[str], None]) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_banner = on_banner
        self._decoder = FrameDecoder()
        self.protocol_error: Exception | None = None   # why we hung up: the peer does not speak AMI

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        had_banner = self._decoder.banner is not None
        try:
            messages = self._decoder.feed(data)
        except AmiProtocolError as exc:
            self.protocol_error = exc
            self._fail_pending(exc)
            self.transport.abort()
            return
        if not had_banner and self._decoder.banner is not None:
            self.version = self._decoder.banner
            self._on_banner(self._decoder.banner)
        for message in messages:
            self.handle_message(message)

    def send(self, data: Any, as_list: bool | None = None) -> asyncio.Future[Any]:
        if self.closed:
            raise AmiUnavailable("AMI connection is closed")
        action = data if isinstance(data, Action) else Action(dict(data), as_list=as_list)
        if as_list is not None:
            action.as_list = as_list
        payload = encode_action(action.items())  # raises AmiError on CR/LF before anything is sent
        self.responses[action.id] = action
        self.transport.write(payload)
        future: asyncio.Future[Any] = action.future
        return future

    def handle_message(self, message: Message) -> None:
        action = self.responses.get(message.id) if message.id else None
        if action is not None:
            if action.add_message(message):
                self.responses.pop(action.id, None)
            return
        if "event" in message:
            self._on_event(message)

    def forget(self, action_id: str) -> None:
        self.responses.pop(action_id, None)

    def _fail_pending(self, exc: Exception | None) -> None:
        pending = list(self.responses.values())
        self.responses.clear()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(AmiUnavailable(
                    f"AMI connection lost before {action.get('Action', '?')} was answered"
                    + (f" ({exc})" if exc else "") + "; it was not re-sent"))

    def connection_lost(self, exc: Exception | None) -> None:
        first = not self.closed
        self.closed = True
        self._fail_pending(exc)
        if first:
            self._on_lost(exc or self.protocol_error)

    def close(self) -> None:
        self._fail_pending(None)
        if not self.closed:
            self.closed = True
            self.transport.close()
