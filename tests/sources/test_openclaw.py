"""OpenClaw: pi-format transcripts per agent, their reset archives and checkpoint twins counted once.

Expected, by hand, from tests/fixtures/agent-logs-extra/openclaw/agents/main/sessions/:
* abc123.jsonl (live; header cwd /home/dev/bot; 8 lines + a truncated 9th):
  a1 2026-11-20T09:00Z, no model of its own, after ``model_change`` gpt-5.2: in 1660, out 55,
  cr 108928; a2 11-21 claude-sonnet-4-5 (its own ``model``): in 12, out 340, cr 20000, cw 1500;
  a3 11-21 after the ``model-snapshot`` gpt-5-mini: in 800, out 120, cr 40; a4 all zero: nothing.
* abc123.checkpoint.<uuid>.jsonl: a copy of a1, counted once (it ranks below the live file).
* old77.jsonl.reset.2026-11-20T07-00-00.000Z (session old77, cwd /home/dev/other): d1
  2026-11-19T23:59:59Z gpt-5.2: in 100, out 10.
* abc123.trajectory.jsonl and sessions.json are not transcripts; ``main/other/stray.jsonl`` is
  not under ``sessions/``: none is read.
Totals: 110 + 110643 + 21852 + 960 = 133565.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.openclaw import OpenClaw, is_transcript, session_of
from tests.sources.common import EXTRA, both_ways, parse_all, parse_half_line, parse_in_two_reads, per_day_model, total

AGENTS = EXTRA / "openclaw" / "agents"
LIVE = AGENTS / "main" / "sessions" / "abc123.jsonl"
EXPECTED = {
    ("2026-11-19", "gpt-5.2"): (100, 10, 0, 0, 0),
    ("2026-11-20", "gpt-5.2"): (1660, 55, 0, 108928, 0),
    ("2026-11-21", "claude-sonnet-4-5"): (12, 340, 1500, 20000, 0),
    ("2026-11-21", "gpt-5-mini"): (800, 120, 0, 40, 0),
}
LIVE_ONLY = {k: v for k, v in EXPECTED.items() if k[0] != "2026-11-19"}


def files() -> list[Path]:
    return sorted(OpenClaw().discover(AGENTS))


def test_fixture_matches_hand_computed_totals_in_either_order() -> None:
    assert [p.name for p in files()] == [
        "abc123.checkpoint.0f0e0d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f.jsonl",
        "abc123.jsonl",
        "old77.jsonl.reset.2026-11-20T07-00-00.000Z",
    ]
    table = both_ways(OpenClaw(), files())
    assert table == EXPECTED
    assert total(table) == 133565


def test_sessions_and_projects() -> None:
    events = parse_all(OpenClaw(), files())
    assert {(e.session, e.project) for e in events} == {("abc123", "/home/dev/bot"), ("old77", "/home/dev/other")}
    copies = [e for e in events if e.prio == 0 and e.session == "abc123"]
    assert len(copies) == 1  # the checkpoint twin's a1, below the live a1


def test_file_names() -> None:
    assert is_transcript("s.jsonl") and is_transcript("s-topic-7.jsonl")
    assert is_transcript("s.jsonl.deleted.2026-11-20T07-00-00Z")
    assert not is_transcript("s.trajectory.jsonl")
    assert not is_transcript("s.jsonl.bak.2026-11-20T07-00-00.000Z")
    assert not is_transcript("s.jsonl.reset.yesterday")
    assert session_of("s.checkpoint.0f0e0d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f.jsonl") == "s"
    assert session_of("s.jsonl.reset.2026-11-20T07-00-00.000Z") == "s"


def test_incremental_read_keeps_the_model_and_header(tmp_path: Path) -> None:
    live = tmp_path / "agents" / "main" / "sessions" / "abc123.jsonl"
    live.parent.mkdir(parents=True)
    events = parse_in_two_reads(OpenClaw(), LIVE, live, cut_line=5)  # cut after a2, before the snapshot
    assert per_day_model(events) == LIVE_ONLY
    assert {e.project for e in events} == {"/home/dev/bot"}


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(OpenClaw(), LIVE, tmp_path / "s.jsonl")
    assert offset == complete


def test_roots_honour_the_state_dir_and_home(tmp_path: Path) -> None:
    assert OpenClaw().roots(Env.under(tmp_path)) == [
        tmp_path / name / "agents" for name in (".openclaw", ".clawdbot", ".moldbot", ".moltbot")
    ]
    env = Env(tmp_path, {"OPENCLAW_STATE_DIR": str(tmp_path / "state"), "CLAWDBOT_STATE_DIR": "/elsewhere"})
    assert OpenClaw().roots(env) == [tmp_path / "state" / "agents"]
    assert OpenClaw().roots(Env(tmp_path, {"CLAWDBOT_STATE_DIR": str(tmp_path / "c")})) == [tmp_path / "c" / "agents"]
    moved = Env(tmp_path, {"OPENCLAW_HOME": str(tmp_path / "h")})
    assert OpenClaw().roots(moved)[0] == tmp_path / "h" / ".openclaw" / "agents"


def test_discovery_under_a_legacy_home(tmp_path: Path) -> None:
    shutil.copytree(EXTRA / "openclaw", tmp_path / ".clawdbot")
    found = [p for root in OpenClaw().roots(Env.under(tmp_path)) for p in OpenClaw().discover(root)]
    assert per_day_model(parse_all(OpenClaw(), found)) == EXPECTED


# The events the real OpenClaw 2026.9.6 stored in its agent database for three calls to a local
# model server (one fresh session, one session run twice); the server recorded, per call,
# in / cw / cr / out: 1017/307/5031/43, 1034/314/5062/46, 1051/321/5093/49 (docs/formats-new-agents.md §1.6).
DB_EVENTS = EXTRA / "openclaw-db" / "transcript_events.jsonl"
DB_EXPECTED = {("2026-12-07", "mock-model"): (3102, 138, 942, 15186, 0)}


def lay_out_database(path: Path, compress_seq: int | None = None, drop: str = "") -> None:
    """An agent database with the fixture's events (the real table's columns; one event zstd-compressed)."""
    import sqlite3

    import zstandard

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE transcript_events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT,"
        " created_at INTEGER NOT NULL, event_zstd BLOB, event_utf8_bytes INTEGER, navigation_json TEXT,"
        " PRIMARY KEY (session_id, seq))"
    )
    for line in DB_EVENTS.read_text().splitlines():
        row = json.loads(line)
        if row["session_id"] == drop:
            continue
        text = json.dumps(row["event"], separators=(",", ":"))
        packed = row["seq"] == compress_seq and row["session_id"] == "drive-s1"
        conn.execute(
            "INSERT INTO transcript_events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row["session_id"],
                row["seq"],
                None if packed else text,
                row["created_at"],
                zstandard.ZstdCompressor().compress(text.encode()) if packed else None,
                len(text.encode()) if packed else None,
                "{}" if packed else None,
            ),
        )
    conn.commit()
    conn.close()


def test_agent_database_matches_the_calls_the_server_recorded(tmp_path: Path) -> None:
    db = tmp_path / ".openclaw" / "agents" / "main" / "agent" / "openclaw-agent.sqlite"
    lay_out_database(db, compress_seq=8)  # the third call stored compressed
    source = OpenClaw()
    [root] = source.roots(Env(tmp_path, {"OPENCLAW_STATE_DIR": str(tmp_path / ".openclaw")}))
    assert list(source.discover(root)) == [db]
    assert source.is_whole(db) and source.companions(db) == (db.with_name("openclaw-agent.sqlite-wal"),)
    result = source.parse(db, 0, {})
    assert result.skips == {}
    calls = sorted((e.inp, e.cw, e.cr, e.out) for e in result.events)
    assert calls == [(1017, 307, 5031, 43), (1034, 314, 5062, 46), (1051, 321, 5093, 49)]
    assert {(e.session, e.project) for e in result.events} == {
        ("eb2f4223-4f71-4c19-b822-8539214910cd", "/tmp/ochome1/ws"),
        ("drive-s1", "/tmp/ochome1/ws"),
    }
    assert per_day_model(result.events) == DB_EXPECTED


def test_imported_jsonl_history_counts_once_with_the_database(tmp_path: Path) -> None:
    """An upgrade imports a session's JSONL into the database and keeps the file: one call, one count."""
    db = tmp_path / "agents" / "main" / "agent" / "openclaw-agent.sqlite"
    lay_out_database(db)
    kept = tmp_path / "agents" / "main" / "sessions" / "drive-s1.jsonl.deleted.2026-12-07T03-00-00.000Z"
    kept.parent.mkdir(parents=True)
    kept.write_text(
        "".join(
            json.dumps(json.loads(line)["event"]) + "\n"
            for line in DB_EVENTS.read_text().splitlines()
            if json.loads(line)["session_id"] == "drive-s1"
        )
    )
    found = sorted(OpenClaw().discover(tmp_path / "agents"))
    assert found == [db, kept]
    assert per_day_model(parse_all(OpenClaw(), found)) == DB_EXPECTED


def test_damaged_database_rows_are_skipped_and_said(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "openclaw-agent.sqlite"
    lay_out_database(db)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO transcript_events VALUES ('x', 1, NULL, 1, ?, 10, '{}')", (b"not zstd",))
    conn.execute("INSERT INTO transcript_events VALUES ('x', 2, '{\"usage\": ', 1, NULL, NULL, NULL)")
    conn.commit()
    conn.close()
    result = OpenClaw().parse(db, 0, {})
    assert result.skips == {"undecodable event (zstd)": 1, "malformed JSON": 1}
    assert per_day_model(result.events) == DB_EXPECTED
    empty = tmp_path / "e" / "openclaw-agent.sqlite"
    empty.parent.mkdir()
    sqlite3.connect(empty).close()
    assert OpenClaw().parse(empty, 0, {}).skips == {"no transcript_events table": 1}


def test_a_deleted_sessions_published_archive_is_read(tmp_path: Path) -> None:
    """Deleting a session drops its rows from the database and publishes ``<id>.jsonl.deleted.<time>.zst``."""
    import zstandard

    gone = "eb2f4223-4f71-4c19-b822-8539214910cd"
    db = tmp_path / "agents" / "main" / "agent" / "openclaw-agent.sqlite"
    lay_out_database(db, drop=gone)
    lines = [json.loads(line) for line in DB_EVENTS.read_text().splitlines()]
    text = "".join(json.dumps(r["event"]) + "\n" for r in lines if r["session_id"] == gone)
    archive = tmp_path / "agents" / "main" / "sessions" / f"{gone}.jsonl.deleted.2026-12-07T04-00-00.000Z.zst"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    found = sorted(OpenClaw().discover(tmp_path / "agents"))
    assert found == [db, archive] and OpenClaw().is_whole(archive)
    result = OpenClaw().parse(archive, 0, {})
    assert result.offset == archive.stat().st_size
    assert [(e.session, e.project, e.inp) for e in result.events] == [(gone, "/tmp/ochome1/ws", 1017)]
    assert per_day_model(parse_all(OpenClaw(), found)) == DB_EXPECTED


def test_through_the_index_the_database_grows_and_counts_once(tmp_path: Path) -> None:
    import sqlite3

    from tests.sources.indexing import index_table, open_index

    home = tmp_path / "home"
    db = home / ".openclaw" / "agents" / "main" / "agent" / "openclaw-agent.sqlite"
    lay_out_database(db, drop="drive-s1")
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "openclaw") == {("2026-12-07", "mock-model"): (1017, 43, 307, 5031, 0)}
        lay_out_database(tmp_path / "full.sqlite", compress_seq=8)  # the same store after two more calls
        with sqlite3.connect(tmp_path / "full.sqlite") as src, sqlite3.connect(db) as dst:
            dst.executemany(
                "INSERT OR IGNORE INTO transcript_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                src.execute("SELECT * FROM transcript_events WHERE session_id = 'drive-s1'").fetchall(),
            )
        src.close()
        dst.close()
        assert index_table(index, home, "openclaw") == DB_EXPECTED
        assert index_table(index, home, "openclaw") == DB_EXPECTED
    finally:
        index.close()
