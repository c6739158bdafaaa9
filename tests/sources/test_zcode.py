"""ZCode: model_usage rows, input carved of its cache, the session's directory as the project.

Expected, by hand, from tests/fixtures/agent-logs-extra/zcode/db.sql (``input_tokens`` holds the
cache read and the cache write; reasoning is inside output):
* sess_a (/home/dev/zproj), GLM-5.2, 2026-11-24: msg_a_0 in 70443 - 70144 = 299, out 680 (rsn 120),
  cr 70144; msg_a_1 in 5000 - 3000 - 1500 = 500, out 200, cw 1500, cr 3000; msg_a_2 cancelled with no
  tokens: nothing; msg_a_3 failed after sending 1000 input tokens: in 1000.
* sess_b (a sub-agent session of sess_a, its own requests), deepseek-v4-flash, 2026-11-25:
  msg_b_0 in 200, out 50, cr 600; msg_b_1 reads 200 cached of 100 input: skipped as damaged.
* sess_x (no session row), GLM-5-Turbo, 2026-11-25: in 10, out 5, project unknown ("").
Totals: 77323 + 850 + 15 = 78188.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.core.env import Env
from app.sources.zcode import ZCode
from tests.sources.common import EXTRA, per_day_model

SQL = EXTRA / "zcode" / "db.sql"
EXPECTED = {
    ("2026-11-24", "GLM-5.2"): (1799, 880, 1500, 73144, 120),
    ("2026-11-25", "deepseek-v4-flash"): (200, 50, 0, 600, 0),
    ("2026-11-25", "GLM-5-Turbo"): (10, 5, 0, 0, 0),
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    db = tmp_path / ".zcode" / "cli" / "db" / "db.sqlite"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.executescript(SQL.read_text())
    conn.close()
    return tmp_path


def database(home: Path) -> Path:
    [root] = ZCode().roots(Env.under(home))
    [db] = ZCode().discover(root)
    return db


def test_fixture_matches_hand_computed_totals(home: Path) -> None:
    result = ZCode().parse(database(home), 0, {})
    table = per_day_model(result.events)
    assert table == EXPECTED
    assert sum(sum(row[:4]) for row in table.values()) == 78188
    assert result.skips == {"cached count above input": 1}
    by_session = {e.session: e.project for e in result.events}
    assert by_session == {"sess_a": "/home/dev/zproj", "sess_b": "/home/dev/zproj", "sess_x": ""}


def test_a_request_in_flight_is_replaced_by_its_final_numbers(home: Path) -> None:
    db = database(home)
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE model_usage SET status = 'running', completed_at = NULL, output_tokens = 90"
        " WHERE id = 'usage_model_main_turn_msg_a_1'"
    )
    conn.commit()
    first = ZCode().parse(db, 0, {}).events
    conn.execute(
        "UPDATE model_usage SET status = 'completed', completed_at = 1795514463000, output_tokens = 200"
        " WHERE id = 'usage_model_main_turn_msg_a_1'"
    )
    conn.commit()
    conn.close()
    second = ZCode().parse(db, 0, {}).events
    assert per_day_model(first + second) == EXPECTED  # one row, its final numbers


def test_the_database_is_read_whole_with_its_wal(home: Path) -> None:
    db = database(home)
    assert ZCode().is_whole(db) and ZCode().companions(db) == (db.with_name("db.sqlite-wal"),)
    assert ZCode().roots(Env.under(home)) == [home / ".zcode" / "cli" / "db"]


def test_a_database_without_the_table_or_the_session_join(tmp_path: Path) -> None:
    empty = tmp_path / "db.sqlite"
    sqlite3.connect(empty).close()
    assert ZCode().parse(empty, 0, {}).skips == {"no model_usage table": 1}
    bare = tmp_path / "bare.sqlite"
    conn = sqlite3.connect(bare)
    conn.execute("CREATE TABLE model_usage (id TEXT, model_id TEXT, started_at INTEGER, input_tokens, output_tokens)")
    conn.execute("INSERT INTO model_usage VALUES ('r1', 'glm-5.1', 1795514400000, 40, 4)")
    conn.commit()
    conn.close()
    [event] = ZCode().parse(bare, 0, {}).events
    assert (event.model, event.session, event.project, event.inp, event.out) == ("glm-5.1", "", "", 40, 4)


def test_through_the_index_a_request_that_grows_is_counted_once(home: Path, tmp_path: Path) -> None:
    from tests.sources.indexing import index_table, open_index

    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "zcode") == EXPECTED
        assert index_table(index, home, "zcode") == EXPECTED  # nothing changed: nothing added
        with sqlite3.connect(database(home)) as conn:  # the next request, still streaming, then done
            conn.execute(
                "INSERT INTO model_usage (id, session_id, model_id, status, started_at, input_tokens,"
                " output_tokens, cache_read_input_tokens) VALUES"
                " ('usage_model_main_turn_msg_x_1', 'sess_x', 'GLM-5-Turbo', 'running', 1795568460000, 30, 1, 0)"
            )
        conn.close()
        grown = dict(EXPECTED)
        grown[("2026-11-25", "GLM-5-Turbo")] = (40, 6, 0, 0, 0)
        assert index_table(index, home, "zcode") == grown
        with sqlite3.connect(database(home)) as conn:
            conn.execute("UPDATE model_usage SET status = 'completed', output_tokens = 9 WHERE id LIKE '%msg_x_1'")
        conn.close()
        grown[("2026-11-25", "GLM-5-Turbo")] = (40, 14, 0, 0, 0)
        assert index_table(index, home, "zcode") == grown
    finally:
        index.close()
