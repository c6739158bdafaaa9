"""The default chart shows every milestone, labelled inside the plot, whatever the scale of the data.

Each case also saves its picture to tests/artifacts/charts/ for people to look at.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.core.milestones import to_go
from app.gui import formatting as fmt
from app.gui.charts import BurnChart
from app.gui.dashboard import DashboardWindow
from tests.gui.conftest import shown

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "charts"
MILESTONES = {"10M": 10_000_000, "100M": 100_000_000, "1B": 1_000_000_000}


def days_peaking_at(peak: int, n: int = 30) -> list[dict[str, Any]]:
    """``n`` days of one agent rising to ``peak`` on the busiest day, today a bit below it."""
    start = date(2026, 11, 8)
    out = []
    for i in range(n):
        total = int(peak * (0.02 + 0.98 * ((i * 7) % n) / (n - 1))) if i != n - 1 else int(peak * 0.6)
        out.append(
            {
                "date": (start + timedelta(days=i)).isoformat(),
                "in": total // 4,
                "cw": total // 4,
                "cr": total - 3 * (total // 4),
                "out": total // 4,
                "rsn": 0,
                "total": total,
                "cost_usd": total / 1e6,
                "cache_hit_rate": 0.5,
                "cache_saved_usd": 0.0,
                "peak_sessions": 1,
                "tier": None,
                "by_agent": {"claude-code": {"total": total}},
                "by_model": {"m": {"total": total}},
            }
        )
    return out


def labels_inside(chart: BurnChart) -> bool:
    rects = chart.milestone_label_rects()
    return len(rects) == len(MILESTONES) and all(chart.plot_rect().contains(r) for r in rects.values())


def assert_every_milestone_readable(chart: BurnChart, qtbot: QtBot) -> None:
    chart.repaint()
    # labels follow their line once the view has been laid out and painted; the asserts say what is wrong
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: labels_inside(chart), timeout=10_000)
    plot = chart.plot_rect()
    lo, hi = chart.plot.viewRange()[1]
    for label, y in chart.milestone_positions().items():
        assert lo < y < hi, f"{label} line outside the view {lo}..{hi}"
    for label, rect in chart.milestone_label_rects().items():
        assert rect.width() > 10 and rect.height() > 5, label
        assert plot.contains(rect), f"the {label} label {rect} is clipped by the plot {plot}"


@pytest.mark.parametrize(("name", "peak"), [("day-one", 225_000), ("2B-a-day", 2_000_000_000), ("40M", 40_000_000)])
def test_default_chart_shows_every_milestone_inside_the_plot(qtbot: QtBot, name: str, peak: int) -> None:
    days = days_peaking_at(peak)
    window = DashboardWindow()
    shown(qtbot, window, 1280, 760)
    assert window.log_scale(), "the log scale is the default"
    window.chart.set_days(days, "agent", window.log_scale(), MILESTONES)
    qtbot.wait(50)
    assert_every_milestone_readable(window.chart, qtbot)
    standing = window.chart.standing_text()
    today = days[-1]["total"]
    assert f"today {fmt.tokens(today)}: {to_go(today, list(MILESTONES.values()))}" in standing
    assert f"best day {fmt.tokens(max(d['total'] for d in days))}" in standing
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    window.chart.export_png(ARTIFACTS / f"{name}.png")


def test_linear_scale_says_which_milestones_are_above_it(qtbot: QtBot) -> None:
    chart = BurnChart()
    shown(qtbot, chart, 1000, 420)
    chart.set_days(days_peaking_at(225_000), "agent", False, MILESTONES)
    assert "10M, 100M, 1B above this scale" in chart.standing_text()
    chart.set_days(days_peaking_at(225_000), "agent", True, MILESTONES)
    assert "above this scale" not in chart.standing_text()
    assert_every_milestone_readable(chart, qtbot)


@pytest.mark.parametrize(
    ("total", "text"),
    [
        (0, "nothing yet toward 10M"),
        (225_000, "9.78M more to reach 10M"),
        (9_998_000, "2K more to reach 10M"),
        (9_999_990, "10 more to reach 10M"),
        (1, "9,999,999 more to reach 10M"),
        (10_000_000, "90M more to reach 100M"),
        (999_500_000, "500K more to reach 1B"),
        (1_000_000_000, "at 1B, the top milestone"),
        (2_345_000_000, "1.34B past 1B, the top milestone"),
    ],
)
def test_to_go_is_phrased_right_at_every_level(total: int, text: str) -> None:
    assert to_go(total) == text
