"""Provider data in the index file, beside the calls.

The tables are the core's (``app.core.schema``'s migration ladder creates them) and every query on
them is ``app.core.provider_data``'s: per key and UTC day the usage a provider reported (its last two
days provisional, fetched again by the next sync), each key's sync state (the days covered, the last
success, the last error's kind and redacted message), and each key's last balances. Every sync
writes one key's fetched data in one transaction after all of it arrived, so a failure at any
point keeps the last good data and never leaves half of a sync behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_index(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    """The index at ``path``, created or migrated (the provider tables with it)."""
    from app.core.schema import connect

    return connect(path, timeout)


class Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
