"""Text that does not fit its widget, found the way a reader would: in what is visible on screen.

``clipped(window)`` walks the visible labels, buttons, group titles, progress bars, table
headers and the visible cells of tables, and returns one line per text cut short. A cell
or label that elides on purpose ("…" shown, the whole text in its tooltip) is not clipped.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QCheckBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStyle,
    QWidget,
)

SLACK = 2  # pixels of rounding between a font's advance and the space a style gives it
MAX_ROWS = 60  # cells checked per table: the rows on screen, never thousands


def _plain(text: str) -> str:
    """A button's text without its mnemonic marks (&Save -> Save, && -> &)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _shown(widget: QWidget) -> bool:
    """On screen: it and its parents visible (a tab not picked is hidden) and of some size."""
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _scrolls(widget: QWidget) -> bool:
    """Inside a scroll area's viewport (not a table's own): its text is meant to scroll, not to fit."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, QAbstractItemView):
            return True
        parent = parent.parentWidget()
    return False


def _elided_on_purpose(shown: str, tooltip: str) -> bool:
    return shown.endswith("…") and len(tooltip) > len(shown) - 1


def _label(label: QLabel) -> str | None:
    text = label.text()
    if not text or _scrolls(label) or _elided_on_purpose(text, label.toolTip()):
        return None
    room = label.contentsRect().width() - 2 * max(label.margin(), 0) - max(label.indent(), 0)
    if label.wordWrap():  # wrapped: the lines must fit its height
        need_h = label.heightForWidth(label.width())
        if need_h > label.height() + SLACK:
            return f"QLabel {text[:60]!r}: needs {need_h}px of height, has {label.height()}px"
        return None
    rich = label.textFormat() == Qt.TextFormat.RichText
    if rich or (label.textFormat() == Qt.TextFormat.AutoText and "<" in text and ">" in text):
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        need = int(doc.idealWidth())
    else:
        need = max(QFontMetrics(label.font()).horizontalAdvance(line) for line in text.splitlines())
    if need > room + SLACK:
        return f"QLabel {text[:60]!r}: needs {need}px, has {room}px"
    return None


def _button(button: QAbstractButton) -> str | None:
    text = _plain(button.text())
    if not text:
        return None
    need = button.minimumSizeHint().width() if isinstance(button, QPushButton | QCheckBox) else 0
    if need and button.width() + SLACK < need:
        return f"{type(button).__name__} {text!r}: needs {need}px, has {button.width()}px"
    return None


def _group(box: QGroupBox) -> str | None:
    title = _plain(box.title())
    need = QFontMetrics(box.font()).horizontalAdvance(title) + 16  # the frame's indent on either side
    if title and need > box.width() + SLACK:
        return f"QGroupBox {title!r}: needs {need}px, has {box.width()}px"
    return None


def _progress(bar: QProgressBar) -> str | None:
    text = bar.text() if bar.isTextVisible() else ""
    need = QFontMetrics(bar.font()).horizontalAdvance(text) + 8
    if text and need > bar.width() + SLACK:
        return f"QProgressBar {text!r}: needs {need}px, has {bar.width()}px"
    return None


def _header(header: QHeaderView) -> list[str]:
    model = header.model()
    if model is None or not _shown(header) or header.orientation() != Qt.Orientation.Horizontal:
        return []
    style = header.style()
    margin = 2 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    arrow = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
    metrics = QFontMetrics(header.font())
    out = []
    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        text = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
        sorted_here = header.isSortIndicatorShown() and header.sortIndicatorSection() == section
        need = metrics.horizontalAdvance(text) + margin + (arrow + margin if sorted_here else 0)
        if text and header.sectionSize(section) + SLACK < need:
            out.append(f"header {text!r}: needs {need}px, has {header.sectionSize(section)}px")
    return out


def _cells(view: QAbstractItemView) -> list[str]:
    model = view.model()
    if model is None or not _shown(view):
        return []
    metrics = QFontMetrics(view.font())
    margin = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
    out = []
    for row in range(min(model.rowCount(), MAX_ROWS)):
        for col in range(model.columnCount()):
            index = model.index(row, col, QModelIndex())
            rect = view.visualRect(index)
            if not rect.isValid() or not view.viewport().rect().intersects(rect):
                continue
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            if not text:
                continue
            need = metrics.horizontalAdvance(text) + margin
            icon = index.data(Qt.ItemDataRole.DecorationRole)
            if icon is not None:
                need += view.iconSize().width() + 4 if view.iconSize().isValid() else 20
            tooltip = str(index.data(Qt.ItemDataRole.ToolTipRole) or "")
            if need > rect.width() + SLACK and text not in tooltip:
                out.append(f"cell {text[:60]!r} (row {row}, column {col}): needs {need}px, has {rect.width()}px")
    return out


def clipped(window: QWidget) -> list[str]:
    """Every visible text in ``window`` that does not fit where it is drawn."""
    out: list[str] = []
    for widget in [window, *window.findChildren(QWidget)]:
        if not _shown(widget):
            continue
        found: str | None = None
        if isinstance(widget, QLabel):
            found = _label(widget)
        elif isinstance(widget, QAbstractButton):
            found = _button(widget)
        elif isinstance(widget, QGroupBox):
            found = _group(widget)
        elif isinstance(widget, QProgressBar):
            found = _progress(widget)
        elif isinstance(widget, QHeaderView):
            out += _header(widget)
        elif isinstance(widget, QAbstractItemView):
            out += _cells(widget)
        if found:
            out.append(found)
    if isinstance(window, QMainWindow) and window.statusBar().currentMessage():
        bar = window.statusBar()
        message = bar.currentMessage()
        need = QFontMetrics(bar.font()).horizontalAdvance(message) + 8
        beside = sum(w.width() for w in bar.findChildren(QLabel) if w.isVisible())  # its permanent widgets
        if need > bar.width() - beside + SLACK:
            out.append(f"status bar {message[:60]!r}: needs {need}px, has {bar.width() - beside}px")
    return out
