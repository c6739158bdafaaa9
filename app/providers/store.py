"""Provider data in the index file: its own tables, created on first use.

- ``provider_usage``: tokens, requests and cost per provider, key label, UTC day and model;
  ``provisional`` marks the most recent days, which the next sync fetches again.
- ``provider_sync``: per key, the days covered so far, the last success, and the last error:
  its kind (``error_kind``: refused, rate-limited, server error, network, …) and a redacted,
  bounded message. An index from before ``error_kind`` gets the column and has its stored
  messages scrubbed (redacted, with the freed bytes overwritten) the first time it is opened.
- ``provider_balances``: per key and currency, the last balance read.

Every sync writes one key's fetched data in one transaction after all of it arrived, so a
failure at any point keeps the last good data and never leaves half of a sync behind.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

TABLES = (
    "CREATE TABLE IF NOT EXISTS provider_usage(provider TEXT NOT NULL, label TEXT NOT NULL, day TEXT NOT NULL,"
    " model TEXT NOT NULL, inp INTEGER NOT NULL DEFAULT 0, cw INTEGER NOT NULL DEFAULT 0,"
    " cr INTEGER NOT NULL DEFAULT 0, out INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,"
    " cost REAL, provisional INTEGER NOT NULL DEFAULT 0, fetched_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, label, day, model)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS provider_sync(provider TEXT NOT NULL, label TEXT NOT NULL, covered_from TEXT,"
    " covered_to TEXT, last_ok INTEGER, last_attempt INTEGER, last_error TEXT, error_kind TEXT,"
    " PRIMARY KEY (provider, label))",
    "CREATE TABLE IF NOT EXISTS provider_balances(provider TEXT NOT NULL, label TEXT NOT NULL,"
    " currency TEXT NOT NULL, total REAL NOT NULL, granted REAL, topped_up REAL, detail TEXT,"
    " fetched_at INTEGER NOT NULL, PRIMARY KEY (provider, label, currency))",
)


def _current(conn: sqlite3.Connection) -> bool:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'provider_%'")}
    if "provider_balances" not in tables:
        return False
    return any(r[1] == "error_kind" for r in conn.execute("PRAGMA table_info(provider_sync)"))


def ensure(conn: sqlite3.Connection) -> None:
    """The provider tables, created or brought up to date (at most once per index)."""
    if _current(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _current(conn):  # another process may have done it while this one waited
            for sql in TABLES:
                conn.execute(sql)
            if not any(r[1] == "error_kind" for r in conn.execute("PRAGMA table_info(provider_sync)")):
                conn.execute("ALTER TABLE provider_sync ADD COLUMN error_kind TEXT")
                _scrub(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    with contextlib.suppress(sqlite3.OperationalError):  # a reader holds the old pages: the next checkpoint will do
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _scrub(conn: sqlite3.Connection) -> None:
    """Redact the last errors an older TokenClub stored word for word (a provider may have echoed a key in them).

    ``secure_delete`` makes SQLite overwrite the old text in the page instead of leaving it in free space.
    """
    from app.core.redact import redact
    from app.providers.base import MESSAGE_LIMIT

    conn.execute("PRAGMA secure_delete = ON")
    rows = conn.execute("SELECT rowid, last_error FROM provider_sync WHERE last_error IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE provider_sync SET last_error = ? WHERE rowid = ?",
        [(redact(text, (), MESSAGE_LIMIT), rowid) for rowid, text in rows],
    )


def open_index(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    """The index at ``path`` (created or migrated as the core does), with the provider tables."""
    from app.core.index import connect

    conn = connect(path, timeout)
    ensure(conn)
    return conn


class Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
