"""The dashboard window: today's burn, streaks and the daily chart against the milestones, with tables.

It only displays the documents ``show_data`` is given (``app.core.dashboard.build`` and
``app.core.reports``); ranges and refreshes are requested by signal from whoever owns the index.
"""

from __future__ import annotations

import html
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QPalette, QShowEvent, QTextDocument
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.dashboard import DEFAULT_RANGE, RANGES
from app.core.milestones import to_go
from app.core.model import BUCKETS
from app.gui import formatting as fmt
from app.gui.charts import BUCKET_NAMES, STACKINGS, BurnChart
from app.gui.fitting import fit_to_screen
from app.gui.limits_panel import LimitsPanel, ring_share
from app.gui.limits_worker import Reading
from app.gui.minicharts import MiniCharts
from app.gui.tables import INSIGHT_COLUMNS, MODEL_COLUMNS, PROJECT_COLUMNS, SESSION_COLUMNS, RowsTable
from app.sources import REGISTRY, source

RANGE_TITLES = {"7d": "7 days", "30d": "30 days", "90d": "90 days", "1y": "1 year", "all": "All"}
STACKING_TITLES = {"agent": "Agent", "model": "Model", "device": "Device", "bucket": "Bucket"}
PROGRESS_STEPS = 1000
# The env variables each agent's reader honours (README, "Where logs are read from"), as its source declares them.
ENV_OVERRIDES = {agent: env for agent in REGISTRY if (env := source(agent).descriptor.env)}
ENV_NOTES = {"claude-code": " (several folders, comma-separated)"}


def _big(label: QLabel, factor: float) -> QLabel:
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(True)
    label.setFont(font)
    return label


def _value_grid(box: QGroupBox, names: list[str]) -> dict[str, QLabel]:
    """A two-column grid of ``name: value`` labels in ``box``; returns the value labels by name."""
    grid = QGridLayout(box)
    grid.setHorizontalSpacing(12)
    grid.setVerticalSpacing(2)
    values = {}
    for row, name in enumerate(names):
        grid.addWidget(QLabel(name), row, 0)
        value = values[name] = QLabel("–")
        value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(value, row, 1)
    grid.setRowStretch(len(names), 1)
    return values


class DashboardWindow(QMainWindow):
    """The dashboard: controls, today's panels, the burn chart, small charts and report tables.

    Signals:
        range_changed(str): the user picked another range, one of ``app.core.dashboard.RANGES``.
        refresh_requested(): the user asked to index what is new now.
        cancel_requested(): the user cancelled the running index.
    """

    range_changed = Signal(str)
    refresh_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("TokenClub")
        fit_to_screen(self, 1280, 900)
        self._data: dict[str, Any] | None = None
        self._range = DEFAULT_RANGE
        self._split_set = False

        central = QWidget()
        outer = QVBoxLayout(central)
        self._notice = QLabel()
        self._notice.setWordWrap(True)  # a long notice wraps, never cut mid-sentence as in the status bar
        self._notice.hide()
        outer.addWidget(self._notice)
        outer.addLayout(self._build_controls())
        outer.addWidget(self._build_progress())
        self._pages = QStackedWidget()
        self._dashboard_page = self._build_dashboard()
        self._empty_page, self._empty_label = self._build_empty()
        self._pages.addWidget(self._dashboard_page)
        self._pages.addWidget(self._empty_page)
        outer.addWidget(self._pages, 1)
        self.setCentralWidget(central)

        self._price_label = QLabel()
        self.statusBar().addPermanentWidget(self._price_label)
        self._mark_checked()

    # --- building ---------------------------------------------------------------------------

    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self._ranges = QButtonGroup(self)
        self._ranges.setExclusive(True)
        self._range_buttons: dict[str, QPushButton] = {}
        for i, name in enumerate(RANGES):
            button = QPushButton(RANGE_TITLES[name])
            button.setCheckable(True)
            button.setChecked(name == DEFAULT_RANGE)
            self._ranges.addButton(button, i)
            self._range_buttons[name] = button
            row.addWidget(button)
        self._ranges.idClicked.connect(self._on_range_clicked)
        row.addSpacing(16)
        row.addWidget(QLabel("Stack by"))
        self._stacking = QComboBox()
        for name in STACKINGS:
            self._stacking.addItem(STACKING_TITLES[name], name)
        self._stacking.currentIndexChanged.connect(self._redraw_chart)
        row.addWidget(self._stacking)
        self._log = QPushButton("Log scale")  # a toggle drawn like the range buttons: plain in either theme
        self._log.setCheckable(True)
        self._log.setChecked(True)  # every milestone in view from the first day
        self._log.setToolTip("Each power of ten the same height: 10M, 100M and 1B evenly spaced")
        self._log.toggled.connect(self._redraw_chart)
        for toggle in (*self._range_buttons.values(), self._log):
            toggle.toggled.connect(self._mark_checked)
        row.addWidget(self._log)
        row.addStretch(1)
        self._export = QPushButton("Export PNG…")
        self._export.setToolTip("Save the daily chart as a PNG image, as shown")
        self._export.clicked.connect(self._on_export_clicked)
        row.addWidget(self._export)
        self._refresh = QPushButton("Refresh")
        self._refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self._refresh.setToolTip("Read what the agents wrote since the last look")
        self._refresh.clicked.connect(self.refresh_requested)
        row.addWidget(self._refresh)
        return row

    def _build_progress(self) -> QWidget:
        self._progress = QFrame()
        row = QHBoxLayout(self._progress)
        row.setContentsMargins(0, 0, 0, 0)
        self._progress_label = QLabel()
        self._progress_bar = QProgressBar()
        self._progress_bar.setRange(0, PROGRESS_STEPS)
        self._cancel = QPushButton("Cancel")
        self._cancel.clicked.connect(self._on_cancel_clicked)
        row.addWidget(self._progress_label)
        row.addWidget(self._progress_bar, 1)
        row.addWidget(self._cancel)
        self._progress.hide()
        return self._progress

    def _build_dashboard(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._build_panels())
        self._unpriced = QLabel()
        self._unpriced.setWordWrap(True)
        self._unpriced.hide()
        column.addWidget(self._unpriced)

        self.chart = BurnChart()
        self.minicharts = MiniCharts()
        self.models_table = RowsTable(MODEL_COLUMNS, "total", stretch="model")
        self.projects_table = RowsTable(PROJECT_COLUMNS, "total", stretch="project")
        self.sessions_table = RowsTable(SESSION_COLUMNS, "last", stretch="project")
        self.insights_table = RowsTable(INSIGHT_COLUMNS, "ts", stretch="summary")
        insights = self._insights_page = QWidget()
        insights_column = QVBoxLayout(insights)
        self._insights_summary = QLabel()
        self._insights_summary.setWordWrap(True)
        insights_column.addWidget(self._insights_summary)
        insights_column.addWidget(self.insights_table, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.minicharts, "Cost && cache")
        self.tabs.addTab(self.models_table, "Models")
        self.tabs.addTab(self.projects_table, "Projects")
        self.tabs.addTab(self.sessions_table, "Sessions")
        self.tabs.addTab(insights, "Insights")
        self.limits_panel = LimitsPanel()  # plan windows and Claude Code's block (app.gui.limits_panel)
        self.tabs.addTab(self.limits_panel, "Limits")
        split = self._split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        column.addWidget(split, 1)
        return page

    def _build_panels(self) -> QHBoxLayout:
        row = QHBoxLayout()
        today = QGroupBox("Today")
        box = QVBoxLayout(today)
        self._today_total = _big(QLabel("–"), 1.8)
        self._today_tier = QLabel()
        self._today_cost = QLabel()
        self._next_bar = QProgressBar()
        self._next_bar.setRange(0, PROGRESS_STEPS)
        self._next_label = QLabel()
        for widget in (self._today_total, self._today_tier, self._today_cost, self._next_bar, self._next_label):
            box.addWidget(widget)
        box.addStretch(1)
        row.addWidget(today, 2)

        buckets = QGroupBox("Today's tokens")
        names = [BUCKET_NAMES[b] for b in BUCKETS] + ["cache hit rate"]
        self._today_buckets = _value_grid(buckets, names)
        row.addWidget(buckets, 2)

        now = QGroupBox("Now")
        box = QVBoxLayout(now)
        self._rate = _big(QLabel("–"), 1.4)
        self._active = QLabel()
        box.addWidget(self._rate)
        box.addWidget(QLabel("tokens per minute (last 5 minutes)"))
        box.addWidget(self._active)
        box.addStretch(1)
        row.addWidget(now, 1)

        self._streaks_box = QGroupBox("Streaks (days in a row)")
        self._streaks_grid = QGridLayout(self._streaks_box)
        self._streak_values: dict[str, tuple[QLabel, QLabel]] = {}
        row.addWidget(self._streaks_box, 2)

        self._range_box = QGroupBox("Range")
        self._range_values = _value_grid(self._range_box, ["tokens", "cost", "cache saved", "cache hit rate", "days"])
        row.addWidget(self._range_box, 2)
        return row

    def _build_empty(self) -> tuple[QWidget, QLabel]:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setContentsMargins(24, 24, 24, 24)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(label)
        return scroll, label

    # --- accessors ----------------------------------------------------------------------------

    def current_range(self) -> str:
        return self._range

    def set_range(self, name: str) -> None:
        """Pick range ``name`` (one of RANGES) as a click on its button does: emits ``range_changed`` if new."""
        button = self._range_buttons[name]
        button.setChecked(True)
        self._on_range_clicked(self._ranges.id(button))

    def current_stacking(self) -> str:
        return str(self._stacking.currentData())

    def set_stacking(self, name: str) -> None:
        """Stack the chart by ``name``: agent, model or bucket."""
        self._stacking.setCurrentIndex(self._stacking.findData(name))

    def log_scale(self) -> bool:
        return self._log.isChecked()

    def set_log_scale(self, on: bool) -> None:
        self._log.setChecked(on)

    def show_tab(self, title: str) -> None:
        """Bring forward the tab whose title starts with ``title`` (Cost & cache, Models, …, Insights)."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i).replace("&&", "&").startswith(title):
                self.tabs.setCurrentIndex(i)
                return
        raise KeyError(title)

    def show_limits(self, reading: Reading, now: datetime, tz: tzinfo, alerts: tuple[int, ...]) -> None:
        """Show a plan reading in the Limits tab, whose title gives the tightest window's use."""
        self.limits_panel.show_reading(reading, now, tz, alerts)
        share = ring_share(reading, now)
        title = "Limits" if share is None else f"Limits ({share:.0%})"
        self.tabs.setTabText(self.tabs.indexOf(self.limits_panel), title)

    def show_notice(self, text: str) -> None:
        """A standing message above the controls, wrapped to the window's width (not a status bar line)."""
        self._notice.setText(text)
        self._notice.setVisible(bool(text))

    def notice(self) -> str:
        return self._notice.text() if self._notice.isVisibleTo(self) else ""

    def data(self) -> dict[str, Any] | None:
        """The documents last given to ``show_data`` (None before the first)."""
        return self._data

    def showing_empty(self) -> bool:
        return self._pages.currentWidget() is self._empty_page

    # --- showing ------------------------------------------------------------------------------

    def show_data(self, data: dict[str, Any]) -> None:
        """Show a dashboard document with its models, projects, sessions and insights documents."""
        self._data = data
        doc = data["dashboard"]
        self._set_chart_controls(True)
        self._pages.setCurrentWidget(self._dashboard_page)
        self._show_today(doc["today"], sorted(doc["milestones"].values()))
        self._show_streaks(doc["streaks"])
        self._show_range(doc)
        self._redraw_chart()
        self.minicharts.set_days(doc["days"])
        self.models_table.set_rows(data["models"]["models"])
        self.projects_table.set_rows(data["projects"]["projects"])
        self.sessions_table.set_rows(data["sessions"]["sessions"])
        self._show_insights(data["insights"])
        unpriced = doc.get("unpriced_models") or []
        self._unpriced.setVisible(bool(unpriced))
        self._unpriced.setText(
            f"⚠ No price known for {', '.join(unpriced)}: their tokens are counted but not in the costs. "
            "Add their prices in ~/.config/tokenclub/prices.toml."
        )
        source = doc.get("price_source")
        self._price_label.setText(
            f"Prices: {source['name']}, data of {source['data_date']}" if source else "Prices: none recorded yet"
        )

    def _show_today(self, today: dict[str, Any], milestones: list[int]) -> None:
        total = today["total"]
        self._today_total.setText(f"{fmt.tokens(total)} tokens")
        self._today_total.setToolTip(f"{fmt.exact(total)} tokens")
        self._today_tier.setText(f"{today['tier']} club today" if today.get("tier") else "below every milestone")
        self._today_cost.setText(f"{fmt.cost(today['cost_usd'], today.get('unpriced_tokens'))} today")
        nxt = today.get("next_milestone")
        if nxt:
            self._next_bar.setValue(min(PROGRESS_STEPS, int(PROGRESS_STEPS * total / nxt)))
            self._next_bar.setFormat(f"{total / nxt:.0%} of {fmt.tokens(nxt)}")
        else:
            self._next_bar.setValue(PROGRESS_STEPS)
            self._next_bar.setFormat("every milestone reached")
        self._next_label.setText(to_go(total, milestones))
        for bucket in BUCKETS:
            label = self._today_buckets[BUCKET_NAMES[bucket]]
            label.setText(fmt.tokens(today[bucket]))
            label.setToolTip(f"{fmt.exact(today[bucket])} tokens")
        self._today_buckets["cache hit rate"].setText(fmt.percent(today.get("cache_hit_rate")))
        self._rate.setText(fmt.tokens(today.get("tokens_per_minute") or 0))
        active = today.get("active_sessions") or 0
        self._active.setText(f"{active} session{'' if active == 1 else 's'} active")

    def _show_streaks(self, streaks: dict[str, dict[str, int]]) -> None:
        if list(streaks) != list(self._streak_values):  # milestones changed: lay the rows out again
            while self._streaks_grid.count():
                item = self._streaks_grid.takeAt(0)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.deleteLater()
            for col, text in enumerate(("club", "current", "best")):
                self._streaks_grid.addWidget(QLabel(f"<b>{text}</b>"), 0, col)
            self._streak_values = {}
            for row, label in enumerate(streaks, 1):
                self._streaks_grid.addWidget(QLabel(label), row, 0)
                pair = []
                for col in (1, 2):
                    value = QLabel()
                    value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self._streaks_grid.addWidget(value, row, col)
                    pair.append(value)
                self._streak_values[label] = (pair[0], pair[1])
        for label, s in streaks.items():
            for value, key in zip(self._streak_values[label], ("current", "best"), strict=True):
                value.setText(f"{s[key]} day{'' if s[key] == 1 else 's'}")

    def _show_range(self, doc: dict[str, Any]) -> None:
        totals = doc["totals"]
        self._range_box.setTitle(f"{fmt.day_label(doc['since'])} – {fmt.day_label(doc['until'])}")
        self._range_values["tokens"].setText(fmt.tokens(totals["total"]))
        self._range_values["tokens"].setToolTip(f"{fmt.exact(totals['total'])} tokens")
        self._range_values["cost"].setText(fmt.cost(totals["cost_usd"], totals.get("unpriced_tokens")))
        self._range_values["cache saved"].setText(fmt.usd(totals["cache_saved_usd"]))
        self._range_values["cache hit rate"].setText(fmt.percent(totals.get("cache_hit_rate")))
        self._range_values["days"].setText(f"{len(doc['days'])}")

    def _show_insights(self, insights: dict[str, Any]) -> None:
        rows = insights["insights"]
        count, extra = insights["totals"]["count"], insights["totals"]["extra_cost_usd"]
        self.insights_table.set_rows(rows)
        self.tabs.setTabText(self.tabs.indexOf(self._insights_page), f"Insights ({count})")
        if not count:
            self._insights_summary.setText("No cache re-pays found: no model switch mid-session, no expired cache.")
            return
        self._insights_summary.setText(
            f"{count} time{'' if count == 1 else 's'} a session re-paid its prompt without the cache "
            f"(a model switch mid-session, or an idle pause past the cache lifetime): "
            f"about {fmt.usd(extra)} extra."
        )

    def _mark_checked(self) -> None:
        """The picked range and the log toggle in the highlight colour: a sunken button barely shows in dark.

        Only the button roles are set (no style sheet: one would pin every child to the palette
        it was polished with), so the rest follows the theme; a theme change marks them again.
        """
        theme = self.palette()
        for toggle in (*self._range_buttons.values(), self._log):
            own = QPalette()
            if toggle.isChecked():
                own.setColor(QPalette.ColorRole.Button, theme.color(QPalette.ColorRole.Highlight))
                own.setColor(QPalette.ColorRole.ButtonText, theme.color(QPalette.ColorRole.HighlightedText))
            toggle.setPalette(own)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._split_set:  # the chart and the tables share the height, ten table rows in view
            self._split_set = True
            room = sum(self._split.sizes())
            self._split.setSizes([room * 11 // 20, room - room * 11 // 20])

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:
            self._mark_checked()
        super().changeEvent(event)

    def _set_chart_controls(self, enabled: bool) -> None:
        for widget in (*self._range_buttons.values(), self._stacking, self._log, self._export):
            widget.setEnabled(enabled)

    def _redraw_chart(self) -> None:
        if self._data is None:
            return
        doc = self._data["dashboard"]
        self.chart.set_days(doc["days"], self.current_stacking(), self.log_scale(), doc["milestones"])

    def show_progress(self, files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> None:
        """Show how far the index is (a cold index of every log), with a Cancel button."""
        if bytes_total > 0:  # bytes track the work better than files of very different sizes
            share = bytes_done / bytes_total
        elif files_total > 0:
            share = files_done / files_total
        else:
            share = 0.0
        self._progress_bar.setValue(min(PROGRESS_STEPS, int(share * PROGRESS_STEPS)))
        self._progress_label.setText(
            f"Indexing logs: {files_done:,} of {files_total:,} files, "
            f"{fmt.data_size(bytes_done)} of {fmt.data_size(bytes_total)}"
        )
        self._progress.show()

    def hide_progress(self) -> None:
        self._progress.hide()
        self._cancel.setEnabled(True)
        self._cancel.setText("Cancel")

    def progress_visible(self) -> bool:
        return self._progress.isVisibleTo(self)

    def progress_text(self) -> str:
        return self._progress_label.text()

    def show_empty(self, searched: dict[str, list[str]]) -> None:
        """The first-run page: no usage yet, where each agent's logs were looked for, how to point elsewhere."""
        parts = [
            "<h2>No token usage found yet</h2>",
            "<p>TokenClub reads the logs your coding agents write. It looked in these places and found no usage:</p>",
            "<table cellspacing='0' cellpadding='4'>",
            "<tr><th align='left'>Agent</th><th align='left'>Looked in</th>"
            "<th align='left'>To read another place, set</th></tr>",
        ]
        for agent, roots in searched.items():
            where = "<br>".join(f"<code>{html.escape(r)}</code>" for r in roots) or "(no location)"
            names = " or ".join(f"<code>{v}</code>" for v in ENV_OVERRIDES.get(agent, ()))
            parts.append(
                f"<tr><td valign='top'><b>{html.escape(agent)}</b></td><td valign='top'>{where}</td>"
                f"<td valign='top'>{names}{ENV_NOTES.get(agent, '')}</td></tr>"
            )
        parts += [
            "</table>",
            "<p>If your agents keep their logs elsewhere, set the agent's variable before starting "
            "TokenClub, or start it with <code>tokenclub --home DIR</code> to read every agent's default "
            "locations under <code>DIR</code>. <code>tokenclub sources</code> prints the same list.</p>",
            "<p>Usage shows here as soon as an agent writes its next line.</p>",
        ]
        self._empty_label.setText("".join(parts))
        self._data = None
        self._set_chart_controls(False)
        self._pages.setCurrentWidget(self._empty_page)

    def empty_text(self) -> str:
        """The empty page as plain text (what the user reads)."""
        doc = QTextDocument()
        doc.setHtml(self._empty_label.text())
        return doc.toPlainText()

    # --- user actions -------------------------------------------------------------------------

    def _on_range_clicked(self, button_id: int) -> None:
        if RANGES[button_id] != self._range:
            self._range = RANGES[button_id]
            self.range_changed.emit(self._range)

    def _on_cancel_clicked(self) -> None:
        self._cancel.setEnabled(False)
        self._cancel.setText("Cancelling…")
        self.cancel_requested.emit()

    def _on_export_clicked(self) -> None:
        suggested = f"tokenclub-{self.current_range()}-by-{self.current_stacking()}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export chart", str(Path.home() / suggested), "PNG image (*.png)")
        if path:
            self.export_chart(Path(path if path.lower().endswith(".png") else f"{path}.png"))

    def export_chart(self, path: Path) -> None:
        """Write the burn chart to ``path`` as a PNG and say so in the status bar."""
        title, period = f"TokenClub · tokens per day by {self.current_stacking()}", ""
        if self._data is not None:
            doc = self._data["dashboard"]
            period = f"{fmt.day_label(doc['since'])} – {fmt.day_label(doc['until'])}"
        try:
            self.chart.export_png(path, title, period)
        except OSError as exc:
            QMessageBox.warning(self, "Export chart", str(exc))
            return
        self.statusBar().showMessage(f"Chart saved to {path}", 8000)
