"""Screenshots of the real app on a real X display with a tray host: run by test_screens.py.

    python -m tests.gui.screens OUT_DIR DB HOME DAY_ONE_DB

Runs the app's controller on ``$DISPLAY`` (Xvfb with trayer, from tests/xdisplay.py), waits
until the tray has docked the icon and the index is read, then, in the light and the dark
theme, saves the whole screen for the dashboard (each tab, opened at the size it picks for
the screen), the Console, Settings, Dedicated machines, Providers, Club and About pages, and
a dashboard over a day-one home (``DAY_ONE_DB``, under 1M tokens a day); then the tray menu
and tooltip. Every picture is checked for clipped text (tests/gui/clipping.py). Prints one
JSON line: what was saved, what was clipped, where the windows and milestone labels were.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QToolTip, QWidget

from app.core import dashboard, reports
from app.core.env import Env
from app.core.schema import connect
from app.gui.app import Controller
from app.gui.dashboard import DashboardWindow
from app.gui.theme import apply_theme
from tests.gui.clipping import clipped

TIMEOUT_S = 60.0
SETTLE_S = 0.6  # a repaint and the tray host's redraw
TABS = ("Cost & cache", "Models", "Projects", "Sessions", "Insights")
W = TypeVar("W", bound=QWidget)
NO_INSIGHTS = {"insights": [], "totals": {"count": 0, "extra_cost_usd": 0.0}}


def wait_until(app: QApplication, done: Callable[[], bool], what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def settle(app: QApplication) -> None:
    end = time.monotonic() + SETTLE_S
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def grab(app: QApplication, out: Path, name: str) -> str:
    settle(app)
    path = out / f"{name}.png"
    screen = app.primaryScreen()
    if not screen.grabWindow(0).save(str(path)):
        raise SystemExit(f"could not save {path}")
    return path.name


class Shots:
    """Saves pictures and gathers what each one shows clipped."""

    def __init__(self, app: QApplication, out: Path) -> None:
        self.app, self.out = app, out
        self.saved: list[str] = []
        self.clipped: dict[str, list[str]] = {}

    def take(self, name: str, window: QWidget) -> None:
        self.saved.append(grab(self.app, self.out, name))
        self.clipped[name] = clipped(window)

    def shown(self, name: str, window: W) -> W:
        """Shows ``window``, then pictures it as ``name``."""
        self.take(name, show(self.app, window))
        return window


def show(app: QApplication, window: W) -> W:
    window.show()
    window.raise_()
    wait_until(app, window.isVisible, f"{type(window).__name__} to show")
    return window


def day_one_data(db: Path) -> dict[str, Any]:
    """What the app shows for the last 30 days of the day-one index."""
    conn = connect(db)
    try:
        flt = dashboard.range_filter("30d", UTC, datetime.now(UTC).date())
        return {
            "dashboard": dashboard.build(conn, flt),
            "models": reports.models(conn, flt),
            "projects": reports.projects(conn, flt),
            "sessions": reports.sessions(conn, flt),
            "insights": NO_INSIGHTS,
        }
    finally:
        conn.close()


def milestone_report(app: QApplication, window: DashboardWindow) -> dict[str, Any]:
    """Where the milestone lines and labels are against the plot, once drawn (all must be inside it)."""
    settle(app)
    chart = window.chart
    plot = chart.plot_rect()
    lo, hi = chart.plot.viewRange()[1]
    return {
        "lines_in_view": {k: lo < y < hi for k, y in chart.milestone_positions().items()},
        "labels_inside": {k: plot.contains(r) for k, r in chart.milestone_label_rects().items()},
        "labels": {k: r.getRect() for k, r in chart.milestone_label_rects().items()},
        "plot": plot.getRect(),
        "standing": chart.standing_text(),
    }


def pages(app: QApplication, controller: Controller, shots: Shots, theme: str) -> None:
    controller.show_console()
    shots.shown(f"console-{theme}", controller.console).hide()
    controller.show_settings()
    settings = shots.shown(f"settings-{theme}", controller.settings_dialog)
    settings.show_hosts()
    hosts = show(app, settings._hosts_page)
    wait_until(app, lambda: hosts.table.rowCount() > 0, "the hosts list")
    shots.take(f"hosts-{theme}", hosts)
    hosts.hide()
    settings.hide()
    shots.shown(f"providers-{theme}", controller.providers.show_page()).hide()
    shots.shown(f"club-{theme}", controller.club.show_page()).hide()
    controller.show_about()
    shots.shown(f"about-{theme}", controller.about).hide()


def main(argv: list[str]) -> int:
    out, db, home, day_one = (Path(a) for a in argv)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(["tokenclub"])
    wait_until(app, QSystemTrayIcon.isSystemTrayAvailable, "a system tray")
    controller = Controller(app, db, Env.under(home))
    controller.start()
    tray = controller.tray
    assert tray is not None
    wait_until(app, lambda: controller.last_report is not None and controller.today is not None, "the index")
    report: dict[str, Any] = {}
    try:
        shots = Shots(app, out)
        controller.show_dashboard()
        window = controller.window
        window.move(0, 0)
        wait_until(app, lambda: window.data() is not None, "the dashboard's numbers")
        report["screen"] = app.primaryScreen().availableGeometry().getRect()
        report["dashboard_frame"] = window.frameGeometry().getRect()
        report["log_scale_default"] = window.log_scale()
        window.set_range("90d")
        wait_until(app, lambda: window.data()["dashboard"]["since"] != window.data()["dashboard"]["until"], "90 days")
        report["milestones_busy"] = milestone_report(app, window)

        first = DashboardWindow()
        first.setWindowTitle("TokenClub · day one")
        first.move(0, 0)
        first.show_data(day_one_data(Path(day_one)))
        for theme in ("light", "dark"):
            apply_theme(app, theme)
            show(app, window)
            for tab in TABS:
                window.show_tab(tab)
                shots.take(f"dashboard-{tab.split()[0].lower()}-{theme}", window)
            window.set_stacking("model")
            shots.take(f"dashboard-by-model-{theme}", window)
            window.set_stacking("agent")
            window.hide()
            shots.shown(f"day-one-{theme}", first)
            report[f"milestones_day_one_{theme}"] = milestone_report(app, first)
            first.hide()
            pages(app, controller, shots, theme)
        apply_theme(app, "system")

        icon = tray.icon.geometry()
        corner = icon.bottomLeft() if icon.isValid() else QPoint(1200, 32)
        # the pointer on the icon, and the tooltip the tray shows there
        QCursor.setPos(icon.center() if icon.isValid() else corner)
        settle(app)
        QToolTip.showText(QCursor.pos(), tray.icon.toolTip(), app.widgetAt(QCursor.pos()))
        wait_until(app, QToolTip.isVisible, "the tray's tooltip")
        shots.saved.append(grab(app, out, "tray-tooltip"))
        QToolTip.hideText()
        tray.menu.popup(corner)
        shots.saved.append(grab(app, out, "tray-menu"))
        tray.menu.hide()

        report |= {
            "saved": shots.saved,
            "clipped": shots.clipped,
            "tooltip": tray.icon.toolTip(),
            "today": controller.today,
            "icon": icon.getRect(),
        }
        print(orjson.dumps(report).decode(), flush=True)
    finally:
        controller.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
