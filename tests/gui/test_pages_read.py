"""Pages read as a user reads them: empty states that say what to do, the picked range visible in either theme,
windows inside the screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.gui.dashboard import DashboardWindow
from app.gui.fitting import fit_to_screen, short_reason
from app.gui.providers_page import EMPTY, ProvidersPage
from app.gui.theme import apply_theme
from tests.gui.conftest import shown

Role = QPalette.ColorRole


@pytest.fixture
def dark(qtbot: QtBot) -> Iterator[QApplication]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, "dark")
    yield app
    apply_theme(app, "system")


def test_the_picked_range_and_the_log_toggle_stand_out_in_the_dark(qtbot: QtBot, dark: QApplication) -> None:
    window = DashboardWindow()
    shown(qtbot, window, 1200, 700)
    theme = dark.palette()
    picked = window._range_buttons[window.current_range()]
    other = next(b for b in window._range_buttons.values() if b is not picked)
    assert picked.palette().color(Role.Button) == theme.color(Role.Highlight)
    assert window._log.palette().color(Role.Button) == theme.color(Role.Highlight)  # on by default
    assert other.palette().color(Role.Button) == theme.color(Role.Button)
    window.set_log_scale(False)
    assert window._log.palette().color(Role.Button) == theme.color(Role.Button)
    # the whole window follows the theme (a style sheet once left its labels and chart light)
    assert window._today_total.palette().color(Role.WindowText) == theme.color(Role.WindowText)
    assert window.chart.palette().color(Role.Base) == theme.color(Role.Base)
    apply_theme(dark, "light")
    light = dark.palette()
    qtbot.waitUntil(lambda: window.palette().color(Role.Window) == light.color(Role.Window), timeout=60_000)
    assert picked.palette().color(Role.Button) == light.color(Role.Highlight)
    assert window.chart.palette().color(Role.Base) == light.color(Role.Base)


def test_windows_fit_the_screen(qtbot: QtBot) -> None:
    window = DashboardWindow()
    qtbot.addWidget(window)
    area = window.screen().availableGeometry()
    fit_to_screen(window, area.width() + 500, area.height() + 500)
    assert window.width() <= area.width() and window.height() <= area.height()
    fit_to_screen(window, 600, 400)
    assert (window.width(), window.height()) == (600, 400)


def test_the_providers_page_without_usage_says_how_to_get_it(qtbot: QtBot) -> None:
    page = ProvidersPage()
    shown(qtbot, page, 900, 600)
    nothing = {"reconcile": {"rows": [], "flagged": 0, "threshold_pct": 5.0}, "balances": [], "status": []}
    page.show_data(nothing)
    assert page.chart_or_empty.currentWidget() is page.empty and page.empty.text() == EMPTY
    assert not page.table.isVisible() and "Keys…" in EMPTY and "Sync now" in EMPTY
    side = {"total": 1000, "cost_usd": 1.0}
    row = {
        "date": "2026-12-01",
        "provisional": False,
        "model": "m",
        "providers": ["openai"],
        "provider": side,
        "logs": side,
        "diff": {"tokens": 0, "pct": 0.0},
        "flagged": False,
    }
    page.show_data({**nothing, "reconcile": {"rows": [row], "flagged": 0, "threshold_pct": 5.0}})
    assert page.chart_or_empty.currentWidget() is page.chart and page.table.isVisible()


def test_a_reason_keeps_its_sense_and_loses_the_path() -> None:
    path = ":".join(f"/opt/tool-{i}/bin" for i in range(30))
    reason = f"not found: claude is not on the host's PATH (searched {path})"
    assert short_reason(reason) == "not found: claude is not on the host's PATH (30 folders searched)"
    long = "x" * 300
    assert len(short_reason(long)) == 120 and short_reason(long).endswith("…")
    assert short_reason("finished") == "finished"
