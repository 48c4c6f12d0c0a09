"""All local state under one directory (CALLCORE_STATE_DIR), which the image declares as its one volume.

A re-created container keeps only its volumes: the configuration cache and the journal spill must both
live there so that a new container with PostgreSQL down still routes calls from the cache.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest
from pgproxy import Proxy
from test_deploy_compose import parse_yaml
from test_deploy_docker import DOCKERFILE, stages
from test_service_runtime import seed, start, until

from callcore.config import Settings, load_settings
from callcore.sim import EndpointBehaviour, SimAsterisk

REPO = Path(__file__).resolve().parents[1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stages(DOCKERFILE.read_text())[1][-1].args("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            env[key] = value
    return env


def image_volumes() -> list[str]:
    import json

    out: list[str] = []
    for args in stages(DOCKERFILE.read_text())[1][-1].args("VOLUME"):
        out += json.loads(args) if args.startswith("[") else args.split()
    return out


def test_defaults_keep_everything_under_the_state_dir() -> None:
    s = Settings()
    assert s.state_path == Path(".callcore")
    assert Path(s.journal_spill_dir) == Path(".callcore/spill")
    assert s.config_cache_path == Path(".callcore/config-cache.json")


def test_state_dir_moves_spill_and_cache_together() -> None:
    s = load_settings({"CALLCORE_STATE_DIR": "/srv/cc"})
    assert Path(s.journal_spill_dir) == Path("/srv/cc/spill")
    assert s.config_cache_path == Path("/srv/cc/config-cache.json")


def test_replacing_the_spill_dir_moves_the_derived_cache_with_it(tmp_path: Path) -> None:
    s = load_settings({}).replace(journal_spill_dir=str(tmp_path / "spill"))
    assert s.config_cache_path == tmp_path / "config-cache.json"


def test_older_setups_with_only_a_spill_dir_keep_the_cache_beside_it() -> None:
    s = load_settings({"CALLCORE_JOURNAL_SPILL_DIR": "/data/spill"})
    assert s.state_path == Path("/data") and s.config_cache_path == Path("/data/config-cache.json")
    both = load_settings({"CALLCORE_JOURNAL_SPILL_DIR": "/fast/spill", "CALLCORE_STATE_DIR": "/srv/cc"})
    assert both.journal_spill_dir == "/fast/spill" and both.config_cache_path == Path("/srv/cc/config-cache.json")


def test_image_settings_put_every_state_file_on_the_one_declared_volume() -> None:
    env = image_env()
    volumes = image_volumes()
    assert volumes == ["/var/lib/callcore"], f"one state volume expected, the image declares {volumes}"
    s = load_settings({k: v for k, v in env.items() if k.startswith("CALLCORE_")})
    root = PurePosixPath(volumes[0])
    for path in (s.journal_spill_dir, str(s.config_cache_path), str(s.state_path)):
        assert PurePosixPath(path).is_relative_to(root), f"{path} is outside the volume {root}"
    # the image's runtime user owns the state directory it creates
    runs = " ".join(stages(DOCKERFILE.read_text())[1][-1].args("RUN"))
    assert "mkdir -p /var/lib/callcore" in runs and "chown -R callcore:callcore /var/lib/callcore" in runs


def test_compose_mounts_a_named_volume_on_the_state_dir() -> None:
    compose = parse_yaml((REPO / "deploy" / "compose.yaml").read_text())
    svc = compose["services"]["callcore"]
    env = {k: str(v) for k, v in svc.get("environment", {}).items()}
    s = load_settings({**{k: v for k, v in image_env().items() if k.startswith("CALLCORE_")},
                       **{k: v for k, v in env.items() if not k.endswith("_FILE")}})
    mounts = {m.split(":")[1]: m.split(":")[0] for m in svc["volumes"]}
    state = PurePosixPath(s.state_path)
    assert str(state) in mounts, f"compose mounts {sorted(mounts)}, not the state dir {state}"
    assert mounts[str(state)] in compose["volumes"], "the state dir must be a named volume"
    for path in (s.journal_spill_dir, str(s.config_cache_path)):
        assert PurePosixPath(path).is_relative_to(state)


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    async with SimAsterisk(seed=3, agents=["PJSIP/a1"]) as s:
        s.set_endpoint("PJSIP/a1", EndpointBehaviour(answer_delay=0.05, p_answer=1.0))
        yield s


@pytest.mark.postgres
async def test_recreated_container_with_postgres_down_routes_from_the_volume(
        sim: SimAsterisk, pg_dsn: str, tmp_path: Path) -> None:
    """Container 1 runs with the image's state settings on a volume; container 2 gets only that volume."""
    await seed(pg_dsn)
    host, _, port = pg_dsn.split("@", 1)[1].split("/", 1)[0].partition(":")
    proxy = Proxy(host, int(port or 5432))
    await proxy.start()
    volume = tmp_path / "volume"
    image = {k: v for k, v in image_env().items() if k.startswith("CALLCORE_")}

    def container_settings() -> Settings:
        # the image's settings, with its volume path mapped onto this test's directory
        env = {**image, "CALLCORE_STATE_DIR": str(volume)}
        return load_settings(env).replace(ari_url=sim.ari_url, http_host="127.0.0.1", http_port=0,
                                          agi_host="127.0.0.1", agi_port=0, journal_flush_interval=0.05)

    try:
        first = await start(container_settings(), proxy.dsn(pg_dsn))
        await first.shutdown()
        assert (volume / "config-cache.json").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"], "state written outside the volume"  # noqa: ASYNC240
        proxy.cut()
        second = await start(container_settings(), proxy.dsn(pg_dsn))
        try:
            acd = second.service.acd
            assert acd is not None and "sales" in acd.snapshot()["queues"]
            await acd.login("a1")
            await sim.inject_call(queue="sales", caller_number="+15551239999")
            await until(lambda: sim.counters.get("calls_bridged", 0) == 1, "bridged with the cached configuration")
        finally:
            await second.shutdown()
    finally:
        await proxy.close()
    assert list((volume / "spill").glob("*")), "events taken while PostgreSQL was down are on the volume"
