"""The About box names the version the package was built from, with the app's rendered icon."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app import __version__
from app.gui.about import about_box, app_icon


def test_about_box_names_the_version(qtbot: QtBot) -> None:
    box = about_box()
    qtbot.addWidget(box)
    assert f"TokenClub {__version__}" in box.text()
    assert box.windowTitle() == "About TokenClub"


def test_app_icon_has_the_rendered_sizes() -> None:
    sizes = {(s.width(), s.height()) for s in app_icon().availableSizes()}
    assert {(16, 16), (32, 32), (256, 256)} <= sizes
