"""The Providers page: provider-reported usage beside the logs' (chart and table), balances, sync.

``ProvidersWorker`` lives on its own thread: it syncs (network) and reads the
reconciliation and balances documents from the index, and hands them back by signal.
``Providers`` wires it to the page, to the user's sync schedule (a timer) and to the tray
(balances in the tooltip, a notification when a key's balance falls under its threshold).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.background import Background
from app.gui.fitting import fit_to_screen
from app.gui.formatting import tokens
from app.providers import TITLES, config

STOP_TIMEOUT_MS = 25_000  # longer than one request may take (its timeout); retries stop at once
RECONCILE_DAYS = 30
FLAG_COLOUR = QColor(220, 38, 38, 70)
TABLE_COLUMNS = (
    "Date (UTC)",
    "Model",
    "Providers",
    "Provider tokens",
    "Log tokens",
    "Difference",
    "%",
    "Provider cost",
    "Log cost",
    "",
)
EMPTY = (
    "No provider usage yet.\n\nThis chart sets, day by day, the tokens a provider's usage API reports beside "
    "the tokens your agents' logs count, and flags the days they differ. Add an admin or usage key with "
    "Keys…, then press Sync now."
)


class ProvidersWorker(QObject):
    """Sync and documents, off the GUI thread.

    Signals:
        loaded(object): ``{"reconcile", "balances", "status", "threshold_pct"}`` read from the index.
        synced(object): the sync's results (``app.providers.sync.Result`` list).
        failed(str): opening the index or a read failed; the message says why.
    """

    loaded = Signal(object)
    synced = Signal(object)
    failed = Signal(str)

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db
        self.cancel = threading.Event()  # set when the app quits: retries stop, no further request

    def _conn(self) -> Any:
        from app.providers.store import open_index

        return open_index(self.db)

    @Slot()
    def load(self) -> None:
        from app.providers import reconcile, sync

        try:
            conn = self._conn()
            try:
                threshold = config.load().threshold_pct
                since = datetime.now(UTC).date() - timedelta(days=RECONCILE_DAYS - 1)
                doc = {
                    "reconcile": reconcile.report(conn, since, None, threshold),
                    "balances": sync.balances(conn),
                    "status": sync.status(conn),
                    "threshold_pct": threshold,
                }
            finally:
                conn.close()
        except Exception as exc:  # an index another version owns, a locked file: said, not raised
            self.failed.emit(f"providers: {type(exc).__name__}: {exc}")
            return
        self.loaded.emit(doc)

    @Slot()
    def sync(self) -> None:
        from app.providers import sync

        try:
            conn = self._conn()
            try:
                results = sync.sync(conn, cancel=self.cancel)
            finally:
                conn.close()
        except Exception as exc:
            self.failed.emit(f"providers: {type(exc).__name__}: {exc}")
            return
        self.synced.emit(results)
        self.load()


class ProvidersPage(QWidget):
    """Shows what it is given: the chart, the table, balances and the last sync's messages.

    Signals:
        sync_requested(): sync now.
        keys_requested(): open the Keys dialog.
        schedule_changed(int): minutes between syncs (0: off).
        threshold_changed(float): the reconciliation flag threshold, in percent.
    """

    sync_requested = Signal()
    keys_requested = Signal()
    schedule_changed = Signal(int)
    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub · Providers")
        fit_to_screen(self, 980, 700)
        cfg = config.load()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.clicked.connect(self.sync_requested.emit)
        self.keys_button = QPushButton("Keys…")
        self.keys_button.clicked.connect(self.keys_requested.emit)
        self.schedule = QSpinBox()
        self.schedule.setRange(0, 7 * 24 * 60)
        self.schedule.setSuffix(" min")
        self.schedule.setSpecialValueText("off")
        self.schedule.setValue(cfg.sync_every_minutes)
        self.schedule.valueChanged.connect(self.schedule_changed.emit)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0, 1000)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(cfg.threshold_pct)
        self.threshold.valueChanged.connect(self.threshold_changed.emit)
        bar = QHBoxLayout()
        for w in (
            self.sync_button,
            self.keys_button,
            QLabel("Sync every"),
            self.schedule,
            QLabel("Flag differences above"),
            self.threshold,
        ):
            bar.addWidget(w)
        bar.addStretch(1)

        import pyqtgraph as pg  # here: the tray starts without the charting library

        from app.gui.charts import TokenAxis, style_plot

        self.chart = pg.PlotWidget(axisItems={"left": TokenAxis()})
        self.chart.setMinimumHeight(220)
        self.legend = self.chart.addLegend(offset=(-10, 10))  # top right, over the axis' headroom
        style_plot(self.chart, self.chart.getPlotItem(), self.palette())
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.balances = QLabel()
        self.balances.setWordWrap(True)
        self.note = QLabel(
            f"{TITLES['gemini']}: no usage endpoint exists for a Gemini API key, so only local logs count here. "
            "DeepSeek, Moonshot and SiliconFlow report balances only; OpenAI and Anthropic usage needs an admin key."
        )
        self.note.setWordWrap(True)
        self.messages = QLabel()
        self.messages.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setContentsMargins(24, 24, 24, 24)
        self.chart_or_empty = QStackedWidget()  # no rows: say what the chart will show and how to fill it
        self.chart_or_empty.addWidget(self.empty)
        self.chart_or_empty.addWidget(self.chart)
        layout.addWidget(self.chart_or_empty, 2)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.balances)
        layout.addWidget(self.note)
        layout.addWidget(self.messages)
        self.rows: list[dict[str, Any]] = []

    def show_data(self, doc: dict[str, Any]) -> None:
        rec = doc["reconcile"]
        self.rows = rec["rows"]
        self._fill_table(self.rows)
        self._plot(self.rows)
        self.chart_or_empty.setCurrentWidget(self.chart if self.rows else self.empty)
        self.table.setVisible(bool(self.rows))
        lines = []
        for b in doc["balances"]:
            low = "  ⚠ under {:,.2f}".format(b["low_balance"]) if b["low"] else ""
            lines.append(
                f"{TITLES.get(b['provider'], b['provider'])} · {b['label']}: {b['balance']:,.2f} {b['currency']}{low}"
            )
        self.balances.setText("Balances: " + ("; ".join(lines) if lines else "none read yet"))
        errors = [f"{s['provider']}/{s['label']}: {s['last_error']}" for s in doc["status"] if s["last_error"]]
        flagged = f"{rec['flagged']} of {len(self.rows)} cells differ by more than {rec['threshold_pct']:g}%."
        self.messages.setText(
            " ".join([flagged, *errors])
            if self.rows or errors
            else "Nothing to reconcile yet: add an admin key (Keys…) and sync."
        )

    def show_results(self, results: list[Any]) -> None:
        bad = [r.message for r in results if not r.ok]
        self.messages.setText("Sync: " + ("; ".join(bad) if bad else f"{len(results)} ok"))

    def _fill_table(self, rows: list[dict[str, Any]]) -> None:
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            p, g, d = r["provider"], r["logs"], r["diff"]
            cells = (
                r["date"] + (" (provisional)" if r["provisional"] else ""),
                r["model"],
                ", ".join(r["providers"]),
                tokens(p["total"]),
                tokens(g["total"]),
                f"{d['tokens']:+,}",
                f"{d['pct']:+.1f}",
                _usd(p["cost_usd"]),
                _usd(g["cost_usd"]),
                "FLAG" if r["flagged"] else "",
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if r["flagged"]:
                    item.setBackground(QBrush(FLAG_COLOUR))
                self.table.setItem(i, c, item)

    def _plot(self, rows: list[dict[str, Any]]) -> None:
        import pyqtgraph as pg

        from app.gui.charts import legend_text_colour

        self.chart.clear()
        days = sorted({r["date"] for r in rows})
        at = {d: i for i, d in enumerate(days)}
        prov = [0.0] * len(days)
        logs = [0.0] * len(days)
        for r in rows:
            prov[at[r["date"]]] += r["provider"]["total"]
            logs[at[r["date"]]] += r["logs"]["total"]
        if not days:
            return
        xs = list(range(len(days)))
        self.chart.addItem(
            pg.BarGraphItem(x=[x - 0.2 for x in xs], height=prov, width=0.4, brush="#2563eb", name="provider")
        )
        self.chart.addItem(
            pg.BarGraphItem(x=[x + 0.2 for x in xs], height=logs, width=0.4, brush="#16a34a", name="logs")
        )
        flagged = [at[r["date"]] for r in rows if r["flagged"]]
        if flagged:
            top = max([*prov, *logs, 1.0])
            self.chart.plot(
                flagged, [top * 1.05] * len(flagged), pen=None, symbol="t", symbolBrush="#dc2626", name="flagged"
            )
        self.chart.getAxis("bottom").setTicks([[(i, d[5:]) for i, d in enumerate(days)]])
        self.chart.setYRange(0, max([*prov, *logs, 1.0]) * 1.3, padding=0)  # room for the legend and flags
        legend_text_colour(self.legend, self.palette())


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def balance_lines(balances: list[dict[str, Any]]) -> list[str]:
    """The tray tooltip's balance lines."""
    return [
        f"{b['provider']}/{b['label']}: {b['balance']:,.2f} {b['currency']}" + (" (low)" if b["low"] else "")
        for b in balances
    ]


class Providers(QObject):
    """Owns the worker's thread, the page, the Keys dialog and the sync timer.

    Signals:
        balances_changed(object): tooltip lines for the tray.
        notify(str, str): a title and a text to show (a low balance).
        _load(), _sync(): queued to the worker.
    """

    balances_changed = Signal(object)
    notify = Signal(str, str)
    _load = Signal()
    _sync = Signal()

    def __init__(self, db: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = ProvidersWorker(db)
        self.background = Background(self.worker, "tokenclub-providers", STOP_TIMEOUT_MS)
        self._load.connect(self.worker.load)
        self._sync.connect(self.worker.sync)
        self.worker.loaded.connect(self._on_loaded)
        self.worker.synced.connect(self._on_synced)
        self.worker.failed.connect(self._on_failed)
        self.page: ProvidersPage | None = None
        self.keys_dialog: Any = None
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.sync_now)
        self.warned: set[tuple[str, str]] = set()  # low balances already announced this run
        self.last: dict[str, Any] | None = None

    def start(self) -> None:
        self.background.start()
        self.set_schedule(config.load().sync_every_minutes, save=False)
        self._load.emit()

    def stop(self) -> None:
        """Stop the schedule and the worker; a sync in flight ends after its current request (timeout 20 s)."""
        self.timer.stop()
        self.worker.cancel.set()
        self.background.stop()

    def set_schedule(self, minutes: int, save: bool = True) -> None:
        if save:
            cfg = config.load()
            cfg.sync_every_minutes = minutes
            config.save(cfg)
        if minutes > 0:
            self.timer.start(minutes * 60_000)
        else:
            self.timer.stop()

    def set_threshold(self, pct: float) -> None:
        cfg = config.load()
        cfg.threshold_pct = pct
        config.save(cfg)
        self._load.emit()

    def sync_now(self) -> None:
        if self.page is not None:
            self.page.messages.setText("Syncing…")
        self._sync.emit()

    def show_page(self) -> ProvidersPage:
        if self.page is None:
            self.page = ProvidersPage()
            self.page.sync_requested.connect(self.sync_now)
            self.page.keys_requested.connect(self.show_keys)
            self.page.schedule_changed.connect(self.set_schedule)
            self.page.threshold_changed.connect(self.set_threshold)
            if self.last is not None:
                self.page.show_data(self.last)
        self.page.show()
        self.page.raise_()
        self._load.emit()
        return self.page

    def show_keys(self) -> Any:
        from app.gui.keys_dialog import KeysDialog

        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.page)
            self.keys_dialog.changed.connect(self._load.emit)
        self.keys_dialog.reload()
        self.keys_dialog.show()
        self.keys_dialog.raise_()
        return self.keys_dialog

    def _on_loaded(self, doc: dict[str, Any]) -> None:
        self.last = doc
        if self.page is not None:
            self.page.show_data(doc)
        self.balances_changed.emit(balance_lines(doc["balances"]))
        for b in doc["balances"]:
            key = (b["provider"], b["label"])
            if b["low"] and key not in self.warned:
                self.warned.add(key)
                self.notify.emit(
                    "Low balance",
                    f"{b['provider']}/{b['label']} has {b['balance']:,.2f} "
                    f"{b['currency']} left (under {b['low_balance']:,.2f}).",
                )
            elif not b["low"]:
                self.warned.discard(key)

    def _on_synced(self, results: list[Any]) -> None:
        if self.page is not None:
            self.page.show_results(results)

    def _on_failed(self, message: str) -> None:
        if self.page is not None:
            self.page.messages.setText(message)
