"""Screenshots of the real app on a real X display with a tray host: run by test_screens.py.

    python -m tests.gui.screens OUT_DIR DB HOME

Runs the app's controller on ``$DISPLAY`` (Xvfb with trayer, from tests/xdisplay.py), waits
until the tray has docked the icon and the index is read, then saves the whole screen:
the dashboard in each stacking (and log scale), the Insights tab, the dark theme, the tray menu and the
tray tooltip. Prints one JSON line: what was saved and what the tray showed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from PySide6.QtCore import QPoint
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QToolTip

from app.gui.app import Controller
from app.gui.theme import apply_theme
from app.sources.base import Env

TIMEOUT_S = 60.0
SETTLE_S = 0.6  # a repaint and the tray host's redraw


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


def main(argv: list[str]) -> int:
    out, db, home = (Path(a) for a in argv)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(["tokenclub"])
    wait_until(app, QSystemTrayIcon.isSystemTrayAvailable, "a system tray")
    controller = Controller(app, db, Env.under(home))
    controller.start()
    tray = controller.tray
    assert tray is not None
    wait_until(app, lambda: controller.last_report is not None and controller.today is not None, "the index")
    try:
        saved = []

        controller.show_dashboard()
        window = controller.window
        window.move(0, 40)
        window.resize(1500, 940)
        wait_until(app, lambda: window.data() is not None, "the dashboard's numbers")
        window.set_range("90d")
        wait_until(app, lambda: window.data()["dashboard"]["since"] != window.data()["dashboard"]["until"], "90 days")
        for stacking in ("agent", "model", "bucket"):
            window.set_stacking(stacking)
            saved.append(grab(app, out, f"dashboard-{stacking}"))
        window.set_log_scale(True)
        saved.append(grab(app, out, "dashboard-bucket-log"))
        window.set_log_scale(False)
        window.set_stacking("agent")
        window.show_tab("Insights")
        saved.append(grab(app, out, "dashboard-insights"))
        window.show_tab("Cost & cache")
        apply_theme(app, "dark")
        saved.append(grab(app, out, "dashboard-dark"))
        apply_theme(app, "system")
        window.hide()

        icon = tray.icon.geometry()
        corner = icon.bottomLeft() if icon.isValid() else QPoint(1400, 32)
        # the pointer on the icon, and the tooltip the tray shows there
        QCursor.setPos(icon.center() if icon.isValid() else corner)
        settle(app)
        QToolTip.showText(QCursor.pos(), tray.icon.toolTip(), app.widgetAt(QCursor.pos()))
        wait_until(app, QToolTip.isVisible, "the tray's tooltip")
        saved.append(grab(app, out, "tray-tooltip"))
        QToolTip.hideText()
        tray.menu.popup(corner)
        saved.append(grab(app, out, "tray-menu"))
        tray.menu.hide()

        report = {"saved": saved, "tooltip": tray.icon.toolTip(), "today": controller.today, "icon": icon.getRect()}
        print(orjson.dumps(report).decode(), flush=True)
    finally:
        controller.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
