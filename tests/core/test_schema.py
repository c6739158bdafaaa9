"""A new index is created by one script; it must equal what the migrations build step by step."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import sqlite_utils

from app.core.schema import FRESH_VERSION, MIGRATIONS, SCHEMA_VERSION, connect, fresh_schema

SCHEMA = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


def old_index(path: Path, version: int) -> sqlite3.Connection:
    """An index as schema ``version`` left it, built by that version's migrations alone."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for step in MIGRATIONS[:version]:
        step(db)
    conn.execute(f"PRAGMA user_version = {version:d}")
    return conn


def test_the_fresh_script_builds_the_migrated_schema(tmp_path: Path) -> None:
    assert FRESH_VERSION == SCHEMA_VERSION, "bring FRESH_SCHEMA up to date with the new migration"
    migrated = old_index(tmp_path / "migrated.sqlite", len(MIGRATIONS))
    scripted = sqlite3.connect(tmp_path / "scripted.sqlite", isolation_level=None)
    for sql in fresh_schema():
        scripted.execute(sql)
    want = migrated.execute(SCHEMA).fetchall()
    got = scripted.execute(SCHEMA).fetchall()
    assert got == want, "\n".join(repr(row[3]) for row in want if row[3])


def test_a_new_index_needs_no_sqlite_utils(tmp_path: Path) -> None:
    sys.modules.pop("sqlite_utils", None)
    conn = connect(tmp_path / "new.sqlite")
    assert "sqlite_utils" not in sys.modules
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_index_of_schema_5_gets_the_provider_tables_and_keeps_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = old_index(path, 5)
    old.execute("INSERT INTO events(key, agent, ts, inp, cw, cr, out, rsn) VALUES (1, 'codex', 0, 5, 0, 0, 1, 0)")
    old.close()
    conn = connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'provider_%'")}
    assert tables == {"provider_usage", "provider_sync", "provider_balances"}
    assert "error_kind" in {r[1] for r in conn.execute("PRAGMA table_info(provider_sync)")}
    assert conn.execute("SELECT inp, out FROM events").fetchall() == [(5, 1)]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
