"""The README's examples fit each other: the simulator's phones are the endpoints its agent examples use; the
help texts use the README's skill notation; the hook that sets CALLCORE_VIP is the one named."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_simulator_phones_match_the_agent_examples() -> None:
    sim = next(line for line in README.splitlines() if line.startswith("callcore sim --port"))
    prefix = re.search(r"--agent-prefix (\S+)", sim)
    assert prefix, sim
    endpoints = set(re.findall(r"callcore agent create (\d+) [^\n]*--endpoint PJSIP/([A-Za-z0-9]+)", README))
    assert endpoints
    for agent_id, endpoint in endpoints:
        assert endpoint == f"{prefix.group(1)}{agent_id}", (agent_id, endpoint)


def test_help_uses_the_readme_skill_notation() -> None:
    from callcore.directory.cli import agent_parser

    text = agent_parser().format_help() + " ".join(
        a.help or "" for p in agent_parser()._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        for a in p._actions)
    assert "lang=ru" not in text and "lang_ru" in text and "lang_ru" in README


def test_vip_variable_is_documented_on_the_hook_that_sets_it() -> None:
    lookup = next(line for line in README.splitlines() if line.startswith("| `/lookup`"))
    route = next(line for line in README.splitlines() if line.startswith("| `agi://host:4573/route"))
    assert "CALLCORE_VIP" in lookup and "CALLCORE_VIP" not in route
