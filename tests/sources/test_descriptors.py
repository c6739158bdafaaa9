"""Each source's descriptor: the variables it declares are those its ``roots()`` reads, and what is made of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.console import agents, pull
from app.console.remote import streams
from app.core.env import Env
from app.core.snapshot import RecordingEnv
from app.sources import REGISTRY, source


def read_by_roots(agent: str) -> set[str]:
    """The variables ``agent``'s ``roots()`` reads, with none set and with all set (as ``pull.env_names``)."""
    names: set[str] = set()
    for environ in ({}, pull._Everything()):
        rec = RecordingEnv(Env(Path("/h"), environ))
        source(agent).roots(rec)
        names.update(rec.read)
    return names


@pytest.mark.parametrize("agent", REGISTRY)
def test_a_source_declares_the_variables_it_reads(agent: str) -> None:
    declared = source(agent).descriptor.env
    assert len(set(declared)) == len(declared)
    assert set(declared) == read_by_roots(agent)


def test_the_hosts_are_asked_for_every_declared_variable() -> None:
    assert sorted({v for agent in REGISTRY for v in source(agent).descriptor.env}) == pull.env_names()


def test_each_declared_colour_is_its_own() -> None:
    colours = [c for agent in REGISTRY if (c := source(agent).descriptor.colour) is not None]
    assert colours and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    assert len(set(colours)) == len(colours)


def test_the_console_runs_each_declared_headless_mode_and_only_those() -> None:
    declared = {agent: h for agent in REGISTRY if (h := source(agent).descriptor.headless) is not None}
    assert tuple(declared) == agents.AGENTS
    assert {agent: agents.headless(agent) for agent in agents.AGENTS} == declared
    for headless in declared.values():  # the helper on the host parses each one's stream
        assert headless.format in agents.FORMATS and hasattr(streams._Usage, "_" + headless.format)
        assert headless.argv and not any("{" in part for part in headless.argv)
