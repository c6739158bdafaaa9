"""The bridge from Qt to the core: the index lives on its own thread; results come back by signal.

One :class:`IndexWorker` owns the only writable connection to the index (the one writer)
and runs every refresh and every report on its thread, so the GUI thread never waits on
SQLite or on parsing. Requests from any thread (the file watcher's included) are queued
signals; refresh requests that arrive while one is queued are merged into it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from app.core import dashboard, documents
from app.core.env import Env
from app.core.index import Index, Progress, RefreshReport
from app.core.schema import IndexBusy, IndexUnavailable, explain
from app.core.settings import Settings
from app.sources import SOURCES

GUI_HOST_TIMEOUT_S = 120.0  # a dedicated machine slower than this is cut off and named in the tray
LIVE_PULL_S = 5.0  # the hosts are pulled this often while an agent session runs on one


@dataclass(frozen=True)
class View:
    """What the reports cover: the settings that change numbers, and the dashboard's range."""

    settings: Settings
    range_name: str = dashboard.DEFAULT_RANGE


class IndexWorker(QObject):
    """Refreshes the index and builds the tray's and the dashboard's documents, off the GUI thread.

    Args:
        db: the index file.
        env: where the agents' logs are.
        overrides: the user's prices file.

    Signals:
        progress(object): a :class:`Progress` while a refresh reads files.
        refreshed(object): the :class:`RefreshReport` of every refresh.
        today(object): today's numbers (``reports.today`` plus tokens per minute now), after
            opening and after every refresh that changed the index.
        dashboard(object): ``{"empty", "dashboard", "models", "projects", "sessions", "insights"}`` for the
            current range, when asked and, while wanted, after every refresh that changed the index.
        failed(str): a refresh or a report failed; the message says why. Nothing was lost.
        hosts(object): after each pull of the dedicated machines, one ``{"host", "ok", "error"}`` per host.
        unavailable(object): the index cannot be opened or written (an ``IndexUnavailable``); it is closed
            until ``start`` is called again.
    """

    progress = Signal(object)
    refreshed = Signal(object)
    today = Signal(object)
    dashboard = Signal(object)
    failed = Signal(str)
    hosts = Signal(object)
    unavailable = Signal(object)
    _kick = Signal()

    def __init__(self, db: Path, env: Env, overrides: Path, view: View) -> None:
        super().__init__()
        self.db = db
        self.env = env
        self.overrides = overrides
        self._view = view
        self._index: Index | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._queued = False
        self._wants_dashboard = False
        self._pull_next = False  # the user asked for a refresh: the hosts are pulled after it
        self._hosts_timer: QTimer | None = None  # created on this worker's thread by ``start``
        self._live_sessions = False
        self._kick.connect(self.refresh)

    # -- requests (any thread) ------------------------------------------------------------

    def request_refresh(self) -> None:
        """Ask for a refresh (a log changed); merged with one already queued. Safe from any thread.

        After a cancel, these are ignored until :meth:`refresh_now`: a cancelled index stays stopped.
        """
        with self._lock:
            if self._queued:
                return
            self._queued = True
        self._kick.emit()

    def refresh_now(self) -> None:
        """The user asked: read what is new, cancelled or not before. Safe from any thread."""
        self._cancel.clear()
        self._pull_next = True
        self.request_refresh()

    def cancel(self) -> None:
        """Stop the running refresh after the file being read, and later ones until ``refresh_now``.

        What was read is kept.
        """
        self._cancel.set()

    # -- slots (the worker's thread) ------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """Open the index, show what it already holds, then read what is new."""
        if self._index is not None:
            return
        try:
            self._index = Index(self.db, overrides=self.overrides, sources=SOURCES)
        except IndexUnavailable as exc:
            self.unavailable.emit(exc)
            return
        except (IndexBusy, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self._emit_today()
        if self._hosts_timer is not None:  # opened again after the index was moved aside
            self.request_refresh()
            return
        self._hosts_timer = QTimer(self)  # lives on this thread: a pull never runs on the GUI thread
        self._hosts_timer.setSingleShot(True)
        self._hosts_timer.timeout.connect(self.pull_hosts)
        thread = self.thread()
        if thread is not None:  # stopped on this thread as it ends: a timer cannot be stopped from another
            thread.finished.connect(self._hosts_timer.stop, Qt.ConnectionType.DirectConnection)
        self._pull_next = True
        self.request_refresh()

    @Slot()
    def pull_hosts(self) -> None:
        """Pull and index every dedicated machine (``app.console.pull``), then arm the timer again."""
        index = self._index
        if index is None:
            return
        from app.console import hosts as registry

        every = self._pull_every_s()
        try:
            if not registry.any_registered() or self._cancel.is_set():
                return
            from app.console import pull

            targets = registry.load()
            if not targets:
                return
            settings = self._view.settings
            results = pull.refresh_hosts(index, targets.values(), settings.enabled_agents(), timeout=GUI_HOST_TIMEOUT_S)
        except Exception as exc:  # a host must never take the app down
            self.failed.emit(f"pulling the dedicated machines failed: {exc}")
            return
        finally:
            if self._hosts_timer is not None and every > 0:
                self._hosts_timer.start(int(every * 1000))
        self.hosts.emit([{"host": r.name, "ok": r.ok, "error": r.error} for r, _ in results])
        if any(done is not None and (done.rows_changed or done.files_read) for _, done in results):
            self._emit_documents()

    def _pull_every_s(self) -> float:
        """The user's interval (0: only on Refresh), shortened while a run is live."""
        from app.console import hosts as registry

        every = registry.pull_every_s()
        if self._live_sessions and every > 0:
            every = min(every, LIVE_PULL_S)  # a live run's burn reaches the tray and the chart as it happens
        return every

    @Slot(bool)
    def set_live_sessions(self, live: bool) -> None:
        """Agent runs are live on a dedicated machine (``SessionsPoller.live_changed``): pull the hosts more often."""
        self._live_sessions = live
        timer, every = self._hosts_timer, self._pull_every_s()
        if live and every > 0 and timer is not None and (not timer.isActive() or timer.remainingTime() > every * 1000):
            timer.start(int(every * 1000))

    @Slot()
    def refresh(self) -> None:
        with self._lock:
            self._queued = False
        index = self._index
        if index is None:
            return
        if self._cancel.is_set():
            skipped = RefreshReport()
            skipped.interrupted = True
            self.refreshed.emit(skipped)
            return
        settings = self._view.settings
        try:
            report = index.refresh(self.env, settings.enabled_agents(), progress=self._on_progress, cancel=self._cancel)
        except IndexUnavailable as exc:  # a full disk, a damaged page
            self._close_unavailable(exc)
            return
        except (IndexBusy, OSError) as exc:
            self.failed.emit(f"refresh failed: {exc}")
            return
        if report.rows_changed or report.files_read:
            self._emit_documents()
        self.refreshed.emit(report)  # last: the numbers it changed are already out
        if self._pull_next:  # on start and on Refresh; the timer does the rest
            self._pull_next = False
            self.pull_hosts()

    @Slot(object)
    def set_view(self, view: View) -> None:
        """New settings or range: the numbers are rebuilt (and agents turned on are read)."""
        agents_before = self._view.settings.enabled_agents()
        self._view = view
        self._emit_documents()
        if view.settings.enabled_agents() != agents_before:
            self.refresh_now()

    @Slot(bool)
    def want_dashboard(self, wanted: bool) -> None:
        """The dashboard is shown (send its document now and after each change) or hidden."""
        self._wants_dashboard = wanted
        if wanted:
            self._emit_dashboard()

    def _close_unavailable(self, exc: Exception) -> bool:
        """Close the index and say so when ``exc`` means it cannot be used (damaged, full disk)."""
        problem = explain(self.db, exc)
        if not isinstance(problem, IndexUnavailable):
            return False
        self.stop()
        self.unavailable.emit(problem)
        return True

    @Slot()
    def stop(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- documents -----------------------------------------------------------------------

    def _on_progress(self, progress: Progress) -> None:
        self.progress.emit(Progress(**vars(progress)))  # a copy: the index keeps updating its own

    def _emit_documents(self) -> None:
        """Today's numbers, and the dashboard's documents while it is shown (today's built once for both)."""
        if not self._wants_dashboard or not self._emit_dashboard(with_today=True):
            self._emit_today()

    def _emit_today(self) -> None:
        if self._index is None:
            return
        settings = self._view.settings
        try:
            doc = dashboard.today_doc(self._index.conn, settings.zone(), settings.milestones, settings.enabled_agents())
        except Exception as exc:  # a report must never take the app down
            if self._close_unavailable(exc):
                return
            self.failed.emit(f"today's numbers could not be read: {exc}")
            return
        self.today.emit(doc)

    def _emit_dashboard(self, with_today: bool = False) -> bool:
        """Send the dashboard's documents (and first, ``with_today``, today's numbers from them); whether sent."""
        if self._index is None:
            return False
        try:
            docs = window_data(self._index, self._view)
        except Exception as exc:
            self.failed.emit(f"the dashboard could not be built: {exc}")
            return False
        if with_today:
            self.today.emit(docs["dashboard"]["today"])
        self.dashboard.emit(docs)
        return True


def window_data(index: Index, view: View) -> dict[str, Any]:
    """Every document the dashboard window shows, for ``view``'s range: those ``tokenclub report`` prints."""
    settings = view.settings
    tz = settings.zone()
    today = datetime.now(tz).date()
    flt = dashboard.range_filter(view.range_name, tz, today, settings.enabled_agents())
    return documents.window(index.conn, flt, settings.milestones, today, index.overrides)
