"""The on-disk copy of the queue/agent configuration used when PostgreSQL is down at start-up."""

from __future__ import annotations

from pathlib import Path

from callcore.acd.core.events import PersistedAgent
from callcore.acd.core.model import AgentConfig, Overflow, QueueConfig, SkillRequirement
from callcore.service.configcache import ConfigCache

QUEUES = [QueueConfig(name="sales", wrapup_time=5.0, overflow=Overflow.parse("queue:backup"),
                      skills=(SkillRequirement.parse("lang_ru>=3, after 30 s >=1"),), dispositions=("sale",))]
AGENTS = [AgentConfig(id="1001", name="Anna", endpoint="PJSIP/agent1001", skills={"lang_ru": 5},
                      memberships={"sales": 0})]


def test_round_trip(tmp_path: Path) -> None:
    cache = ConfigCache(tmp_path / "c.json")
    assert not cache.exists() and cache.load() is None
    cache.save(QUEUES, AGENTS, [PersistedAgent("1001", "paused", "training")])
    assert cache.load() == (QUEUES, AGENTS, [PersistedAgent("1001", "paused", "training")])


def test_configuration_change_keeps_the_cached_agent_states(tmp_path: Path) -> None:
    cache = ConfigCache(tmp_path / "c.json")
    cache.save(QUEUES, AGENTS, [PersistedAgent("1001", "paused", "training")])
    changed = [QueueConfig(name="sales", wrapup_time=10.0)]
    cache.save(changed, AGENTS)
    loaded = cache.load()
    assert loaded is not None and loaded[0] == changed
    assert loaded[2] == [PersistedAgent("1001", "paused", "training")]


def test_a_damaged_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json", encoding="utf-8")
    assert ConfigCache(path).load() is None
