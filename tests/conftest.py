"""Shared test fixtures: the agent-log fixtures laid out as a home directory, and indexes on it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core.env import Env
from app.core.index import Index
from app.sources import SOURCES
from tests.httpserver import FakeApi, serving

FIXTURES = Path(__file__).parent / "fixtures" / "agent-logs"

# fixture folder -> where the agent keeps it under a home directory
LAYOUT = {
    "claude": ".claude",
    "codex": ".codex",
    "gemini": ".gemini",
    "opencode": ".local/share/opencode",
    "qwen": ".qwen",
    "amp": ".local/share/amp",
}


def lay_out_home(home: Path, agents: tuple[str, ...] = tuple(LAYOUT)) -> Path:
    """Copy the fixture trees of ``agents`` into ``home`` where each agent writes them."""
    for name in agents:
        shutil.copytree(FIXTURES / name, home / LAYOUT[name], dirs_exist_ok=True)
    return home


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole run: the price table is built once, not in every test's home."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def tokenclub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    """Settings, notices and the default index of every test live in its own folder, never the user's."""
    monkeypatch.setenv("TOKENCLUB_HOME", str(tmp_path / "tokenclub"))
    monkeypatch.setenv("TOKENCLUB_CACHE", str(shared_cache))
    return tmp_path / "tokenclub"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """A loopback server replaying the answers a test routes to it (providers, plan limits)."""
    yield from serving(FakeApi())


@pytest.fixture
def fixture_home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home")


@pytest.fixture
def indexed(tmp_path: Path) -> Callable[[Path], Index]:
    """Index a home into a fresh SQLite file in tmp_path; closed after the test."""
    opened: list[Index] = []

    def make(home: Path) -> Index:
        index = Index(tmp_path / "index.sqlite", overrides=tmp_path / "no-prices.toml", sources=SOURCES)
        index.refresh(Env.under(home), workers=1)
        opened.append(index)
        return index

    yield make  # type: ignore[misc]
    for index in opened:
        index.close()
