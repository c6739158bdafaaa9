"""The window shown when the index cannot be opened: what is wrong, where, and a way out.

A damaged index, or a file that is not this version's index, can be moved aside (renamed,
never deleted) so that a new one is built from the agents' logs. Other causes (a read-only
folder, a full disk) are fixed outside the app; "Try again" opens the index once more.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.schema import IndexUnavailable

MOVE_ASIDE = "Move it aside and rebuild from the logs"
KEEP_NOTE = (
    "Moving it aside renames it to <code>{name}.broken-&lt;time&gt;</code> in the same folder (with its "
    "<code>-wal</code> and <code>-shm</code>) and builds a new index from your agents' logs. Nothing is deleted: "
    "calls from logs your agents have deleted since are only in the old file, so keep it."
)


class RecoveryWindow(QWidget):
    """Says why the index cannot be used and offers to move it aside, try again, open its folder, or quit.

    Signals:
        move_aside_requested(): the user chose to move the index aside and rebuild it.
        retry_requested(): the user fixed the cause (space freed, permissions) and wants the index opened again.
        quit_requested(): the user chose to quit the app.
    """

    move_aside_requested = Signal()
    retry_requested = Signal()
    quit_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("TokenClub cannot open its index")
        self.problem: IndexUnavailable | None = None
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.setWordWrap(True)
        self.error = QLabel()  # why moving aside failed, if it did
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828")
        self.error.hide()
        buttons = QDialogButtonBox()
        self.move_button = QPushButton(MOVE_ASIDE)
        self.retry_button = QPushButton("Try again")
        self.folder_button = QPushButton("Open folder")
        self.quit_button = QPushButton("Quit")
        buttons.addButton(self.move_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.quit_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.move_button.clicked.connect(self.move_aside_requested)
        self.retry_button.clicked.connect(self.retry_requested)
        self.folder_button.clicked.connect(self.open_folder)
        self.quit_button.clicked.connect(self.quit_requested)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.details, self.note, self.error):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)

    def show_problem(self, problem: IndexUnavailable) -> None:
        """Say what is wrong with the index at ``problem.path`` and offer what helps."""
        self.problem = problem
        what = "is damaged" if problem.kind == "damaged" else "cannot be opened"
        self.heading.setText(f"<h3>TokenClub's usage index {what}</h3>")
        advice = "" if problem.kind == "damaged" else f"<br><b>What to do:</b> {html.escape(problem.advice)}"
        where = html.escape(str(problem.path))
        self.details.setText(f"<p><b>File:</b> {where}<br><b>Cause:</b> {html.escape(problem.cause)}{advice}</p>")
        self.note.setText(KEEP_NOTE.format(name=html.escape(problem.path.name)) if problem.rebuildable else "")
        self.note.setVisible(problem.rebuildable)
        self.move_button.setVisible(problem.rebuildable)
        self.retry_button.setVisible(not problem.rebuildable)  # the file is the trouble: reopening won't help
        self.error.hide()
        (self.move_button if problem.rebuildable else self.retry_button).setDefault(True)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def open_folder(self) -> None:
        if self.problem is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.problem.path.parent)))
