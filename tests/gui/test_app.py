"""The app as a whole, offscreen: a real index file, real watched logs, the worker thread, the tray."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core import settings as settings_store
from app.core.env import Env
from app.core.index import Index
from app.gui.app import CANCELLED, NO_TRAY, Controller
from app.gui.console_page import EMPTY
from app.gui.instance import SingleInstance, forward_show, server_name
from app.sources import SOURCES
from tests.gui.conftest import Notes
from tests.logmaker import claude_line

WAIT_MS = 60_000  # a ceiling for the index worker, never a pace: a loaded machine is slow


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _log(home: Path, name: str = "s-1") -> Path:
    path = home / ".claude" / "projects" / "-home-dev-proj" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def _indexed(tmp_path: Path, home: Path) -> Path:
    db = tmp_path / "index.sqlite"
    index = Index(db, sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()
    return db


@pytest.fixture
def started(qtbot: QtBot) -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(db: Path, home: Path, tray: bool = True) -> tuple[Controller, Notes]:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        controller = Controller(app, db, Env.under(home), tray_available=tray)
        notes = Notes()
        if controller.tray is not None:
            controller.tray.notify = notes  # type: ignore[method-assign]
        controllers.append(controller)
        controller.start()
        return controller, notes

    yield start
    for controller in controllers:
        controller.shutdown()
        if controller.window is not None:
            controller.window.close()


def test_tray_shows_today_and_a_new_line_within_the_watch(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=1_000, out=2_000, cr=3_000_000))
    controller, _ = started(_indexed(tmp_path, home), home)
    qtbot.waitUntil(lambda: "today 3M tokens" in controller.tray.icon.toolTip(), timeout=WAIT_MS)
    _append(log, claude_line("m2", _now(), inp=500_000, out=0, cr=0))
    qtbot.waitUntil(lambda: "today 3.5M tokens" in controller.tray.icon.toolTip(), timeout=WAIT_MS)
    assert controller.today is not None and controller.today["total"] == 3_503_000


def test_half_written_line_waits_for_its_end(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=1_000_000, out=0))
    controller, _ = started(_indexed(tmp_path, home), home)
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["total"] == 1_000_000, timeout=WAIT_MS)
    line = claude_line("m2", _now(), inp=2_000_000, out=0)
    refreshes = controller.last_report
    _append(log, line[:40])
    qtbot.waitUntil(lambda: controller.last_report is not refreshes, timeout=WAIT_MS)
    assert controller.today["total"] == 1_000_000
    _append(log, line[40:])
    qtbot.waitUntil(lambda: controller.today["total"] == 3_000_000, timeout=WAIT_MS)


def test_tier_notified_once_per_day_across_restarts(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=5_000_000, out=0))
    db = _indexed(tmp_path, home)
    controller, notes = started(db, home)
    qtbot.waitUntil(lambda: controller.today is not None, timeout=WAIT_MS)
    assert notes.shown == []
    _append(log, claude_line("m2", _now(), inp=6_000_000, out=0))
    qtbot.waitUntil(lambda: len(notes.shown) == 1, timeout=WAIT_MS)
    assert notes.shown[0][0] == "10M tokens today"
    _append(log, claude_line("m3", _now(), inp=1_000, out=0))
    qtbot.waitUntil(lambda: controller.today["total"] == 11_001_000, timeout=WAIT_MS)
    controller.shutdown()
    again, notes_again = started(db, home)
    qtbot.waitUntil(lambda: again.today is not None and again.today["total"] == 11_001_000, timeout=WAIT_MS)
    assert notes.shown == [notes.shown[0]] and notes_again.shown == []


def test_notifications_can_be_turned_off(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    settings_store.save(settings_store.Settings(notify_tiers=False))
    home = tmp_path / "home"
    _log(home).write_bytes(claude_line("m1", _now(), inp=50_000_000, out=0))
    controller, notes = started(_indexed(tmp_path, home), home)
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["tier"] == "10M", timeout=WAIT_MS)
    assert notes.shown == []


def test_pause_stops_watching_and_resume_catches_up(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=1_000_000, out=0))
    controller, _ = started(_indexed(tmp_path, home), home)
    qtbot.waitUntil(lambda: controller.today is not None, timeout=WAIT_MS)
    controller.tray.pause_action.trigger()
    assert controller.watcher is None
    assert settings_store.load().settings.watching is False
    _append(log, claude_line("m2", _now(), inp=1_000_000, out=0))
    controller.tray.pause_action.trigger()
    assert controller.watcher is not None and settings_store.load().settings.watching is True
    qtbot.waitUntil(lambda: controller.today["total"] == 2_000_000, timeout=WAIT_MS)


def test_refresh_from_the_menu_reads_new_lines(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    settings_store.save(settings_store.Settings(watching=False))
    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=1_000_000, out=0))
    controller, _ = started(_indexed(tmp_path, home), home)
    qtbot.waitUntil(lambda: controller.today is not None, timeout=WAIT_MS)
    assert controller.watcher is None
    _append(log, claude_line("m2", _now(), inp=1_000_000, out=0))
    controller.tray.refresh_action.trigger()
    qtbot.waitUntil(lambda: controller.today["total"] == 2_000_000, timeout=WAIT_MS)


def test_event_loop_keeps_ticking_during_a_cold_index(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = _cold_home(tmp_path)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    controller, _ = started(tmp_path / "index.sqlite", home, tray=True)
    timer.start()
    started_at = time.monotonic()
    qtbot.waitUntil(lambda: controller.last_report is not None, timeout=120_000)
    ended_at = time.monotonic()
    timer.stop()
    assert controller.last_report.files_read == 40
    assert controller.today["total"] == 160_000
    during = [started_at, *(t for t in ticks if started_at <= t <= ended_at), ended_at]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    assert len(during) > 10, "the index was too quick to tell"
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


def _cold_home(tmp_path: Path, files: int = 40, calls: int = 4_000) -> Path:
    """``files`` transcripts of ``calls`` one-token calls each: seconds of parsing for a cold index."""
    home = tmp_path / "home"
    stamp = _now()
    for n in range(files):
        lines = (claude_line(f"m{n}-{c}", stamp, inp=1, out=0, session=f"s{n}") for c in range(calls))
        _log(home, f"s-{n}").write_bytes(b"".join(lines))
    return home


def test_cancel_stops_the_first_index_until_asked_again(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = _cold_home(tmp_path)
    controller, _ = started(tmp_path / "index.sqlite", home)
    window = controller.window
    assert window is not None and window.isVisible()  # a first run opens the dashboard
    window.cancel_requested.emit()
    qtbot.waitUntil(lambda: controller.last_report is not None, timeout=WAIT_MS)
    assert controller.last_report.interrupted
    assert controller.watcher is None and controller.tray.pause_action.isChecked()
    assert window.statusBar().currentMessage() == CANCELLED
    _append(_log(home, "s-new"), claude_line("late", _now(), inp=5, out=0))
    controller.worker.request_refresh()  # what a watcher would send: ignored after a cancel
    controller.tray.pause_action.trigger()  # resume watching: the index goes on
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["total"] == 160_005, timeout=120_000)


def test_first_run_without_logs_says_where_it_looked(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    controller, _ = started(tmp_path / "index.sqlite", home)
    window = controller.window
    assert window is not None and window.isVisible()
    qtbot.waitUntil(window.showing_empty, timeout=WAIT_MS)
    text = window.empty_text()
    assert str(home / ".claude" / "projects") in text and str(home / ".codex" / "sessions") in text
    _log(home).write_bytes(claude_line("m1", _now(), inp=2_000, out=0))  # the agent's first run: seen live
    qtbot.waitUntil(lambda: not window.showing_empty(), timeout=WAIT_MS)
    assert window.data()["dashboard"]["today"]["total"] == 2_000


def test_second_start_forwards_show(qtbot: QtBot, tmp_path: Path) -> None:
    name = server_name(tmp_path / "index.sqlite")
    assert not forward_show(name)
    instance = SingleInstance(name)
    try:
        with qtbot.waitSignal(instance.show_requested, timeout=WAIT_MS):
            assert forward_show(name)
    finally:
        instance.close()


def test_without_a_tray_the_window_opens_and_says_why(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    home = tmp_path / "home"
    _log(home).write_bytes(claude_line("m1", _now(), inp=1_000, out=0))
    controller, _ = started(_indexed(tmp_path, home), home, tray=False)
    assert controller.tray is None
    assert controller.window is not None and controller.window.isVisible()
    assert controller.window.notice() == NO_TRAY  # wrapped above the controls, whole
    assert QApplication.instance().quitOnLastWindowClosed()  # type: ignore[union-attr]


def test_a_locked_index_is_reported_once_not_on_every_change(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    """Another process holding the write lock (a long `tokenclub refresh`): one notification, no crash."""
    import sqlite3

    home = tmp_path / "home"
    log = _log(home)
    log.write_bytes(claude_line("m1", _now(), inp=1_000, out=0))
    db = _indexed(tmp_path, home)
    controller, notes = started(db, home)
    qtbot.waitUntil(lambda: controller.last_report is not None, timeout=WAIT_MS)
    controller.worker._index.timeout = 0.2  # type: ignore[union-attr]
    controller.worker._index.conn.execute("PRAGMA busy_timeout = 200")  # type: ignore[union-attr]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for n in range(3):
            _append(log, claude_line(f"m{n + 2}", _now(), inp=1_000, out=0))
            controller.worker.refresh_now()
            qtbot.waitUntil(lambda: controller.last_failure is not None, timeout=WAIT_MS)
            qtbot.wait(300)
        assert [title for title, _ in notes.shown] == ["TokenClub"]
        assert "locked" in notes.shown[0][1]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    controller.worker.refresh_now()
    qtbot.waitUntil(lambda: controller.today is not None and controller.today["total"] == 4_000, timeout=WAIT_MS)


def test_the_sessions_entry_opens_the_console_page(tmp_path: Path, qtbot: QtBot, started: Any) -> None:
    settings_store.save(settings_store.Settings(watching=False))
    home = tmp_path / "home"
    controller, _ = started(_indexed(tmp_path, home), home)
    controller.tray.sessions_action.trigger()
    page = controller.console
    qtbot.addWidget(page)
    assert page.isVisible() and page.poller is controller.sessions
    assert page.table.rowCount() == 0 and page.status.text() == EMPTY  # no host: nothing asked, how to start said
    assert not page.buttons["Tail"].isEnabled() and not page.buttons["Kill"].isEnabled()
    controller.tray.sessions_action.trigger()
    assert controller.console is page
