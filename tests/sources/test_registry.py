"""The registry names each source by the agent id its class declares."""

from __future__ import annotations

import pickle

from app.core import source as contract
from app.sources import AGENTS, REGISTRY, SOURCES, all_sources, source


def test_every_registered_agent_is_its_class_agent() -> None:
    assert [s.agent for s in all_sources()] == list(AGENTS)
    assert len(set(AGENTS)) == len(REGISTRY) == 19
    assert all(source(agent).agent == agent for agent in AGENTS)


def test_the_registry_maps_exactly_the_agents_the_core_knows_in_its_order() -> None:
    assert tuple(REGISTRY) == contract.AGENTS
    assert [s.agent for s in SOURCES.all()] == list(contract.AGENTS)
    assert [s.agent for s in SOURCES.all({"codex", "amp", "no-such-agent"})] == ["codex", "amp"]


def test_a_reader_process_rebuilds_the_sources_from_the_registry_name_alone() -> None:
    SOURCES.get("codex")
    data = pickle.dumps(SOURCES)
    assert len(data) < 100 and b"Codex" not in data  # the name, not the loaded sources
    again = pickle.loads(data)
    assert again.module == "app.sources" and type(again.get("codex")) is type(SOURCES.get("codex"))
