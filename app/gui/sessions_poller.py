"""The agent runs on the dedicated machines, polled in one place for the Console page and the tray.

Every ssh call runs on the poller's own thread (:class:`SessionsWorker`); the GUI thread only
gets its answers. The poll runs every 2 s while a run is live or the Console page is open,
every 10 s otherwise, and never reaches the worker while no host is registered (a cheap check
of ``hosts.json`` on the timer notices the first one). A run seen changing to finished,
failed, crashed, stalled or over-budget is a notification; one first seen already in that
state (ended before the app started, or before its host first answered) is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.gui.background import Background
from app.gui.fitting import short_reason
from app.gui.formatting import tokens

LIVE = ("starting", "running", "waiting-input", "stalled")
NEWS = {
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "stalled": "stalled",
    "over-budget": "hit its budget",
}
POLL_LIVE_MS = 2_000
POLL_IDLE_MS = 10_000

Row = dict[str, Any]


def transitions(known: dict[str, str], rows: list[Row]) -> tuple[dict[str, str], list[Row]]:
    """The statuses to remember after a poll, and the rows whose change is news.

    A stale row (its host unreachable, shown as last cached) neither counts as seen nor
    resets what was seen: the change is noticed when the host answers again.
    """
    seen = {r["id"]: r["status"] for r in rows if not r.get("stale")}
    kept = {rid: known[rid] for rid in {r["id"] for r in rows if r.get("stale")} if rid in known}
    news = [
        r for r in rows if not r.get("stale") and r["status"] in NEWS and known.get(r["id"], r["status"]) != r["status"]
    ]
    return kept | seen, news


def note(row: Row) -> tuple[str, str]:
    """A notification's title and text for a run that reached ``row["status"]``."""
    what = NEWS.get(row["status"], row["status"])
    reason = short_reason(row["reason"] or "")
    return f"{row['agent']} on {row['host']} {what}", f"{reason} · {tokens(row['tokens']['total'])} tokens"


class SessionsWorker(QObject):
    """The ssh side, on the poller's thread. Signals carry plain data back to the GUI thread."""

    polled = Signal(object, object)  # rows (newest first), {host: why it is unreachable}
    poll_failed = Signal(str)
    launched = Signal(object)
    killed = Signal(object)
    tailed = Signal(str, bytes, int)  # run id, whole lines, next offset
    tail_failed = Signal(str, str)  # run id, why
    failed = Signal(str)  # a launch or a kill

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db

    @Slot()
    def poll(self) -> None:
        from app.console import hosts, sessions

        try:
            targets = list(hosts.load().values())
            if not targets:
                self.polled.emit([], {})
                return
            with sessions.price_book(self.db) as book:
                results = sessions.list_runs(targets, book.prices)
        except Exception as exc:  # a host or a busy index must never take the app down
            self.poll_failed.emit(f"listing the sessions failed: {exc}")
            return
        rows = sorted((r for h in results for r in h.rows), key=lambda r: r["started"] or "", reverse=True)
        self.polled.emit(rows, {h.host: h.error for h in results if h.error})

    @Slot(str, object)
    def launch(self, host: str, fields: dict[str, Any]) -> None:
        from app.console import hosts, sessions

        try:
            spec = sessions.Launch(**fields)
            with sessions.price_book(self.db) as book:
                if spec.budget_usd is not None:
                    spec.rates = book.rates(spec.agent, spec.model)
                row = sessions.launch(hosts.named(host), spec, book.prices)
        except Exception as exc:  # refused (AgentError), unreachable (HostError), or the index busy
            self.failed.emit(f"Launch on {host} failed: {exc}")
            return
        self.launched.emit(row)

    @Slot(object)
    def kill(self, which: dict[str, list[str] | None] | None) -> None:
        """``{host: [ids]}``, ``{host: None}`` for every live run there, or None for every host."""
        from app.console import hosts, sessions

        done: list[Row] = []
        try:
            names = list(hosts.load()) if which is None else list(which)
        except Exception as exc:
            self.failed.emit(f"Kill failed: {exc}")
            names = []
        for host in names:
            try:
                done.extend(sessions.kill(hosts.named(host), None if which is None else which[host]))
            except Exception as exc:  # one host's trouble must not spare the others' runs
                self.failed.emit(f"Kill on {host} failed: {exc}")
        self.killed.emit(done)

    @Slot(str, str, int)
    def tail(self, host: str, rid: str, offset: int) -> None:
        from app.console import hosts, sessions

        try:
            data, offset, _size = sessions.events(hosts.named(host), rid, offset)
        except Exception as exc:
            self.tail_failed.emit(rid, f"tail {rid}: {exc}")
            return
        self.tailed.emit(rid, data, offset)


class SessionsPoller(QObject):
    """The poller's thread and timer, the last rows, and the news in them.

    Signals:
        polled(object, object): rows (``session list --json``'s, newest first) and ``{host: error}``.
        running_changed(int): how many runs are live (starting, running, waiting-input, stalled).
        live_changed(bool): some run is live (the index pulls the hosts more often meanwhile).
        notify(str, str): a run finished, failed, crashed, stalled or hit its budget (title, text).
        launched(object): a launch answered (its row).
        killed(object): a kill answered (``[{id, host, status, reason, remaining}]``).
        failed(str): a poll, launch or kill failed; the text says why.
        tailed(str, bytes, int), tail_failed(str, str): a run's events (see :class:`SessionsWorker`).
    """

    polled = Signal(object, object)
    running_changed = Signal(int)
    live_changed = Signal(bool)
    notify = Signal(str, str)
    launched = Signal(object)
    killed = Signal(object)
    failed = Signal(str)
    tailed = Signal(str, bytes, int)
    tail_failed = Signal(str, str)
    _poll = Signal()
    _launch = Signal(str, object)
    _kill = Signal(object)
    _tail = Signal(str, str, int)

    def __init__(self, db: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = SessionsWorker(db)
        self.background = Background(self.worker, "tokenclub-sessions")
        self._poll.connect(self.worker.poll)
        self._launch.connect(self.worker.launch)
        self._kill.connect(self.worker.kill)
        self._tail.connect(self.worker.tail)
        self.worker.polled.connect(self._on_polled)
        self.worker.poll_failed.connect(self._on_poll_failed)
        self.worker.launched.connect(self._on_launched)
        self.worker.killed.connect(self._on_killed)
        self.worker.failed.connect(self.failed)
        self.worker.tailed.connect(self.tailed)
        self.worker.tail_failed.connect(self.tail_failed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.poll)
        self.rows: list[Row] = []
        self.errors: dict[str, str] = {}
        self.known: dict[str, str] = {}  # run id -> status when last seen from its host
        self.fast = False  # the Console page is open: poll as if a run were live
        self._in_flight = False
        self._live = 0

    def start(self) -> None:
        self.background.start()
        self.poll()

    def stop(self) -> None:
        self.timer.stop()
        self.background.stop()

    @Slot()
    def poll(self) -> None:
        from app.console import hosts

        if self._in_flight:
            return
        if not hosts.any_registered():
            self._on_polled([], {})
            return
        self._in_flight = True
        self._poll.emit()

    def set_fast(self, fast: bool) -> None:
        """The Console page opened (poll now, then every 2 s) or closed."""
        self.fast = fast
        if fast:
            self.poll()

    def launch(self, host: str, fields: dict[str, Any]) -> None:
        """Start a run (``sessions.Launch`` keyword arguments) on ``host``; ``launched`` or ``failed`` answers."""
        self._launch.emit(host, fields)

    def kill(self, which: dict[str, list[str] | None] | None) -> None:
        """Stop runs (see :meth:`SessionsWorker.kill`); ``killed`` answers."""
        self._kill.emit(which)

    def stop_all(self) -> None:
        """Kill every live run on every host (the tray's *Stop all sessions*)."""
        self._kill.emit(None)

    def tail(self, host: str, rid: str, offset: int) -> None:
        self._tail.emit(host, rid, offset)

    def _rearm(self) -> None:
        self.timer.start(POLL_LIVE_MS if self._live or self.fast else POLL_IDLE_MS)

    def _on_polled(self, rows: list[Row], errors: dict[str, str]) -> None:
        self._in_flight = False
        self.rows, self.errors = rows, errors
        self.known, news = transitions(self.known, rows)
        for row in news:
            self.notify.emit(*note(row))
        live = sum(r["status"] in LIVE for r in rows)
        if live != self._live:
            self.running_changed.emit(live)
            if bool(live) != bool(self._live):
                self.live_changed.emit(bool(live))
            self._live = live
        self.polled.emit(rows, errors)
        self._rearm()

    def _on_poll_failed(self, message: str) -> None:
        self._in_flight = False
        self.failed.emit(message)
        self._rearm()

    def _on_launched(self, row: Row) -> None:
        self.known[row["id"]] = row["status"]  # its changes from here on are news
        if row["status"] in ("failed", "crashed"):
            self.notify.emit(f"{row['agent']} on {row['host']} did not start", short_reason(row["reason"] or ""))
        self.launched.emit(row)
        self.poll()

    def _on_killed(self, killed: list[Row]) -> None:
        self.killed.emit(killed)
        self.poll()
