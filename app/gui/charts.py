"""The daily-burn chart: stacked bars per day against the 10M / 100M / 1B milestone lines.

pyqtgraph's log mode transforms data curves only; bars, milestone lines and the hover box
are placed here in the axis's own coordinates (log10 of tokens when log is on).
"""

from __future__ import annotations

import zlib
from datetime import date
from math import ceil, floor, log10
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QSizePolicy, QVBoxLayout, QWidget

from app.core.milestones import to_go
from app.core.model import BUCKETS
from app.gui import formatting as fmt
from app.sources import REGISTRY, source

STACKINGS = ("agent", "model", "device", "bucket")
STACKED = tuple(b for b in BUCKETS if b != "rsn")  # rsn is inside out: shown in the hover only
BUCKET_NAMES = {"in": "input", "cw": "cache write", "cr": "cache read", "out": "output", "rsn": "reasoning"}
OTHER = "other"
MAX_SERIES = 8  # past this, the smallest series share one "other" bar so the legend stays readable
BAR_WIDTH = 0.8
EXPORT_SIZE = QSize(1400, 700)
LOG2, LOG5 = log10(2), log10(5)
LOG_DECADES = 6  # the log scale spans at most this many decades below the top milestone
LOG_HEADROOM = 0.3  # decades above the top milestone or the busiest day: room for its tick label
EXPORT_SCALE = 2  # PNGs are rendered at twice the widget's pixels, for sharp text

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#86bcb6",
    "#d4a6c8",
    "#8cd17d",
)
# the buckets' colours, then each agent's own (its source declares it), then ``other``
FIXED_COLOURS = {
    "in": "#4e79a7",
    "cw": "#f28e2b",
    "cr": "#76b7b2",
    "out": "#e15759",
    **{agent: colour for agent in REGISTRY if (colour := source(agent).descriptor.colour) is not None},
    OTHER: "#9a9a9a",
}


class SeriesColours:
    """A colour per series name that stays put across ranges, stackings and refreshes.

    Buckets and known agents have their own colour; any other name starts from a palette
    slot picked by a stable hash of the name and takes the next free slot on a clash.
    """

    def __init__(self) -> None:
        self._given: dict[str, QColor] = {}

    def colour(self, name: str) -> QColor:
        held = self._given.get(name)
        if held is not None:
            return held
        fixed = FIXED_COLOURS.get(name)
        if fixed is None:
            used = {c.name() for c in self._given.values()}
            start = zlib.crc32(name.encode())
            slots = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
            fixed = next((s for s in slots if s not in used), slots[0])
        colour = self._given[name] = QColor(fixed)
        return colour


def stack(days: list[dict[str, Any]], stacking: str) -> tuple[list[str], np.ndarray]:
    """Series names (bottom first) and their per-day token heights, shape (series, days).

    The heights of a day add up to its total: buckets in + cw + cr + out, or every agent or
    model of the day (the smallest beyond ``MAX_SERIES`` summed as ``other``).
    """
    if stacking not in STACKINGS:
        raise ValueError(f"unknown stacking {stacking!r} (one of {', '.join(STACKINGS)})")
    if stacking == "bucket":
        names = list(STACKED)
        return names, np.array([[d[b] for d in days] for b in names], dtype=np.float64).reshape(len(names), len(days))
    split = f"by_{stacking}"  # by_agent, by_model, by_device
    sums: dict[str, int] = {}
    for d in days:
        for name, t in d[split].items():
            sums[name] = sums.get(name, 0) + t["total"]
    ranked = sorted(sums, key=lambda n: (-sums[n], n))
    names = ranked if len(ranked) <= MAX_SERIES else [*ranked[: MAX_SERIES - 1], OTHER]
    row = {name: i for i, name in enumerate(names)}
    heights = np.zeros((len(names), len(days)), dtype=np.float64)
    for j, d in enumerate(days):
        for name, t in d[split].items():
            heights[row.get(name, len(names) - 1), j] += t["total"]
    return names, heights


class DayAxis(pg.AxisItem):
    """Bottom axis over day indices, labelled with dates: days, Mondays or month starts as room allows."""

    def __init__(self) -> None:
        super().__init__("bottom")
        self.setHeight(30)
        self.setStyle(hideOverlappingLabels=24)  # today's label may reach into the right margin
        self._dates: list[date] = []
        self._month_starts = np.zeros(0, dtype=np.int64)

    def set_dates(self, dates: list[date]) -> None:
        self._dates = dates
        self._month_starts = np.array([i for i, d in enumerate(dates) if d.day == 1], dtype=np.int64)
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802, N803
        if not self._dates:
            return []
        lo, hi = max(0, ceil(minVal)), min(len(self._dates) - 1, floor(maxVal))
        if hi < lo:
            return []
        room = max(2, int(size / 72))
        span = hi - lo + 1
        for step in (1, 2, 3):
            if span <= room * step:
                return [(float(step), [float(i) for i in range(hi, lo - 1, -step)])]  # today always labelled
        mondays = [i for i in range(lo, hi + 1) if self._dates[i].weekday() == 0]
        for weeks in (1, 2):
            picked = mondays[::weeks]
            if len(picked) <= room:
                return [(7.0 * weeks, [float(i) for i in picked])]
        starts = self._month_starts[(self._month_starts >= lo) & (self._month_starts <= hi)]
        for months in (1, 2, 3, 6, 12, 24):
            picked = [int(i) for i in starts if (self._dates[int(i)].month - 1) % months == 0]
            if len(picked) <= room:
                return [(30.0 * months, [float(i) for i in picked])]
        return [(365.0, [float(i) for i in starts if self._dates[int(i)].month == 1])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        out = []
        for v in values:
            i = int(round(v))
            if not 0 <= i < len(self._dates):
                out.append("")
                continue
            d = self._dates[i]
            out.append(f"{d.day} {d:%b}" if spacing < 28 else (f"{d:%b %Y}" if spacing < 365 else f"{d:%Y}"))
        return out


class TokenAxis(pg.AxisItem):
    """Left axis in tokens (10M, 250M, 1B), linear or log10, never with a ×1e6 scale label."""

    def __init__(self) -> None:
        super().__init__("left")
        self.enableAutoSIPrefix(False)
        self.setWidth(52)
        self.setStyle(maxTickLevel=1)  # a third level of grid lines is clutter, and two thirds of a redraw

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float | None, list[float]]]:  # noqa: N802, N803
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        # decades, with 2x and 5x between them: fewer lines than 2x..9x, and the usual log grid
        lo, hi = floor(minVal), ceil(maxVal)
        majors = [float(v) for v in range(lo, hi + 1) if minVal <= v <= maxVal]
        minors = [v + m for v in range(lo, hi) for m in (LOG2, LOG5) if minVal <= v + m <= maxVal]
        return [(1.0, majors), (None, minors)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        if self.logMode:
            # decades only: minor ticks between them stay unlabelled
            return [fmt.axis_tokens(10 ** round(v)) if abs(v - round(v)) < 1e-6 else "" for v in values]
        return [fmt.axis_tokens(v) for v in values]


def style_plot(view: pg.GraphicsView, plot: pg.PlotItem, palette: QPalette) -> None:
    """Background, axes and grid of ``plot`` in the colours of ``palette`` (light or dark)."""
    view.setBackground(palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.Text)
    line = QColor(text)
    line.setAlpha(110)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(line))
        axis.setTextPen(pg.mkPen(text))
    plot.showGrid(x=False, y=True, alpha=0.18)
    title = plot.titleLabel
    if title.text:
        title.setText(title.text, color=text.name())


def fit_days(plot: pg.PlotItem, days: int, lo: float, hi: float) -> None:
    """Show every one of ``days`` bars (index 0 .. days-1) and ``lo..hi``, and pan no further."""
    n = max(days, 1)
    # limits first: the old ones would clip a wider range (30 days to 90 kept 30)
    plot.setLimits(xMin=-1.0, xMax=n, minXRange=min(7, n))
    plot.setXRange(-0.6, n - 0.4, padding=0)
    plot.setYRange(lo, hi, padding=0)


def legend_text_colour(legend: pg.LegendItem, palette: QPalette) -> None:
    """Labels in the palette's text colour; pyqtgraph keeps drawn labels in their old colour unless redrawn."""
    colour = palette.color(QPalette.ColorRole.Text)
    legend.setLabelTextColor(colour)
    for _, label in legend.items:
        label.setText(label.text, color=colour)


class BurnChart(QWidget):
    """Daily tokens as stacked bars (one BarGraphItem per series) with milestone lines and a hover box.

    On the log scale a bar's top is at log10 of the day's total and its parts divide the bar
    in proportion to their share of the day, so the mix reads the same as on the linear scale.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._colours = SeriesColours()
        self._days: list[dict[str, Any]] = []
        self._stacking = "agent"
        self._log = False
        self._names: list[str] = []
        self._heights = np.zeros((0, 0))
        self._bars: dict[str, pg.BarGraphItem] = {}
        self._lines: dict[str, pg.InfiniteLine] = {}
        self._milestones: dict[str, int] = {}
        self._hovered: int | None = None

        self._view = pg.GraphicsLayoutWidget()
        self._view.ci.setContentsMargins(6, 6, 24, 6)
        self._legend = pg.LegendItem(colCount=MAX_SERIES, verSpacing=-4, horSpacing=18)
        self._view.addItem(self._legend, row=0, col=0)
        self._legend.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self._view.ci.layout.setAlignment(self._legend, Qt.AlignmentFlag.AlignLeft)
        self._standing = pg.LabelItem("", justify="right", size="9pt")
        self._view.addItem(self._standing, row=0, col=1)
        self._axis_x = DayAxis()
        self._axis_y = TokenAxis()
        self._plot: pg.PlotItem = self._view.addPlot(
            row=1, col=0, colspan=2, axisItems={"bottom": self._axis_x, "left": self._axis_y}
        )
        self._view.ci.layout.setRowStretchFactor(1, 1)
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        self._plot.disableAutoRange()
        self._plot.setMouseEnabled(x=True, y=False)
        self._plot.setLabel("left", "tokens per day")

        self._best = pg.InfiniteLine(
            angle=0, movable=False, label="", labelOpts={"position": 0.5, "anchors": [(0.5, 0), (0.5, 0)]}
        )
        self._best.setZValue(14)
        self._best.hide()
        self._plot.addItem(self._best, ignoreBounds=True)
        self._cursor = pg.InfiniteLine(angle=90, movable=False)
        self._cursor.setZValue(20)
        self._cursor.hide()
        self._plot.addItem(self._cursor, ignoreBounds=True)
        self._tip = pg.TextItem(anchor=(0, 0))
        self._tip.setZValue(30)
        self._tip.hide()
        self._plot.addItem(self._tip, ignoreBounds=True)
        self._plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._view)
        self._apply_palette()

    @property
    def plot(self) -> pg.PlotItem:
        """The pyqtgraph plot (for tests and for linking other charts' x axes)."""
        return self._plot

    def series(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each shown series' bar bottoms and heights, in axis coordinates (log10 when log is on)."""
        out = {}
        for name in self._names:
            opts = self._bars[name].opts
            out[name] = (np.asarray(opts["y0"]), np.asarray(opts["height"]))
        return out

    def milestone_positions(self) -> dict[str, float]:
        """Where each milestone line sits, in axis coordinates."""
        return {label: float(line.value()) for label, line in self._lines.items()}

    def legend_names(self) -> list[str]:
        return [label.text for _, label in self._legend.items]

    def set_days(self, days: list[dict[str, Any]], stacking: str, log: bool, milestones: dict[str, int]) -> None:
        """Show ``days`` (the ``days`` of a dashboard document) stacked by agent, model or bucket."""
        names, heights = stack(days, stacking)
        self._days, self._stacking, self._log = days, stacking, log
        self._names, self._heights = names, heights
        self._axis_x.set_dates([date.fromisoformat(d["date"]) for d in days])
        self._plot.setLogMode(x=False, y=log)

        n = len(days)
        x = np.arange(n, dtype=np.float64)
        tops = np.cumsum(heights, axis=0)
        bottoms = tops - heights
        totals = tops[-1] if len(names) else np.zeros(n)
        lo, hi = self._y_range(totals, milestones)
        if log:
            # the bar reaches log10(total); its parts split it by their share of the day, since
            # a stack of logarithms would squash every part but the lowest
            span = np.log10(np.maximum(totals, 10**lo)) - lo
            share = np.divide(heights, totals, out=np.zeros_like(heights), where=totals > 0)
            heights = share * span
            bottoms = lo + np.cumsum(heights, axis=0) - heights

        for gone in set(self._bars) - set(names):
            self._plot.removeItem(self._bars.pop(gone))
        relabel = [label.text for _, label in self._legend.items] != [BUCKET_NAMES.get(s, s) for s in names]
        if relabel:
            self._legend.clear()
        for i, name in enumerate(names):
            bar = self._bars.get(name)
            colour = self._colours.colour(name)
            if bar is None:
                bar = self._bars[name] = pg.BarGraphItem(x=x, height=heights[i], y0=bottoms[i], width=BAR_WIDTH)
                self._plot.addItem(bar)
            bar.setOpts(x=x, height=heights[i], y0=bottoms[i], width=BAR_WIDTH, brush=colour, pen=None)
            bar.setZValue(i)
            if relabel:
                self._legend.addItem(bar, BUCKET_NAMES.get(name, name))
        if relabel:
            self._legend.setColumnCount(max(1, len(names)))
            self._apply_legend_colours()

        self._place_milestones(milestones, log, lo, hi)
        fit_days(self._plot, n, lo, hi)
        if self._hovered is not None and self._hovered < n:
            self.hover_day(self._hovered)
        else:
            self._hide_hover()

    def _y_range(self, totals: np.ndarray, milestones: dict[str, int]) -> tuple[float, float]:
        """The view's y span: the data plus the next milestone above it; on the log scale every milestone."""
        peak = float(totals.max()) if totals.size else 0.0
        marks = sorted(milestones.values())
        ahead = [m for m in marks if m > peak]
        if self._log:
            # up to the top milestone whatever the data, so a day-one home sees all three lines
            top = max(peak, float(marks[-1]) if marks else peak, 10.0)
            positive = totals[totals > 0]
            smallest = float(positive.min()) if positive.size else top / 1e4
            lo = floor(log10(smallest))
            if marks:
                lo = min(lo, floor(log10(marks[0])) - 1)
            return float(max(lo, floor(log10(top)) - LOG_DECADES)), log10(top) + LOG_HEADROOM
        top = peak
        if ahead and ahead[0] <= 1.6 * peak:  # close enough that the goal line is worth the space
            top = ahead[0]
        if top <= 0:
            top = float(marks[0]) if marks else 1.0
        return 0.0, top * 1.08

    def _place_milestones(self, milestones: dict[str, int], log: bool, lo: float, hi: float) -> None:
        for gone in set(self._lines) - set(milestones):
            self._plot.removeItem(self._lines.pop(gone))
        self._milestones = dict(milestones)
        text = self.palette().color(QPalette.ColorRole.Text)
        backdrop = self.palette().color(QPalette.ColorRole.Base)
        backdrop.setAlpha(200)
        for label, value in milestones.items():
            y = log10(value) if log else float(value)
            line = self._lines.get(label)
            if line is None:
                # the label hangs below its line at the left: the top line's label stays inside the plot
                line = pg.InfiniteLine(
                    angle=0,
                    movable=False,
                    label=f"{label} a day",
                    labelOpts={"position": 0.005, "anchors": [(0, 0), (0, 0)]},
                )
                line.setZValue(15)
                self._lines[label] = line
                self._plot.addItem(line, ignoreBounds=True)
            line.setPen(pg.mkPen(text, width=1.2, style=Qt.PenStyle.DashLine))
            line.label.setColor(text)
            line.label.fill = pg.mkBrush(backdrop)  # readable over the bars it crosses
            line.setPos(y)
            line.setVisible(lo <= y <= hi)
        self._place_best(log, text, backdrop)
        self._standing.setText(self._standing_text(lo, hi), color=text.name())

    def _place_best(self, log: bool, text: QColor, backdrop: QColor) -> None:
        """A dotted line at the best day of the range, so it reads against the milestone lines."""
        totals = [d["total"] for d in self._days]
        best = max(totals, default=0)
        self._best.setVisible(best > 0)
        if best <= 0:
            return
        when = self._days[totals.index(best)]["date"]
        self._best.label.setFormat(f"best day {fmt.tokens(best)} ({date.fromisoformat(when):%-d %b})")
        self._best.setPen(pg.mkPen(text, width=1, style=Qt.PenStyle.DotLine))
        self._best.label.setColor(text)
        self._best.label.fill = pg.mkBrush(backdrop)
        self._best.setPos(log10(best) if log else float(best))

    def _standing_text(self, lo: float, hi: float) -> str:
        """Today and the best day against the milestones, in words above the plot."""
        if not self._days:
            return ""
        marks = sorted(self._milestones.values())
        today, best = self._days[-1]["total"], max(d["total"] for d in self._days)
        parts = [f"today {fmt.tokens(today)}: {to_go(today, marks)}", f"best day {fmt.tokens(best)}"]
        ranked = sorted(self._milestones.items(), key=lambda kv: kv[1])
        above = [label for label, v in ranked if (log10(v) if self._log else v) > hi]
        if above:
            parts.append(f"{', '.join(above)} above this scale (Log scale shows every milestone)")
        return "  ·  ".join(parts)

    def milestone_label_rects(self) -> dict[str, QRectF]:
        """Each shown milestone label's box in scene coordinates (tests: never clipped by the plot)."""
        return {k: line.label.sceneBoundingRect() for k, line in self._lines.items() if line.isVisible()}

    def plot_rect(self) -> QRectF:
        """The plotting area (the view box) in scene coordinates: what lies outside it is clipped."""
        return self._plot.getViewBox().sceneBoundingRect()

    def standing_text(self) -> str:
        """The line above the plot saying where today and the best day stand."""
        return str(self._standing.text)

    def hover_day(self, index: int) -> None:
        """Show the hover box for day ``index`` (what moving the mouse over its bar does)."""
        if not 0 <= index < len(self._days):
            self._hide_hover()
            return
        self._hovered = index
        self._tip.setHtml(self._hover_html(index))
        (x0, x1), (_, y1) = self._plot.viewRange()
        right_half = index > (x0 + x1) / 2
        self._tip.setAnchor((1, 0) if right_half else (0, 0))
        self._tip.setPos(index + (-0.6 if right_half else 0.6), y1)
        self._cursor.setPos(index)
        self._cursor.show()
        self._tip.show()

    def hover_text(self) -> str:
        """The hover box's text as the user reads it, or "" when nothing is hovered."""
        return self._tip.textItem.toPlainText() if self._tip.isVisible() else ""

    def _hover_html(self, index: int) -> str:
        d = self._days[index]
        tier = f" · {d['tier']} club" if d.get("tier") else ""
        rows = [
            ("total", f"{fmt.tokens(d['total'])} ({fmt.exact(d['total'])})"),
            ("cost", fmt.cost(d["cost_usd"], d.get("unpriced_tokens"))),
        ]
        rows += [(BUCKET_NAMES[b], fmt.tokens(d[b])) for b in BUCKETS]
        rows += [("cache hit", fmt.percent(d["cache_hit_rate"])), ("cache saved", fmt.usd(d["cache_saved_usd"]))]
        html = [f"<b>{fmt.day_label(d['date'])}</b>{tier}<table cellspacing='0' cellpadding='1'>"]
        html += [f"<tr><td>{k}&nbsp;&nbsp;</td><td align='right'>{v}</td></tr>" for k, v in rows]
        if self._stacking != "bucket":
            html.append(f"<tr><td colspan='2'><b>by {self._stacking}</b></td></tr>")
            for i, name in enumerate(self._names):
                value = self._heights[i, index]
                if value:
                    swatch = f"<span style='color:{self._colours.colour(name).name()}'>■</span>"
                    html.append(
                        f"<tr><td>{swatch} {name}&nbsp;&nbsp;</td><td align='right'>{fmt.tokens(value)}</td></tr>"
                    )
        html.append("</table>")
        return "".join(html)

    def _hide_hover(self) -> None:
        self._hovered = None
        self._tip.hide()
        self._cursor.hide()

    def _on_mouse_moved(self, pos: QPointF) -> None:
        box = self._plot.getViewBox()
        if not box.sceneBoundingRect().contains(pos):
            self._hide_hover()
            return
        index = int(round(box.mapSceneToView(pos).x()))
        if index != self._hovered:
            self.hover_day(index)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        self._hide_hover()
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        style_plot(self._view, self._plot, palette)
        self._plot.getAxis("left").setLabel("tokens per day", color=palette.color(QPalette.ColorRole.Text).name())
        self._cursor.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid), width=1))
        tip_fill = palette.color(QPalette.ColorRole.ToolTipBase)
        tip_fill.setAlpha(235)
        self._tip.fill = pg.mkBrush(tip_fill)
        self._tip.border = pg.mkPen(palette.color(QPalette.ColorRole.Mid))
        self._tip.setColor(palette.color(QPalette.ColorRole.ToolTipText))
        self._apply_legend_colours()
        if self._days:
            lo, hi = self._plot.viewRange()[1]
            self._place_milestones(self._milestones, self._log, lo, hi)

    def _heading_height(self) -> int:
        return QFontMetrics(self._heading_font()).height() * 2 + 12

    def _heading_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        return font

    def _draw_heading(self, image: QImage, title: str, period: str, band: int) -> None:
        """The title in bold over the date range, left-aligned on the image's top ``band`` pixels."""
        painter = QPainter(image)
        try:
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
            font = self._heading_font()
            line = QFontMetrics(font).height()
            bold = QFont(font)
            bold.setBold(True)
            painter.setFont(bold)
            painter.drawText(QRectF(12, 6, image.width() / EXPORT_SCALE - 24, line), Qt.AlignmentFlag.AlignLeft, title)
            painter.setFont(font)
            painter.drawText(
                QRectF(12, 6 + line, image.width() / EXPORT_SCALE - 24, line), Qt.AlignmentFlag.AlignLeft, period
            )
        finally:
            painter.end()

    def _apply_legend_colours(self) -> None:
        legend_text_colour(self._legend, self.palette())

    def export_png(self, path: Path, title: str = "", period: str = "") -> None:
        """Write the chart (legend, axes, bars, milestone lines) to ``path`` as a PNG.

        ``title`` and ``period`` (the date range), when given, head the image on a band of their
        own, so a shared picture says what it shows. A chart never shown has no layout yet, so
        it is laid out off screen first, at its own size if it was given one (else
        ``EXPORT_SIZE``): the image keeps that aspect.
        """
        window = self.window()
        shown_here = not self.isVisible()
        if shown_here:
            if not window.testAttribute(Qt.WidgetAttribute.WA_Resized):
                window.resize(EXPORT_SIZE)
            window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            window.show()
            QApplication.sendPostedEvents()
        hovered = self._hovered
        self._hide_hover()
        try:
            # the view rendered at twice its pixels: text and lines exactly as on screen, only sharper
            band = self._heading_height() if title or period else 0
            size = self._view.size() + QSize(0, band)
            image = QImage(size * EXPORT_SCALE, QImage.Format.Format_ARGB32)
            image.setDevicePixelRatio(EXPORT_SCALE)
            image.fill(self.palette().color(QPalette.ColorRole.Base))
            if band:
                self._draw_heading(image, title, period, band)
            QWidget.render(self._view, image, QPoint(0, band))  # the widget, not QGraphicsView.render's bare scene
            if not image.save(str(path), "PNG"):  # type: ignore[call-overload]  # PySide6 takes str, stubs say bytes
                raise OSError(f"could not write {path}")
        finally:
            if hovered is not None:
                self.hover_day(hovered)
            if shown_here:
                window.hide()
                window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, False)
