"""asterisk-config/ replaces all of /etc/asterisk in the container: the minimal set Asterisk needs to start
(asterisk.conf, logger.conf, rtp.conf) is there and agrees with the volumes of deploy/compose.yaml."""

from __future__ import annotations

import pytest
from test_asterisk_config import CONF_DIR, parse, section
from test_deploy_compose import COMPOSE, parse_yaml

CORE = ("asterisk.conf", "logger.conf", "rtp.conf")


@pytest.mark.parametrize("name", CORE)
def test_core_file_exists_parses_and_has_a_header(name: str) -> None:
    assert parse(name), f"{name} has no sections"
    lines = (CONF_DIR / name).read_text(encoding="utf-8").splitlines()
    assert len([x for x in lines[:6] if x.startswith(";")]) >= 3


def test_rtp_range_is_sane() -> None:
    rtp = section("rtp.conf", "general")
    start, end = int(rtp["rtpstart"]), int(rtp["rtpend"])
    assert 1024 <= start < end <= 65535 and (end - start) >= 1000


def test_logger_writes_to_the_console() -> None:
    logs = section("logger.conf", "logfiles")
    assert "error" in logs["console"] and "warning" in logs["console"]


def test_asterisk_state_directories_are_volumes() -> None:
    dirs = section("asterisk.conf", "directories")
    spool = dirs.get("astspooldir", "/var/spool/asterisk")  # Asterisk's built-in default
    wanted = {dirs["astdbdir"], f"{spool}/recording", f"{spool}/voicemail"}
    compose = parse_yaml(COMPOSE.read_text())
    mounts = [v.split(":") for v in compose["services"]["asterisk"]["volumes"]]
    named = {dest: src for src, dest, *_ in mounts if not src.startswith((".", "/"))}

    def volume_of(path: str) -> str | None:   # the named volume mounted on path or on a parent of it
        return next((named[d] for d in sorted(named, key=len, reverse=True) if path == d or
                     path.startswith(d.rstrip("/") + "/")), None)

    missing = sorted(p for p in wanted if volume_of(p) is None)
    assert not missing, f"not on volumes: {missing}"
    assert all(volume_of(p) in compose["volumes"] for p in wanted)
    assert dirs["astdbdir"] != dirs.get("astvarlibdir", "/var/lib/asterisk"), \
        "a volume on astvarlibdir would hide the image's sounds"
