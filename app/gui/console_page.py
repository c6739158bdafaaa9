"""The Console page: agent runs on the dedicated machines, launched, watched, tailed and killed.

Every ssh call runs on the console's own worker thread (``ConsoleWorker``); the page and the
tray only get its answers. The poll is one place for both: every 2 s while a run is live (or
the page is open), every 10 s otherwise, never without a registered host. A run that changes
to finished, failed, crashed, stalled or over-budget is a notification; runs first seen
already ended (after a restart) are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QColor
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

from app.gui.formatting import tokens, usd

STOP_TIMEOUT_MS = 10_000
LIVE = ("starting", "running", "waiting-input", "stalled")
NOTIFY = {
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "stalled": "stalled",
    "over-budget": "hit its budget",
}
STATUS_COLOURS = {
    "running": "#16a34a",
    "starting": "#2563eb",
    "waiting-input": "#d97706",
    "stalled": "#d97706",
    "finished": "#6b7280",
    "failed": "#dc2626",
    "crashed": "#dc2626",
    "killed": "#6b7280",
    "over-budget": "#db2777",
}
COLUMNS = ("host", "id", "agent", "status", "reason", "iter", "tokens", "cost", "tok/min", "started")
POLL_LIVE_MS = 2_000
POLL_IDLE_MS = 10_000
TAIL_EVERY_MS = 1_000


class ConsoleWorker(QObject):
    """The ssh side, on its own thread. Signals carry plain data back to the GUI thread."""

    polled = Signal(object, object)  # rows, {host: error}
    launched = Signal(object)
    killed = Signal(object)
    tailed = Signal(str, bytes, int)  # run id, whole lines, next offset
    failed = Signal(str)

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db

    @Slot()
    def poll(self) -> None:
        from app.console import hosts, sessions
        from app.console.ssh import HostError

        try:
            if not hosts.any_registered():
                self.polled.emit([], {})
                return
            with sessions.price_book(self.db) as book:
                results = sessions.list_runs(hosts.load().values(), book.prices)
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a host must never take the app down
            self.failed.emit(f"listing the sessions failed: {exc}")
            return
        rows = sorted((r for h in results for r in h.rows), key=lambda r: r["started"] or "", reverse=True)
        self.polled.emit(rows, {h.host: h.error for h in results if h.error})

    @Slot(str, object)
    def launch(self, host: str, fields: dict[str, Any]) -> None:
        from app.console import agents, hosts, sessions
        from app.console.ssh import HostError

        try:
            spec = sessions.Launch(**fields)
            with sessions.price_book(self.db) as book:
                if spec.budget_usd is not None:
                    spec.rates = book.rates(spec.agent, spec.model)
                row = sessions.launch(hosts.named(host), spec, book.prices)
        except (HostError, agents.AgentError, OSError) as exc:
            self.failed.emit(f"launch on {host}: {exc}")
            return
        self.launched.emit(row)
        self.poll()

    @Slot(object)
    def kill(self, which: dict[str, list[str] | None]) -> None:
        """``{host: [ids]}``, or ``{host: None}`` for every live run there."""
        from app.console import hosts, sessions
        from app.console.ssh import HostError

        done: list[dict[str, Any]] = []
        try:
            for host, ids in which.items():
                done.extend(sessions.kill(hosts.named(host), ids))
        except (HostError, OSError) as exc:
            self.failed.emit(str(exc))
        self.killed.emit(done)
        self.poll()

    @Slot(str, str, int)
    def tail(self, host: str, rid: str, offset: int) -> None:
        from app.console import hosts, sessions
        from app.console.ssh import HostError

        try:
            data, offset, _size = sessions.events(hosts.named(host), rid, offset)
        except (HostError, OSError) as exc:
            self.failed.emit(f"tail {rid}: {exc}")
            return
        self.tailed.emit(rid, data, offset)


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _item(text: str, colour: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if colour:
        item.setForeground(QColor(colour))
    return item


def cells(row: dict[str, Any]) -> list[str]:
    """A run as the table shows it."""
    status = row["status"] + (" (stale)" if row.get("stale") else "")
    return [
        row["host"],
        row["id"],
        row["agent"] or "",
        status,
        row["reason"] or "",
        str(row["iterations"]),
        tokens(row["tokens"]["total"]),
        "–" if row["cost_usd"] is None else usd(row["cost_usd"]),
        "–" if row["tokens_per_min"] is None else tokens(row["tokens_per_min"]),
        (row["started"] or "").replace("T", " ").removesuffix("Z"),
    ]


class LaunchDialog(QDialog):
    """What ``tokenclub session launch`` asks, as a form; the goal is sent over ssh's stdin, never an argument."""

    def __init__(self, host_names: list[str], parent: QWidget | None = None) -> None:
        from app.console import agents

        super().__init__(parent)
        self.setWindowTitle("Launch an agent session")
        self.host = QComboBox()
        self.host.addItems(host_names)
        self.agent = QComboBox()
        self.agent.addItems(list(agents.CHOICES))
        self.command = QLineEdit()
        self.command.setPlaceholderText("custom only: the command, {model} filled in")
        self.goal = QPlainTextEdit()
        self.goal.setPlaceholderText("The goal: what the agent must achieve, and how to tell it is done")
        self.cwd = QLineEdit()
        self.cwd.setPlaceholderText("work directory on the host (default: its home)")
        self.worktree = QCheckBox("a fresh git worktree on a new branch")
        self.model = QLineEdit()
        self.until = QLineEdit()
        self.until.setPlaceholderText("loop until this check passes (e.g. pytest -q)")
        self.max_iterations = QSpinBox()
        self.max_iterations.setRange(1, 10_000)
        self.max_iterations.setValue(10)
        self.budget_tokens = QSpinBox()
        self.budget_tokens.setRange(0, 2_000_000_000)
        self.budget_tokens.setSingleStep(1_000_000)
        self.budget_tokens.setSpecialValueText("none")
        self.budget_usd = QDoubleSpinBox()
        self.budget_usd.setRange(0, 100_000)
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
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Launch")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def fields(self) -> dict[str, Any]:
        """``sessions.Launch`` keyword arguments."""
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
            "command": self.command.text().strip() or None,
        }


class TailView(QDialog):
    """A run's output, readable, fetched from the last offset every second while open."""

    wanted = Signal(str, str, int)  # host, run id, offset

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
        if not self._waiting:  # one request in flight
            self._waiting = True
            self.wanted.emit(self.host, self.rid, self.offset)

    def retry(self) -> None:
        """The last request failed (the host went away): ask again on the next tick."""
        self._waiting = False

    def append(self, rid: str, data: bytes, offset: int) -> None:
        if rid != self.rid:
            return
        from app.console.sessions import readable

        self._waiting = False
        self.offset = offset
        lines = [t for t in (readable(line) for line in data.splitlines()) if t]
        if lines:
            self.text.appendPlainText("\n".join(lines))


class ConsolePage(QDialog):
    """Every run across hosts, with Launch…, Tail, Kill and Kill all."""

    launch_requested = Signal(str, object)
    kill_requested = Signal(object)
    tail_requested = Signal(str, str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · Console")
        self.resize(1100, 480)
        self.rows: list[dict[str, Any]] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("reason"), QHeaderView.ResizeMode.Stretch)
        self.summary: list[str] = ["Asking the hosts…"]
        self.message = ""
        self.status = QLabel(self.summary[0])
        self.status.setWordWrap(True)
        self.launch_button = QPushButton("Launch…")
        self.tail_button = QPushButton("Tail")
        self.kill_button = QPushButton("Kill")
        self.kill_all_button = QPushButton("Kill all")
        self.launch_button.clicked.connect(self._launch)
        self.tail_button.clicked.connect(self._tail)
        self.kill_button.clicked.connect(self._kill)
        self.kill_all_button.clicked.connect(self._kill_all)
        buttons = QHBoxLayout()
        for b in (self.launch_button, self.tail_button, self.kill_button, self.kill_all_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        self.tails: dict[str, TailView] = {}

    def show_rows(self, rows: list[dict[str, Any]], errors: dict[str, str]) -> None:
        selected = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            colour = STATUS_COLOURS.get(row["status"])
            for j, text in enumerate(cells(row)):
                self.table.setItem(i, j, _item(text, colour if COLUMNS[j] == "status" else None))
            if selected is not None and row["id"] == selected["id"]:
                self.table.selectRow(i)
        live = sum(r["status"] in LIVE for r in rows)
        self.summary = [f"{len(rows)} session{'s' * (len(rows) != 1)}, {live} live"]
        self.summary += [f"{host} unreachable: {why} (its runs as last seen)" for host, why in errors.items()]
        self._show_status()

    def say(self, text: str) -> None:
        """The last thing done (a launch, a kill), kept under the table until the next one."""
        self.message = text
        self._show_status()

    def _show_status(self) -> None:
        self.status.setText(" · ".join([*self.summary, self.message] if self.message else self.summary))

    def selected(self) -> dict[str, Any] | None:
        picked = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.rows[picked[0].row()] if picked and picked[0].row() < len(self.rows) else None

    def _launch(self) -> None:
        from app.console import hosts

        names = sorted(hosts.load())
        if not names:
            self.say("No dedicated machine yet: add one in Settings → Dedicated machines…")
            return
        dialog = LaunchDialog(names, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.say(f"Launching on {dialog.host.currentText()}…")
            self.launch_requested.emit(dialog.host.currentText(), dialog.fields())

    def _tail(self) -> None:
        row = self.selected()
        if row is None:
            self.say("Select a session to tail.")
            return
        view = self.tails.get(row["id"])
        if view is None:
            view = self.tails[row["id"]] = TailView(row["host"], row["id"], self)
            view.wanted.connect(self.tail_requested.emit)
        view.show()
        view.raise_()

    def _kill(self) -> None:
        row = self.selected()
        if row is None:
            self.say("Select a session to kill.")
            return
        self.say(f"Killing {row['id']} on {row['host']}…")
        self.kill_requested.emit({row["host"]: [row["id"]]})

    def _kill_all(self) -> None:
        live = {r["host"] for r in self.rows if r["status"] in LIVE}
        if not live:
            self.say("No live session.")
            return
        ask = QMessageBox.question(self, "Kill all", f"Stop every live session on {', '.join(sorted(live))}?")
        if ask == QMessageBox.StandardButton.Yes:
            self.kill_requested.emit(dict.fromkeys(live))

    def table_text(self) -> list[list[str]]:
        """The table as text (tests, accessibility)."""
        from app.gui.tables import widget_text

        return widget_text(self.table)


class Console(QObject):
    """The console's worker thread, its poll, the page, and what the tray shows of it.

    Signals:
        running_changed(int): how many runs are live (starting, running, waiting-input, stalled).
        notify(str, str): a run finished, failed, crashed, stalled or hit its budget (title, text).
        live_changed(bool): some run is live (the index pulls the hosts more often meanwhile).
        launched(object): a launch answered (its row, on the GUI thread).
        killed(object): a kill answered (``[{id, host, status, reason, remaining}]``).
    """

    running_changed = Signal(int)
    launched = Signal(object)
    killed = Signal(object)
    notify = Signal(str, str)
    live_changed = Signal(bool)
    _poll = Signal()
    _launch = Signal(str, object)
    _kill = Signal(object)
    _tail = Signal(str, str, int)

    def __init__(self, db: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("tokenclub-console")
        self.worker = ConsoleWorker(db)
        self.worker.moveToThread(self.worker_thread)
        self._poll.connect(self.worker.poll)
        self._launch.connect(self.worker.launch)
        self._kill.connect(self.worker.kill)
        self._tail.connect(self.worker.tail)
        self.worker.polled.connect(self._on_polled)
        self.worker.launched.connect(self._on_launched)
        self.worker.killed.connect(self._on_killed)
        self.worker.tailed.connect(self._on_tailed)
        self.worker.failed.connect(self._on_failed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.poll)
        self.page: ConsolePage | None = None
        self.rows: list[dict[str, Any]] = []
        self.errors: dict[str, str] = {}
        self.known: dict[str, str] | None = None  # run id -> status at the last poll (None: no poll yet)
        self._in_flight = False
        self._live = False
        self.since = _now_iso()  # runs started before the app are not news

    def start(self) -> None:
        self.worker_thread.start()
        self.poll()

    def stop(self) -> None:
        self.timer.stop()
        self.worker_thread.quit()
        self.worker_thread.wait(STOP_TIMEOUT_MS)

    @Slot()
    def poll(self) -> None:
        if not self._in_flight:
            self._in_flight = True
            self._poll.emit()

    def show_page(self) -> ConsolePage:
        if self.page is None:
            self.page = ConsolePage()
            self.page.launch_requested.connect(self._launch.emit)
            self.page.kill_requested.connect(self._kill.emit)
            self.page.tail_requested.connect(self._tail.emit)
        self.page.show_rows(self.rows, self.errors)
        self.page.show()
        self.page.raise_()
        self.poll()
        return self.page

    def stop_all(self) -> None:
        """Kill every live run on every host (the tray's *Stop all sessions*)."""
        from app.console import hosts

        self._kill.emit(dict.fromkeys(hosts.load()))

    def _page_open(self) -> bool:
        return self.page is not None and self.page.isVisible()

    def _on_polled(self, rows: list[dict[str, Any]], errors: dict[str, str]) -> None:
        self._in_flight = False
        self.rows, self.errors = rows, errors
        before = self.known
        self.known = {r["id"]: r["status"] for r in rows}
        if before is not None:
            for r in rows:
                old = before.get(r["id"])
                if r.get("stale") or r["status"] == old or r["status"] not in NOTIFY:
                    continue
                if old is None and (r["started"] or "") < self.since:
                    continue  # an old run of a host first reached now, not news
                self.notify.emit(
                    f"{r['agent']} on {r['host']} {NOTIFY[r['status']]}",
                    f"{r['reason']} · {tokens(r['tokens']['total'])} tokens",
                )
        live = sum(r["status"] in LIVE for r in rows)
        self.running_changed.emit(live)
        if bool(live) != self._live:
            self._live = bool(live)
            self.live_changed.emit(self._live)
        if self.page is not None:
            self.page.show_rows(rows, errors)
        from app.console import hosts

        if hosts.any_registered():
            self.timer.start(POLL_LIVE_MS if live or self._page_open() else POLL_IDLE_MS)

    def _on_launched(self, row: dict[str, Any]) -> None:
        if self.page is not None:
            self.page.say(f"Launched {row['id']} on {row['host']}: {row['status']} ({row['reason']})")
        if row["status"] in ("failed", "crashed"):
            self.notify.emit(f"{row['agent']} on {row['host']} did not start", row["reason"] or "")
        self.launched.emit(row)

    def _on_killed(self, killed: list[dict[str, Any]]) -> None:
        said = [
            f"{k['id']}: {k['status']}" + ("" if k["remaining"] is None else f", {k['remaining']} processes left")
            for k in killed
        ]
        if self.page is not None:
            self.page.say("; ".join(said) or "Nothing to kill.")
        self.killed.emit(killed)

    def _on_tailed(self, rid: str, data: bytes, offset: int) -> None:
        view = self.page.tails.get(rid) if self.page is not None else None
        if view is not None:
            view.append(rid, data, offset)

    def _on_failed(self, message: str) -> None:
        self._in_flight = False
        if self.page is not None:
            self.page.say(message)
            for view in self.page.tails.values():
                view.retry()
        from app.console import hosts

        if hosts.any_registered() and not self.timer.isActive():
            self.timer.start(POLL_IDLE_MS)
