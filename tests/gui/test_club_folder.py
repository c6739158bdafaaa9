"""The Club page loads a club folder typed into it when editing ends, not only when files are imported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.gui.club_page import NO_FOLDER, Club
from tests.burn_dataset import Burn
from tests.club.helpers import day, doc, save, signed


def test_a_typed_club_folder_shows_its_board(qtbot: QtBot, tmp_path: Path, burn_home: tuple[Path, Path, Burn]) -> None:
    _, db, _ = burn_home
    folder = tmp_path / "club"
    today = datetime.now(UTC).date().isoformat()
    files = [
        str(save(tmp_path / f"{m}.json", signed(doc(m, [day(today, n)])))) for m, n in (("bob", 5_000), ("eve", 9))
    ]
    maker = Club(db)
    maker.start()
    try:
        page = maker.show_page()
        qtbot.addWidget(page)
        page.folder.setText(str(folder))
        with qtbot.waitSignal(maker.merged, timeout=60_000):
            page.request_import(files)  # the board is written in the folder
    finally:
        maker.stop()

    club = Club(db)  # a fresh page, as after a restart with no folder remembered
    club.start()
    try:
        page = club.show_page()
        qtbot.addWidget(page)
        page.folder.clear()
        page._folder_shown = ""
        page.show_board(None)
        page.messages.setText(NO_FOLDER)
        assert page.rows() == []
        page.folder.setText(str(tmp_path / "nowhere"))
        page.folder.editingFinished.emit()
        assert "No folder" in page.messages.text() and page.rows() == []
        page.folder.setText(str(folder))
        page.folder.editingFinished.emit()
        assert sorted(r[1] for r in page.rows()) == ["bob", "eve"]
        assert "2 members" in page.messages.text()
        empty = tmp_path / "new-club"
        empty.mkdir()
        page.folder.setText(str(empty))
        page.folder.editingFinished.emit()
        assert page.rows() == [] and "No board in" in page.messages.text()
    finally:
        club.stop()
