"""GUI tests: offscreen Qt (Qt warnings fail the test, see pyproject.toml) and one generated 120-day index."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from app.core.env import Env
from app.core.index import Index  # noqa: E402
from app.sources import SOURCES
from tests.burn_dataset import Burn, write_burn_home  # noqa: E402


@pytest.fixture(scope="session")
def burn_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Burn]:
    """(home, index file, what was written): 120 days ending today (UTC) that cross every tier."""
    base = tmp_path_factory.mktemp("burn")
    home = base / "home"
    burn = write_burn_home(home, days=120, end=datetime.now(UTC).date())
    db = base / "index.sqlite"
    index = Index(db, overrides=base / "no-prices.toml", sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()
    return home, db, burn


def shown(qtbot: QtBot, widget: QWidget, width: int, height: int) -> QWidget:
    """``widget`` at ``width`` x ``height``, shown and exposed, closed after the test."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


class Notes:
    """Notifications the tray would have shown."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    def __call__(self, title: str, text: str) -> None:
        self.shown.append((title, text))


# the dedicated machine's fixtures (a real sshd on 127.0.0.1), for the Console page's tests
from tests.console.conftest import host_home, sshd, user_key, workstation  # noqa: E402, F401
