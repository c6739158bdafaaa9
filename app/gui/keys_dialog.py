"""The Keys dialog: add a key in a masked field, test, relabel, set a low-balance threshold, remove.

The key typed in is handed to ``app.providers.keys`` and the field is cleared at once:
no widget keeps it, and the list shows only the masked form. Tests run off the GUI thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.secrets import InsecureKeyring, KeyringLockedError
from app.providers import IDS, TITLES, keys
from app.providers.config import KeyInfo

COLUMNS = ("Provider", "Label", "Kind", "Key", "Last used", "Low balance")
VAULT_ERRORS = (InsecureKeyring, KeyringLockedError, keys.VaultError, OSError)


class _TestDone(QObject):
    done = Signal(str, bool, str)  # key name, ok, message


class _TestKey(QRunnable):
    """Calls the key's cheapest read-only endpoint on a pool thread."""

    def __init__(self, info: KeyInfo, signals: _TestDone) -> None:
        super().__init__()
        self.info, self.signals = info, signals

    def run(self) -> None:
        from app.providers import get
        from app.providers.sync import fault_message

        try:
            message, ok = get(self.info.provider).test(keys.get_secret(self.info)), True
            keys.touch(self.info)
        except Exception as exc:  # every failure becomes a message that names the provider, never the key
            message, ok = fault_message(self.info, exc), False
        self.signals.done.emit(self.info.name, ok, message)


class KeysDialog(QDialog):
    """Signals:
    changed(): a key was added, relabelled or removed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · API keys")
        self.resize(760, 420)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()

        self.provider = QComboBox()
        for pid in IDS:
            self.provider.addItem(TITLES[pid], pid)
        self.label = QLineEdit("default")
        self.key_field = QLineEdit()
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_field.setPlaceholderText("paste the key (hidden)")
        self.kind = QComboBox()
        self.kind.addItem("from the key's prefix", None)
        self.kind.addItem("regular", "regular")
        self.kind.addItem("admin (usage, cost, management)", "admin")
        self.add_button = QPushButton("Add key")
        self.add_button.clicked.connect(self.add_key)
        form = QFormLayout()
        form.addRow("Provider", self.provider)
        form.addRow("Label", self.label)
        form.addRow("Key", self.key_field)
        form.addRow("Kind", self.kind)
        form.addRow("", self.add_button)

        self.test_button = QPushButton("Test")
        self.relabel_button = QPushButton("Relabel…")
        self.low_button = QPushButton("Low balance…")
        self.remove_button = QPushButton("Remove")
        self.test_button.clicked.connect(self.test_selected)
        self.relabel_button.clicked.connect(self.relabel_selected)
        self.low_button.clicked.connect(self.low_balance_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        for b in (self.test_button, self.relabel_button, self.low_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.status)
        self._signals = _TestDone(self)
        self._signals.done.connect(self._tested)
        self.reload()

    def reload(self) -> None:
        try:
            found = keys.select()
        except VAULT_ERRORS as exc:
            self.say(str(exc))
            found = []
        self.infos = found
        self.table.setRowCount(len(found))
        for r, k in enumerate(found):
            low = "" if k.low_balance is None else f"{k.low_balance:g}"
            cells = (TITLES.get(k.provider, k.provider), k.label, k.kind, k.mask, k.last_used or "never", low)
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if not found:
            self.say("No keys yet. Keys are kept in the OS keyring; only their masked form is shown here.")

    def say(self, text: str) -> None:
        self.status.setText(text)

    def selected(self) -> KeyInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.say("Select a key first.")
            return None
        return self.infos[rows[0].row()]

    def add_key(self) -> None:
        secret = self.key_field.text()
        self.key_field.clear()  # the field never keeps the key, whatever happens next
        try:
            info = keys.add(
                self.provider.currentData(), secret, self.label.text().strip() or "default", self.kind.currentData()
            )
        except VAULT_ERRORS as exc:
            self.say(str(exc))
            return
        finally:
            del secret
        self.say(f"Stored {info.name} ({info.kind} key {info.mask}) in the keyring.")
        self.reload()
        self.changed.emit()

    def test_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.say(f"Testing {info.name}…")
        QThreadPool.globalInstance().start(_TestKey(info, self._signals))

    def _tested(self, name: str, ok: bool, message: str) -> None:
        self.say(f"{name}: {'ok, ' if ok else ''}{message}")
        self.reload()

    def relabel_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        text, ok = QInputDialog.getText(self, "Relabel key", f"New label for {info.name}:", text=info.label)
        if ok and text.strip() and text.strip() != info.label:
            self._update(info, new_label=text.strip())

    def low_balance_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        value, ok = QInputDialog.getDouble(
            self,
            "Low balance",
            f"Warn when {info.name}'s balance is under (0: never):",
            info.low_balance or 0.0,
            0.0,
            1e9,
            2,
        )
        if ok:
            self._update(info, low_balance=value or None, clear_low_balance=not value)

    def _update(self, info: KeyInfo, **changes: Any) -> None:
        try:
            keys.update(info.provider, info.label, **changes)
        except VAULT_ERRORS as exc:
            self.say(str(exc))
            return
        self.reload()
        self.changed.emit()

    def remove_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        answer = QMessageBox.question(self, "Remove key", f"Remove {info.name} ({info.mask}) from the keyring?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            keys.remove(info.provider, info.label)
        except VAULT_ERRORS as exc:
            self.say(str(exc))
            return
        self.say(f"Removed {info.name}.")
        self.reload()
        self.changed.emit()
