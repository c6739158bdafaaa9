"""The Console page: agent runs on the dedicated machines, launched, watched, tailed and killed.

The page only shows and asks: every ssh call goes through the app's :class:`SessionsPoller`
(its own thread), which the tray shares. While the page is open the poller asks every 2 s.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
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

from app.gui.fitting import fit_to_screen, short_reason
from app.gui.formatting import timestamp, tokens, usd
from app.gui.sessions_poller import LIVE, SessionsPoller

STATUS_COLOURS = {
    "starting": "#2563eb",
    "running": "#16a34a",
    "waiting-input": "#d97706",
    "stalled": "#d97706",
    "finished": "#6b7280",
    "failed": "#dc2626",
    "crashed": "#dc2626",
    "killed": "#6b7280",
    "over-budget": "#db2777",
}
COLUMNS = ("Host", "Run", "Agent", "Status", "Reason", "Iter.", "Tokens", "Cost", "Tokens/min", "Started")
NUMERIC = frozenset({"Iter.", "Tokens", "Cost", "Tokens/min"})
EMPTY = (
    "No session yet. Launch… starts an agent on a dedicated machine; add one first under "
    "Settings → Dedicated machines…, or with `tokenclub host add`."
)
STALE_COLOUR = "#9ca3af"
TAIL_EVERY_MS = 1_000


@cache
def status_icon(status: str) -> QIcon:
    """A dot in the status's colour: still seen on a selected row, whose text colours are the selection's."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(STATUS_COLOURS.get(status, STALE_COLOUR)))
    p.drawEllipse(1, 1, 10, 10)
    p.end()
    return QIcon(pixmap)


def cells(row: dict[str, Any]) -> list[str]:
    """A run as the table shows it."""
    return [
        row["host"],
        row["id"],
        row["agent"] or "",
        row["status"] + (" (stale)" if row.get("stale") else ""),
        short_reason(row["reason"] or ""),
        str(row["iterations"]),
        tokens(row["tokens"]["total"]),
        "–" if row["cost_usd"] is None else usd(row["cost_usd"]),
        "–" if row["tokens_per_min"] is None else tokens(row["tokens_per_min"]),
        timestamp(row["started"]),
    ]


class LaunchDialog(QDialog):
    """What ``tokenclub session launch`` asks, as a form; the goal reaches the agent on its stdin, never an argv."""

    def __init__(self, host_names: list[str], parent: QWidget | None = None) -> None:
        from app.console import agents

        super().__init__(parent)
        self.setWindowTitle("Launch an agent session")
        self.resize(560, 0)
        self.host = QComboBox()
        self.host.addItems(host_names)
        self.agent = QComboBox()
        self.agent.addItems(list(agents.CHOICES))
        self.command = QLineEdit()
        self.command.setPlaceholderText("the command, {model} filled in; the goal arrives on its stdin")
        self.format = QComboBox()
        self.format.addItems(list(agents.FORMATS))
        self.format.setCurrentText("text")
        self.goal = QPlainTextEdit()
        self.goal.setPlaceholderText("What the agent must achieve, and how to tell it is done")
        self.cwd = QLineEdit()
        self.cwd.setPlaceholderText("on the host (default: its home)")
        self.worktree = QCheckBox("in a fresh git worktree on a new branch")
        self.model = QLineEdit()
        self.model.setPlaceholderText("the agent's default")
        self.until = QLineEdit()
        self.until.setPlaceholderText("run the agent again until this passes, e.g. pytest -q")
        self.max_iterations = QSpinBox()
        self.max_iterations.setRange(1, 10_000)
        self.max_iterations.setValue(10)
        self.budget_tokens = QSpinBox()
        self.budget_tokens.setRange(0, 2_000_000_000)
        self.budget_tokens.setSingleStep(1_000_000)
        self.budget_tokens.setSpecialValueText("none")
        self.budget_usd = QDoubleSpinBox()
        self.budget_usd.setRange(0, 100_000)
        self.budget_usd.setPrefix("$")
        self.budget_usd.setSpecialValueText("none")
        self.budget_hours = QDoubleSpinBox()
        self.budget_hours.setRange(0, 720)
        self.budget_hours.setSpecialValueText("none")
        self.stall = QDoubleSpinBox()
        self.stall.setRange(0.1, 1440)
        self.stall.setValue(10)
        form = QFormLayout()
        for label, widget in (
            ("Host", self.host),
            ("Agent", self.agent),
            ("Command", self.command),
            ("Usage format", self.format),
            ("Goal", self.goal),
            ("Work directory", self.cwd),
            ("", self.worktree),
            ("Model", self.model),
            ("Until", self.until),
            ("Max iterations", self.max_iterations),
            ("Budget, tokens", self.budget_tokens),
            ("Budget, USD", self.budget_usd),
            ("Budget, hours", self.budget_hours),
            ("Stalled after, minutes", self.stall),
        ):
            form.addRow(label, widget)
        self.agent.currentTextChanged.connect(self._agent_changed)
        self.until.textChanged.connect(self._agent_changed)
        self._agent_changed()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Launch")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _agent_changed(self) -> None:
        custom = self.agent.currentText() == "custom"
        self.command.setEnabled(custom)
        self.format.setEnabled(custom)
        self.max_iterations.setEnabled(bool(self.until.text().strip()))

    def fields(self) -> dict[str, Any]:
        """``sessions.Launch`` keyword arguments."""
        custom = self.agent.currentText() == "custom"
        until = self.until.text().strip() or None
        return {
            "agent": self.agent.currentText(),
            "goal": self.goal.toPlainText(),
            "cwd": self.cwd.text().strip() or None,
            "worktree": self.worktree.isChecked(),
            "model": self.model.text().strip() or None,
            "until": until,
            "max_iterations": self.max_iterations.value() if until else None,
            "budget_tokens": self.budget_tokens.value() or None,
            "budget_usd": self.budget_usd.value() or None,
            "budget_hours": self.budget_hours.value() or None,
            "stall_minutes": self.stall.value(),
            "command": (self.command.text().strip() or None) if custom else None,
            "format": self.format.currentText() if custom else None,
        }


class TailView(QDialog):
    """A run's output, readable, fetched from the last offset every second while open.

    Signals:
        wanted(str, str, int): the events of run id (on host) from offset, please.
    """

    wanted = Signal(str, str, int)

    def __init__(self, host: str, rid: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{rid} on {host}")
        self.resize(820, 520)
        self.host, self.rid, self.offset = host, rid, 0
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(20_000)  # a flood keeps its tail, not the app's memory
        QVBoxLayout(self).addWidget(self.text)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._ask)
        self._waiting = False

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._ask()
        self.timer.start(TAIL_EVERY_MS)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.timer.stop()
        super().hideEvent(event)

    def _ask(self) -> None:
        if not self._waiting:  # one request in flight: a slow host is not asked twice for the same bytes
            self._waiting = True
            self.wanted.emit(self.host, self.rid, self.offset)

    def retry(self) -> None:
        """The last request failed (the host went away): ask again on the next tick."""
        self._waiting = False

    def append(self, data: bytes, offset: int) -> None:
        from app.console.sessions import readable

        self._waiting = False
        self.offset = offset
        lines = [t for t in (readable(line) for line in data.splitlines()) if t]
        if lines:
            self.text.appendPlainText("\n".join(lines))


class ConsolePage(QDialog):
    """Every run across hosts, with Launch…, Tail, Kill and Kill all."""

    def __init__(self, poller: SessionsPoller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · Console")
        fit_to_screen(self, 1100, 480)
        self.poller = poller
        self.rows: list[dict[str, Any]] = []
        self.tails: dict[str, TailView] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sessions")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Reason"), QHeaderView.ResizeMode.Stretch)
        self.summary = ["Asking the hosts…"]
        self.message = ""
        self.status = QLabel(self.summary[0])
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, slot in (
            ("Launch…", self._launch),
            ("Tail", self._tail),
            ("Kill", self._kill),
            ("Kill all", self._kill_all),
        ):
            button = self.buttons[text] = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        self.table.itemSelectionChanged.connect(self._enable_buttons)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        poller.polled.connect(self.show_rows)
        poller.launched.connect(self._on_launched)
        poller.killed.connect(self._on_killed)
        poller.failed.connect(self.say)
        poller.tailed.connect(self._on_tailed)
        poller.tail_failed.connect(self._on_tail_failed)
        self.show_rows(poller.rows, poller.errors)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.poller.set_fast(True)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self.poller.set_fast(False)
        super().hideEvent(event)

    # -- what the poller says ---------------------------------------------------------------

    def show_rows(self, rows: list[dict[str, Any]], errors: dict[str, str]) -> None:
        selected = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            stale = errors.get(row["host"]) if row.get("stale") else None
            for j, text in enumerate(cells(row)):
                item = QTableWidgetItem(text)
                if COLUMNS[j] in NUMERIC:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if COLUMNS[j] == "Status":
                    item.setIcon(status_icon(row["status"]))
                    item.setForeground(QColor(STATUS_COLOURS.get(row["status"], STALE_COLOUR)))
                elif stale is not None:
                    item.setForeground(QColor(STALE_COLOUR))
                if stale is not None:
                    item.setToolTip(f"As last seen: {row['host']} is unreachable ({stale})")
                elif COLUMNS[j] == "Reason":
                    item.setToolTip(row["reason"] or "")  # the cell may be shortened; this is the whole
                self.table.setItem(i, j, item)
            if selected is not None and row["id"] == selected["id"]:
                self.table.selectRow(i)
        live = sum(r["status"] in LIVE for r in rows)
        self.summary = [f"{len(rows)} session{'s' * (len(rows) != 1)}, {live} live"]
        if not rows:
            self.summary = [EMPTY if not errors else "No session to show."]
        shown = {r["host"] for r in rows}
        for host, why in errors.items():
            # the reason often starts with the word itself: "box unreachable (ssh: …)", not "unreachable: unreachable"
            said = f"{host} {why}" if why.startswith("unreachable") else f"{host} unreachable: {why}"
            self.summary.append(said + (" (its runs as last seen)" if host in shown else ""))
        self._show_status()
        self._enable_buttons()

    def _enable_buttons(self) -> None:
        """Tail and Kill act on the selected run, Kill all on any live one: each enabled only when it can act."""
        selected = self.selected()
        self.buttons["Tail"].setEnabled(selected is not None)
        self.buttons["Kill"].setEnabled(selected is not None and selected["status"] in LIVE)
        self.buttons["Kill all"].setEnabled(any(r["status"] in LIVE for r in self.rows))

    def say(self, text: str) -> None:
        """The last thing done (a launch, a kill), kept under the table until the next one."""
        self.message = text
        self._show_status()

    def _show_status(self) -> None:
        self.status.setText(" · ".join([*self.summary, self.message] if self.message else self.summary))

    def _on_launched(self, row: dict[str, Any]) -> None:
        self.say(f"Launched {row['id']} on {row['host']}: {row['status']} ({short_reason(row['reason'] or '')})")

    def _on_killed(self, killed: list[dict[str, Any]]) -> None:
        said = [
            f"{k['id']}: {k['status']}" + ("" if k["remaining"] is None else f", {k['remaining']} processes left")
            for k in killed
        ]
        self.say("; ".join(said) or "Nothing to kill.")

    def _on_tailed(self, rid: str, data: bytes, offset: int) -> None:
        view = self.tails.get(rid)
        if view is not None:
            view.append(data, offset)

    def _on_tail_failed(self, rid: str, message: str) -> None:
        view = self.tails.get(rid)
        if view is not None:
            view.retry()
            if view.isVisible():
                self.say(message)

    # -- what the user asks -----------------------------------------------------------------

    def selected(self) -> dict[str, Any] | None:
        model = self.table.selectionModel()
        picked = model.selectedRows() if model is not None else []
        return self.rows[picked[0].row()] if picked and picked[0].row() < len(self.rows) else None

    def _launch(self) -> None:
        from app.console import hosts
        from app.console.ssh import HostError

        try:
            names = sorted(hosts.load())
        except HostError as exc:
            self.say(str(exc))
            return
        if not names:
            self.say("No dedicated machine yet: add one in Settings → Dedicated machines…")
            return
        dialog = LaunchDialog(names, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.say(f"Launching on {dialog.host.currentText()}…")
            self.poller.launch(dialog.host.currentText(), dialog.fields())

    def _tail(self) -> None:
        row = self.selected()
        if row is None:
            self.say("Select a session to tail.")
            return
        view = self.tails.get(row["id"])
        if view is None:
            view = self.tails[row["id"]] = TailView(row["host"], row["id"], self)
            view.wanted.connect(self.poller.tail)
        view.show()
        view.raise_()

    def _kill(self) -> None:
        row = self.selected()
        if row is None:
            self.say("Select a session to kill.")
            return
        self.say(f"Killing {row['id']} on {row['host']}…")
        self.poller.kill({row["host"]: [row["id"]]})

    def _kill_all(self) -> None:
        live = sorted({r["host"] for r in self.rows if r["status"] in LIVE})
        if not live:
            self.say("No live session.")
            return
        asked = QMessageBox.question(self, "Kill all", f"Stop every live session on {', '.join(live)}?")
        if asked == QMessageBox.StandardButton.Yes:
            self.say(f"Killing every live session on {', '.join(live)}…")
            self.poller.kill(dict.fromkeys(live))

    def table_text(self) -> list[list[str]]:
        """The table as text (tests, accessibility)."""
        from app.gui.tables import widget_text

        return widget_text(self.table)
