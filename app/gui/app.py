"""The desktop app: a tray icon that lives on, a dashboard opened on demand, the index on its own thread.

Start-up shows the tray before anything heavy is imported (the charts load when the
dashboard first opens). The first run, or a desktop without a system tray, opens the
dashboard at once so the user sees the indexing progress and where logs were looked for.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app import __version__
from app.core import paths
from app.core import settings as settings_store
from app.core.dashboard import DEFAULT_RANGE
from app.core.env import Env
from app.core.index import Progress, RefreshReport
from app.core.notices import TierNotices
from app.core.schema import IndexUnavailable, move_aside
from app.core.settings import Settings
from app.core.watch import Watcher, watch_roots
from app.gui.about import app_icon
from app.gui.background import Background
from app.gui.formatting import tokens
from app.gui.instance import SingleInstance, forward_show, server_name
from app.gui.limits_worker import ALERTS_FILE, LimitsFeed, Reading, SentAlerts
from app.gui.theme import apply_theme
from app.gui.tray import Tray, tier_icon
from app.gui.workers import IndexWorker, View
from app.sources import SOURCES, all_sources

NO_TRAY = (
    "No system tray was found on this desktop, so TokenClub runs in this window "
    "(closing it quits). Install a tray host or enable your desktop's status icons to keep it in the tray."
)
CANCELLED = "Indexing cancelled: what was read is kept. Refresh, or resume watching in the tray menu, to go on."


class Controller(QObject):
    """Wires the tray, the dashboard, the watcher and the index worker together.

    Signals:
        view_changed(object): a new :class:`View` for the worker (settings or range changed).
        dashboard_wanted(bool): the dashboard became visible (True) or hidden.
        reopen_wanted(): open the index again (moved aside, or its cause fixed).
    """

    view_changed = Signal(object)
    dashboard_wanted = Signal(bool)
    reopen_wanted = Signal()

    def __init__(self, app: QApplication, db: Path, env: Env, tray_available: bool | None = None) -> None:
        super().__init__()
        self.app = app
        self.db = db
        self.env = env
        loaded = settings_store.load()
        self.settings: Settings = loaded.settings
        self.startup_warning = loaded.warning
        self.first_run = not db.exists()
        self.range_name = DEFAULT_RANGE
        self.notices = TierNotices(db.parent / "notices.json")
        self.window: Any = None  # the dashboard, built when first shown
        self.settings_dialog: Any = None
        self.about: Any = None  # the About box, kept while shown
        self.recovery: Any = None  # the window shown when the index cannot be opened
        self.today: dict[str, Any] | None = None
        self.last_report: RefreshReport | None = None
        self.last_failure: str | None = None
        apply_theme(app, self.settings.theme)

        self.worker = IndexWorker(db, env, paths.overrides_file(), View(self.settings, self.range_name))
        self.index_background = Background(self.worker, "tokenclub-index")
        self.index_background.started.connect(self.worker.start)
        self.worker.today.connect(self._on_today)
        self.worker.dashboard.connect(self._on_dashboard)
        self.worker.progress.connect(self._on_progress)
        self.worker.refreshed.connect(self._on_refreshed)
        self.worker.failed.connect(self._on_failed)
        self.worker.unavailable.connect(self._on_unavailable)
        self.reopen_wanted.connect(self.worker.start)
        self.view_changed.connect(self.worker.set_view)
        self.dashboard_wanted.connect(self.worker.want_dashboard)

        self.watcher: Watcher | None = None
        has_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        self.tray: Tray | None = None
        if has_tray:
            self.tray = Tray(self.settings.milestones, self.settings.watching, self)
            self.tray.open_requested.connect(self.show_dashboard)
            self.tray.refresh_requested.connect(self.worker.refresh_now)
            self.tray.watching_toggled.connect(self.set_watching)
            self.tray.settings_requested.connect(self.show_settings)
            self.tray.about_requested.connect(self.show_about)
            self.tray.quit_requested.connect(self.quit)
            self.worker.hosts.connect(self.tray.set_hosts)  # unreachable dedicated machines in the tooltip
        from app.gui.providers_page import Providers  # keys, provider usage and balances (its own thread)

        self.providers = Providers(db, self)
        if self.tray is not None:
            self.tray.providers_requested.connect(self.providers.show_page)
            self.providers.balances_changed.connect(self.tray.set_balances)
            self.providers.notify.connect(self.tray.notify)
        from app.gui.club_page import Club  # export, members' files, the board (its own thread)

        self.club = Club(db, self)
        if self.tray is not None:
            self.tray.club_requested.connect(self.club.show_page)
            self.tray.club_export_requested.connect(self.club.export_dialog)
        from app.gui.sessions_poller import SessionsPoller  # agent runs on the dedicated machines (its own thread)

        self.sessions = SessionsPoller(db, self)
        self.console: Any = None  # the Console page, built when first shown
        self.sessions.live_changed.connect(self.worker.set_live_sessions)
        if self.tray is not None:
            self.tray.console_requested.connect(self.show_console)
            self.tray.stop_sessions_requested.connect(self.sessions.stop_all)
            self.sessions.running_changed.connect(self.tray.set_running)
            self.sessions.notify.connect(self.tray.notify)
        # plan windows (its own thread): read after each refresh and every minute, at most once a minute
        self.limits = LimitsFeed(db, env, account_url(self.settings), self)
        self.sent_alerts = SentAlerts(db.parent / ALERTS_FILE)  # beside notices.json: a restart repeats none
        self.limits.updated.connect(self._on_limits)
        self.limits.failed.connect(self._on_limits_failed)
        self.worker.refreshed.connect(self.limits.request)
        self.worker.today.connect(self.limits.index_opened)
        self.worker.unavailable.connect(self.limits.index_closed)
        app.setQuitOnLastWindowClosed(not has_tray)
        app.aboutToQuit.connect(self.shutdown)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self.tray is not None:
            self.tray.show()
        self.index_background.start()
        self.providers.start()
        self.club.start()
        self.sessions.start()
        self.limits.start()
        if self.settings.watching:
            self._start_watcher()
        if self.tray is None or self.first_run:
            self.show_dashboard()
        if self.tray is None:
            self.window.show_notice(NO_TRAY)
        if self.startup_warning and self.tray is not None:
            self.tray.notify("TokenClub settings were reset", self.startup_warning)

    def quit(self) -> None:
        self.app.quit()

    def shutdown(self) -> None:
        """Stop watching, let the running refresh end after its current file, close the index."""
        self._stop_watcher()
        self.worker.cancel()
        self.index_background.stop()
        self.worker.stop()
        self.providers.stop()
        self.club.stop()
        self.sessions.stop()
        self.limits.stop()
        if self.tray is not None:
            self.tray.hide()

    # -- watching -----------------------------------------------------------------------

    def set_watching(self, on: bool) -> None:
        self.settings.watching = on
        settings_store.save(self.settings)
        if on:
            self._start_watcher()
            self.worker.refresh_now()  # what was written while paused or cancelled
        else:
            self._stop_watcher()

    def _start_watcher(self) -> None:
        self._stop_watcher()
        roots = watch_roots(self.env, SOURCES, self.settings.enabled_agents())
        self.watcher = Watcher(roots, self.worker.request_refresh)
        self.watcher.start()

    def _stop_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    # -- windows ------------------------------------------------------------------------

    def show_dashboard(self) -> None:
        window = self._dashboard_window()
        window.show()
        window.raise_()
        window.activateWindow()

    def _dashboard_window(self) -> Any:
        if self.window is None:
            from app.gui.dashboard import DashboardWindow  # pyqtgraph loads here, not at start-up

            self.window = DashboardWindow()
            self.window.range_changed.connect(self._on_range)
            self.window.refresh_requested.connect(self.worker.refresh_now)
            self.window.cancel_requested.connect(self.cancel_index)
            self.window.installEventFilter(self)
            if self.limits.last is not None:
                self._show_limits(self.limits.last)
        return self.window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.window and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.dashboard_wanted.emit(event.type() == QEvent.Type.Show)
        return False

    def show_about(self) -> None:
        from app.gui.about import about_box

        if self.about is None:
            self.about = about_box()
        self.about.show()
        self.about.raise_()

    def show_console(self) -> None:
        if self.console is None:
            from app.gui.console_page import ConsolePage

            self.console = ConsolePage(self.sessions)
        self.console.show()
        self.console.raise_()
        self.console.activateWindow()

    def show_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog

        if self.settings_dialog is None:
            self.settings_dialog = SettingsDialog(self.settings)
            self.settings_dialog.saved.connect(self.apply_settings)
            self.settings_dialog.hosts_changed.connect(self.worker.refresh_now)  # pull a host just added
            self.settings_dialog.hosts_changed.connect(self.sessions.poll)  # and list its runs
        self.settings_dialog.set_current(self.settings)
        self.settings_dialog.show()
        self.settings_dialog.raise_()

    def apply_settings(self, new: Settings) -> None:
        agents_changed = new.enabled_agents() != self.settings.enabled_agents()
        self.settings = new
        apply_theme(self.app, new.theme)
        if self.tray is not None:
            self.tray.set_milestones(new.milestones)
        if agents_changed and self.watcher is not None:
            self._start_watcher()
        self.view_changed.emit(View(new, self.range_name))
        if self.limits.last is not None:  # the ring's setting or the alerts' colours may have changed
            self._show_limits(self.limits.last)
        self.limits.set_account_url(account_url(new))

    def cancel_index(self) -> None:
        """Stop indexing and watching: nothing starts again until the user refreshes or resumes."""
        self.worker.cancel()
        if self.tray is not None:
            self.tray.pause_action.setChecked(True)  # says so in the menu, and pauses
        else:
            self.set_watching(False)

    def _on_range(self, name: str) -> None:
        self.range_name = name
        self.view_changed.emit(View(self.settings, name))

    # -- results from the worker --------------------------------------------------------

    def _on_today(self, today: dict[str, Any]) -> None:
        self.today = today
        if self.tray is None:
            self.app.setWindowIcon(tier_icon(int(today["total"]), self.settings.milestones))
            return
        self.tray.show_today(today)
        self.app.setWindowIcon(self.tray.icon.icon())  # the badge just drawn, not drawn again
        if not self.settings.notify_tiers:
            return
        for label in self.notices.due(today, self.settings.milestones):
            self.tray.notify(
                f"{label} tokens today",
                f"You are in the {label}-a-day club: {tokens(today['total'])} tokens so far today.",
            )
            self.notices.mark(today["date"], [label])

    def _on_limits(self, reading: Reading) -> None:
        """A plan reading: the Limits tab, the tooltip and the ring; each alert threshold once per window."""
        from app.core.limits import alerts_due
        from app.gui.limits_panel import alert_text

        now = datetime.now(UTC)
        self._show_limits(reading, now)
        if self.tray is None:
            return
        tz, thresholds = self.settings.zone(), self.settings.limit_alerts
        for window, threshold, key in alerts_due(reading.windows, thresholds, self.sent_alerts.keys, now):
            self.tray.notify(*alert_text(window, threshold, now, tz))
            self.sent_alerts.mark([key], now)

    def _show_limits(self, reading: Reading, now: datetime | None = None) -> None:
        from app.gui.limits_panel import ring_share, tooltip_lines

        now = now or datetime.now(UTC)
        tz = self.settings.zone()
        if self.window is not None:
            self.window.show_limits(reading, now, tz, self.settings.limit_alerts)
        if self.tray is not None:
            ring = ring_share(reading, now) if self.settings.ring_follows_limits else None
            self.tray.set_plan(tooltip_lines(reading, now, tz), ring)

    def _on_limits_failed(self, message: str) -> None:
        if self.window is not None:  # not a balloon: the next minute's reading may well succeed
            self.window.statusBar().showMessage(message)
        print(f"tokenclub: {message}", file=sys.stderr)

    def _on_dashboard(self, data: dict[str, Any]) -> None:
        window = self._dashboard_window()
        if data["empty"]:
            window.show_empty(searched_roots(self.env))
        else:
            window.show_data(data)

    def _on_progress(self, progress: Progress) -> None:
        if self.window is not None:
            self.window.show_progress(
                progress.files_done, progress.files_total, progress.bytes_done, progress.bytes_total
            )
        if self.tray is not None and progress.files_done < progress.files_total:
            share = progress.bytes_done / progress.bytes_total if progress.bytes_total else 1.0
            self.tray.show_progress(share, progress.files_done)

    def _on_refreshed(self, report: RefreshReport) -> None:
        self.last_report = report
        self.last_failure = None
        if self.window is not None:
            self.window.hide_progress()
            if report.interrupted:
                self.window.statusBar().showMessage(CANCELLED)
        if self.tray is not None:
            self.tray.end_progress()  # not a redraw per refresh: only when progress took the tooltip

    def _on_unavailable(self, problem: IndexUnavailable) -> None:
        """The index cannot be opened or written: a window says why and offers a way out (not one more balloon)."""
        from app.gui.recovery import RecoveryWindow

        if self.recovery is None:
            self.recovery = RecoveryWindow()
            self.recovery.move_aside_requested.connect(self.move_index_aside)
            self.recovery.retry_requested.connect(self.reopen_index)
            self.recovery.quit_requested.connect(self.quit)
        self.recovery.show_problem(problem)
        self.recovery.show()
        self.recovery.raise_()
        self.recovery.activateWindow()
        print(f"tokenclub: {problem}", file=sys.stderr)

    def move_index_aside(self) -> None:
        """Rename the index (kept, never deleted) and build a new one from the logs, showing the progress."""
        try:
            kept = move_aside(self.db)  # the worker closed its connection before it said the index was unusable
        except OSError as exc:
            self.recovery.show_error(f"It could not be moved aside: {exc.strerror or exc}. Nothing was changed.")
            return
        self.recovery.hide()
        self.show_dashboard()
        self.window.statusBar().showMessage(f"The old index was kept as {kept}; rebuilding from the logs.")
        self.reopen_wanted.emit()

    def reopen_index(self) -> None:
        self.recovery.hide()
        self.reopen_wanted.emit()

    def _on_failed(self, message: str) -> None:
        # a lock held by a long `tokenclub refresh` fails every refresh the watcher asks for: say it once
        if self.tray is not None and message != self.last_failure:
            self.tray.notify("TokenClub", message)
        self.last_failure = message
        if self.window is not None:
            self.window.statusBar().showMessage(message)
        print(f"tokenclub: {message}", file=sys.stderr)


def account_url(s: Settings) -> str | None:
    """Where to ask Claude's account for its plan use, when the user opted in."""
    return s.limits_account_url if s.limits_account else None


def searched_roots(env: Env) -> dict[str, list[str]]:
    """Each agent and the folders its logs were looked for in."""
    return {s.agent: [str(r) for r in s.roots(env)] for s in all_sources()}


def run(db: Path | None = None, home: Path | None = None, argv: list[str] | None = None) -> int:
    """Start the app on ``db`` (default: the user's index) reading logs under ``home`` (default: $HOME)."""
    db = (db or paths.default_db()).expanduser().absolute()
    env = Env.under(home) if home else Env.current()
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("TokenClub")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("tokenclub")
    app.setWindowIcon(app_icon())
    name = server_name(db)
    if forward_show(name):
        print("tokenclub: already running; asked it to show the dashboard", file=sys.stderr)
        return 0
    instance = SingleInstance(name)
    controller = Controller(app, db, env)
    instance.show_requested.connect(controller.show_dashboard)
    controller.start()
    code = app.exec()
    instance.close()
    return code
