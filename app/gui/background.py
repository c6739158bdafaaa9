"""The one way the app works off the GUI thread: a worker object on a thread of its own, stopped in bounded time.

A controller builds its worker (a ``QObject`` whose slots do the slow work and whose signals carry
the results) and hands it to :class:`Background`. From then on it talks to the worker only by
signals: its own signals connected to the worker's slots run on the worker's thread (queued), and
the worker's signals connected to the controller's slots come back on the GUI thread (queued).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QThread, SignalInstance

log = logging.getLogger(__name__)

STOP_TIMEOUT_MS = 10_000

# threads that overran their bound, kept referenced until they end: Qt aborts if a running thread is destroyed
_outliving: set[QThread] = set()


class Background:
    """``worker`` moved onto a new thread named ``name``; :meth:`stop` waits at most ``stop_timeout_ms``.

    Args:
        worker: the object whose slots run on the thread (it must have no parent).
        name: the thread's name (``tokenclub-…``), as a debugger or ``ps -L`` shows it.
        stop_timeout_ms: how long :meth:`stop` waits for the slot under way to end.
    """

    def __init__(self, worker: QObject, name: str, stop_timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        self.worker = worker
        self.name = name
        self.stop_timeout_ms = stop_timeout_ms
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)

    @property
    def started(self) -> SignalInstance:
        """Emitted on the thread as it starts (connect the worker's opening slot to it)."""
        return self.thread.started

    def start(self) -> None:
        """Start the thread (again after :meth:`stop`); a running thread is left as it is."""
        if not self.thread.isRunning():
            self.thread.start()

    def stop(self) -> bool:
        """End the thread after the slot under way, waiting at most the bound.

        Returns True when the thread ended in time; otherwise a warning is logged and the thread is
        kept until it ends on its own.
        """
        _outliving.difference_update([t for t in _outliving if t.isFinished()])
        if not self.thread.isRunning():
            return True
        self.thread.quit()
        if self.thread.wait(self.stop_timeout_ms):
            return True
        log.warning("thread %s still running %d ms after it was asked to stop", self.name, self.stop_timeout_ms)
        _outliving.add(self.thread)
        return False
