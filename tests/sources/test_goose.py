"""Goose: one event per session from ``sessions.db``'s running totals, dated at ``updated_at``.

Expected, by hand, from tests/fixtures/agent-logs-extra/goose/sessions/sessions.db.sql:
* 20261120_1, updated 11-20 09:30Z, claude-sonnet-4-5: accumulated in 12000, out 800 (the
  latest turn's 4000/200 are not added).
* 20261120_2, created 11-20 23:00Z, updated 11-21 01:15Z (its day), gpt-5.1: in 5000, out 300,
  total 5500: 200 reasoning, out 500.
* 20261121_1, an older build without accumulated columns filled: in 700, out 50; its model
  config does not decode (model unknown).
* 20261121_2 has no tokens (not an event); 20261121_3 has no readable timestamp (skipped).
Total 12800 + 5500 + 750 = 19050.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from app.core.env import Env
from app.sources.goose import Goose
from tests.sources.common import EXTRA, per_day_model
from tests.sources.indexing import index_table, open_index

DATA = EXTRA / "goose"
DB = DATA / "sessions" / "sessions.db"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5"): (12000, 800, 0, 0, 0),
    ("2026-11-21", "gpt-5.1"): (5000, 500, 0, 0, 200),
    ("2026-11-21", "unknown"): (700, 50, 0, 0, 0),
}


def test_fixture_matches_hand_computed_totals() -> None:
    result = Goose().parse(DB, 0, {})
    table = per_day_model(result.events)
    assert table == EXPECTED
    assert sum(sum(row[:4]) for row in table.values()) == 19050
    assert result.skips == {"session without timestamp": 1}
    assert {e.key for e in result.events} == {"goose:20261120_1", "goose:20261120_2", "goose:20261121_1"}
    assert {e.project for e in result.events} == {"/home/dev/gooseproj", "/home/dev/other"}


def test_not_a_database_is_skipped_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    db.write_bytes(b"not a database")
    result = Goose().parse(db, 0, {})
    assert result.events == [] and list(result.skips) == ["unreadable database: file is not a database"]


def test_discovery_under_home_and_growth_replaces(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(DATA, home / ".local" / "share" / "goose")
    db = home / ".local" / "share" / "goose" / "sessions" / "sessions.db"
    roots = Goose().roots(Env.under(home))
    assert [p for r in roots for p in Goose().discover(r)] == [db]
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "goose") == EXPECTED
        assert index_table(index, home, "goose") == EXPECTED
        with sqlite3.connect(db) as conn:  # the session goes on the next day: its totals grow
            conn.execute(
                "UPDATE sessions SET accumulated_input_tokens = 15000, accumulated_output_tokens = 900,"
                " accumulated_total_tokens = 15900, updated_at = '2026-11-21 10:00:00' WHERE id = '20261120_1'"
            )
        conn.close()
        grown = {k: v for k, v in EXPECTED.items() if k[1] != "claude-sonnet-4-5"}
        grown[("2026-11-21", "claude-sonnet-4-5")] = (15000, 900, 0, 0, 0)
        assert index_table(index, home, "goose") == grown
        assert index_table(index, home, "goose") == grown
    finally:
        index.close()


def test_roots_per_platform_and_goose_path_root(tmp_path: Path) -> None:
    env = Env(tmp_path, {"XDG_DATA_HOME": str(tmp_path / "xdg"), "APPDATA": str(tmp_path / "AppData")})
    assert Goose().roots(env) == [
        tmp_path / "xdg" / "goose" / "sessions",
        tmp_path / "Library" / "Application Support" / "goose" / "sessions",
        tmp_path / "AppData" / "Block" / "goose" / "data" / "sessions",
    ]
    env = Env(tmp_path, {"GOOSE_PATH_ROOT": str(tmp_path / "g"), "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert Goose().roots(env) == [tmp_path / "g" / "data" / "sessions"]
