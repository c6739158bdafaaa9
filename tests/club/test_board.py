"""The leaderboard: periods, both rankings and their tie-breaks, streaks, sparklines; CSV, SQLite, HTML."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

from app.club import board, merge
from tests.club.helpers import day, doc, save, signed
from tests.club.test_merge import AS_OF, NOW


def d(n: int) -> str:
    """``n`` days before the board's day."""
    return (AS_OF - timedelta(days=n)).isoformat()


def make(tmp_path: Path) -> tuple[merge.Result, dict]:
    files = [
        # ann: a 12-day run at >= 10M ending today, heavy on cache reads
        save(tmp_path / "ann.json", signed(doc("ann", [day(d(i), 2_000_000, cr=10_000_000, out=100_000)
                                                       for i in range(12)]))),
        # ben: fewer tokens in total, but all fresh; a run of 3 ending yesterday (today not reached yet)
        save(tmp_path / "ben.json", signed(doc("ben", [day(d(i), 11_000_000, out=500_000) for i in (1, 2, 3)]
                                               + [day(d(0), 1_000)]))),
        # cy and Cat tie with ben's fresh total... cy and cat tie exactly with each other
        save(tmp_path / "cy.json", signed(doc("cy", [day(d(40), 5_000_000)]))),
        save(tmp_path / "cat.json", signed(doc("Cat", [day(d(40), 5_000_000)]))),
    ]
    result = merge.merge(files, tmp_path / "club", now=NOW)
    return result, board.compute(result, AS_OF, now=NOW)


def test_periods_rankings_and_tie_breaks(tmp_path: Path) -> None:
    _, b = make(tmp_path)
    def ranked(measure: str) -> dict[str, list[str]]:
        return {
            p: [r["member"] for r in sorted(rows, key=lambda r: r[f"rank_{measure}"])]
            for p, rows in b["periods"].items()
        }

    by_total, by_fresh = ranked("total"), ranked("fresh")
    assert by_total["today"][:2] == ["ann", "ben"]
    assert by_total["7d"][:2] == ["ann", "ben"]
    assert by_fresh["7d"][:2] == ["ben", "ann"]  # ann's total is mostly cache reads
    # cy and Cat: equal totals, fresh and days: the name decides, case-insensitively (Cat before cy)
    assert by_total["all"][2:] == ["Cat", "cy"] and by_fresh["all"][2:] == ["Cat", "cy"]
    # outside 30 days: counted in "all" only
    assert {r["member"]: r["total"] for r in b["periods"]["30d"]}["cy"] == 0
    assert "then by name A to Z" in b["ranking"]["tie_breaks"]
    # zero-token ties in today: by the other measure, then days, then name
    today = sorted(b["periods"]["today"], key=lambda r: r["rank_total"])
    assert [r["member"] for r in today] == ["ann", "ben", "Cat", "cy"]


def test_streaks_tiers_and_sparklines(tmp_path: Path) -> None:
    _, b = make(tmp_path)
    members = {m["member"]: m for m in b["members"]}
    assert (members["ann"]["streak"], members["ann"]["best_streak"]) == (12, 12)
    assert (members["ben"]["streak"], members["ben"]["best_streak"]) == (3, 3)  # today not reached yet: not broken
    assert members["ann"]["tier"] == "10M" and members["ben"]["tier"] is None
    assert len(members["ann"]["spark"]) == board.SPARK_DAYS
    assert members["ann"]["spark"][-12:] == [12_100_000] * 12 and members["ann"]["spark"][0] == 0
    assert b["spark_days"] == [d(29), d(0)]


def test_csv_sqlite_and_html(tmp_path: Path) -> None:
    result, b = make(tmp_path)
    folder = board.write(b, result, tmp_path / "club")
    rows = list(csv.DictReader(io.StringIO((folder / "leaderboard.csv").read_text())))
    assert len(rows) == 4 * 4 and rows[0]["period"] == "today" and rows[0]["member"] == "ann"
    assert set(rows[0]) == set(board.CSV_COLUMNS)
    conn = sqlite3.connect(folder / "leaderboard.sqlite")
    try:
        assert conn.execute("SELECT COUNT(*) FROM days").fetchone()[0] == 12 + 4 + 1 + 1
        assert conn.execute("SELECT member FROM board WHERE period = '7d' AND rank_fresh = 1").fetchone() == ("ben",)
        assert conn.execute("SELECT streak FROM members WHERE member = 'ann'").fetchone() == (12,)
        query = "SELECT fresh, tier, cost_usd FROM days WHERE member = 'ann' LIMIT 1"
        fresh, tier, usd = conn.execute(query).fetchone()
        assert (fresh, tier, usd) == (2_100_000, "10M", 0.001)
    finally:
        conn.close()
    page = (folder / "index.html").read_text()
    kiosk = (folder / "kiosk.html").read_text()
    assert 'http-equiv="refresh"' in kiosk and 'http-equiv="refresh"' not in page
    assert 'class="kiosk"' in kiosk
    assert json.loads((folder / "leaderboard.json").read_text())["as_of"] == AS_OF.isoformat()


def test_names_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    from app.club import html

    b = board.compute(merge.Result(), date(2026, 11, 30), now=NOW)
    b["members"] = [{"member": "</script><b>x", "tier": None, "streak": 0, "best_streak": 0, "spark": [0], "flags": []}]
    b["rejections"] = [{"file": "<img src=x>.json", "member": None, "rule": "not_json", "day": None,
                        "reason": "<b>", "action": "file rejected"}]
    page = html.page(b)
    assert "</script><b>" not in page and "<img src=x>" not in page


def test_large_club_writes_its_days_table_alongside(tmp_path: Path) -> None:
    """From PARALLEL_DAYS_FROM members the days table is written by a forked process (Linux): same result."""
    files = [
        save(tmp_path / f"m{i:03d}.json", signed(doc(f"m{i:03d}", [day(d(k), 1_000 * (i + 1)) for k in range(3)])))
        for i in range(board.PARALLEL_DAYS_FROM + 5)
    ]
    result = merge.merge(files, tmp_path / "club", now=NOW, workers=2)
    assert result.rejections == [] and len(result.members) == len(files)
    b, folder = board.build(result, tmp_path / "club", AS_OF, now=NOW)
    conn = sqlite3.connect(folder / "leaderboard.sqlite")
    try:
        assert conn.execute("SELECT COUNT(*), SUM(total) FROM days").fetchone() == (
            3 * len(files), sum(3 * 1_000 * (i + 1) for i in range(len(files)))
        )
        assert conn.execute("SELECT COUNT(*) FROM board WHERE period = 'all'").fetchone() == (len(files),)
    finally:
        conn.close()
    assert [r["member"] for r in sorted(b["periods"]["all"], key=lambda r: r["rank_total"])][0] == "m104"


def test_streak_rules() -> None:
    big, small = 20_000_000, 5
    dates = [d(9), d(8), d(7), d(5), d(4), d(3), d(2), d(1), d(0)]
    totals = [big, big, big, big, big, big, big, big, small]  # 3, a gap, then 5 ending yesterday; today not yet
    assert board.streaks(dates, totals, AS_OF) == (5, 5)
    assert board.streaks(dates, totals, AS_OF + timedelta(days=1)) == (0, 5)  # yesterday (d0) missed: broken
    assert board.streaks(dates, [big] * 9, AS_OF) == (6, 6)
    assert board.streaks(dates, [big] * 9, AS_OF - timedelta(days=6)) == (3, 3)  # days after as_of do not count
    assert board.streaks([], [], AS_OF) == (0, 0)
