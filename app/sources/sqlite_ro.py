"""Read-only access to an agent's SQLite database while the agent may be writing to it."""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from app.core.source import ParseResult, Source

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


class TableDb(Source):
    """An agent that keeps its usage in the rows of one SQLite table (``table``).

    Subclasses name the columns without which the table is not the agent's (``needs``), select
    the rows (``rows``: the columns this build has are given) and turn each into an event
    (``add``). The database is read whole, read-only, with its WAL.
    """

    whole_file = True
    table: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset({"id"})

    def companions(self, path: Path) -> tuple[Path, ...]:
        return wal(path)

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        conn = open_ro(path, result)
        if conn is None:
            return result
        try:
            have = columns(conn, self.table)
            if not self.needs <= have:
                result.skip(f"no {self.table} table")
                return result
            for row in self.rows(conn, have):
                result.record(self.add, result, row)
        except sqlite3.Error as exc:
            result.skip(f"unreadable database: {exc}")
        finally:
            conn.close()
        return result

    @abstractmethod
    def rows(self, conn: sqlite3.Connection, have: set[str]) -> Iterable[dict[str, Any]]:
        """The table's rows, as column -> value."""

    @abstractmethod
    def add(self, result: ParseResult, row: dict[str, Any]) -> None:
        """Append the row's event to ``result`` (or count why it was skipped)."""


class SessionsDb(TableDb):
    """An agent that keeps one row of running totals per session in a ``sessions`` table."""

    table = "sessions"
