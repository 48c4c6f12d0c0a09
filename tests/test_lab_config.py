"""The real-Asterisk lab without an Asterisk: the configuration tests/real_asterisk/labconfig.py writes
(one lab topology: phones on 127.0.0.1, the trunk on 127.0.0.2) and the suite's SIPp scenarios (well formed,
every jump target defined, every variable used, the rules SIPp refuses a scenario for)."""

from __future__ import annotations

import itertools
import re
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_asterisk import labconfig
from real_asterisk.lab import SCENARIOS

Section = tuple[str, dict[str, str]]


def parse(path: Path) -> list[Section]:
    out: list[Section] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(?<!\\);.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("["):
            out.append((line, {}))
            continue
        key, _, value = line.partition("=")
        out[-1][1].setdefault(key.strip(), value.lstrip(">").strip())
    return out


def find(sections: list[Section], header: str, **match: str) -> dict[str, str]:
    for name, values in sections:
        if name == header and all(values.get(k) == v for k, v in match.items()):
            return values
    raise AssertionError(f"no section {header} with {match}")


@pytest.fixture
def lab(tmp_path: Path) -> labconfig.Lab:
    moddir = tmp_path / "modules"
    moddir.mkdir()
    (moddir / "res_ari.so").write_bytes(b"")
    out = tmp_path / "lab"
    assert labconfig.main([str(out), "--moddir", str(moddir), "--prefix", str(tmp_path), "--sip-port", "5062",
                           "--agi-port", "4575"]) == 0
    env = dict(line.removeprefix("export ").split("=", 1) for line in
               (out / "lab.env").read_text(encoding="utf-8").splitlines())
    return labconfig.Lab(out, moddir, tmp_path, 5062, 8088, 5038, 4575, env["CALLCORE_TEST_ARI_PASSWORD"],
                         env["CALLCORE_TEST_AMI_SECRET"], env["CALLCORE_TEST_AGENT_PASSWORD"])


def test_trunk_and_phones_are_told_apart_by_address(lab: labconfig.Lab) -> None:
    pjsip = parse(lab.out / "etc" / "pjsip.conf")
    assert find(pjsip, "[global]")["endpoint_identifier_order"].startswith("ip,")  # as shipped
    assert find(pjsip, "[trunk-identify]")["match"] == labconfig.TRUNK_IP != labconfig.PHONE_IP
    aor = find(pjsip, "[trunk]", type="aor")
    assert aor["contact"] == f"sip:{labconfig.TRUNK_IP}:{labconfig.TRUNK_PORT}" and aor["qualify_frequency"] == "0"
    assert all(v.get("type") != "registration" or name.endswith("(!)") for name, v in pjsip), \
        "the lab trunk must not register (no provider)"
    assert find(pjsip, "[transport-udp]")["bind"] == "127.0.0.1:5062"
    for agent in ("agent1001", "agent1002", "agent1003"):
        assert find(pjsip, f"[{agent}](agent-auth)")["password"] == lab.agent_password


def test_placeholders_filled_and_directories_private(lab: labconfig.Lab) -> None:
    etc = lab.out / "etc"
    shipped = {p.name for p in labconfig.SHIPPED.glob("*.conf")}
    assert shipped <= {p.name for p in etc.glob("*.conf")}
    for conf in etc.glob("*.conf"):
        values = [v for _, sec in parse(conf) for v in sec.values()]
        assert not [v for v in values if "CHANGE_ME" in v], conf.name
    assert find(parse(etc / "ari.conf"), "[callcore]")["password"] == lab.ari_password
    assert find(parse(etc / "manager.conf"), "[callcore]")["secret"] == lab.ami_secret
    dirs = find(parse(etc / "asterisk.conf"), "[directories]")
    for key, value in dirs.items():
        assert key == "astmoddir" or Path(value).is_relative_to(lab.out), (key, value)
    assert dirs["astetcdir"] == str(etc) and dirs["astmoddir"] == str(lab.moddir)
    assert "agi://127.0.0.1:4575" in (etc / "extensions.conf").read_text(encoding="utf-8")


def test_sounds_the_dialplan_and_moh_need(lab: labconfig.Lab) -> None:
    data = lab.out / "data"
    assert (data / "sounds" / "en" / "custom" / "callcore-safe-harbour.wav").stat().st_size > 0
    assert (data / "sounds" / "en" / "beep.wav").stat().st_size > 0
    with wave.open(str(data / "moh" / "lab-tone.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() >= 8000


SCENARIO_FILES = sorted(SCENARIOS.glob("*.xml"))


def test_every_lab_scenario_is_checked() -> None:
    assert {p.name for p in SCENARIO_FILES} >= {"caller.xml", "login.xml", "phone.xml", "phone_calls.xml",
                                                  "trunk_answer.xml", "trunk_busy.xml", "trunk_noanswer.xml"}


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_sipp_scenario_is_loadable(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "scenario"
    labels = {e.get("id") for e in root.iter("label")}
    steps = [e for e in root if e.tag in ("send", "recv", "pause", "nop")]
    for e in root.iter():
        for attr in ("next", "ontimeout"):
            if e.get(attr):
                assert e.get(attr) in labels, f"{path.name}: {attr}={e.get(attr)!r} names no label"
    # SIPp refuses an optional <recv> directly followed by a <send> (no mandatory message between)
    for a, b in itertools.pairwise(steps):
        if a.tag == "recv" and a.get("optional") == "true":
            assert b.tag != "send", f"{path.name}: optional <recv {a.attrib}> followed by <send>"
    # SIPp refuses a variable set and never read ("referenced 1 times"); a read one must be set or global
    text = path.read_text(encoding="utf-8")
    globals_ = {v.strip() for e in root.iter("Global") for v in (e.get("variables") or "").split(",")}
    assigned: dict[str, int] = {}
    for e in root.iter():
        for attr in ("assign_to",):
            for name in (e.get(attr) or "").split(","):
                if name:
                    assigned[name] = assigned.get(name, 0) + 1
    read = set(re.findall(r"\[\$(\w+)\]", text))
    for e in root.iter():
        read.update(v for v in (e.get("variable"), e.get("variable2"), e.get("test")) if v)
    for name in assigned:
        assert name in read, f"{path.name}: variable {name} is set but never used"
    for name in read:
        assert name in assigned or name in globals_, f"{path.name}: variable {name} is used but never set"
    for name in globals_:
        assert name in read, f"{path.name}: global {name} is never used"
