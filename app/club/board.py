"""The leaderboard from a merge: ranks per period, streaks, sparklines; written as CSV, JSON, SQLite, HTML.

Periods end on the board's day (``as_of``, default today in UTC): ``today``, ``7d`` and
``30d`` (that many days up to it), ``all`` (every day up to it). Each is ranked by total
tokens and by fresh tokens (total without cache reads). Ties: the other measure (fresh for
the total ranking, total for the fresh one), then more active days in the period, then the
name A to Z (case-insensitive); every row has its own rank.

``write`` builds every file in a new folder beside the board and swaps it in only when all
are complete, so readers see the previous board or the new one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta
from itertools import compress, groupby, repeat
from operator import ge, sub
from pathlib import Path
from typing import Any

import orjson

from app import __version__
from app.club import BOARD_SCHEMA, BOARD_VERSION
from app.club.merge import COST, TOTAL, Member, Result
from app.core.milestones import DEFAULT_MILESTONES, tier_for, tier_label

PERIODS = {"today": 1, "7d": 7, "30d": 30, "all": None}
PERIOD_TITLES = {"today": "Today", "7d": "7 days", "30d": "30 days", "all": "All time"}
SPARK_DAYS = 30
STREAK_AT = DEFAULT_MILESTONES[0]  # a streak: days in a row in the club at all (10M)
TIE_BREAKS = (
    "Ranked by the chosen measure, highest first; ties go to the higher other measure (fresh tokens when ranking "
    "by total, total when ranking by fresh), then to more active days in the period, then by name A to Z."
)
BOARD_DIR = "board"
CSV_COLUMNS = [
    "period", "rank_total", "rank_fresh", "member", "total", "fresh", "in", "cw", "cr", "out", "rsn", "calls",
    "cost_usd", "days", "tier", "best_tier", "streak", "best_streak", "flags", "fingerprint",
]


def _tier(total: int) -> str | None:
    return tier_for(total, DEFAULT_MILESTONES)


_ORDINALS: dict[str, int] = {}  # date string -> proleptic ordinal (a club's members share their dates)


def streaks(dates: list[str], totals: list[int], as_of: date) -> tuple[int, int]:
    """``(current, best)`` runs of days at or above 10M.

    ``current`` ends on ``as_of`` if that day reached 10M, else on the day before (a day is not lost before it ends).
    """
    reached = list(compress(dates[: bisect_right(dates, as_of.isoformat())], map(ge, totals, repeat(STREAK_AT))))
    if not reached:
        return 0, 0
    for d in set(reached).difference(_ORDINALS):
        _ORDINALS[d] = date.fromisoformat(d).toordinal()
    ordinals = list(map(_ORDINALS.__getitem__, reached))
    # consecutive days share ordinal - position: each run is one group
    runs = [sum(1 for _ in group) for _, group in groupby(map(sub, ordinals, range(len(ordinals))))]
    current = runs[-1] if as_of.toordinal() - ordinals[-1] <= 1 else 0
    return current, max(runs)


def _row(member: Member, cols: list[list[Any]], lo: int, hi: int) -> dict[str, Any]:
    """A member's sums over the days ``lo:hi`` of its sorted columns."""
    inp, cw, cr, out, rsn, total, calls = (sum(c[lo:hi]) for c in cols[:7])
    totals = cols[TOTAL][lo:hi]
    costs = cols[COST][lo:hi]
    cost = None if not member.includes_cost or None in costs else round(sum(costs) / 1e6, 2)
    prompt = inp + cw + cr
    return {
        "member": member.name,
        "total": total,
        "fresh": total - cr,
        "in": inp,
        "cw": cw,
        "cr": cr,
        "out": out,
        "rsn": rsn,
        "calls": calls,
        "cost_usd": cost,
        "days": len(totals) - totals.count(0),
        "best_tier": _tier(max(totals, default=0)),
        "cache_hit_rate": round(cr / prompt, 4) if prompt else None,
    }


def compute(result: Result, as_of: date, now: datetime | None = None) -> dict[str, Any]:
    """The board document (what ``leaderboard.json`` holds)."""
    end = as_of.isoformat()
    spark_days = [(as_of - timedelta(days=i)).isoformat() for i in range(SPARK_DAYS - 1, -1, -1)]
    starts = {p: (as_of - timedelta(days=n - 1)).isoformat() if n else "" for p, n in PERIODS.items()}
    members = []
    periods: dict[str, list[dict[str, Any]]] = {p: [] for p in PERIODS}
    for member in sorted(result.members.values(), key=lambda m: (m.name.casefold(), m.name)):
        dates, cols = member.dates, member.cols
        totals = dict(zip(dates, cols[TOTAL], strict=True))
        current, best = streaks(dates, cols[TOTAL], as_of)
        flags = sorted(member.flags)
        tier = _tier(totals[end]) if end in totals else None
        members.append(
            {
                "member": member.name,
                "fingerprint": member.fingerprint,
                "streak": current,
                "best_streak": best,
                "tier": tier,
                "spark": [totals.get(d, 0) for d in spark_days],
                "first_day": dates[0] if dates else None,
                "last_day": dates[-1] if dates else None,
                "flags": flags,
            }
        )
        hi = bisect_right(dates, end)
        for period, start in starts.items():
            entry = _row(member, cols, bisect_left(dates, start), hi)
            entry.update(tier=tier, streak=current, best_streak=best, flags=flags)
            periods[period].append(entry)
    for rows in periods.values():
        _rank(rows)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    rejected_files = len({r["file"] for r in result.rejections if r["action"] == "file rejected"})
    return {
        "schema": BOARD_SCHEMA,
        "version": BOARD_VERSION,
        "tokenclub": __version__,
        "generated": stamp.isoformat().replace("+00:00", "Z"),
        "as_of": end,
        "spark_days": [spark_days[0], spark_days[-1]],
        "milestones": {tier_label(m): m for m in DEFAULT_MILESTONES},
        "ranking": {"measures": ["total", "fresh"], "tie_breaks": TIE_BREAKS},
        "periods": periods,
        "members": members,
        "files": {"merged": result.files_merged, "rejected": rejected_files},
        "rejections": result.rejections,
    }


def _rank(rows: list[dict[str, Any]]) -> None:
    """``rank_total`` and ``rank_fresh`` on every row; the list ends sorted by total."""
    for measure, other in (("fresh", "total"), ("total", "fresh")):
        rows.sort(key=lambda r: (-r[measure], -r[other], -r["days"], r["member"].casefold(), r["member"]))
        for i, r in enumerate(rows, 1):
            r[f"rank_{measure}"] = i


# -- writers -----------------------------------------------------------------------------------


def to_csv(board: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    fingerprints = {m["member"]: m["fingerprint"] for m in board["members"]}
    for period, rows in board["periods"].items():
        for r in rows:
            cells = {k: ("" if v is None else v) for k, v in r.items()}
            cells.update(period=period, flags=";".join(r["flags"]), fingerprint=fingerprints[r["member"]])
            cells["tier"] = r["tier"] or ""
            writer.writerow(cells)
    return buf.getvalue()


DAYS_TABLE = """
CREATE TABLE days (member TEXT, date TEXT, "in" INTEGER, cw INTEGER, cr INTEGER, out INTEGER,
    rsn INTEGER, total INTEGER, calls INTEGER, cost_musd INTEGER,
    fresh INTEGER GENERATED ALWAYS AS (total - cr) VIRTUAL,
    cost_usd REAL GENERATED ALWAYS AS (cost_musd / 1e6) VIRTUAL,
    tier TEXT GENERATED ALWAYS AS (CASE {arms} END) VIRTUAL,
    PRIMARY KEY (member, date)) WITHOUT ROWID;
"""
OTHER_TABLES = """
CREATE TABLE members (member TEXT PRIMARY KEY, fingerprint TEXT, streak INTEGER, best_streak INTEGER,
    tier TEXT, first_day TEXT, last_day TEXT, flags TEXT);
CREATE TABLE board (period TEXT, rank_total INTEGER, rank_fresh INTEGER, member TEXT, total INTEGER,
    fresh INTEGER, "in" INTEGER, cw INTEGER, cr INTEGER, out INTEGER, rsn INTEGER, calls INTEGER,
    cost_usd REAL, days INTEGER, tier TEXT, best_tier TEXT, streak INTEGER, best_streak INTEGER,
    flags TEXT);
CREATE TABLE rejections (file TEXT, member TEXT, rule TEXT, day TEXT, reason TEXT, action TEXT);
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT);
"""
PARALLEL_DAYS_FROM = 100  # members: below this the days table is written in a moment anyway


def days_sqlite(result: Result, path: Path) -> None:
    """The ``days`` table (every member's every day) into the SQLite file ``path``; fresh, cost_usd and tier
    are columns SQLite computes."""
    arms = " ".join(f"WHEN total >= {m} THEN '{tier_label(m)}'" for m in sorted(DEFAULT_MILESTONES, reverse=True))
    conn = sqlite3.connect(path)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + DAYS_TABLE.format(arms=arms))
        for m in sorted(result.members.values(), key=lambda m: m.name):  # key order: the B-tree grows at its end
            if m.dates:
                conn.executemany(
                    "INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", zip(repeat(m.name), m.dates, *m.cols)
                )
        conn.commit()
    finally:
        conn.close()


def to_sqlite(board: dict[str, Any], result: Result, path: Path, days: bool = True) -> None:
    """One SQLite file a datasette can serve as is: members, days, board, rejections, meta.

    ``days=False``: the days table is in ``path`` already (:func:`days_sqlite`, written meanwhile).
    """
    if days:
        days_sqlite(result, path)
    conn = sqlite3.connect(path)
    try:
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + OTHER_TABLES)
        conn.executemany(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (m["member"], m["fingerprint"], m["streak"], m["best_streak"], m["tier"], m["first_day"],
                 m["last_day"], ";".join(m["flags"]))
                for m in board["members"]
            ],
        )
        conn.executemany(
            "INSERT INTO board VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (p, r["rank_total"], r["rank_fresh"], r["member"], r["total"], r["fresh"], r["in"], r["cw"], r["cr"],
                 r["out"], r["rsn"], r["calls"], r["cost_usd"], r["days"], r["tier"], r["best_tier"], r["streak"],
                 r["best_streak"], ";".join(r["flags"]))
                for p, rows in board["periods"].items()
                for r in rows
            ),
        )
        conn.executemany(
            "INSERT INTO rejections VALUES (?, ?, ?, ?, ?, ?)",
            [(r["file"], r["member"], r["rule"], r["day"], r["reason"], r["action"]) for r in board["rejections"]],
        )
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("as_of", board["as_of"]), ("generated", board["generated"]), ("tie_breaks", TIE_BREAKS)],
        )
        conn.commit()
    finally:
        conn.close()


def write(
    board: dict[str, Any], result: Result, club_dir: Path, kiosk_seconds: int = 60, *, _new: Path | None = None,
    _days_pid: int | None = None,
) -> Path:
    """Write the board into ``club_dir/board`` (all files, or none of them); return that folder."""
    from app.club import html

    new = _new or _new_folder(club_dir)
    pending = _days_pid
    try:
        (new / "leaderboard.json").write_bytes(orjson.dumps(board) + b"\n")
        (new / "leaderboard.csv").write_text(to_csv(board), encoding="utf-8")
        (new / "index.html").write_text(html.page(board), encoding="utf-8")
        (new / "kiosk.html").write_text(html.page(board, kiosk_seconds=kiosk_seconds), encoding="utf-8")
        if pending is not None:
            _, status = os.waitpid(pending, 0)
            pending = None
            if os.waitstatus_to_exitcode(status) != 0:
                raise OSError("writing the days table of leaderboard.sqlite failed")
        to_sqlite(board, result, new / "leaderboard.sqlite", days=_days_pid is None)
        _fsync_dir(new)
        return _swap(new, club_dir / BOARD_DIR)
    except BaseException:
        if pending is not None:
            os.waitpid(pending, 0)
        shutil.rmtree(new, ignore_errors=True)
        raise


def build(
    result: Result, club_dir: Path, as_of: date, now: datetime | None = None, kiosk_seconds: int = 60
) -> tuple[dict[str, Any], Path]:
    """:func:`compute` and :func:`write`, with the days table written meanwhile by a forked process.

    The fork happens only on Linux, in a process with no other thread (the command line; the
    desktop app writes it in turn), for a club of PARALLEL_DAYS_FROM members or more.
    """
    new = _new_folder(club_dir)
    pid = None
    try:
        if (len(result.members) >= PARALLEL_DAYS_FROM and sys.platform.startswith("linux")
                and threading.active_count() == 1):
            pid = os.fork()
            if pid == 0:  # the child: the days table, then out without the parent's exit handlers
                code = 1
                try:
                    days_sqlite(result, new / "leaderboard.sqlite")
                    code = 0
                finally:
                    os._exit(code)
        doc = compute(result, as_of, now)
    except BaseException:
        if pid:
            os.waitpid(pid, 0)
        shutil.rmtree(new, ignore_errors=True)
        raise
    return doc, write(doc, result, club_dir, kiosk_seconds, _new=new, _days_pid=pid)


def _new_folder(club_dir: Path) -> Path:
    club_dir.mkdir(parents=True, exist_ok=True)
    boards = club_dir / ".boards"
    boards.mkdir(exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix="new-", dir=boards))
    new.chmod(0o755)  # a static site: readable by the web server, as the files in it
    return new


def _fsync_dir(folder: Path) -> None:
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _swap(new: Path, board: Path) -> Path:
    """Make ``board`` show ``new``: an atomic symlink swap where there are symlinks, else two renames."""
    final = new.with_name("board-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))
    new.rename(final)
    old_target: Path | None = None
    if board.is_symlink():
        old_target = board.parent / os.readlink(board)
    if os.name == "posix" and (board.is_symlink() or not board.exists()):
        link = board.with_name(f".board-link-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(Path(".boards") / final.name)
        os.replace(link, board)  # atomic: a reader opens the old board or the new one
    else:  # a real folder (or no symlinks): the old one moves aside, then the new one takes its name
        aside = board.with_name(f".board-old-{os.getpid()}")
        if board.exists():
            board.rename(aside)
        final.rename(board)
        shutil.rmtree(aside, ignore_errors=True)
        return board
    if old_target is not None and old_target.resolve() != final.resolve():
        shutil.rmtree(old_target, ignore_errors=True)
    return board
