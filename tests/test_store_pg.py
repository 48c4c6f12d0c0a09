from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from callcore.errors import StoreError
from callcore.store.pg import (
    PrivateCluster,
    find_pg_bin,
    make_dsn,
    resolve_database,
    with_database,
)


def test_dsn_helpers() -> None:
    dsn = make_dsn(user="post gres", host="127.0.0.1", port=5433, database="a/b")
    assert dsn == "postgresql://post%20gres@127.0.0.1:5433/a%2Fb"
    assert with_database("postgresql://u:p@h:1/x?sslmode=disable", "y") == "postgresql://u:p@h:1/y?sslmode=disable"


async def test_configured_dsn_is_used_as_is() -> None:
    resolved = await resolve_database("postgresql://u@db.example:5432/cc", purpose="service")
    assert (resolved.dsn, resolved.how) == ("postgresql://u@db.example:5432/cc", "configured")
    await resolved.stop()


async def test_configured_dsn_must_be_postgresql() -> None:
    with pytest.raises(StoreError):
        await resolve_database("mysql://u@h/db", purpose="service")


def _have_binaries() -> bool:
    try:
        find_pg_bin()
    except Exception:
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


needs_binaries = pytest.mark.skipif(not _have_binaries(), reason="no PostgreSQL server binaries installed")


@needs_binaries
@pytest.mark.slow
def _world_traversable_dir() -> Path:
    base = Path(tempfile.mkdtemp(prefix="callcore-test-pg-"))
    base.chmod(0o755)
    return base


async def test_private_cluster_starts_restarts_and_stops() -> None:
    base = _world_traversable_dir()
    try:
        await _start_restart_stop(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def _start_restart_stop(base: Path) -> None:
    import asyncpg

    data_dir = base / "pgdata"
    cluster = PrivateCluster(data_dir)
    dsn = await cluster.start()
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
            assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        finally:
            await conn.close()
    finally:
        await cluster.stop()
    assert (data_dir / "PG_VERSION").exists()
    again = PrivateCluster(data_dir)
    dsn2 = await again.start()
    try:
        conn = await asyncpg.connect(dsn2)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == 42
        finally:
            await conn.close()
        # Already running: a second start finds it instead of starting another server.
        third = PrivateCluster(data_dir)
        assert await third.start() == dsn2
    finally:
        await again.stop()


@needs_binaries
@pytest.mark.slow
async def test_unreachable_data_directory_is_reported(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only meaningful when running as root (the cluster then runs as 'postgres')")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(StoreError, match="cannot reach"):
        await PrivateCluster(locked / "pgdata").start()


@needs_binaries
@pytest.mark.slow
async def test_throwaway_cluster_removes_its_directory() -> None:
    import asyncpg

    cluster = PrivateCluster(None, throwaway=True)
    dsn = await cluster.start()
    try:
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT current_user") == "postgres"
        await conn.close()
    finally:
        await cluster.stop()
    assert not cluster.data_dir.exists()


def test_free_ports_are_distinct_bindable_and_below_the_range_for_outgoing_connections() -> None:
    from callcore.store import pg

    low = pg._ephemeral_low()
    ports = [pg.free_port() for _ in range(30)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        # nothing connecting out can be handed one of them as its source port while their server is down
        assert pg._LOWEST_PORT <= port < low
        with socket.socket() as s:
            s.bind((pg.LOCAL_HOST, port))
