"""Windows that fit the screen and texts that fit their place: sizes and shortened reasons."""

from __future__ import annotations

import re

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

FRAME_ALLOWANCE = 40  # a window manager's title bar and borders, outside the size asked for
REASON_LIMIT = 120  # characters of a reason shown in a table cell or a notification
_SEARCHED = re.compile(r"\(searched ([^)]*)\)")


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` x ``height``, or less so that it fits the screen's free area."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(width, height)
        return
    area = screen.availableGeometry()
    window.resize(min(width, area.width()), min(height, area.height() - FRAME_ALLOWANCE))


def short_reason(text: str, limit: int = REASON_LIMIT) -> str:
    """A run's reason short enough for a cell or a balloon; the full text belongs in a tooltip.

    A missing command's reason carries the host's whole PATH (hundreds of characters): it
    is folded to the number of folders searched, and anything still too long is cut with "…".
    """

    def fold(match: re.Match[str]) -> str:
        folders = [f for f in match.group(1).split(":") if f]
        return f"({len(folders)} folders searched)"

    short = _SEARCHED.sub(fold, text)
    return short if len(short) <= limit else short[: limit - 1].rstrip() + "…"
