"""Reports remembered until the index changes: a re-run with nothing new prints what it printed.

A report is a pure function of the index, its options and the code that renders it. The
index forgets every memo in each transaction that writes calls or prices (``forget``), so
a memo found is one computed from the index as it is now. It is stored only from the same
read transaction that computed it: if another process wrote in between, SQLite refuses the
write (the snapshot is stale) and nothing is stored.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator

_PREFIX = "memo:"


def key(*parts: object) -> str:
    """A memo key of the report's options, plus the code that renders reports (a changed file changes it)."""
    return "\x1f".join(map(str, (*parts, code_stamp())))


def recall(conn: sqlite3.Connection, kind: str, memo_key: str) -> str | None:
    row = conn.execute("SELECT v FROM meta WHERE k = ?", (_PREFIX + kind,)).fetchone()
    if row is None:
        return None
    stored_key, _, text = row[0].partition("\n")
    return text if stored_key == memo_key else None


def remembered(conn: sqlite3.Connection, kind: str, memo_key: str, make: Callable[[], str]) -> tuple[str, str | None]:
    """The text remembered for ``memo_key``, else ``make()``'s, stored from the same read transaction.

    Returns the text and, when it could not be stored for a reason the user should hear of, a
    warning (see :func:`commit`).
    """
    conn.execute("BEGIN")  # the memo is stored only if no one wrote since these reads
    try:
        text = recall(conn, kind, memo_key)
        if text is None:
            text = make()
            remember(conn, kind, memo_key, text)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return text, commit(conn)


def remember(conn: sqlite3.Connection, kind: str, memo_key: str, text: str) -> None:
    """Store ``text`` if the index is unchanged since this transaction's reads, without waiting for a lock."""
    with unless_busy(conn):  # written meanwhile, locked by a writer, or a read-only index: no memo
        conn.execute("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", (_PREFIX + kind, f"{memo_key}\n{text}"))


@contextlib.contextmanager
def unless_busy(conn: sqlite3.Connection) -> Iterator[None]:
    """Run an optional write at once or not at all: no wait for another process's lock, a refusal is dropped."""
    (wait,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    except sqlite3.OperationalError:
        pass
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait)}")


def commit(conn: sqlite3.Connection) -> str | None:
    """End the transaction a memo was stored in: a memo that cannot be written is dropped, never the report.

    Returns a warning when the write failed for a reason the user should hear of (a full disk, an I/O
    error, a damaged file), None when it was stored or only refused (locked, stale, read-only).
    """
    try:
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY")):
            return None
        return f"the report was not remembered for the next run ({exc})"
    return None


def forget(conn: sqlite3.Connection) -> None:
    """Drop every memo (inside the transaction that changes what reports read)."""
    conn.execute("DELETE FROM meta WHERE k GLOB ?", (_PREFIX + "*",))


_stamp: list[str] = []


def code_stamp() -> str:
    """Size and newest change of the modules that read logs and compute and draw reports (not the GUI's)."""
    if not _stamp and getattr(sys, "frozen", False):
        # an installed bundle (PyInstaller): the modules are inside the executable, which an upgrade replaces
        st = os.stat(sys.executable)
        _stamp.append(f"frozen:{st.st_size}:{st.st_mtime_ns}")
    if not _stamp:
        app = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sizes = newest = count = 0
        # the command line's own folder too: it draws the tables, CSV and JSON that are remembered
        for folder in (app, os.path.join(app, "core"), os.path.join(app, "sources"), os.path.join(app, "cli")):
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(".py"):
                        st = entry.stat()  # follows the links of an editable install to the real files
                        sizes += st.st_size
                        newest = max(newest, st.st_mtime_ns)
                        count += 1
        _stamp.append(f"{count}:{sizes}:{newest}")
    return _stamp[0]
