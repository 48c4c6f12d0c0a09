"""Finding (or starting) a PostgreSQL server, and creating connection pools.

Order of resolution (``resolve_database``):

1. the configured DSN (``CALLCORE_DATABASE_URL``) when given;
2. a local server on 127.0.0.1:5432 with trust authentication, as user ``postgres``, then ``root``, then the
   current user; for ``purpose="service"`` the database ``callcore`` is created there if missing;
3. a private cluster started from the machine's PostgreSQL binaries (``/usr/lib/postgresql/*/bin``) in a data
   directory of its own, on a free port, with a unix socket directory of its own. As root, ``initdb`` and
   ``pg_ctl`` run as the unprivileged ``postgres`` user.

Nothing else is ever used in place of PostgreSQL. Every subprocess runs through asyncio.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import random
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import structlog

from callcore.errors import StoreError, Unavailable

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

Purpose = Literal["service", "test"]
LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5432
SERVICE_DATABASE = "callcore"
SERVICE_DATA_DIR = Path(".callcore/pgdata")
CONNECT_TIMEOUT = 3.0


@dataclass
class ResolvedDatabase:
    """Where the database is and how it was found.

    ``how`` is ``"configured"``, ``"local-server"`` or ``"private-cluster"``; ``detail`` is a sentence for
    logs and status pages (no password). ``stop()`` stops a private cluster this process started (a no-op
    otherwise).
    """

    dsn: str
    how: str
    detail: str
    _stopper: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    async def stop(self) -> None:
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            await stopper()


def make_dsn(*, user: str, host: str, port: int, database: str) -> str:
    return f"postgresql://{quote(user, safe='')}@{host}:{port}/{quote(database, safe='')}"


def with_database(dsn: str, database: str) -> str:
    """The same DSN pointing at another database."""
    parts = urlsplit(dsn)
    path = "/" + quote(database, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _try_connect(dsn: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


async def ensure_database(admin_dsn: str, database: str) -> str:
    """Create ``database`` on the server of ``admin_dsn`` if missing; return its DSN."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=CONNECT_TIMEOUT)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f"CREATE DATABASE {quote_ident(database)}")
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()
    return with_database(admin_dsn, database)


async def resolve_database(settings_dsn: str, *, purpose: Purpose = "service",
                           data_dir: Path | None = None, try_local: bool = True) -> ResolvedDatabase:
    """Find a PostgreSQL server (see the module doc).

    ``purpose="service"`` returns the DSN of database ``callcore`` (created when missing) and keeps a private
    cluster in ``data_dir`` (default ``.callcore/pgdata``) across runs. ``purpose="test"`` returns an admin
    DSN (database ``postgres``) and puts a private cluster in a throwaway directory removed by ``stop()``.
    ``try_local=False`` skips the local server and goes straight to a private cluster.
    """
    if settings_dsn:
        if urlsplit(settings_dsn).scheme not in ("postgres", "postgresql"):
            raise StoreError("the database URL must start with postgresql://")
        resolved = ResolvedDatabase(settings_dsn, "configured", "using the configured database URL")
        log.info("database_resolved", how=resolved.how, detail=resolved.detail, purpose=purpose)
        return resolved
    users: list[str] = []
    for user in ("postgres", "root", getpass.getuser()):
        if user not in users:
            users.append(user)
    for user in users if try_local else []:
        admin = make_dsn(user=user, host=LOCAL_HOST, port=LOCAL_PORT, database="postgres")
        if await _try_connect(admin):
            dsn = admin if purpose == "test" else await ensure_database(admin, SERVICE_DATABASE)
            resolved = ResolvedDatabase(
                dsn, "local-server",
                f"using the PostgreSQL server on {LOCAL_HOST}:{LOCAL_PORT} as user {user!r}"
                + ("" if purpose == "test" else f", database {SERVICE_DATABASE!r}"))
            log.info("database_resolved", how=resolved.how, detail=resolved.detail, purpose=purpose)
            return resolved
    cluster = PrivateCluster(data_dir or (SERVICE_DATA_DIR if purpose == "service" else None),
                             throwaway=purpose == "test" and data_dir is None)
    admin = await cluster.start()
    dsn = admin if purpose == "test" else await ensure_database(admin, SERVICE_DATABASE)
    why = (f"no PostgreSQL server answered on {LOCAL_HOST}:{LOCAL_PORT}" if try_local
           else "local server skipped")
    resolved = ResolvedDatabase(
        dsn, "private-cluster",
        f"{why}; started a private cluster (PostgreSQL {cluster.version}) in {cluster.data_dir} "
        f"on port {cluster.port}",
        cluster.stop)
    log.warning("database_resolved", how=resolved.how, detail=resolved.detail, purpose=purpose)
    return resolved


def find_pg_bin() -> Path:
    """Directory of the newest installed PostgreSQL server binaries."""
    candidates = []
    for d in Path("/usr/lib/postgresql").glob("*/bin"):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            try:
                candidates.append((int(d.parent.name.split(".")[0]), d))
            except ValueError:
                continue
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise Unavailable("no PostgreSQL server answered on 127.0.0.1:5432, no CALLCORE_DATABASE_URL is set, "
                      "and no PostgreSQL binaries (initdb, pg_ctl) were found to start a private cluster")


_PORTS_GIVEN: set[int] = set()
_LOWEST_PORT = 10_000


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux default 32768)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOCAL_HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free TCP port on ``LOCAL_HOST`` for a server of our own (a private PostgreSQL cluster, a simulator),
    never the same twice in this process.

    Taken below the kernel's range for outgoing connections: a server that is stopped and started again on
    its port (a PostgreSQL outage, a restarted service) would otherwise find it taken by some connection's
    local end, above all by a client retrying to reach the stopped server, which the kernel can connect to
    itself when it picks that very port as the source. Random (from the OS, not the ``random`` module's
    seed) so that processes do not all try the same ports."""
    low = _ephemeral_low()
    pick = random.SystemRandom()
    if low - _LOWEST_PORT >= 1000:
        for _ in range(200):
            port = pick.randrange(_LOWEST_PORT, low)
            if port not in _PORTS_GIVEN and _bindable(port):
                _PORTS_GIVEN.add(port)
                return port
    while True:  # no room below the range: any free port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOCAL_HOST, 0))
            port = int(s.getsockname()[1])
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


async def run(argv: list[str], *, check: bool = True) -> tuple[int, str]:
    """Run a command without blocking the loop; (exit code, combined output)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    text = out.decode("utf-8", "replace")
    code = proc.returncode if proc.returncode is not None else -1
    if check and code != 0:
        raise StoreError(f"{' '.join(argv)} failed with exit code {code}: {text.strip()[-2000:]}")
    return code, text


class PrivateCluster:
    """A PostgreSQL cluster owned by this process (initdb + pg_ctl)."""

    def __init__(self, data_dir: Path | None, *, throwaway: bool = False) -> None:
        self.bin = find_pg_bin()
        self.version = self.bin.parent.name
        self.throwaway = throwaway or data_dir is None
        self._root = Path(tempfile.mkdtemp(prefix="callcore-pg-")) if data_dir is None else None
        self.data_dir = (self._root / "data") if self._root is not None else data_dir.resolve()  # type: ignore[union-attr]
        self.socket_dir = Path(tempfile.mkdtemp(prefix="ccpg-"))
        self.port = 0
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"
        self._as_root = os.geteuid() == 0

    def _cmd(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin / tool), *args]
        return ["runuser", "-u", "postgres", "--", *argv] if self._as_root else argv

    async def _chown(self, *paths: Path) -> None:
        if self._as_root:
            await run(["chown", "-R", "postgres:postgres", *map(str, paths)])

    async def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            await self._chown(self.socket_dir)
            if self._root is not None:
                await self._chown(self._root)
        if self._as_root:
            code, _ = await run(["runuser", "-u", "postgres", "--", "test", "-x", str(self.data_dir.parent)],
                                check=False)
            if code != 0:
                raise StoreError(f"cannot start a private PostgreSQL cluster in {self.data_dir}: the "
                                 "'postgres' user cannot reach that directory (check the permissions of "
                                 "its parents, or set CALLCORE_DATABASE_URL)")
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)
            await self._chown(self.data_dir)
            sync = ["--no-sync"] if self.throwaway else []
            await run(self._cmd("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                                "-E", "UTF8", "--locale=C.UTF-8", *sync))
        running = await self._running_port()
        if running:
            self.port = running
        else:
            self.port = free_port()
            if not self.log_file.exists():
                self.log_file.touch()
            await self._chown(self.log_file)
            options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses={LOCAL_HOST}"
                       + (" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                          if self.throwaway else ""))
            await run(self._cmd("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
                                "-w", "-t", "60", "start"))
        log.info("private_cluster_running", data_dir=str(self.data_dir), port=self.port,
                 socket_dir=str(self.socket_dir))
        return make_dsn(user="postgres", host=LOCAL_HOST, port=self.port, database="postgres")

    async def _running_port(self) -> int:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return 0
        code, _ = await run(self._cmd("pg_ctl", "-D", str(self.data_dir), "status"), check=False)
        if code != 0:
            return 0
        lines = pid_file.read_text().splitlines()
        try:
            return int(lines[3])
        except (IndexError, ValueError):
            return 0

    async def stop(self) -> None:
        await run(self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"), check=False)
        log.info("private_cluster_stopped", data_dir=str(self.data_dir))
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        if self.throwaway and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


async def _init_connection(conn: Any) -> None:
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str, *, connect_timeout: float = CONNECT_TIMEOUT) -> asyncpg.Connection:
    """One connection with the json/jsonb codecs registered."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=connect_timeout)
    await _init_connection(conn)
    return conn


async def create_pool(dsn: str, size: int, *, lazy: bool = False) -> asyncpg.Pool:
    """An asyncpg pool of at most ``size`` connections; json/jsonb map to Python objects. ``lazy``: open
    no connection now (the pool then exists while PostgreSQL is down, and connects when first used)."""
    import asyncpg

    return await asyncpg.create_pool(dsn, min_size=0 if lazy else min(1, size), max_size=max(1, size),
                                     init=_init_connection, timeout=CONNECT_TIMEOUT)
