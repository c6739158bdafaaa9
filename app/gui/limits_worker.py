"""Plan limits for the app: read on a thread of their own, at most once a minute, and the alerts already sent.

:class:`LimitsFeed` runs ``app.providers.limits_feed.collect`` (Codex's rollouts, the opted-in account
endpoint, Claude Code's block from the index) on its own thread, so a slow endpoint never holds
the GUI or the index. It reads when asked (after each refresh of the index) and every minute,
never more often than once a minute unless the settings changed, and never two reads at once.
:class:`SentAlerts` remembers which threshold notifications were sent, beside the index, so a
restart does not repeat one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import orjson
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core import limits, paths
from app.core.env import Env
from app.gui.background import Background

EVERY_MS = 60_000  # a plan reading moves slowly; the account endpoint is not asked more often than this
STOP_TIMEOUT_MS = 25_000  # the account endpoint gives up after 20 s
DB_TIMEOUT_S = 2.0  # the block is read between the index's writes, not behind a long one
KEEP_SENT = 400  # alert keys remembered (a few windows, each reset a week at most)
ALERTS_FILE = "limit_alerts.json"


class Reading(NamedTuple):
    """One look at every plan window (see ``app.providers.limits_feed.collect``).

    Attributes:
        windows: every window read.
        block: Claude Code's active 5-hour block, or None.
        notes: what is missing and why (a failed endpoint, no Codex reading).
        account_asked: the user opted in to the account endpoint (its windows, or a note saying why not).
        taken_at: when the reading was taken.
    """

    windows: list[limits.Window]
    block: limits.Block | None
    notes: list[str]
    account_asked: bool
    taken_at: datetime


def open_index(db: Path | None) -> sqlite3.Connection:
    """The index, read-only (the index worker is the only writer); an empty stand-in while it is not open (None)
    or before its tables exist."""
    if db is not None and db.exists():
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=DB_TIMEOUT_S, check_same_thread=False)
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone():
                return conn
        except sqlite3.Error:
            conn.close()  # a damaged index: let go of it, so it can be moved aside whole
            raise
        conn.close()
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("CREATE TABLE events (id INTEGER, agent TEXT, device TEXT, ts INTEGER, inp, cw, cr, out, cost, model)")
    return conn


class LimitsWorker(QObject):
    """The reading itself, on the feed's thread."""

    read = Signal(object)  # a Reading
    failed = Signal(str)

    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env

    @Slot(object, object)
    def fetch(self, account_url: str | None, db: Path | None) -> None:
        now = datetime.now(UTC)
        try:
            from app.providers import limits_feed

            conn = open_index(db)
            try:
                windows, block, notes = limits_feed.collect(self.env, conn, now, account_url)
            finally:
                conn.close()
        except Exception as exc:  # a busy or damaged index, a malformed rollout: never the app's end
            self.failed.emit(f"plan limits could not be read: {exc}")
            return
        self.read.emit(Reading(windows, block, notes, account_url is not None, now))


class LimitsFeed(QObject):
    """The thread, the minute's timer and the last reading.

    Signals:
        updated(object): a new :class:`Reading`.
        failed(str): a reading failed; the text says why.
    """

    updated = Signal(object)
    failed = Signal(str)
    _fetch = Signal(object, object)

    def __init__(self, db: Path, env: Env, account_url: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.account_url = account_url
        # the block is read from the index only while the index worker has it open: a damaged index is
        # never opened here (a reader would leave its -wal and -shm beside the file to be moved aside)
        self.index_open = False
        self.worker = LimitsWorker(env)
        self.background = Background(self.worker, "tokenclub-limits", STOP_TIMEOUT_MS)
        self._fetch.connect(self.worker.fetch)
        self.worker.read.connect(self._on_read)
        self.worker.failed.connect(self._on_failed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._due)
        self.last: Reading | None = None
        self._in_flight = False
        self._wanted = False  # asked while a reading ran: read again when it ends (within the minute's bound)
        self._last_start = -float(EVERY_MS)  # monotonic ms of the last reading's start

    def start(self) -> None:
        """Start the thread; the first reading comes with :meth:`index_opened` (or :meth:`read_now`)."""
        self.background.start()

    def index_opened(self) -> None:
        """The index worker opened the index (its ``today`` signal): the first reading, with the block."""
        if not self.index_open:
            self.index_open = True
            self.read_now()

    def index_closed(self) -> None:
        """The index cannot be used (``unavailable``): the windows are read without the block until it opens."""
        self.index_open = False
        if self.last is None:
            self.read_now()

    def stop(self) -> None:
        self.timer.stop()
        self.background.stop()

    def set_account_url(self, url: str | None) -> None:
        """The opt-in or its base URL changed: read again now."""
        if url != self.account_url:
            self.account_url = url
            self.read_now()

    @Slot()
    def request(self) -> None:
        """Read soon: now if a minute has passed since the last reading began, else when it has."""
        if self._in_flight:
            self._wanted = True
            return
        wait = int(self._last_start + EVERY_MS - time.monotonic() * 1000)
        if wait > 0:
            if not self.timer.isActive() or self.timer.remainingTime() > wait:
                self.timer.start(wait)
            return
        self._due()

    def read_now(self) -> None:
        """Read now (the settings changed), or as soon as the reading under way ends."""
        if self._in_flight:
            self._wanted = True
            self._last_start = -float(EVERY_MS)
            return
        self._due()

    def _due(self) -> None:
        self.timer.stop()
        self._in_flight, self._wanted = True, False
        self._last_start = time.monotonic() * 1000
        self._fetch.emit(self.account_url, self.db if self.index_open else None)

    def _ended(self) -> None:
        self._in_flight = False
        # every minute whatever happens (ages, paces and resets move on); sooner if asked meanwhile
        self.timer.start(EVERY_MS)
        if self._wanted:
            self.request()

    def _on_read(self, reading: Reading) -> None:
        self.last = reading
        self._ended()
        self.updated.emit(reading)

    def _on_failed(self, message: str) -> None:
        self._ended()
        self.failed.emit(message)


class SentAlerts:
    """The threshold alerts already sent (``limits.alerts_due``'s keys), in a JSON file beside the index.

    A key's window is forgotten a day after it reset (a new window has a new key), and at most
    ``KEEP_SENT`` keys are kept; a lost file means at worst one repeated notification.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] = self._read()

    def mark(self, keys: Iterable[str], now: datetime) -> None:
        self.keys.extend(k for k in keys if k not in self.keys)
        self.keys = [k for k in self.keys if not _expired(k, now)][-KEEP_SENT:]
        paths.write_atomic(self.path, orjson.dumps(self.keys))

    def _read(self) -> list[str]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return []
        if not isinstance(data, list):
            return []
        return [k[:300] for k in data if isinstance(k, str)][-KEEP_SENT:]


def _expired(key: str, now: datetime) -> bool:
    """The key's window reset more than a day before ``now`` (``agent|account|name|reset|threshold``)."""
    parts = key.split("|")
    if len(parts) < 5 or not parts[-2]:
        return False
    try:
        reset = datetime.fromisoformat(parts[-2].replace("Z", "+00:00"))
    except ValueError:
        return True
    return (now - reset).total_seconds() > 86_400
