"""The simulated AMI's dialplan: read from ``asterisk-config/extensions.conf``, else the shared names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from callcore.agi.names import DIALPLAN_CONTEXTS
from callcore.ami import AmiClient
from callcore.config import Secret, Settings
from callcore.sim.ami import EXTENSIONS_CONF, SimAmi, default_dialplan, parse_dialplan

CONF = """
[general]
static = yes
[globals]
X = 1
[inbound] ; trunk calls
exten => _X.,1,NoOp()
 same => n,Hangup()
exten => _+X.,1,Goto(inbound,${EXTEN:1},1)
[agents]
exten=>*55,1,Answer()
exten => *55,2,Hangup()
; [commented-out]
;exten => 999,1,NoOp()
"""


def test_parse_contexts_and_extensions() -> None:
    assert parse_dialplan(CONF) == {"inbound": ["_X.", "_+X."], "agents": ["*55"]}


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda n: n not in {"general", "globals"})
extens = st.lists(st.text(alphabet="0123456789sX_.*+", min_size=1, max_size=6), max_size=4, unique=True)


@given(st.dictionaries(names, extens, max_size=6))
def test_parse_round_trip(plan: dict[str, list[str]]) -> None:
    text = "[general]\nstatic = yes\n" + "".join(
        f"[{c}]\n" + "".join(f"exten => {x},1,NoOp()\n same => n,Hangup()\n" for x in xs) for c, xs in plan.items())
    assert parse_dialplan(text) == plan


def test_shipped_dialplan_has_every_context_callcore_needs() -> None:
    plan = default_dialplan()
    assert set(DIALPLAN_CONTEXTS) <= set(plan)
    if EXTENSIONS_CONF.exists():
        assert "*55" in plan["agents"] and "_X." in plan["callcore-voicemail"]


def test_fallback_to_names_without_the_file(tmp_path: Path) -> None:
    assert default_dialplan(tmp_path / "missing.conf") == {c: ["s"] for c in DIALPLAN_CONTEXTS}
    empty = tmp_path / "empty.conf"
    empty.write_text("[general]\nstatic = yes\n")
    assert set(default_dialplan(empty)) == set(DIALPLAN_CONTEXTS)


async def test_show_dialplan_over_ami() -> None:
    async with SimAmi() as sim:
        settings = Settings().replace(ami_host="127.0.0.1", ami_port=sim.port, ami_user=sim.user,
                                      ami_secret=Secret(sim.secret), ami_timeout=2.0)
        async with AmiClient(settings) as client:
            for context in DIALPLAN_CONTEXTS:
                rows = await client.list_action("ShowDialPlan", Context=context)
                assert rows and {r.get("Context") for r in rows} == {context}
