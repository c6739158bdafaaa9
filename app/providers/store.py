"""Provider data in the index file: its own tables, created on first use (no schema migration).

- ``provider_usage``: tokens, requests and cost per provider, key label, UTC day and model;
  ``provisional`` marks the most recent days, which the next sync fetches again.
- ``provider_sync``: per key, the days covered so far, the last success and the last error.
- ``provider_balances``: per key and currency, the last balance read.

Every sync writes one key's fetched data in one transaction after all of it arrived, so a
failure at any point keeps the last good data and never leaves half of a sync behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLES = (
    "CREATE TABLE IF NOT EXISTS provider_usage(provider TEXT NOT NULL, label TEXT NOT NULL, day TEXT NOT NULL,"
    " model TEXT NOT NULL, inp INTEGER NOT NULL DEFAULT 0, cw INTEGER NOT NULL DEFAULT 0,"
    " cr INTEGER NOT NULL DEFAULT 0, out INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,"
    " cost REAL, provisional INTEGER NOT NULL DEFAULT 0, fetched_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, label, day, model)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS provider_sync(provider TEXT NOT NULL, label TEXT NOT NULL, covered_from TEXT,"
    " covered_to TEXT, last_ok INTEGER, last_attempt INTEGER, last_error TEXT, PRIMARY KEY (provider, label))",
    "CREATE TABLE IF NOT EXISTS provider_balances(provider TEXT NOT NULL, label TEXT NOT NULL,"
    " currency TEXT NOT NULL, total REAL NOT NULL, granted REAL, topped_up REAL, detail TEXT,"
    " fetched_at INTEGER NOT NULL, PRIMARY KEY (provider, label, currency))",
)


def ensure(conn: sqlite3.Connection) -> None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'provider_balances'").fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql in TABLES:
            conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
