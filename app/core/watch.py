"""Live: say "something changed" when an agent writes its logs. The index decides what is new.

watchdog reports on its own thread and one append can fire several events, so bursts are
merged: ``on_change`` runs once ``debounce_s`` after the last event, and never later than
``max_wait_s`` after the first one of a burst (a busy agent never starves the tray).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from app.core.env import Env
from app.core.source import Sources

# reads (ours included) open and close files: only writes count, or indexing would loop
WRITES = {EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED, EVENT_TYPE_DELETED, EVENT_TYPE_CLOSED}


def watch_roots(env: Env, sources: Sources, agents: frozenset[str] | None = None) -> list[Path]:
    """Every enabled agent's roots, deduplicated, nested ones dropped."""
    roots = sorted({r for s in sources.all(agents) for r in s.roots(env)})
    kept: list[Path] = []
    for root in roots:
        if not any(root.is_relative_to(k) for k in kept):
            kept.append(root)
    return kept


class Watcher:
    """Watches ``roots`` recursively; a root that does not exist yet is waited for.

    A missing root is watched through its nearest existing ancestor, non-recursively, and
    the real root is armed as soon as it appears (an agent's first run after start-up).
    """

    def __init__(
        self,
        roots: Iterable[Path],
        on_change: Callable[[], None],
        debounce_s: float = 0.05,
        max_wait_s: float = 0.25,
    ) -> None:
        self.roots = [Path(r) for r in roots]
        self.on_change = on_change
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self._observer: BaseObserver | None = None
        self._armed: dict[Path, ObservedWatch] = {}  # root or waiting ancestor -> watch
        self._waiting: set[Path] = set()
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._handler = _Handler(self)

    def start(self) -> None:
        self._stopping = False
        self._observer = Observer()
        self._observer.daemon = True
        self._waiting = set(self.roots)
        self._arm()
        self._observer.start()
        self._thread = threading.Thread(target=self._deliver, name="tokenclub-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._armed.clear()

    def watched(self) -> list[Path]:
        """What is being watched now (roots, or ancestors of roots still missing)."""
        return sorted(self._armed)

    # -- arming --------------------------------------------------------------------------

    def _arm(self) -> bool:
        """Watch what exists of the waiting roots; True when a root became watched."""
        observer = self._observer
        if observer is None:
            return False
        before = len(self._waiting)
        for root in sorted(self._waiting):
            if root.is_dir():
                self._unwatch_ancestors_of(root)
                self._armed[root] = observer.schedule(self._handler, str(root), recursive=True)
                self._waiting.discard(root)
            elif root.exists():  # a single file (a database): watch its directory, not recursively
                self._waiting.discard(root)
                if root.parent not in self._armed:
                    self._armed[root.parent] = observer.schedule(self._handler, str(root.parent), recursive=False)
            else:
                ancestor = _nearest_existing(root)
                if ancestor is not None and ancestor not in self._armed:
                    self._armed[ancestor] = observer.schedule(self._handler, str(ancestor), recursive=False)
        return len(self._waiting) < before

    def _unwatch_ancestors_of(self, root: Path) -> None:
        observer = self._observer
        for path in [p for p in self._armed if root.is_relative_to(p) and p != root]:
            still_needed = any(w.is_relative_to(path) and w != root for w in self._waiting)
            if observer is not None and not still_needed:
                observer.unschedule(self._armed.pop(path))

    # -- delivery ------------------------------------------------------------------------

    def _event(self, event: FileSystemEvent) -> None:
        if event.event_type not in WRITES:
            return
        path = Path(str(event.src_path))
        armed = False
        if self._waiting and any(root.is_relative_to(path) for root in self._waiting):
            with self._cond:  # a missing root, or a folder on the way to it, appeared
                armed = self._arm()  # files made before the watch was armed: a refresh finds them
        if not armed and not any(path.is_relative_to(root) for root in self.roots):
            return  # something else in a waiting ancestor (the home folder): not an agent's log
        now = time.monotonic()
        with self._cond:
            if self._first is None:
                self._first = now
            self._last = now
            self._cond.notify_all()

    def _deliver(self) -> None:
        while True:
            with self._cond:
                while self._first is None and not self._stopping:
                    self._cond.wait()
                first = self._first
                if self._stopping or first is None:
                    return
                now = time.monotonic()
                due = min(self._last + self.debounce_s, first + self.max_wait_s)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                self._first = None
            self.on_change()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher._event(event)


def _nearest_existing(path: Path) -> Path | None:
    """The closest existing ancestor, unless that is the filesystem root (never watched)."""
    for parent in path.parents:
        if parent.is_dir():
            return None if parent == Path(parent.anchor) else parent
    return None
