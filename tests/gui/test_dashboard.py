"""The dashboard window on real documents of the generated 120-day index."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QGroupBox, QHeaderView, QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.core import dashboard, reports
from app.core.env import Env
from app.core.schema import connect
from app.gui import formatting as fmt
from app.gui.dashboard import DashboardWindow
from app.gui.tables import MODEL_COLUMNS, SORT_ROLE, Column, RowsModel, RowsTable
from app.sources import all_sources
from tests.burn_dataset import Burn
from tests.gui.conftest import shown

LEFT = Qt.MouseButton.LeftButton
INSIGHTS = {
    "insights": [
        {
            "kind": "model-switch",
            "agent": "claude-code",
            "session": "insight-switch",
            "project": "/home/dev/api",
            "ts": "2026-11-20T06:02:00Z",
            "model": "claude-sonnet-4-5-20250929",
            "previous_model": "claude-opus-4-5-20251101",
            "idle_minutes": None,
            "tokens": 187_000,
            "extra_cost_usd": 0.6358,
            "summary": "Switched from claude-opus-4-5 to claude-sonnet-4-5 and re-paid 187K prefix tokens uncached.",
        },
        {
            "kind": "cache-expired",
            "agent": "claude-code",
            "session": "insight-idle",
            "project": "/home/dev/api",
            "ts": "2026-11-20T06:31:00Z",
            "model": "mystery-model",
            "previous_model": None,
            "idle_minutes": 30.0,
            "tokens": 157_000,
            "extra_cost_usd": None,
            "summary": "Idle 30 minutes past the cache lifetime; the next call re-wrote 157K tokens.",
        },
    ],
    "totals": {"count": 2, "extra_cost_usd": 0.6358},
}

Data = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def conn(burn_home: tuple[Path, Path, Burn]) -> Iterator[sqlite3.Connection]:
    connection = connect(burn_home[1])
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def data_for(conn: sqlite3.Connection) -> Data:
    """What the app hands ``show_data`` for a range, built from the real index (days in UTC)."""
    cache: dict[str, dict[str, Any]] = {}

    def build(name: str) -> dict[str, Any]:
        if name not in cache:
            flt = dashboard.range_filter(name, UTC, datetime.now(UTC).date())
            cache[name] = {
                "dashboard": dashboard.build(conn, flt),
                "models": reports.models(conn, flt),
                "projects": reports.projects(conn, flt),
                "sessions": reports.sessions(conn, flt),
                "insights": INSIGHTS,
            }
        return cache[name]

    return build


@pytest.fixture
def window(qtbot: QtBot) -> DashboardWindow:
    win = DashboardWindow()
    shown(qtbot, win, 1400, 1000)
    return win


def texts(widget: QWidget) -> str:
    """Every visible label's and box title's text in ``widget``, one per line: what a user reads."""
    out = [w.title() for w in widget.findChildren(QGroupBox) if w.isVisibleTo(widget)]
    out += [w.text() for w in widget.findChildren(QLabel) if w.isVisibleTo(widget)]
    return "\n".join(out)


def cells(table: RowsTable, key: str) -> list[str]:
    col = [c.key for c in table.rows.columns].index(key)
    return [table.rows.index(r, col).data() for r in range(table.rows.rowCount())]


def raw(table: RowsTable, key: str) -> list[Any]:
    col = [c.key for c in table.rows.columns].index(key)
    return [table.rows.index(r, col).data(SORT_ROLE) for r in range(table.rows.rowCount())]


def test_panels_show_today_streaks_and_range(qtbot: QtBot, window: DashboardWindow, data_for: Data) -> None:
    data = data_for("30d")
    window.show_data(data)
    doc = data["dashboard"]
    today = doc["today"]
    qtbot.waitUntil(lambda: "1B" in texts(window._streaks_box))  # rows laid out on first data are shown next loop
    shown = texts(window)
    assert f"{fmt.tokens(today['total'])} tokens" in shown
    assert f"{today['tier']} club today" in shown
    assert f"{fmt.usd(today['cost_usd'])} today" in shown
    for bucket in ("in", "cw", "cr", "out", "rsn"):
        assert fmt.tokens(today[bucket]) in shown
    assert fmt.percent(today["cache_hit_rate"]) in shown
    assert fmt.tokens(today["tokens_per_minute"]) in shown
    for label, streak in doc["streaks"].items():
        assert label in shown
        assert f"{streak['current']} day" in shown and f"{streak['best']} day" in shown
    assert fmt.tokens(doc["totals"]["total"]) in shown
    assert fmt.usd(doc["totals"]["cost_usd"]) in shown
    assert fmt.usd(doc["totals"]["cache_saved_usd"]) in shown
    assert f"{fmt.day_label(doc['since'])} – {fmt.day_label(doc['until'])}" in shown
    assert f"Prices: {doc['price_source']['name']}" in shown


def test_progress_to_the_next_milestone(window: DashboardWindow, data_for: Data) -> None:
    data = data_for("7d")
    today = {**data["dashboard"]["today"], "total": 250_000_000, "tier": "100M"}
    today.update(next_milestone=1_000_000_000, to_next=750_000_000)
    window.show_data({**data, "dashboard": {**data["dashboard"], "today": today}})
    assert window._next_bar.value() == 250
    assert window._next_bar.format() == "25% of 1B"
    assert "750M more to reach 1B" in texts(window)
    past = {**today, "total": 1_300_000_000, "tier": "1B", "next_milestone": None, "to_next": None}
    window.show_data({**data, "dashboard": {**data["dashboard"], "today": past}})
    assert window._next_bar.value() == window._next_bar.maximum()
    assert "1B club today" in texts(window)
    assert "300M past 1B, the top milestone" in texts(window)


@pytest.mark.parametrize("name", dashboard.RANGES)
def test_ranges_emit_and_the_chart_shows_that_many_days(
    qtbot: QtBot, window: DashboardWindow, data_for: Data, name: str
) -> None:
    window.set_log_scale(False)  # linear: the bars' heights are the tokens
    window.show_data(data_for("30d"))
    if name == window.current_range():
        with qtbot.waitSignal(window.range_changed, timeout=1000):
            window.set_range("7d")
    with qtbot.waitSignal(window.range_changed, timeout=1000) as signal:
        qtbot.mouseClick(window._range_buttons[name], LEFT)
    assert signal.args == [name]
    assert window.current_range() == name
    data = data_for(name)
    window.show_data(data)
    days = len(data["dashboard"]["days"])
    expected = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": 120}[name]
    assert days == expected
    heights = [h for _, h in window.chart.series().values()]
    assert len(heights[0]) == days
    assert sum(h.sum() for h in heights) == data["dashboard"]["totals"]["total"]
    shown = window.chart.plot.viewRange()[0]  # every day in view, not the last range's width
    assert shown[0] <= 0 and shown[1] >= days - 1


def test_clicking_the_current_range_again_emits_nothing(qtbot: QtBot, window: DashboardWindow) -> None:
    with qtbot.assertNotEmitted(window.range_changed):
        qtbot.mouseClick(window._range_buttons[window.current_range()], LEFT)


def test_setting_a_range_is_a_click_on_its_button(qtbot: QtBot, window: DashboardWindow) -> None:
    with qtbot.waitSignal(window.range_changed, timeout=1000) as signal:
        window.set_range("1y")
    assert signal.args == ["1y"] and window._range_buttons["1y"].isChecked()
    with qtbot.assertNotEmitted(window.range_changed):
        window.set_range("1y")


def test_setters_and_tabs(window: DashboardWindow, data_for: Data) -> None:
    window.show_data(data_for("30d"))
    assert window.data() is data_for("30d")
    window.set_stacking("model")
    assert window.current_stacking() == "model" and "gpt-5.1-codex" in window.chart.legend_names()
    window.set_log_scale(True)
    assert window.log_scale() and window.chart.milestone_positions()["1B"] == pytest.approx(9.0)
    window.show_tab("Insights")
    assert window.tabs.currentWidget() is window._insights_page
    window.show_tab("Cost & cache")
    assert window.tabs.currentWidget() is window.minicharts
    with pytest.raises(KeyError):
        window.show_tab("Nothing")
    window.show_empty({"codex": ["/nowhere"]})
    assert window.data() is None


def test_stacking_and_log_scale_redraw_the_chart(window: DashboardWindow, data_for: Data) -> None:
    window.show_data(data_for("90d"))
    assert window.current_stacking() == "agent" and window.log_scale()  # every milestone in view by default
    assert window.chart.milestone_positions() == pytest.approx({"10M": 7.0, "100M": 8.0, "1B": 9.0})
    assert window.chart.legend_names() == ["claude-code", "codex"]
    window._stacking.setCurrentIndex(window._stacking.findData("bucket"))
    assert window.current_stacking() == "bucket"
    assert window.chart.legend_names() == ["input", "cache write", "cache read", "output"]
    window._log.click()
    assert not window.log_scale()
    assert window.chart.milestone_positions() == {"10M": 1e7, "100M": 1e8, "1B": 1e9}
    window._log.click()
    assert window.chart.milestone_positions() == pytest.approx({"10M": 7.0, "100M": 8.0, "1B": 9.0})


def test_toggles_before_any_data_do_nothing(window: DashboardWindow) -> None:
    window._log.click()
    window._stacking.setCurrentIndex(2)
    assert window.chart.series() == {}


def test_refresh_button_asks_for_a_refresh(qtbot: QtBot, window: DashboardWindow) -> None:
    with qtbot.waitSignal(window.refresh_requested, timeout=1000):
        qtbot.mouseClick(window._refresh, LEFT)


def test_tables_show_the_reports(window: DashboardWindow, data_for: Data) -> None:
    data = data_for("all")
    window.show_data(data)
    models = data["models"]["models"]
    assert window.models_table.rows.rowCount() == len(models)
    assert cells(window.models_table, "total") == [fmt.tokens(m["total"]) for m in models]  # most tokens first
    assert cells(window.models_table, "cost_usd")[0] == fmt.usd(models[0]["cost_usd"])
    assert window.projects_table.rows.rowCount() == len(data["projects"]["projects"])
    sessions = data["sessions"]["sessions"]
    assert window.sessions_table.rows.rowCount() == len(sessions)
    assert raw(window.sessions_table, "last") == sorted(raw(window.sessions_table, "last"), reverse=True)


def test_tables_sort_numerically(qtbot: QtBot, window: DashboardWindow, data_for: Data) -> None:
    window.show_data(data_for("all"))
    table = window.projects_table
    header = table.horizontalHeader()
    total = [c.key for c in table.rows.columns].index("total")
    qtbot.mouseClick(header.viewport(), LEFT, pos=_centre(header, total))
    first = raw(table, "total")
    assert header.sortIndicatorSection() == total
    assert first in (sorted(first), sorted(first, reverse=True))
    order = header.sortIndicatorOrder()
    qtbot.mouseClick(header.viewport(), LEFT, pos=_centre(header, total))
    assert header.sortIndicatorOrder() != order
    assert raw(table, "total") == list(reversed(first))
    sessions = window.sessions_table
    sessions.sortByColumn([c.key for c in sessions.rows.columns].index("cr"), Qt.SortOrder.AscendingOrder)
    values = raw(sessions, "cr")
    assert values == sorted(values)
    shown = cells(sessions, "cr")
    assert shown != sorted(shown)  # as text, "9.8M" would come after "12M"


def _centre(header: QHeaderView, section: int) -> QPoint:
    return QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)


def test_rows_model_sorts_numbers_as_numbers_and_missing_last() -> None:
    model = RowsModel([Column("name", "Name"), Column("total", "Total", "tokens"), Column("cost_usd", "Cost", "usd")])
    model.set_rows(
        [
            {"name": "b", "total": 12_000_000, "cost_usd": 3.4},
            {"name": "a", "total": 9_800_000, "cost_usd": None},
            {"name": "C", "total": 950, "cost_usd": 12.0},
        ]
    )

    def column(c: int) -> list[str]:
        return [model.index(r, c).data() for r in range(model.rowCount())]

    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert column(1) == ["950", "9.8M", "12M"]
    model.sort(1, Qt.SortOrder.DescendingOrder)
    assert column(1) == ["12M", "9.8M", "950"]
    model.sort(2, Qt.SortOrder.DescendingOrder)
    assert column(2) == ["$12.00", "$3.40", "unpriced"]
    model.sort(2, Qt.SortOrder.AscendingOrder)
    assert column(2) == ["$3.40", "$12.00", "unpriced"]
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert column(0) == ["a", "b", "C"]
    model.set_rows([{"name": "z", "total": 1, "cost_usd": 1.0}, {"name": "y", "total": 2, "cost_usd": 1.0}])
    assert column(0) == ["y", "z"]  # new rows keep the chosen order
    assert model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) == "2 tokens"
    assert model.index(0, 1).data(Qt.ItemDataRole.TextAlignmentRole) & int(Qt.AlignmentFlag.AlignRight)
    assert model.rowCount(model.index(0, 0)) == 0 and not model.data(QModelIndex())


def test_a_refresh_keeps_the_column_widths_the_user_set(qtbot: QtBot, data_for: Data) -> None:
    table = RowsTable(MODEL_COLUMNS, "total", stretch="model")
    qtbot.addWidget(table)
    table.show()
    rows = data_for("all")["models"]["models"]
    table.set_rows(rows)
    agent = [c.key for c in MODEL_COLUMNS].index("agent")
    assert table.columnWidth(agent) > 0
    table.setColumnWidth(agent, 222)
    table.set_rows(rows[::-1])
    assert table.columnWidth(agent) == 222
    assert table.rows.data(table.rows.index(0, agent), Qt.ItemDataRole.FontRole) is None


def test_unpriced_costs_are_never_shown_as_zero() -> None:
    model = RowsModel(MODEL_COLUMNS)
    base = {"model": "m", "agent": "a", "in": 1, "cw": 0, "cr": 0, "out": 1, "rsn": 0, "total": 2}
    model.set_rows(
        [
            {**base, "cost_usd": 0.0, "unpriced_tokens": 2, "cache_hit_rate": None},
            {**base, "cost_usd": 1.5, "unpriced_tokens": 1, "cache_hit_rate": 0.5},
        ]
    )
    cost = [c.key for c in MODEL_COLUMNS].index("cost_usd")
    assert [model.index(r, cost).data() for r in range(2)] == ["unpriced", "≥ $1.50"]


def test_insights_tab_lists_each_with_its_extra_cost(window: DashboardWindow, data_for: Data) -> None:
    window.show_data(data_for("30d"))
    tab = window.tabs.indexOf(window._insights_page)
    assert window.tabs.tabText(tab) == "Insights (2)"
    window.tabs.setCurrentIndex(tab)
    assert "about $0.64 extra" in window._insights_summary.text()
    table = window.insights_table
    assert cells(table, "kind") == ["cache-expired", "model-switch"]  # newest first
    assert cells(table, "extra_cost_usd") == ["unpriced", "$0.64"]
    assert cells(table, "tokens") == ["157K", "187K"]
    assert cells(table, "previous_model") == ["", "claude-opus-4-5-20251101"]
    assert cells(table, "idle_minutes") == ["30.0 min", ""]
    quiet = {"insights": [], "totals": {"count": 0, "extra_cost_usd": 0.0}}
    window.show_data({**data_for("30d"), "insights": quiet})
    assert window.tabs.tabText(tab) == "Insights (0)"
    assert "No cache re-pays" in window._insights_summary.text()


def test_unpriced_models_warning(window: DashboardWindow, data_for: Data) -> None:
    data = data_for("7d")
    window.show_data(data)
    assert not window._unpriced.isVisible()
    window.show_data({**data, "dashboard": {**data["dashboard"], "unpriced_models": ["mystery-model"]}})
    assert window._unpriced.isVisible()
    assert "mystery-model" in window._unpriced.text() and "prices.toml" in window._unpriced.text()


def test_export_chart_writes_the_chart_as_shown(window: DashboardWindow, data_for: Data, tmp_path: Path) -> None:
    window.show_data(data_for("90d"))
    path = tmp_path / "burn.png"
    window.export_chart(path)
    image = QImage(str(path))
    assert not image.isNull() and path.stat().st_size > 20_000
    band = window.chart._heading_height()  # the title and date range head the picture
    assert (image.width(), image.height()) == (window.chart.width() * 2, (window.chart.height() + band) * 2)
    background = image.pixel(2, 2)
    inked = sum(image.pixel(x, y) != background for x in range(0, image.width() // 2) for y in range(0, band * 2, 2))
    assert inked > 200, "no title drawn in the heading band"
    assert str(path) in window.statusBar().currentMessage()


def test_export_button_asks_where_then_exports(
    qtbot: QtBot, window: DashboardWindow, data_for: Data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.show_data(data_for("30d"))
    asked: list[str] = []

    def fake_dialog(parent: QWidget, title: str, start: str, filters: str) -> tuple[str, str]:
        asked.append(start)
        return str(tmp_path / "picked"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    qtbot.mouseClick(window._export, LEFT)
    assert asked and asked[0].endswith("tokenclub-30d-by-agent.png")
    assert QImage(str(tmp_path / "picked.png")).width() > 0


def test_empty_state_lists_every_root_and_how_to_point_elsewhere(window: DashboardWindow, tmp_path: Path) -> None:
    env = Env.under(tmp_path / "nobody")
    searched = {s.agent: [str(r) for r in s.roots(env)] for s in all_sources()}
    window.show_empty(searched)
    assert window.showing_empty()
    text = window.empty_text()
    assert "No token usage found yet" in text
    for agent, roots in searched.items():
        assert agent in text
        for root in roots:
            assert root in text
    assert "CLAUDE_CONFIG_DIR" in text and "CODEX_HOME" in text
    assert "tokenclub --home DIR" in text
    assert not window._export.isEnabled() and not window._range_buttons["7d"].isEnabled()
    assert window._refresh.isEnabled()


def test_data_replaces_the_empty_state(window: DashboardWindow, data_for: Data) -> None:
    window.show_empty({"claude-code": ["/nowhere/.claude/projects"]})
    window.show_data(data_for("7d"))
    assert not window.showing_empty()
    assert window._export.isEnabled() and window._log.isEnabled()


def test_progress_with_cancel(qtbot: QtBot, window: DashboardWindow) -> None:
    assert not window.progress_visible()
    window.show_progress(12, 340, 1_200_000_000, 3_400_000_000)
    assert window.progress_visible()
    assert window.progress_text() == "Indexing logs: 12 of 340 files, 1.2 GB of 3.4 GB"
    assert window._progress_bar.value() == 352
    window.show_progress(5, 10, 0, 0)  # sizes unknown yet: count files
    assert window._progress_bar.value() == 500
    with qtbot.waitSignal(window.cancel_requested, timeout=1000):
        qtbot.mouseClick(window._cancel, LEFT)
    assert not window._cancel.isEnabled()
    window.hide_progress()
    assert not window.progress_visible()
    assert window._cancel.isEnabled()


def test_progress_shows_over_the_empty_state(window: DashboardWindow) -> None:
    window.show_empty({"codex": ["/nowhere/.codex/sessions"]})
    window.show_progress(0, 0, 0, 0)
    assert window.progress_visible() and window.showing_empty()
