"""Hermes Agent: one event per session from ``state.db``'s totals, dated at its last activity.

Expected, by hand, from tests/fixtures/agent-logs-extra/hermes-agent/state.db.sql:
* 20261120_100000…, claude-sonnet-4-5: in 300, out 2500 (rsn 400), cr 40000, cw 6000; last
  activity 10:58Z, last message 10:59Z, ended 11-20 11:00Z: the day is 11-20.
* 20261120_220000…, gpt-5.1: started 11-20 22:00Z, heartbeat 11-21 00:30Z, last message
  00:31Z (its day, 11-21): in 1200, out 600 (rsn 150), cr 8000.
* 20261121_150000…, an older row without activity or messages: started 11-21 15:00Z,
  deepseek-v4-flash, in 900, out 100, cr 5000.
* 20261121_160000… has no tokens (not an event); 20261121_170000… has a damaged start time
  and nothing else to date it (skipped).
Total 48800 + 9800 + 6000 = 64600.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from app.core.env import Env
from app.sources.hermes_agent import HermesAgent
from tests.sources.common import EXTRA, per_day_model
from tests.sources.indexing import index_table, open_index

DB = EXTRA / "hermes-agent" / "state.db"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5"): (300, 2500, 6000, 40000, 400),
    ("2026-11-21", "gpt-5.1"): (1200, 600, 0, 8000, 150),
    ("2026-11-21", "deepseek-v4-flash"): (900, 100, 0, 5000, 0),
}


def test_fixture_matches_hand_computed_totals() -> None:
    result = HermesAgent().parse(DB, 0, {})
    table = per_day_model(result.events)
    assert table == EXPECTED
    assert sum(sum(row[:4]) for row in table.values()) == 64600
    assert result.skips == {"session without timestamp": 1}
    assert {e.project for e in result.events} == {"/home/dev/hermesproj", "/home/dev/other"}


def test_a_build_without_activity_columns_or_messages(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sessions (id TEXT, model TEXT, started_at REAL, input_tokens INTEGER)")
        conn.execute("INSERT INTO sessions VALUES ('s1', 'gpt-5.1', 1795168800.0, 42)")
    conn.close()
    [event] = HermesAgent().parse(db, 0, {}).events
    assert (event.ts, event.inp, event.project) == (1795168800000, 42, "")


def test_discovery_under_home_and_growth_replaces(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hermes = home / ".hermes"
    (hermes / "profiles" / "work").mkdir(parents=True)
    shutil.copy(DB, hermes / "state.db")
    (hermes / "profiles" / ".deleted").mkdir()
    source = HermesAgent()
    [root] = source.roots(Env.under(home))
    assert list(source.discover(root)) == [hermes / "state.db"]
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "hermes-agent") == EXPECTED
        assert index_table(index, home, "hermes-agent") == EXPECTED
        with sqlite3.connect(hermes / "state.db") as conn:  # the night session resumes the next evening
            conn.execute(
                "UPDATE sessions SET input_tokens = 1500, output_tokens = 700, cache_read_tokens = 12000,"
                " last_activity_at = 1795284000.0 WHERE id = '20261120_220000_d4e5f6'"
            )
        conn.close()
        grown = dict(EXPECTED)
        grown[("2026-11-21", "gpt-5.1")] = (1500, 700, 0, 12000, 150)
        assert index_table(index, home, "hermes-agent") == grown
        shutil.copy(hermes / "state.db", hermes / "profiles" / "work" / "state.db")
        assert index_table(index, home, "hermes-agent") == grown  # a profile holding the same sessions
    finally:
        index.close()


def test_hermes_home_and_windows_default(tmp_path: Path) -> None:
    assert HermesAgent().roots(Env(tmp_path, {"HERMES_HOME": str(tmp_path / "h")})) == [tmp_path / "h"]
    env = Env(tmp_path, {"LOCALAPPDATA": str(tmp_path / "Local")})
    assert HermesAgent().roots(env) == [tmp_path / ".hermes", tmp_path / "Local" / "hermes"]
