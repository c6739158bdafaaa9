"""The desktop app on an index it cannot open: a window that says why, and a way out that keeps the old file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.env import Env
from app.core.index import Index
from app.gui.app import Controller
from app.gui.recovery import MOVE_ASIDE
from app.sources import SOURCES
from tests.logmaker import claude_line

WAIT_MS = 60_000
SCREENSHOT = Path("/tmp/recovery.png")


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    log = home / ".claude" / "projects" / "-home-dev-proj" / "s-1.jsonl"
    log.parent.mkdir(parents=True)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    log.write_bytes(claude_line("m1", now, inp=1_000, out=2_000) + claude_line("m2", now, inp=30_000, out=0))
    return home


def _damaged(tmp_path: Path, home: Path) -> Path:
    """A real index whose every page after the first is garbage (the header still says SQLite)."""
    db = tmp_path / "data" / "index.sqlite"
    index = Index(db, sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.conn.execute("INSERT INTO meta(k, v) VALUES ('only-in-the-old-file', 'history')")
    index.close()
    data = bytearray(db.read_bytes())
    data[16384:] = b"\xa5" * (len(data) - 16384)
    db.write_bytes(bytes(data))
    return db


class Opened(QObject):
    """Takes the ``file:`` URLs the app asks the desktop to open (Qt's own hook for them)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def started(qtbot: QtBot) -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(db: Path, home: Path) -> Controller:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        controller = Controller(app, db, Env.under(home), tray_available=True)
        assert controller.tray is not None
        controller.tray.notify = lambda title, text: None  # type: ignore[method-assign]
        controllers.append(controller)
        controller.start()
        return controller

    yield start
    for controller in controllers:
        controller.shutdown()
        for window in (controller.window, controller.recovery):
            if window is not None:
                window.close()


def test_a_damaged_index_is_moved_aside_and_rebuilt_from_the_logs(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = _home(tmp_path)
    db = _damaged(tmp_path, home)
    damaged = db.read_bytes()
    controller = started(db, home)
    qtbot.waitUntil(lambda: controller.recovery is not None and controller.recovery.isVisible(), timeout=WAIT_MS)
    window = controller.recovery
    qtbot.waitExposed(window)
    shown = window.heading.text() + window.details.text() + window.note.text()
    assert "damaged" in shown and str(db) in shown and "malformed" in shown
    assert "deleted since are only in the old file" in shown
    assert window.move_button.isVisible() and window.move_button.text() == MOVE_ASIDE
    assert window.folder_button.isVisible() and window.quit_button.isVisible() and not window.retry_button.isVisible()
    window.resize(640, window.sizeHint().height())
    qtbot.wait(50)  # one paint at the new size
    assert window.grab().save(str(SCREENSHOT))
    opened = Opened()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        window.folder_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in opened.urls] == [str(db.parent)]

    window.move_button.click()
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["total"] == 33_000, timeout=WAIT_MS)
    assert not window.isVisible()
    kept = sorted(p.name for p in db.parent.iterdir() if p.name.startswith("index.sqlite.broken-"))
    # moved, never deleted nor changed; a -wal/-shm a reader left beside it moves with it, under the same name
    assert 1 <= len(kept) <= 3 and all(name.startswith(kept[0]) for name in kept), kept
    assert (db.parent / kept[0]).read_bytes() == damaged
    assert "The old index was kept as" in controller.window.statusBar().currentMessage()
    fresh = sqlite3.connect(db)
    assert fresh.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    fresh.close()


def test_a_folder_in_the_way_is_named_and_try_again_opens_it_once_fixed(
    tmp_path: Path, qtbot: QtBot, started: Any
) -> None:
    home = _home(tmp_path)
    db = tmp_path / "index.sqlite"
    db.mkdir()
    controller = started(db, home)
    qtbot.waitUntil(lambda: controller.recovery is not None and controller.recovery.isVisible(), timeout=WAIT_MS)
    window = controller.recovery
    assert "it is a folder, not a file" in window.details.text() and str(db) in window.details.text()
    assert not window.move_button.isVisible()  # moving a folder aside would not help: the cause is named
    db.rmdir()
    window.retry_button.click()
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["total"] == 33_000, timeout=WAIT_MS)
    assert not window.isVisible()


def test_a_file_that_is_not_an_index_offers_to_move_it_aside(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = _home(tmp_path)
    db = tmp_path / "index.sqlite"
    db.write_text("not a database\n")
    controller = started(db, home)
    qtbot.waitUntil(lambda: controller.recovery is not None and controller.recovery.isVisible(), timeout=WAIT_MS)
    window = controller.recovery
    assert "not a TokenClub index" in window.details.text()
    assert window.move_button.isVisible()
    quits: list[bool] = []
    window.quit_requested.disconnect(controller.quit)  # the app would end the test run's QApplication
    window.quit_requested.connect(lambda: quits.append(True))
    window.quit_button.click()
    assert quits == [True]
    assert db.read_text() == "not a database\n"
