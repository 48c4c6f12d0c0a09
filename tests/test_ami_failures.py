"""AMI connection failures are named: a peer that is not AMI says what it sent and is retried after >= 1 s; a
server that stops answering is a timeout every time it happens (in a rate-limited log)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest
import structlog

from callcore.ami import AmiClient
from callcore.ami import client as ami_client
from callcore.config import Secret, Settings


async def test_a_garbage_banner_is_named_and_retried_after_a_second() -> None:
    attempts: list[float] = []

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(time.monotonic())
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s = Settings().replace(ami_host="127.0.0.1", ami_port=port, ami_secret=Secret("x"), ami_timeout=1.0)
    client = AmiClient(s)
    try:
        await client.start()   # not logged in; retrying in the background
        assert client.last_error is not None and "HTTP/1.1 400" in client.last_error
        assert "None" not in client.last_error
        await asyncio.sleep(3.0)   # two more attempts (backoff 1-1.25 s, then 2-2.5 s) would not fit in less
        assert len(attempts) >= 2
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert min(gaps) >= 1.0, gaps
        assert client.last_error is not None and "HTTP/1.1 400" in client.last_error
    finally:
        await client.stop()
        server.close()
        await server.wait_closed()


async def test_a_silent_server_is_a_timeout_every_time_in_a_rate_limited_log(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")   # a banner, then never an answer
        await writer.drain()
        await asyncio.sleep(30)

    monkeypatch.setattr(ami_client, "BACKOFF_START", 0.01)
    monkeypatch.setattr(ami_client, "FAILURE_LOG_EVERY", 0.3)
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s = Settings().replace(ami_host="127.0.0.1", ami_port=port, ami_secret=Secret("x"), ami_timeout=0.1)
    client = AmiClient(s, backoff_max=0.02)
    logged: list[dict[str, Any]] = []

    def capture(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        if event.get("event") == "ami.connect_failed":
            logged.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(processors=[capture])
    try:
        await client.start()
        assert client.last_error is not None and "timeout" in client.last_error
        await asyncio.sleep(1.2)
    finally:
        await client.stop()
        server.close()
        structlog.reset_defaults()
    assert logged and all(e["reason"] == "timeout" for e in logged)
    assert 2 <= len(logged) <= 6, logged                      # rate-limited, but not once only
    assert sum(e["attempts"] for e in logged) >= len(logged)  # attempts between lines are counted
    assert client.last_error is not None and "timeout" in client.last_error
