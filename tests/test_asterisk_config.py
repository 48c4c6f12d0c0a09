"""asterisk-config/*.conf against the names callcore uses (callcore.agi.names) and Settings defaults."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from callcore.agi import names
from callcore.config import Settings

CONF_DIR = Path(__file__).resolve().parents[1] / "asterisk-config"
FILES = ("http.conf", "ari.conf", "manager.conf", "pjsip.conf", "extensions.conf", "musiconhold.conf",
         "modules.conf", "amd.conf", "voicemail.conf")
Section = tuple[str, list[tuple[str, str]]]


def parse(name: str) -> list[Section]:
    """Sections in file order as (name, [(key, value), ...]); templates '(!)' keep their name."""
    sections: list[Section] = []
    for raw in (CONF_DIR / name).read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(?<!\\);.*$", "", raw).strip()
        if not line:
            continue
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            sections.append((m.group(1), []))
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{name}: line without '=': {raw!r}"
        assert sections, f"{name}: setting before any section: {raw!r}"
        sections[-1][1].append((key.strip(), value.lstrip(">").strip()))
    return sections


def section(name: str, wanted: str, **match: str) -> dict[str, str]:
    for sec, items in parse(name):
        d = dict(items)
        if sec == wanted and all(d.get(k) == v for k, v in match.items()):
            return d
    raise AssertionError(f"{name}: no section [{wanted}] with {match}")


def dialplan() -> dict[str, list[tuple[str, str]]]:
    """context -> [(extension, application call), ...] with `same => n` lines resolved."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ctx, items in parse("extensions.conf"):
        exten = ""
        for key, value in items:
            if key == "exten":
                exten, _, rest = value.partition(",")
                app = rest.split(",", 1)[1]
            elif key == "same":
                app = value.split(",", 1)[1]
            else:
                continue
            out.setdefault(ctx, []).append((exten, app))
    return out


def globals_() -> dict[str, str]:
    return dict(dict(parse("extensions.conf"))["globals"])


def expand(text: str) -> str:
    for k, v in globals_().items():
        text = text.replace("${" + k + "}", v)
    return text


@pytest.mark.parametrize("name", FILES)
def test_every_file_starts_with_a_header_comment(name: str) -> None:
    lines = (CONF_DIR / name).read_text(encoding="utf-8").splitlines()
    header = [x for x in lines[:6] if x.startswith(";")]
    assert len(header) >= 3, f"{name} needs an explanatory header comment"


def test_http_matches_ari_url_and_stays_local() -> None:
    url = urlsplit(Settings().ari_url)
    general = section("http.conf", "general")
    assert general["enabled"] == "yes"
    assert general["bindaddr"] == url.hostname == "127.0.0.1"
    assert int(general["bindport"]) == url.port


def test_ari_user_and_no_default_password() -> None:
    s = Settings()
    user = section("ari.conf", s.ari_user, type="user")
    assert user["password"].startswith("CHANGE_ME")
    assert user["password"] != s.ari_password.reveal()
    assert user["read_only"] == "no"
    assert s.ari_app == names.APP_NAME and s.ari_user == names.ARI_USER


def test_manager_user_local_only_and_minimal_rights() -> None:
    s = Settings()
    general = section("manager.conf", "general")
    assert general["bindaddr"] == s.ami_host and int(general["port"]) == s.ami_port
    user = section("manager.conf", s.ami_user)
    assert s.ami_user == names.AMI_USER
    assert user["secret"].startswith("CHANGE_ME") and user["secret"] != s.ami_secret.reveal()
    assert user["permit"].startswith("127.0.0.1/") and user["deny"] == "0.0.0.0/0.0.0.0"
    rights = set(user["write"].split(","))
    assert {"system", "reporting", "config"} <= rights
    assert not rights & {"command", "originate", "all"}


def test_modules_without_app_queue_and_with_what_callcore_needs() -> None:
    modules = parse("modules.conf")[0][1]
    assert ("noload", "app_queue.so") in modules
    required = {v for k, v in modules if k == "require"}
    assert {"res_ari.so", "res_stasis.so", "res_agi.so", "app_amd.so", "chan_pjsip.so"} <= required


def test_pjsip_agents_and_trunk() -> None:
    sections = parse("pjsip.conf")
    for n in ("1001", "1002", "1003"):
        templates = [sec for sec, _ in sections if sec == f"agent{n}"]
        assert len(templates) == 3, f"agent{n} needs endpoint, auth and aor sections"
        auth = section("pjsip.conf", f"agent{n}", username=f"agent{n}")
        assert auth["password"].startswith("CHANGE_ME")
    endpoint = dict(next(items for sec, items in sections if sec == "agent-endpoint"))
    assert endpoint["context"] == names.CONTEXT_AGENTS
    itsp = dict(next(items for sec, items in sections if sec == "itsp-endpoint"))
    assert itsp["context"] == names.CONTEXT_INBOUND
    assert any(sec == "transport-udp" for sec, _ in sections)


def test_dialplan_contexts_and_names() -> None:
    plan = dialplan()
    for ctx in names.DIALPLAN_CONTEXTS:
        assert ctx in plan, f"extensions.conf lacks context [{ctx}]"
    assert expand("${CALLCORE_APP}") == Settings().ari_app


def test_acd_dialplan_contexts_match_queue_defaults() -> None:
    from callcore.acd.core.model import QueueConfig

    q = QueueConfig(name="x")
    plan = dialplan()
    assert q.voicemail_context == names.CONTEXT_VOICEMAIL and q.voicemail_context in plan
    assert q.transfer_context == names.CONTEXT_TRANSFER and q.transfer_context in plan
    assert any(app.startswith("VoiceMail(${EXTEN}@") for _, app in plan[names.CONTEXT_VOICEMAIL])


def test_inbound_routes_through_fastagi_then_stasis_with_fallbacks() -> None:
    apps = [expand(app) for _, app in dialplan()[names.CONTEXT_INBOUND]]
    s = Settings()
    agi = next(a for a in apps if a.startswith("AGI("))
    url = urlsplit(agi[4:].split(",")[0])
    assert (url.scheme, url.port, url.path.strip("/")) == ("agi", s.agi_port, names.SCRIPT_ROUTE)
    assert url.hostname == s.agi_host
    stasis = f"Stasis({s.ari_app},{names.STASIS_INBOUND},${{{names.VAR_QUEUE}}},${{{names.VAR_PRIORITY}}})"
    assert stasis in apps
    i_agi, i_stasis = apps.index(agi), apps.index(stasis)
    assert any("AGISTATUS" in a and names.CONTEXT_FALLBACK in a for a in apps[i_agi:i_stasis])
    assert any("STASISSTATUS" in a and "FAILED" in a and names.CONTEXT_FALLBACK in a for a in apps[i_stasis:])


def test_dialer_amd_and_agent_login() -> None:
    plan = dialplan()
    amd = [expand(app) for exten, app in plan[names.CONTEXT_DIALER_AMD] if exten == "s"]
    i = amd.index("AMD()")
    assert amd[i + 1] == f"Stasis({names.APP_NAME},{names.STASIS_AMD},${{AMDSTATUS}},${{AMDCAUSE}})"
    logins = [expand(app) for _, app in plan[names.CONTEXT_AGENTS] if "Stasis(" in app]
    prefix = f"Stasis({names.APP_NAME},{names.STASIS_AGENT_LOGIN},"
    assert logins and all(a.startswith(prefix) for a in logins)


def test_fallback_ends_in_voicemail_with_a_configured_mailbox() -> None:
    apps = [expand(app) for _, app in dialplan()[names.CONTEXT_FALLBACK]]
    vm = next(a for a in apps if a.startswith("VoiceMail("))
    box, _, ctx = vm[len("VoiceMail("):].split(",")[0].partition("@")
    assert box in section("voicemail.conf", ctx)
