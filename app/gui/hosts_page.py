"""The Hosts page of the settings: dedicated machines over ssh (add with the key shown, check, remove).

Every ssh action (``ssh-keyscan``, pairing, a check, a removal) runs on the page's own
thread (``tokenclub-hosts``) through :class:`HostsOps`; results come back by signal. The
pulls themselves run on the index thread (``IndexWorker.pull_hosts``), on its timer and on
Refresh.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.background import Background
from app.gui.fitting import fit_to_screen

STOP_TIMEOUT_MS = 90_000  # longer than an action's ssh exchange takes (each request gives up after 60 s)


class HostsOps(QObject):
    """The blocking host actions, on the page's thread.

    Signals:
        listed(object): ``app.console.status.hosts_list()``.
        scanned(object): the keys a host offers, ``[(fingerprint, kind)]``.
        done(str): an action finished; the text says what happened.
        checked(str): a host check, as text.
        failed(str): an action failed; the text says why.
    """

    listed = Signal(object)
    scanned = Signal(object)
    done = Signal(str)
    checked = Signal(str)
    failed = Signal(str)

    @Slot()
    def list_hosts(self) -> None:
        from app.console import status
        from app.console.ssh import HostError

        try:
            self.listed.emit(status.hosts_list())
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))

    @Slot(object)
    def scan(self, target: Any) -> None:
        from app.console.ssh import HostError, keyscan

        try:
            self.scanned.emit([(k.fingerprint, k.kind) for k in keyscan(target)])
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))

    @Slot(object, str, bool)
    def add(self, target: Any, fingerprint: str, allow_this_machine: bool) -> None:
        from app.console import hosts
        from app.console.ssh import HostError, keyscan

        try:
            hosts.check_name(target.name)
            key = hosts.matching(keyscan(target), fingerprint)
            if key is None:
                raise HostError(f"the host no longer offers {fingerprint}")
            info = hosts.add(target, key, allow_this_machine)
            self.done.emit(f"Added {target.name} ({info.get('os')}, Python {info.get('python')})")
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))
        self.list_hosts()

    @Slot(str)
    def check(self, name: str) -> None:
        from app.console import hosts
        from app.console.ssh import HostError

        try:
            target = hosts.named(name)
        except HostError as exc:
            self.failed.emit(str(exc))
            return
        doc = hosts.check(target)
        if not doc["reachable"]:
            self.checked.emit(f"{name}: unreachable: {doc['why']}")
            return
        lines = [
            f"{name}: reachable, round trip {doc['rtt_ms']} ms",
            f"{doc['os']}, Python {doc['python']}, home {doc['home']}",
        ]
        free = doc.get("disk_free_bytes")
        if free is not None:
            lines.append(f"{free / 1e9:.1f} GB free in the home")
        for cli, c in sorted((doc.get("clis") or {}).items()):
            lines.append(f"{cli}: {c['version'] or '?'}" if c["path"] else f"{cli}: not on PATH")
        for agent, a in doc["agents"].items():
            if a["files"] or a["unreadable"]:
                lines.append(f"{agent}: {a['files']} files, {a['bytes'] / 1e6:.1f} MB")
        self.checked.emit("\n".join(lines))

    @Slot(str)
    def remove(self, name: str) -> None:
        from app.console import hosts
        from app.console.ssh import HostError

        try:
            hosts.remove(name)
            self.done.emit(f"Removed {name}; its counted usage stays (tokenclub host remove --forget-usage deletes it)")
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))
        self.list_hosts()

    @Slot(float)
    def set_every(self, seconds: float) -> None:
        from app.console import hosts
        from app.console.ssh import HostError

        try:
            hosts.set_pull_every_s(seconds)
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))


class HostsPage(QDialog):
    """Add (the host key's fingerprint shown for confirmation), check and remove dedicated machines.

    Signals:
        changed(): a host was added or removed (the app pulls again).
    """

    changed = Signal()
    _list = Signal()
    _scan = Signal(object)
    _add = Signal(object, str, bool)
    _check = Signal(str)
    _remove = Signal(str)
    _every = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · dedicated machines")
        self._ops = HostsOps()
        # runs while the page is shown (see showEvent, hideEvent)
        self._background = Background(self._ops, "tokenclub-hosts", STOP_TIMEOUT_MS)
        self.destroyed.connect(self._ops.deleteLater)
        for signal, slot in (
            (self._list, self._ops.list_hosts),
            (self._scan, self._ops.scan),
            (self._add, self._ops.add),
            (self._check, self._ops.check),
            (self._remove, self._ops.remove),
            (self._every, self._ops.set_every),
        ):
            signal.connect(slot)
        self._ops.listed.connect(self._show_hosts)
        self._ops.scanned.connect(self._show_keys)
        self._ops.done.connect(self._on_done)
        self._ops.checked.connect(self._on_checked)
        self._ops.failed.connect(self._on_failed)

        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("hosts")
        self.table.setHorizontalHeaderLabels(["Host", "ssh", "Host key"])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()  # names and ssh fit their text, the key takes the rest
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        check, remove = QPushButton("Check", self), QPushButton("Remove", self)
        check.clicked.connect(self._check_selected)
        remove.clicked.connect(self._remove_selected)

        self.name = QLineEdit(self)
        self.name.setPlaceholderText("agent-box")
        self.ssh = QLineEdit(self)
        self.ssh.setPlaceholderText("user@host")
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(22)
        self.identity = QLineEdit(self)
        self.identity.setPlaceholderText("(your ssh-agent)")
        self.fetch = QPushButton("Show host key", self)
        self.fetch.clicked.connect(self._fetch_keys)
        self.keys = QComboBox(self)
        self.keys.setObjectName("host-keys")
        self.allow = QCheckBox("This is the machine I sit at, on purpose", self)
        self.add_button = QPushButton("Trust this key and add", self)
        self.add_button.setEnabled(False)
        self.add_button.clicked.connect(self._add_host)
        self.every = QSpinBox(self)
        self.every.setRange(0, 86_400)
        self.every.setSuffix(" s")
        self.every.setSpecialValueText("only on Refresh")
        from app.console.hosts import pull_every_s

        self.every.setValue(int(pull_every_s()))
        self.every.editingFinished.connect(self._save_every)
        self.status = QPlainTextEdit(self)
        self.status.setReadOnly(True)
        self.status.setMaximumHeight(140)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("ssh to", self.ssh)
        form.addRow("Port", self.port)
        form.addRow("Identity file", self.identity)
        form.addRow("", self.fetch)
        form.addRow(QLabel("Compare with the host's `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`:"))
        form.addRow("Host key", self.keys)
        form.addRow("", self.allow)
        form.addRow("", self.add_button)
        form.addRow("Pull every", self.every)
        row = QHBoxLayout()
        row.addWidget(check)
        row.addWidget(remove)
        row.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(close)
        fit_to_screen(self, 820, 640)
        self._list.emit()

    def shutdown(self) -> None:
        """Stop the page's thread after the action running on it (waiting at most ``STOP_TIMEOUT_MS``)."""
        self._background.stop()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self._background.start()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()  # no thread outlives the page's being shown
        super().hideEvent(event)

    def _target(self) -> Any:
        from app.console.ssh import Target

        identity = self.identity.text().strip() or None
        return Target(self.name.text().strip(), self.ssh.text().strip(), self.port.value(), identity)

    def _fetch_keys(self) -> None:
        if not self.name.text().strip() or not self.ssh.text().strip():
            self._on_failed("give the host a name and where ssh reaches it")
            return
        self.keys.clear()
        self.add_button.setEnabled(False)
        self.status.setPlainText("asking the host for its keys…")
        self._scan.emit(self._target())

    def _show_keys(self, keys: list[tuple[str, str]]) -> None:
        for fingerprint, kind in keys:
            self.keys.addItem(f"{fingerprint} ({kind})", fingerprint)
        preferred = next((i for i, (_, kind) in enumerate(keys) if kind == "ED25519"), 0)
        self.keys.setCurrentIndex(preferred)
        self.add_button.setEnabled(bool(keys))
        self.status.setPlainText("Check the fingerprint on the host before trusting it.")

    def _add_host(self) -> None:
        fingerprint = self.keys.currentData()
        if not fingerprint:
            return
        self.add_button.setEnabled(False)
        self.status.setPlainText("pairing…")
        self._add.emit(self._target(), str(fingerprint), self.allow.isChecked())

    def _selected(self) -> str | None:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return item.text() if item is not None else None

    def _check_selected(self) -> None:
        name = self._selected()
        if name:
            self.status.setPlainText(f"checking {name}…")
            self._check.emit(name)

    def _remove_selected(self) -> None:
        name = self._selected()
        if not name:
            return
        answer = QMessageBox.question(self, "Remove host", f"Stop pulling {name}? Its counted usage stays.")
        if answer == QMessageBox.StandardButton.Yes:
            self._remove.emit(name)

    def _save_every(self) -> None:
        self._every.emit(float(self.every.value()))

    def _show_hosts(self, rows: list[dict[str, Any]]) -> None:
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, text in enumerate((r["host"], f"{r['ssh']}:{r['port']}", r["host_key"] or "(no key pinned)")):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, j, item)

    def _on_done(self, text: str) -> None:
        self.status.setPlainText(text)
        self.changed.emit()

    def _on_checked(self, text: str) -> None:
        self.status.setPlainText(text)

    def _on_failed(self, text: str) -> None:
        self.status.setPlainText(text)
