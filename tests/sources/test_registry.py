"""The registry names each source by the agent id its class declares."""

from __future__ import annotations

from app.sources import AGENTS, REGISTRY, all_sources, source


def test_every_registered_agent_is_its_class_agent() -> None:
    assert [s.agent for s in all_sources()] == list(AGENTS)
    assert len(set(AGENTS)) == len(REGISTRY) == 19
    assert all(source(agent).agent == agent for agent in AGENTS)
