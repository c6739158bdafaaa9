"""The quarter-hour sums the triggers keep must always equal the calls they summarise."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from app.core.index import Index
from app.core.model import QUARTER_MS
from app.core.schema import MIGRATIONS, connect
from tests.core.test_schema import old_index

BY_QUARTER = (
    f"SELECT ts / {QUARTER_MS}, agent, model, SUM(inp), SUM(cw), SUM(cr), SUM(out), SUM(rsn),"
    " ROUND(SUM(IFNULL(cost, 0)), 9), SUM(CASE WHEN cost IS NULL THEN inp + cw + cr + out ELSE 0 END), COUNT(*)"
    " FROM events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
)
QUARTERS = (
    "SELECT q, agent, model, inp, cw, cr, out, rsn, ROUND(cost, 9), unpriced, calls"
    " FROM quarters WHERE calls > 0 ORDER BY 1, 2, 3"
)


def assert_consistent(conn: sqlite3.Connection) -> None:
    assert conn.execute(QUARTERS).fetchall() == conn.execute(BY_QUARTER).fetchall()


def test_sums_follow_inserts_replacements_reprices_and_deletes(
    fixture_home: Path, indexed: Callable[[Path], Index]
) -> None:
    conn = indexed(fixture_home).conn
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 20
    assert_consistent(conn)  # fixtures replace copies by priority: upserts that update rows
    conn.execute("UPDATE events SET cost = NULL WHERE agent = 'codex'")
    conn.execute("UPDATE events SET ts = ts + 3 * 3600 * 1000, inp = inp + 7 WHERE agent = 'claude-code'")
    assert_consistent(conn)
    conn.execute("DELETE FROM events WHERE id % 3 = 0")
    assert_consistent(conn)


def test_upgrade_from_schema_2_fills_the_sums(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = old_index(path, 2)
    rows = [
        (i, 0, "codex", 1_700_000_000_000 + i * 600_000, "gpt-5", "s", "p", 10, 0, 5, 3, 1, 0, 0.25) for i in range(9)
    ]
    raw.executemany(
        "INSERT INTO events(key, prio, agent, ts, model, session, project, inp, cw, cr, out, rsn, cw1h, cost)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    raw.close()
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT SUM(calls), SUM(inp) FROM quarters").fetchone() == (9, 90)
    assert_consistent(conn)


def test_a_call_moved_to_another_day_leaves_no_empty_day(fixture_home: Path, indexed: Callable[[Path], Index]) -> None:
    """A replacement copy in another quarter empties the old one; the old day must not be listed."""
    from app.core import reports

    conn = indexed(fixture_home).conn
    before = {d.date for d in reports.days(conn, reports.Filter())}
    first = min(before)
    conn.execute(
        "UPDATE events SET ts = ts + 40 * 86400 * 1000 WHERE ts < ?",
        (int(reports.Filter(since=first, until=first).bounds_ms()[1]) + 1,),
    )
    after = {d.date for d in reports.days(conn, reports.Filter())}
    assert first not in after
    assert all(d.totals.calls > 0 for d in reports.days(conn, reports.Filter()))
