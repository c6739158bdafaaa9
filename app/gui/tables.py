"""Sortable tables over report rows (plain dicts): models, projects, sessions, insights.

Cells show formatted numbers (1.2M, $3.40, 93.1%); sorting reads the raw values, so 9.8M
sorts below 12M and an unpriced cost sorts last either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTableWidget, QWidget

from app.gui import formatting as fmt

SORT_ROLE = Qt.ItemDataRole.UserRole
NUMERIC = frozenset({"tokens", "usd", "rate", "int", "minutes"})
_Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        SORT_ROLE,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
    }
)
FIT_ROWS = 200  # columns fit their widest cell among this many rows: enough, and fast on thousands
_HASHED = re.compile(r"[0-9a-f]{32,64}")  # Gemini CLI without .project_root names a project by its folder's hash
NO_PROJECT = "(no project recorded)"


def project_label(value: str | None) -> str:
    """A project as a person reads it: never blank (Amp's threads carry none), a bare hash said to be one."""
    if not value:
        return NO_PROJECT
    if _HASHED.fullmatch(value):
        return f"(folder hash {value[:8]}…)"
    return value


def project_tooltip(value: str | None) -> str:
    if not value:
        return "The agent recorded no project folder for these calls."
    if _HASHED.fullmatch(value):
        return f"The agent named this project only by a hash of its folder: {value}"
    return value


@dataclass(frozen=True)
class Column:
    """One table column: the row key it shows, its header, and how its value is written.

    ``kind`` is text, tokens, usd, rate, int, minutes, list or time (ISO UTC, shown local).
    """

    key: str
    title: str
    kind: str = "text"


TOKEN_COLUMNS = (
    Column("in", "Input", "tokens"),
    Column("cw", "Cache write", "tokens"),
    Column("cr", "Cache read", "tokens"),
    Column("out", "Output", "tokens"),
    Column("rsn", "Reasoning", "tokens"),
    Column("total", "Total", "tokens"),
    Column("cost_usd", "Cost", "usd"),
    Column("cache_hit_rate", "Cache hit", "rate"),
)
MODEL_COLUMNS = (Column("model", "Model"), Column("agent", "Agent"), *TOKEN_COLUMNS)
PROJECT_COLUMNS = (
    Column("project", "Project"),
    Column("agents", "Agents", "list"),
    Column("sessions", "Sessions", "int"),
    *TOKEN_COLUMNS,
)
SESSION_COLUMNS = (
    Column("last", "Last call", "time"),
    Column("agent", "Agent"),
    Column("project", "Project"),
    Column("models", "Models", "list"),
    Column("minutes", "Minutes", "minutes"),
    *TOKEN_COLUMNS,
    Column("session", "Session"),
)
INSIGHT_COLUMNS = (
    Column("ts", "When", "time"),
    Column("kind", "Kind"),
    Column("agent", "Agent"),
    Column("project", "Project"),
    Column("previous_model", "From model"),
    Column("model", "Model"),
    Column("idle_minutes", "Idle", "minutes"),
    Column("tokens", "Re-paid tokens", "tokens"),
    Column("extra_cost_usd", "Extra cost", "usd"),
    Column("summary", "What happened"),
)


def display(column: Column, row: dict[str, Any]) -> str:
    """The text a cell shows."""
    value = row.get(column.key)
    if column.kind == "tokens":
        return fmt.tokens(value)
    if column.kind == "usd":
        return fmt.cost(value, row.get("unpriced_tokens")) if column.key == "cost_usd" else fmt.usd(value)
    if column.kind == "rate":
        return fmt.percent(value)
    if column.kind == "int":
        return "" if value is None else f"{value:,}"
    if column.kind == "minutes":
        return "" if value is None else f"{value:,.1f} min"
    if column.kind == "list":
        return ", ".join(value or [])
    if column.kind == "time":
        return fmt.timestamp(value)
    if column.key == "project":
        return project_label(value)
    return "" if value is None else str(value)


def sort_key(column: Column, row: dict[str, Any]) -> Any:
    """What sorting compares: numbers as numbers, text without case; None means "no value"."""
    value = row.get(column.key)
    if value is None:
        return None
    if column.kind in NUMERIC:
        return float(value)
    if column.kind == "list":
        return ", ".join(value).casefold()
    return str(value).casefold()


class RowsModel(QAbstractTableModel):
    """Rows of dicts under fixed columns; sorts on raw values, rows without a value last."""

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = tuple(columns)
        self._rows: list[dict[str, Any]] = []
        self._sorted: tuple[int, Qt.SortOrder] | None = None

    def set_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self._sorted is not None:
            self._sort_rows(*self._sorted)
        self.endResetModel()

    def row(self, number: int) -> dict[str, Any]:
        return self._rows[number]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():  # views ask for many roles; answer the rest fast
            return None
        column, row = self.columns[index.column()], self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display(column, row)
        if role == SORT_ROLE:
            return sort_key(column, row)
        if role == Qt.ItemDataRole.ToolTipRole:
            value = row.get(column.key)
            if column.kind == "tokens" and value is not None:
                return f"{fmt.exact(value)} tokens"
            if column.key == "project":
                return project_tooltip(value)
            return str(value) if column.kind == "text" and value else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.kind in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        self.layoutAboutToBeChanged.emit()
        self._sorted = (column, order)
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        col = self.columns[column]
        keyed = [(sort_key(col, r), r) for r in self._rows]
        present = [kr for kr in keyed if kr[0] is not None]
        present.sort(key=lambda kr: kr[0], reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [r for _, r in present] + [r for k, r in keyed if k is None]


class RowsTable(QTableView):
    """A read-only, sortable table of report rows, first sorted by ``sort_by`` (a column key).

    ``stretch`` (a column key) takes the width left over; the other columns fit their contents.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        sort_by: str,
        stretch: str,
        descending: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.rows = RowsModel(columns, self)
        self.setModel(self.rows)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)  # more rows in view
        keys = [c.key for c in columns]
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(keys.index(stretch), QHeaderView.ResizeMode.Stretch)
        header.setResizeContentsPrecision(FIT_ROWS)
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(keys.index(sort_by), order)
        self.setSortingEnabled(True)

    def set_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Show ``rows`` in the current sort order; columns fit the first rows shown, then keep their width."""
        fit = self.rows.rowCount() == 0
        self.rows.set_rows(rows)
        if fit and rows:
            self.resizeColumnsToContents()


def widget_text(table: QTableWidget) -> list[list[str]]:
    """A QTableWidget's cells as text, row by row (tests, accessibility)."""
    out = []
    for i in range(table.rowCount()):
        items = (table.item(i, j) for j in range(table.columnCount()))
        out.append([it.text() if it is not None else "" for it in items])
    return out
