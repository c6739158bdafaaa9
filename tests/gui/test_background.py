"""The worker-thread base every GUI controller runs on: work off the GUI thread, results back on it, a bounded stop."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot
from pytestqt.qtbot import QtBot

from app.gui.background import Background

HOLD_S = 60.0  # the longest a held slot waits to be released (a ceiling, never reached when the test passes)


class Doubler(QObject):
    """Doubles numbers on its thread; ``held`` makes the next slot wait until released."""

    done = Signal(int, object)  # the result and the thread it was computed on

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.release = threading.Event()
        self.entered = threading.Event()

    @Slot(int)
    def double(self, n: int) -> None:
        self.entered.set()
        if self.hold.is_set():
            self.release.wait(HOLD_S)
        self.done.emit(2 * n, QThread.currentThread())


class Asker(QObject):
    """The controller side: asks by signal, keeps each answer with the thread it arrived on."""

    ask = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[int, object, object]] = []

    @Slot(int, object)
    def answer(self, value: int, worker_thread: object) -> None:
        self.answers.append((value, worker_thread, QThread.currentThread()))


def test_the_work_runs_on_its_thread_and_the_result_arrives_on_the_gui_thread(qtbot: QtBot) -> None:
    worker, asker = Doubler(), Asker()
    background = Background(worker, "tokenclub-test")
    asker.ask.connect(worker.double)
    worker.done.connect(asker.answer)
    background.start()
    try:
        assert background.thread.isRunning() and background.thread.objectName() == "tokenclub-test"
        asker.ask.emit(21)
        qtbot.waitUntil(lambda: bool(asker.answers), timeout=60_000)
    finally:
        assert background.stop()
    value, computed_on, arrived_on = asker.answers[0]
    gui = QCoreApplication.instance().thread()  # type: ignore[union-attr]
    assert value == 42
    assert computed_on is background.thread and computed_on is not gui
    assert arrived_on is gui
    assert not background.thread.isRunning()
    background.start()  # a stopped base starts again (the Hosts page's thread, each time it is shown)
    try:
        asker.ask.emit(5)
        qtbot.waitUntil(lambda: len(asker.answers) == 2, timeout=60_000)
    finally:
        assert background.stop()
    assert asker.answers[1][0] == 10


def test_stop_waits_no_longer_than_its_bound_and_says_so(qtbot: QtBot, caplog: pytest.LogCaptureFixture) -> None:
    worker, asker = Doubler(), Asker()
    background = Background(worker, "tokenclub-slow", stop_timeout_ms=300)
    asker.ask.connect(worker.double)
    worker.hold.set()
    background.start()
    try:
        asker.ask.emit(1)
        assert worker.entered.wait(60)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="app.gui.background"):
            assert background.stop() is False  # the slot is still holding the thread
        waited = time.monotonic() - started
        assert 0.25 <= waited < 10, waited
        assert "tokenclub-slow still running 300 ms after it was asked to stop" in caplog.text
        assert background.thread.isRunning()
    finally:
        worker.release.set()
        assert background.thread.wait(60_000)  # it ends on its own once the slot returns
    assert not background.thread.isRunning()
    assert background.stop()  # an ended thread stops at once, with no warning
