"""The Qt binding itself: a long-running tray app cannot afford a binding that leaks or drops references."""

from __future__ import annotations

import sys

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

CALLS = 2_000


def test_void_painter_calls_keep_none_alive(qapp: object) -> None:
    """PySide6 6.12.0 decremented None's count on every void QPainter call; None died after a few thousand."""
    pixmap = QPixmap(8, 8)
    painter = QPainter(pixmap)
    pen = QPen(QColor("red"))
    try:
        before = sys.getrefcount(None)
        for _ in range(CALLS):
            painter.setPen(pen)
            painter.drawLine(QPointF(0, 0), QPointF(4, 4))
        after = sys.getrefcount(None)
    finally:
        painter.end()
    assert abs(after - before) < CALLS // 10, f"None's reference count moved by {after - before}"
