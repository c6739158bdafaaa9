"""Small charts under the burn chart: cost with what cache reads saved, cache hit rate, sessions in parallel."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.gui import formatting as fmt
from app.gui.charts import BAR_WIDTH, DayAxis, fit_days, style_plot

COST = QColor("#e15759")
SAVED = QColor("#59a14f")
RATE = QColor("#76b7b2")
SESSIONS = QColor("#4e79a7")


class UsdAxis(pg.AxisItem):
    """Left axis in dollars ($0, $250, $1.2K)."""

    def __init__(self) -> None:
        super().__init__("left")
        self.enableAutoSIPrefix(False)
        self.setWidth(52)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return ["$" + fmt.axis_tokens(v) for v in values]


class PercentAxis(pg.AxisItem):
    """Left axis of a 0..1 rate, in percent."""

    def __init__(self) -> None:
        super().__init__("left")
        self.enableAutoSIPrefix(False)
        self.setWidth(52)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [f"{v * 100:.0f}%" for v in values]


class MiniChart(QWidget):
    """One small day-by-day plot with a title, following the palette; subclasses draw the days."""

    def __init__(self, title: str, left: pg.AxisItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._axis_x = DayAxis()
        self._view = pg.PlotWidget(axisItems={"bottom": self._axis_x, "left": left})
        self._plot: pg.PlotItem = self._view.getPlotItem()
        self._plot.setTitle(title, size="10pt")
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        self._plot.setMouseEnabled(x=True, y=False)
        self._plot.disableAutoRange()
        self._plot.setContentsMargins(0, 0, 20, 0)  # the last date's label (centred on today) fits on the right
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._view)
        self._apply_palette()

    @property
    def plot(self) -> pg.PlotItem:
        return self._plot

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 200)

    def _frame(self, days: list[dict[str, Any]], top: float) -> np.ndarray:
        """Dates on the x axis and the view fitted to ``days`` and ``0..top``; returns the x positions."""
        self._axis_x.set_dates([date.fromisoformat(d["date"]) for d in days])
        fit_days(self._plot, len(days), 0, top if top > 0 else 1)
        return np.arange(len(days), dtype=np.float64)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        style_plot(self._view, self._plot, self.palette())


class CostChart(MiniChart):
    """Cost per day (bars) and what cache reads saved against fresh input (line)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        # the key is in the title: a legend inside the plot covered the line it names
        key = (
            f"<span style='color:{COST.name()}'>■</span> cost &nbsp; "
            f"<span style='color:{SAVED.name()}'>━</span> saved by cache reads"
        )
        super().__init__(f"Cost per day &nbsp; {key}", UsdAxis(), parent)
        self.cost = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=COST, pen=None)
        self.saved = pg.PlotDataItem(pen=pg.mkPen(SAVED, width=2))
        self._plot.addItem(self.cost)
        self._plot.addItem(self.saved)

    def set_days(self, days: list[dict[str, Any]]) -> None:
        cost = np.array([d["cost_usd"] or 0.0 for d in days], dtype=np.float64)
        saved = np.array([d["cache_saved_usd"] or 0.0 for d in days], dtype=np.float64)
        top = max(float(cost.max()) if days else 0.0, float(saved.max()) if days else 0.0) * 1.08
        x = self._frame(days, top)
        self.cost.setOpts(x=x, height=cost, width=BAR_WIDTH)
        self.saved.setData(x, saved)


class HitRateChart(MiniChart):
    """Share of prompt tokens read from cache, per day (days without prompts leave a gap)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Cache hit rate", PercentAxis(), parent)
        fill = QColor(RATE)
        fill.setAlpha(60)
        self.rate = pg.PlotDataItem(pen=pg.mkPen(RATE, width=2), fillLevel=0, brush=fill, connect="finite")
        self._plot.addItem(self.rate)

    def set_days(self, days: list[dict[str, Any]]) -> None:
        rate = np.array([np.nan if d["cache_hit_rate"] is None else d["cache_hit_rate"] for d in days], dtype=float)
        x = self._frame(days, 1.02)
        self.rate.setData(x, rate)


class SessionsChart(MiniChart):
    """The most sessions running in the same five minutes, per day."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sessions in parallel (peak)", pg.AxisItem("left"), parent)
        self._plot.getAxis("left").setWidth(52)
        self.peaks = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=SESSIONS, pen=None)
        self._plot.addItem(self.peaks)

    def set_days(self, days: list[dict[str, Any]]) -> None:
        peaks = np.array([d["peak_sessions"] for d in days], dtype=np.float64)
        x = self._frame(days, max(float(peaks.max()) if days else 0.0, 1.0) * 1.15)
        self.peaks.setOpts(x=x, height=peaks, width=BAR_WIDTH)


class MiniCharts(QWidget):
    """The three small charts side by side, panning and zooming together."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cost = CostChart()
        self.hit_rate = HitRateChart()
        self.sessions = SessionsChart()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for chart in (self.cost, self.hit_rate, self.sessions):
            layout.addWidget(chart)
        self.hit_rate.plot.setXLink(self.cost.plot)
        self.sessions.plot.setXLink(self.cost.plot)

    def set_days(self, days: list[dict[str, Any]]) -> None:
        """Show the ``days`` of a dashboard document on every small chart."""
        for chart in (self.cost, self.hit_rate, self.sessions):
            chart.set_days(days)
