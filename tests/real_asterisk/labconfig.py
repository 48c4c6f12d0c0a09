"""Write the lab configuration of the real-Asterisk suite: the project's ``asterisk-config/`` with every
placeholder filled for one machine, plus the few lab-only changes, into a private directory that a
non-root Asterisk runs from (``asterisk -C DIR/etc/asterisk.conf``).

Lab topology (one host, two loopback addresses, so that Asterisk's ``endpoint_identifier_order = ip,...``
tells the phones and the trunk apart):

  127.0.0.1:5060 (``--sip-port``) Asterisk PJSIP; ARI/HTTP 127.0.0.1:8088, AMI 127.0.0.1:5038
  127.0.0.1:5070...              operators' phones (SIPp ``phone.xml``), registering with username/password
  127.0.0.2                      the trunk side: callers (SIPp ``caller.xml``, any port) are identified
                                 by address as the trunk and enter ``[inbound]``; customers of outbound
                                 calls answer on 127.0.0.2:5090 (``trunk_*.xml``), the trunk's contact
  127.0.0.1:4573                 FastAGI (callcore, or the suite's own server)

Lab-only changes to the shipped files: placeholders replaced (passwords random, written to ``lab.env``), the
trunk's address is 127.0.0.2 (identify ``match``, aor ``contact`` sip:127.0.0.2:5090, ``from_domain``),
the trunk does not register (there is no provider) and is not qualified (the SIPp customer only runs
during a test), the transport binds 127.0.0.1, and ``asterisk.conf`` points every writable directory into
the lab directory. Sounds: the shipped safe-harbour recording and a generated tone as music on hold (a
source build without network has no sound files), and ``beep``, which a persistent session hears when a call
is connected.

    python tests/real_asterisk/labconfig.py /tmp/astlab --prefix /opt/asterisk
    asterisk -C /tmp/astlab/etc/asterisk.conf -f    # as the lab directory's owner; see lab.env
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import shlex
import struct
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "asterisk-config"
PHONE_IP = "127.0.0.1"
TRUNK_IP = "127.0.0.2"
TRUNK_PORT = 5090
AGENTS = ("agent1001", "agent1002", "agent1003")


@dataclass(frozen=True)
class Lab:
    out: Path
    moddir: Path
    datadir: Path  # the installation's var/lib/asterisk (documentation, rest-api); sounds are the lab's
    sip_port: int = 5060
    http_port: int = 8088
    ami_port: int = 5038
    agi_port: int = 4573
    ari_password: str = field(default_factory=lambda: secrets.token_hex(12))
    ami_secret: str = field(default_factory=lambda: secrets.token_hex(12))
    agent_password: str = field(default_factory=lambda: secrets.token_hex(12))

    def env(self) -> dict[str, str]:
        return {
            "CALLCORE_TEST_ARI_URL": f"http://127.0.0.1:{self.http_port}",
            "CALLCORE_TEST_ARI_USER": "callcore",
            "CALLCORE_TEST_ARI_PASSWORD": self.ari_password,
            "CALLCORE_TEST_AMI_HOST": "127.0.0.1",
            "CALLCORE_TEST_AMI_PORT": str(self.ami_port),
            "CALLCORE_TEST_AMI_SECRET": self.ami_secret,
            "CALLCORE_TEST_SIP": f"127.0.0.1:{self.sip_port}",
            "CALLCORE_TEST_PHONE_IP": PHONE_IP,
            "CALLCORE_TEST_TRUNK_IP": TRUNK_IP,
            "CALLCORE_TEST_TRUNK_PORT": str(TRUNK_PORT),
            "CALLCORE_TEST_AGI_PORT": str(self.agi_port),
            "CALLCORE_TEST_AGENT_PASSWORD": self.agent_password,
            "CALLCORE_TEST_ASTERISK_CONF": str(self.out / "etc" / "asterisk.conf"),
        }


Section = tuple[str, list[str]]  # header line ("" before the first section), body lines


def sections(text: str) -> list[Section]:
    out: list[Section] = [("", [])]
    for line in text.splitlines():
        if line.startswith("["):
            out.append((line.strip(), []))
        else:
            out[-1][1].append(line)
    return out


def render(parts: list[Section]) -> str:
    lines: list[str] = []
    for header, body in parts:
        if header:
            lines.append(header)
        lines.extend(body)
    return "\n".join(lines) + "\n"


def set_key(body: list[str], key: str, value: str) -> list[str]:
    """``key = value`` in a section body: replaces the first assignment of ``key`` or appends one."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=>?")
    for i, line in enumerate(body):
        if pattern.match(line):
            return [*body[:i], f"{key} = {value}", *body[i + 1:]]
    end = len(body)
    while end > 0 and not body[end - 1].strip():
        end -= 1
    return [*body[:end], f"{key} = {value}", *body[end:]]


def pjsip(lab: Lab, text: str) -> str:
    out: list[Section] = []
    for header, body in sections(text):
        if header == "[trunk](itsp-registration)":
            continue  # the lab has no provider to register with
        if header == "[transport-udp]":
            body = set_key(body, "bind", f"127.0.0.1:{lab.sip_port}")
        if header == "[itsp-endpoint](!)":
            body = set_key(body, "from_domain", TRUNK_IP)
        if header == "[trunk]" and any(re.match(r"\s*type\s*=\s*aor", line) for line in body):
            body = set_key(set_key(body, "contact", f"sip:{TRUNK_IP}:{TRUNK_PORT}"), "qualify_frequency", "0")
        if header == "[trunk-identify]":
            body = set_key(body, "match", TRUNK_IP)
        out.append((header, body))
    text = render(out)
    for agent in AGENTS:
        text = text.replace(f"CHANGE_ME_{agent}", lab.agent_password)
    return text.replace("CHANGE_ME_itsp_user", "lab").replace("CHANGE_ME_itsp_password", "lab")


def asterisk_conf(lab: Lab) -> str:
    o = lab.out
    dirs = {"astetcdir": o / "etc", "astmoddir": lab.moddir, "astvarlibdir": o / "lib",
            "astdbdir": o / "lib", "astkeydir": o / "lib", "astdatadir": o / "data",
            "astagidir": o / "data" / "agi-bin", "astspooldir": o / "spool", "astrundir": o / "run",
            "astlogdir": o / "log", "astcachedir": o / "cache"}
    lines = ["; callcore real-Asterisk lab (generated by tests/real_asterisk/labconfig.py)", "[directories]"]
    lines += [f"{k} => {v}" for k, v in dirs.items()]
    lines += ["", "[options]", "verbose = 3", "debug = 0", "dumpcore = no", "transmit_silence = yes",
              "systemname = callcore-lab"]
    return "\n".join(lines) + "\n"


def tone(path: Path, seconds: float = 10.0, hz: float = 425.0) -> None:
    """8 kHz 16-bit mono WAV: a soft tone, on and off, as music on hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for n in range(int(8000 * seconds)):
        on = (n // 4000) % 2 == 0
        frames += struct.pack("<h", int(3000 * math.sin(2 * math.pi * hz * n / 8000)) if on else 0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))


def write(lab: Lab) -> dict[str, str]:
    """Write the lab directory; returns the environment the suite reads (also written to lab.env)."""
    from callcore.dialer.sounds import install

    etc = lab.out / "etc"
    for sub in ("etc", "lib", "data", "spool", "run", "log", "cache"):
        (lab.out / sub).mkdir(parents=True, exist_ok=True)
    for conf in sorted(SHIPPED.glob("*.conf")):
        text = conf.read_text(encoding="utf-8")
        if conf.name == "pjsip.conf":
            text = pjsip(lab, text)
        elif conf.name == "asterisk.conf":
            text = asterisk_conf(lab)
        elif conf.name == "http.conf":
            text = re.sub(r"(?m)^bindport = .*$", f"bindport = {lab.http_port}", text)
        elif conf.name == "manager.conf":
            text = re.sub(r"(?m)^port = .*$", f"port = {lab.ami_port}", text)
        elif conf.name == "extensions.conf":
            text = text.replace("agi://127.0.0.1:4573", f"agi://127.0.0.1:{lab.agi_port}")
        elif conf.name == "logger.conf":
            text += "lab.log => notice,warning,error,verbose\n"
        text = (text.replace("CHANGE_ME_ari_password", lab.ari_password)
                .replace("CHANGE_ME_ami_secret", lab.ami_secret).replace("CHANGE_ME_pin", "4242"))
        (etc / conf.name).write_text(text, encoding="utf-8")
    data = lab.out / "data"
    for name in ("documentation", "rest-api", "static-http", "keys"):
        link, target = data / name, lab.datadir / name
        if target.exists() and not link.exists():
            link.symlink_to(target)
    install(data / "sounds" / "en")
    tone(data / "moh" / "lab-tone.wav")
    tone(data / "sounds" / "en" / "beep.wav", seconds=0.25, hz=1000.0)  # played to a session on each call
    env = lab.env()
    (lab.out / "lab.env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()),
                                     encoding="utf-8")
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="lab directory to write (created)")
    p.add_argument("--prefix", type=Path, default=Path("/usr"),
                   help="Asterisk's installation prefix (modules in PREFIX/lib/asterisk/modules)")
    p.add_argument("--moddir", type=Path, help="Asterisk's modules directory (default from --prefix)")
    p.add_argument("--sip-port", type=int, default=5060)
    p.add_argument("--http-port", type=int, default=8088)
    p.add_argument("--ami-port", type=int, default=5038)
    p.add_argument("--agi-port", type=int, default=4573)
    args = p.parse_args(argv)
    moddir = args.moddir or args.prefix / "lib" / "asterisk" / "modules"
    datadir = args.prefix / "var" / "lib" / "asterisk"
    if not (moddir / "res_ari.so").exists():
        print(f"error: {moddir} has no res_ari.so (give --prefix or --moddir)", file=sys.stderr)
        return 2
    lab = Lab(args.out.resolve(), moddir, datadir if datadir.exists() else Path("/var/lib/asterisk"),
              args.sip_port, args.http_port, args.ami_port, args.agi_port)
    write(lab)
    print(f"lab written to {lab.out}; environment of the suite in {lab.out / 'lab.env'}")
    print(f"start: asterisk -C {lab.out / 'etc' / 'asterisk.conf'} -f   (as the owner of {lab.out})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
