"""The app's own icon (rendered from ``icons/tokenclub.svg`` by ``icons/render.py``) and its About box."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox, QWidget

from app import __version__
from app.core import paths


def icons_dir() -> Path:
    """Where the rendered icons are: beside ``app/`` in a checkout, in the bundle's data folder when frozen."""
    frozen = getattr(sys, "_MEIPASS", None)
    base = Path(frozen) if frozen else Path(__file__).resolve().parents[2]
    return base / "icons"


def app_icon() -> QIcon:
    """The app icon at every rendered size; an empty icon where none were rendered (a plain wheel install)."""
    icon = QIcon()
    for png in sorted((icons_dir() / "png").glob("tokenclub-*.png")):
        icon.addFile(str(png))
    return icon


def about_text() -> str:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    return (
        f"<h3>TokenClub {__version__}</h3>"
        "<p>Daily token burn of every coding agent on this machine, exact and live.</p>"
        f"<p>Index: {paths.default_db()}<br>Settings: {paths.config_dir()}</p>"
        f"<p><small>Python {sys.version.split()[0]} · Qt {qVersion()} · PySide6 {pyside_version}</small></p>"
    )


def about_box(parent: QWidget | None = None) -> QMessageBox:
    """The About box (not shown: the caller shows it, and keeps it)."""
    box = QMessageBox(parent)
    box.setWindowTitle("About TokenClub")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text())
    pixmap = app_icon().pixmap(64, 64)
    if not pixmap.isNull():
        box.setIconPixmap(pixmap)
    return box
