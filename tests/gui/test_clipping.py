"""The clipped-text finder used by the screenshot test catches each kind of cut text, and passes what fits."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.gui.tables import PROJECT_COLUMNS, RowsTable
from tests.gui.clipping import clipped
from tests.gui.conftest import shown

LONG = "No system tray was found on this desktop, so TokenClub runs in this window (closing it quits)."
KEY = "SHA256:Qh3Mu3cS8e5Xo0pT2mVv1Z4w7yb9n6AaBbCcDdEeFfG"


def test_a_label_narrower_than_its_text_is_clipped(qtbot: QtBot) -> None:
    box = QWidget()
    row = QHBoxLayout(box)
    label = QLabel(LONG)
    label.setFixedWidth(200)
    row.addWidget(label)
    shown(qtbot, box, 400, 60)
    assert any("No system tray" in found for found in clipped(box))
    label.setWordWrap(True)  # wrapped and given the height it needs: fits
    label.setFixedHeight(label.heightForWidth(200) + 4)
    assert clipped(box) == []


def test_a_table_cell_cut_without_a_tooltip_is_clipped(qtbot: QtBot) -> None:
    table = QTableWidget(1, 2)
    table.setHorizontalHeaderLabels(["Host", "Host key"])
    table.setItem(0, 0, QTableWidgetItem("agent-box"))
    table.setItem(0, 1, QTableWidgetItem(KEY))
    table.setColumnWidth(1, 90)
    shown(qtbot, table, 600, 200)
    assert any(KEY[:20] in found for found in clipped(table))
    table.item(0, 1).setToolTip(KEY)  # elided on purpose, the whole key one hover away
    assert not any(KEY[:20] in found for found in clipped(table))
    table.resizeColumnsToContents()
    assert clipped(table) == []


def test_a_header_and_a_button_too_narrow_are_clipped(qtbot: QtBot) -> None:
    box = QWidget()
    column = QVBoxLayout(box)
    button = QPushButton("Import members' files…")
    button.setFixedWidth(60)
    column.addWidget(button)
    table = QTableWidget(0, 1)
    table.setHorizontalHeaderLabels(["Provider tokens"])
    table.setColumnWidth(0, 30)
    column.addWidget(table)
    shown(qtbot, box, 500, 300)
    found = clipped(box)
    assert any("Import members" in f for f in found) and any("Provider tokens" in f for f in found)


def test_a_status_bar_message_longer_than_the_bar_is_clipped(qtbot: QtBot) -> None:
    window = QMainWindow()
    window.setCentralWidget(QWidget())
    shown(qtbot, window, 500, 200)
    window.statusBar().showMessage(LONG)
    assert any("status bar" in f for f in clipped(window))


def test_projects_without_a_name_read_as_such(qtbot: QtBot) -> None:
    table = RowsTable(PROJECT_COLUMNS, "total", stretch="project")
    shown(qtbot, table, 1200, 300)
    hashed = "0bf6933e8ef34a3bd42687dda8a365e4f876a36717528baf2e25a671d78459ae"
    base = {"agents": [], "sessions": 1, "in": 1, "cw": 0, "cr": 0, "out": 1, "rsn": 0, "total": 2}
    table.set_rows([{**base, "project": ""}, {**base, "project": hashed}, {**base, "project": "/home/dev/web"}])
    model = table.model()
    shown_names = [model.index(r, 0).data() for r in range(3)]
    assert "(no project recorded)" in shown_names and "(folder hash 0bf6933e…)" in shown_names
    assert hashed in str(model.index(shown_names.index("(folder hash 0bf6933e…)"), 0).data(3))  # the tooltip
    assert clipped(table) == []
