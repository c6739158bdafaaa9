"""The Club page: export your signed numbers, import members' files into a club folder, view the board.

``ClubWorker`` runs the export (keyring, index) and the merge on its own thread and hands
the results back by signal; ``Club`` wires it to the page and to the tray's export entry.
Numbers and rules live in ``app.club``; this module only shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.background import Background
from app.gui.fitting import fit_to_screen
from app.gui.formatting import tokens

COLUMNS = ("#", "Member", "Tier today", "Total", "Fresh", "Calls", "Days", "Streak", "Flags")
PERIODS = (("today", "Today"), ("7d", "7 days"), ("30d", "30 days"), ("all", "All time"))


class ClubWorker(QObject):
    """Export and merge off the GUI thread.

    Signals:
        exported(object): ``{"path", "days", "fingerprint", "created_key"}`` after an export.
        merged(object): ``{"board", "doc"}`` after a merge wrote the board.
        failed(str): the export or merge failed; the message says why (never a key).
    """

    exported = Signal(object)
    merged = Signal(object)
    failed = Signal(str)

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db

    @Slot(str, str)
    def export(self, member: str, out: str) -> None:
        from app.club import service

        try:
            self.exported.emit(service.export_to(self.db, member, Path(out)))
        except Exception as exc:  # every failure is a message on the page
            self.failed.emit(f"Export failed: {exc}")

    @Slot(object, str)
    def merge(self, files: list[str], folder: str) -> None:
        from app.club import service

        try:
            self.merged.emit(service.merge_into([Path(f) for f in files], Path(folder)))
        except Exception as exc:
            self.failed.emit(f"Merge failed: {exc}")


NO_FOLDER = (
    "No club folder yet: type the folder your club shares (its board shows as soon as you leave the field), "
    "or pick it with Import members' files…. Export my numbers… writes your own file for it."
)


class ClubPage(QWidget):
    """The page: your name, export, the club folder, import, and the board as a table.

    Signals:
        export_requested(str, str): member name and the file to write.
        import_requested(object, str): the files to merge and the club folder.
    """

    export_requested = Signal(str, str)
    import_requested = Signal(object, str)
    folder_changed = Signal(str)

    def __init__(self, member: str = "", folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · Club")
        self.board: dict[str, Any] | None = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Your name in the club:"))
        self.member = QLineEdit(member)
        self.member.setPlaceholderText("1–40 letters, digits, space . _ -")
        row.addWidget(self.member, 1)
        self.export_button = QPushButton("Export my numbers…")
        self.export_button.clicked.connect(self._on_export_clicked)
        row.addWidget(self.export_button)
        layout.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Club folder:"))
        self.folder = QLineEdit(folder)
        self.folder.setPlaceholderText("where members' files, members.json and the board live")
        self.folder.editingFinished.connect(self._on_folder_edited)
        self._folder_shown = folder
        row.addWidget(self.folder, 1)
        self.import_button = QPushButton("Import members' files…")
        self.import_button.clicked.connect(self._on_import_clicked)
        row.addWidget(self.import_button)
        self.open_button = QPushButton("Open board in browser")
        self.open_button.clicked.connect(self._on_open_clicked)
        row.addWidget(self.open_button)
        layout.addLayout(row)

        row = QHBoxLayout()
        self.period = QComboBox()
        for key, title in PERIODS:
            self.period.addItem(title, key)
        self.period.currentIndexChanged.connect(self._redraw)
        self.measure = QComboBox()
        self.measure.addItem("Ranked by total tokens", "total")
        self.measure.addItem("Ranked by fresh tokens (no cache reads)", "fresh")
        self.measure.currentIndexChanged.connect(self._redraw)
        row.addWidget(self.period)
        row.addWidget(self.measure)
        row.addStretch(1)
        layout.addLayout(row)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.messages = QLabel("" if folder else NO_FOLDER)
        self.messages.setWordWrap(True)
        layout.addWidget(self.messages)
        fit_to_screen(self, 900, 560)

    # -- what the user asks for --------------------------------------------------------------

    def request_export(self, out: str) -> None:
        self.messages.setText("Exporting…")
        self.export_requested.emit(self.member.text().strip(), out)

    def request_import(self, files: list[str]) -> None:
        folder = self.folder.text().strip()
        if not folder:
            self.messages.setText("Choose the club folder first.")
            return
        self.messages.setText(f"Merging {len(files)} file(s)…")
        self.import_requested.emit(files, folder)

    def _on_export_clicked(self) -> None:
        name = self.member.text().strip() or "member"
        out, _ = QFileDialog.getSaveFileName(self, "Export my numbers", f"{name}.tokenclub.json", "JSON (*.json)")
        if out:
            self.request_export(out)

    def _on_import_clicked(self) -> None:
        if not self.folder.text().strip():
            folder = QFileDialog.getExistingDirectory(self, "Club folder")
            if not folder:
                return
            self.folder.setText(folder)
        files, _ = QFileDialog.getOpenFileNames(self, "Members' exports", "", "JSON (*.json)")
        if files:
            self.request_import(files)

    def _on_folder_edited(self) -> None:
        """A folder typed in is loaded at once (its board shown), not only when files are imported."""
        folder = self.folder.text().strip()
        if folder and folder != self._folder_shown:
            self._folder_shown = folder
            self.folder_changed.emit(folder)

    def _on_open_clicked(self) -> None:
        page = Path(self.folder.text().strip()) / "board" / "index.html"
        if page.exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(page)))
        else:
            self.messages.setText("No board yet: import members' files first.")

    # -- what comes back -------------------------------------------------------------------

    def show_exported(self, info: dict[str, Any]) -> None:
        new = " (a new key was created and kept in the OS keyring)" if info["created_key"] else ""
        self.messages.setText(f"Exported {info['days']} days to {info['path']}, signed by {info['fingerprint']}{new}.")

    def show_board(self, doc: dict[str, Any] | None) -> None:
        self.board = doc
        if doc is not None:
            rejected = doc.get("rejections") or []
            text = f"Board of {len(doc['members'])} members, days up to {doc['as_of']}."
            if rejected:
                text += (
                    f" {len(rejected)} rejected: "
                    + "; ".join(f"{r['file']}: {r['rule']}" for r in rejected[:5])
                    + (" …" if len(rejected) > 5 else "")
                )
            self.messages.setText(text + " " + doc["ranking"]["tie_breaks"])
        self._redraw()

    def _redraw(self) -> None:
        self.table.setRowCount(0)
        if self.board is None:
            return
        members = {m["member"]: m for m in self.board["members"]}
        measure = self.measure.currentData()
        rows = sorted(self.board["periods"][self.period.currentData()], key=lambda r: r[f"rank_{measure}"])
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            m = members[r["member"]]
            cells = (
                str(r[f"rank_{measure}"]),
                r["member"],
                m["tier"] or "–",
                tokens(r["total"]),
                tokens(r["fresh"]),
                f"{r['calls']:,}",
                str(r["days"]),
                f"{m['streak']} (best {m['best_streak']})",
                ", ".join(m["flags"]),
            )
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))

    def rows(self) -> list[list[str]]:
        """The table as text (tests, accessibility)."""
        from app.gui.tables import widget_text

        return widget_text(self.table)


class Club(QObject):
    """The Club page and its worker thread; the tray's *Export to club…* lands here.

    Signals:
        exported(object): an export was written (on the GUI thread; the worker's result).
        merged(object): a merge wrote the board.
        failed(str): an export or merge failed.
    """

    exported = Signal(object)
    merged = Signal(object)
    failed = Signal(str)
    _export = Signal(str, str)
    _merge = Signal(object, str)

    def __init__(self, db: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = ClubWorker(db)
        self.background = Background(self.worker, "tokenclub-club")
        self._export.connect(self.worker.export)
        self._merge.connect(self.worker.merge)
        self.worker.exported.connect(self._on_exported)
        self.worker.merged.connect(self._on_merged)
        self.worker.failed.connect(self._on_failed)
        self.page: ClubPage | None = None

    def start(self) -> None:
        self.background.start()

    def stop(self) -> None:
        self.background.stop()

    def show_page(self) -> ClubPage:
        from app.club import service

        if self.page is None:
            cfg = service.load_config()
            self.page = ClubPage(cfg.get("member", ""), cfg.get("folder", ""))
            self.page.export_requested.connect(self.export)
            self.page.import_requested.connect(self.merge)
            self.page.folder_changed.connect(self.open_folder)
            folder = cfg.get("folder")
            if folder:
                self.page.show_board(service.load_board(Path(folder)))
        self.page.show()
        self.page.raise_()
        return self.page

    def open_folder(self, folder: str) -> None:
        """Show the board kept in ``folder`` and remember the folder; say so if it is not a club folder yet."""
        from app.club import service

        if self.page is None:
            return
        path = Path(folder).expanduser()
        if not path.is_dir():
            self.page.messages.setText(f"No folder {folder}: create it, or choose an existing club folder.")
            return
        service.save_config(folder=str(path))
        board = service.load_board(path)
        self.page.show_board(board)
        if board is None:
            self.page.messages.setText(f"No board in {folder} yet: import members' files to make one.")

    def export_dialog(self) -> None:
        """The tray's export entry: the page, then where to save."""
        self.show_page()._on_export_clicked()

    def export(self, member: str, out: str) -> None:
        from app.club import service

        service.save_config(member=member)
        self._export.emit(member, out)

    def merge(self, files: list[str], folder: str) -> None:
        from app.club import service

        service.save_config(folder=folder)
        self._merge.emit(files, folder)

    def _on_exported(self, info: dict[str, Any]) -> None:
        if self.page is not None:
            self.page.show_exported(info)
        self.exported.emit(info)

    def _on_merged(self, info: dict[str, Any]) -> None:
        if self.page is not None:
            self.page.show_board(info["doc"])
        self.merged.emit(info)

    def _on_failed(self, message: str) -> None:
        if self.page is not None:
            self.page.messages.setText(message)
        self.failed.emit(message)
