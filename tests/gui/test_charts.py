"""The burn chart and the small charts, on the dashboard document of the generated 120-day index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from math import log10
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.core import dashboard
from app.core.schema import connect
from app.gui import formatting as fmt
from app.gui.charts import MAX_SERIES, OTHER, BurnChart, DayAxis, TokenAxis, stack
from app.gui.minicharts import MiniCharts
from tests.burn_dataset import Burn
from tests.gui.conftest import shown

MILESTONES = {"10M": 10_000_000, "100M": 100_000_000, "1B": 1_000_000_000}


@pytest.fixture(scope="module")
def doc(burn_home: tuple[Path, Path, Burn]) -> dict[str, Any]:
    """The "all" dashboard document of the shared index, days in UTC."""
    _, db, _ = burn_home
    conn = connect(db)
    try:
        return dashboard.build(conn, dashboard.range_filter("all", UTC, datetime.now(UTC).date()))
    finally:
        conn.close()


@pytest.fixture
def chart(qtbot: QtBot) -> BurnChart:
    widget = BurnChart()
    shown(qtbot, widget, 1000, 500)
    return widget


def totals_of(days: list[dict[str, Any]]) -> np.ndarray:
    return np.array([d["total"] for d in days], dtype=np.float64)


def test_days_are_the_burn_written(doc: dict[str, Any], burn_home: tuple[Path, Path, Burn]) -> None:
    burn = burn_home[2]
    shown = {d["date"]: d["total"] for d in doc["days"] if d["total"]}
    assert shown == burn.per_day


@pytest.mark.parametrize("stacking", ["agent", "model", "bucket"])
def test_stacked_heights_add_up_to_each_day_total(chart: BurnChart, doc: dict[str, Any], stacking: str) -> None:
    chart.set_days(doc["days"], stacking, False, doc["milestones"])
    series = chart.series()
    heights = np.array([h for _, h in series.values()])
    np.testing.assert_array_equal(heights.sum(axis=0), totals_of(doc["days"]))
    # each series sits on the one below it
    running = np.zeros(len(doc["days"]))
    for bottom, height in series.values():
        np.testing.assert_array_equal(bottom, running)
        running = running + height


@pytest.mark.parametrize("stacking", ["agent", "model", "bucket"])
def test_log_scale_stacks_end_at_log10_of_the_total(chart: BurnChart, doc: dict[str, Any], stacking: str) -> None:
    chart.set_days(doc["days"], stacking, True, doc["milestones"])
    series = chart.series()
    tops = np.max([b + h for b, h in series.values()], axis=0)
    totals = totals_of(doc["days"])
    busy = totals > 0
    np.testing.assert_allclose(tops[busy], np.log10(totals[busy]), rtol=1e-12)
    assert chart.plot.getAxis("left").logMode
    # parts keep their share of the bar, stacked without gaps from the axis floor
    floor = chart.plot.viewRange()[1][0]
    linear = stack(doc["days"], stacking)[1]
    running = np.full(len(totals), floor)
    for (bottom, height), part in zip(series.values(), linear, strict=True):
        np.testing.assert_allclose(bottom, running)
        np.testing.assert_allclose(height[busy] / (tops[busy] - floor), part[busy] / totals[busy])
        running = bottom + height


def test_series_per_stacking(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "bucket", False, doc["milestones"])
    assert chart.legend_names() == ["input", "cache write", "cache read", "output"]
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    assert chart.legend_names() == ["claude-code", "codex"]  # most tokens first, at the bottom
    chart.set_days(doc["days"], "model", False, doc["milestones"])
    assert set(chart.legend_names()) == {
        "claude-opus-4-5-20251101",
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "gpt-5.1-codex",
    }


def test_one_bar_item_per_series_not_per_day(chart: BurnChart, doc: dict[str, Any]) -> None:
    for stacking in ("model", "bucket", "agent"):
        chart.set_days(doc["days"], stacking, False, doc["milestones"])
    bars = [item for item in chart.plot.listDataItems() if isinstance(item, pg.BarGraphItem)]
    assert len(bars) == 2  # agent stacking: claude-code and codex, the other stackings' items removed


def test_a_redraw_with_the_same_series_keeps_its_legend(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    entries = [id(sample) for sample, _ in chart._legend.items]
    chart.set_days(doc["days"][-30:], "agent", True, doc["milestones"])
    assert [id(sample) for sample, _ in chart._legend.items] == entries
    chart.set_days(doc["days"], "bucket", False, doc["milestones"])
    assert len(chart._legend.items) == 4


def test_colours_stay_with_their_series(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "model", False, doc["milestones"])
    before = {n: QColor(chart._bars[n].opts["brush"]).name() for n in chart.legend_names()}
    chart.set_days(doc["days"][-7:], "bucket", True, doc["milestones"])
    chart.set_days(doc["days"][-7:], "model", False, doc["milestones"])
    after = {n: QColor(chart._bars[n].opts["brush"]).name() for n in chart.legend_names()}
    assert after == {n: before[n] for n in after}
    assert len(set(before.values())) == len(before)


def test_milestone_lines_in_linear_and_log_mode(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    assert chart.milestone_positions() == {"10M": 1e7, "100M": 1e8, "1B": 1e9}
    chart.set_days(doc["days"], "agent", True, doc["milestones"])
    assert chart.milestone_positions() == pytest.approx({"10M": 7.0, "100M": 8.0, "1B": 9.0})
    lo, hi = chart.plot.viewRange()[1]
    assert lo < 7 and hi > 9  # every line in view on the log scale
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    assert chart.milestone_positions() == {"10M": 1e7, "100M": 1e8, "1B": 1e9}
    labels = {line.label.textItem.toPlainText() for line in chart._lines.values()}
    assert labels == {"10M a day", "100M a day", "1B a day"}


def test_linear_scale_fits_the_busiest_day(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    lo, hi = chart.plot.viewRange()[1]
    peak = totals_of(doc["days"]).max()
    assert lo == 0 and peak < hi < peak * 1.2


def test_milestones_follow_the_settings(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", True, {"50M": 50_000_000, "500M": 500_000_000})
    assert chart.milestone_positions() == pytest.approx({"50M": log10(5e7), "500M": log10(5e8)})


def test_axes_read_as_tokens_and_dates() -> None:
    left = TokenAxis()
    assert left.tickStrings([0, 1e7, 2.5e8, 1e9, 1.5e9], 1, 1e7) == ["0", "10M", "250M", "1B", "1.5B"]
    left.setLogMode(False, True)
    assert left.tickStrings([7.0, 8.0, 9.0, 7.30103], 1, 1) == ["10M", "100M", "1B", ""]
    (_, decades), (_, minors) = left.tickValues(6.0, 9.2, 500)
    assert decades == [6.0, 7.0, 8.0, 9.0]
    assert minors == pytest.approx([6.30103, 6.69897, 7.30103, 7.69897, 8.30103, 8.69897], abs=1e-5)
    bottom = DayAxis()
    dates = [date(2026, 10, 25) + timedelta(days=i) for i in range(120)]
    bottom.set_dates(dates)
    assert bottom.tickStrings([1.0, 8.0], 1, 7) == ["26 Oct", "2 Nov"]
    (spacing, months), *_ = bottom.tickValues(-0.5, 119.5, 300)
    assert [dates[int(i)].day for i in months] == [1, 1, 1, 1] and spacing >= 28
    assert bottom.tickStrings(months[:1], 1, spacing) == ["Nov 2026"]


def test_hover_shows_the_day_under_the_mouse(qtbot: QtBot, chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    index = int(totals_of(doc["days"]).argmax())
    day = doc["days"][index]
    box = chart.plot.getViewBox()
    where = chart._view.mapFromScene(box.mapViewToScene(QPointF(index, day["total"] / 2)))
    QTest.mouseMove(chart._view.viewport(), where)
    qtbot.waitUntil(lambda: chart.hover_text() != "")
    text = chart.hover_text()
    assert text.startswith(fmt.day_label(day["date"]))
    assert f"{day['tier']} club" in text
    assert fmt.exact(day["total"]) in text
    assert fmt.usd(day["cost_usd"]) in text
    for name, bucket in (("input", "in"), ("cache write", "cw"), ("cache read", "cr"), ("output", "out")):
        assert f"{name}  \n{fmt.tokens(day[bucket])}" in text
    assert f"reasoning  \n{fmt.tokens(day['rsn'])}" in text
    assert f"cache hit  \n{fmt.percent(day['cache_hit_rate'])}" in text
    assert "by agent" in text
    for agent, t in day["by_agent"].items():
        assert f"{agent}  \n{fmt.tokens(t['total'])}" in text


def test_hover_follows_a_new_stacking(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    chart.hover_day(len(doc["days"]) - 1)
    chart.set_days(doc["days"], "model", True, doc["milestones"])
    assert "by model" in chart.hover_text()
    assert "gpt-5.1-codex" in chart.hover_text()
    chart.set_days(doc["days"], "bucket", False, doc["milestones"])
    assert "by " not in chart.hover_text()  # the buckets are the split


def test_mouse_leaving_the_plot_hides_the_hover(qtbot: QtBot, chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    chart.hover_day(3)
    assert chart.hover_text()
    chart._on_mouse_moved(QPointF(-50, -50))
    assert chart.hover_text() == ""


def png_size(path: Path) -> tuple[int, int]:
    image = QImage(str(path))
    assert not image.isNull()
    return image.width(), image.height()


def colour_share(path: Path, colour: QColor) -> float:
    """The share of an image's pixels painted exactly ``colour``."""
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() * image.height())
    return float(np.count_nonzero((pixels & 0xFFFFFF) == (colour.rgb() & 0xFFFFFF))) / pixels.size


def test_export_keeps_the_shown_aspect(chart: BurnChart, doc: dict[str, Any], tmp_path: Path) -> None:
    chart.set_days(doc["days"], "model", True, doc["milestones"])
    chart.hover_day(10)
    path = tmp_path / "chart.png"
    chart.export_png(path)
    width, height = png_size(path)
    assert (width, height) == (chart.width() * 2, chart.height() * 2)
    assert path.stat().st_size > 20_000
    for name in ("claude-opus-4-5-20251101", "gpt-5.1-codex", "claude-sonnet-4-5-20250929"):
        assert colour_share(path, chart._colours.colour(name)) > 0.01  # the bars are in the picture
    assert chart.hover_text()  # the hover box is left out of the image, not lost


def test_export_of_a_chart_never_shown_lays_it_out_first(qtbot: QtBot, doc: dict[str, Any], tmp_path: Path) -> None:
    sized = BurnChart()
    qtbot.addWidget(sized)
    sized.resize(900, 300)
    sized.set_days(doc["days"], "agent", False, doc["milestones"])
    sized.export_png(tmp_path / "sized.png")
    assert png_size(tmp_path / "sized.png") == (1800, 600)
    assert not sized.isVisible()

    unsized = BurnChart()
    qtbot.addWidget(unsized)
    unsized.set_days(doc["days"], "agent", False, doc["milestones"])
    unsized.export_png(tmp_path / "unsized.png")
    width, height = png_size(tmp_path / "unsized.png")
    assert width / height == pytest.approx(2.0)


def test_export_to_an_unwritable_place_raises(chart: BurnChart, doc: dict[str, Any], tmp_path: Path) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    with pytest.raises(OSError):
        chart.export_png(tmp_path / "missing" / "chart.png")


def test_chart_follows_a_dark_palette(chart: BurnChart, doc: dict[str, Any]) -> None:
    chart.set_days(doc["days"], "agent", False, doc["milestones"])
    dark = QPalette(chart.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    chart.setPalette(dark)
    assert chart._view.backgroundBrush().color().name() == "#1e1e1e"
    assert chart.plot.getAxis("left").textPen().color().name() == "#e6e6e6"
    assert all(line.pen.color().name() == "#e6e6e6" for line in chart._lines.values())
    # legend labels drawn before the change are redrawn in the new colour, not left dark on dark
    assert chart.legend_names() and all("#e6e6e6" in label.item.toHtml() for _, label in chart._legend.items)


def synthetic_days(n: int, models: int = 1, total: int = 0) -> list[dict[str, Any]]:
    start = date(2025, 1, 1)
    out = []
    for i in range(n):
        by_model = {f"model-{m:02d}": {"total": total * (m + 1)} for m in range(models)} if total else {}
        day_total = sum(t["total"] for t in by_model.values())
        out.append(
            {
                "date": (start + timedelta(days=i)).isoformat(),
                "in": 0,
                "cw": 0,
                "cr": day_total,
                "out": 0,
                "rsn": 0,
                "total": day_total,
                "cost_usd": 0.0,
                "cache_hit_rate": 1.0 if day_total else None,
                "cache_saved_usd": 0.0,
                "peak_sessions": 0,
                "tier": None,
                "by_agent": {"x": {"total": day_total}} if day_total else {},
                "by_model": by_model,
            }
        )
    return out


def test_hover_never_shows_an_unpriced_day_as_free(chart: BurnChart, doc: dict[str, Any]) -> None:
    day = doc["days"][-1]
    days = [{**day, "cost_usd": 0.0, "unpriced_tokens": day["total"]}, {**day, "unpriced_tokens": 5}]
    chart.set_days(days, "agent", False, MILESTONES)
    chart.hover_day(0)
    assert "cost  \nunpriced" in chart.hover_text()
    chart.hover_day(1)
    assert f"cost  \n≥ {fmt.usd(day['cost_usd'])}" in chart.hover_text()


def test_many_models_share_an_other_bar() -> None:
    days = synthetic_days(5, models=12, total=1000)
    names, heights = stack(days, "model")
    assert len(names) == MAX_SERIES and names[-1] == OTHER
    assert names[0] == "model-11"  # the largest at the bottom
    np.testing.assert_array_equal(heights.sum(axis=0), totals_of(days))


def test_a_range_without_usage_draws_nothing(chart: BurnChart) -> None:
    days = synthetic_days(30)
    for log in (False, True):
        chart.set_days(days, "agent", log, MILESTONES)
        assert chart.series() == {}
        chart.hover_day(5)
        assert "total  \n0 (0)" in chart.hover_text()
    chart.set_days([], "bucket", True, MILESTONES)
    assert all(h.size == 0 for _, h in chart.series().values())


def test_two_years_of_days_fit_the_view(qtbot: QtBot, chart: BurnChart, doc: dict[str, Any]) -> None:
    """730 days (the bench's redraw case) in every stacking: every bar drawn and in view."""
    base = doc["days"]
    first = date.fromisoformat(base[0]["date"])
    days = [{**base[i % len(base)], "date": (first + timedelta(days=i)).isoformat()} for i in range(730)]
    chart.resize(1400, 700)
    chart.set_days(days[:30], "agent", False, doc["milestones"])
    for stacking in ("agent", "model", "bucket"):
        for log in (False, True):
            chart.set_days(days, stacking, log, doc["milestones"])
            chart.repaint()
            assert all(len(h) == 730 for _, h in chart.series().values())
            lo, hi = chart.plot.viewRange()[0]
            assert lo <= 0 and hi >= 729


def test_small_charts_show_cost_savings_hit_rate_and_sessions(qtbot: QtBot, doc: dict[str, Any]) -> None:
    charts = MiniCharts()
    qtbot.addWidget(charts)
    charts.resize(1200, 240)
    charts.show()
    days = doc["days"]
    charts.set_days(days[:7])
    charts.set_days(days)
    for plot in (charts.cost.plot, charts.hit_rate.plot, charts.sessions.plot):
        lo, hi = plot.viewRange()[0]  # a longer range after a shorter one: every day in view
        assert lo <= 0 and hi >= len(days) - 1
    np.testing.assert_allclose(charts.cost.cost.opts["height"], [d["cost_usd"] for d in days])
    assert charts.cost.saved.getData()[1].tolist() == [d["cache_saved_usd"] for d in days]
    rates = charts.hit_rate.rate.getData()[1]
    expected = [np.nan if d["cache_hit_rate"] is None else d["cache_hit_rate"] for d in days]
    np.testing.assert_allclose(rates, expected)
    assert charts.sessions.peaks.opts["height"].tolist() == [d["peak_sessions"] for d in days]
    assert max(d["peak_sessions"] for d in days) >= 2
    assert charts.cost.plot.getAxis("left").tickStrings([0, 250, 1500], 1, 250) == ["$0", "$250", "$1.5K"]
    assert charts.hit_rate.plot.getAxis("left").tickStrings([0.0, 0.5, 1.0], 1, 0.5) == ["0%", "50%", "100%"]
