"""The realagents tier: the real agent CLIs from npm, run against a local model server.

It needs ``tests/realagents/node_modules`` (``./dev.sh test`` installs it); without it every test
here is skipped with the reason. ``-m "not realagents"`` leaves the tier out on purpose.
"""

from __future__ import annotations

import pytest

from tests.realagents.agents import installed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realagents: drives the real agent CLIs installed from npm (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if installed():
        return
    skip = pytest.mark.skip(reason="tests/realagents/node_modules is absent: run ./dev.sh test, or npm install there")
    for item in items:
        if "realagents" in item.keywords:
            item.add_marker(skip)
