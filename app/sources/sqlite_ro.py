"""Read-only access to an agent's SQLite database while the agent may be writing to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.sources.base import ParseResult

BUSY_TIMEOUT_S = 5.0  # the agent may hold its write lock; wait for it rather than fail


def open_ro(path: Path, result: ParseResult) -> sqlite3.Connection | None:
    """``path`` opened read-only, or None (counted in ``result.skips``) when it cannot be."""
    result.offset = path.stat().st_size
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        result.skip(f"unreadable database: {exc}")
        return None


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The columns ``table`` has in this build of the agent (empty when there is no such table)."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def wal(path: Path) -> tuple[Path, ...]:
    """The write-ahead log beside ``path``: committed rows not yet checkpointed into it."""
    return (path.with_name(path.name + "-wal"),)
