"""Gemini CLI: last line per message id wins, .jsonl beats legacy .json, sub-agents count."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.gemini_cli import GeminiCli
from tests.sources.common import FIXTURES, parse_all, parse_half_line, parse_in_two_reads, per_day_model

TMP = FIXTURES / "gemini" / "tmp"
MAIN = TMP / "myproj" / "chats" / "session-2026-11-20T23-40-3f9a1c2e.jsonl"
EXPECTED = {
    ("2026-11-15", "gemini-2.5-pro"): (5000, 500, 0, 2000, 0),
    ("2026-11-20", "gemini-2.5-flash"): (7000, 1310, 0, 30000, 390),
    ("2026-11-20", "gemini-2.5-pro"): (7000, 2750, 0, 20000, 1600),
    ("2026-11-21", "gemini-2.5-flash"): (9250, 400, 0, 0, 0),
    ("2026-11-22", "gemini-2.5-pro"): (600, 300, 0, 7000, 0),
}
MAIN_ONLY = {
    ("2026-11-20", "gemini-2.5-flash"): (2000, 410, 0, 30000, 90),
    ("2026-11-20", "gemini-2.5-pro"): (7000, 2750, 0, 20000, 1600),
    ("2026-11-21", "gemini-2.5-flash"): (9250, 400, 0, 0, 0),
}


def files() -> list[Path]:
    return sorted(GeminiCli().discover(TMP))


def test_fixtures_match_expected() -> None:
    assert per_day_model(parse_all(GeminiCli(), files())) == EXPECTED


def test_jsonl_wins_over_legacy_json_in_either_order() -> None:
    assert per_day_model(parse_all(GeminiCli(), reversed(files()))) == EXPECTED


def test_keys_and_project() -> None:
    events = GeminiCli().parse(MAIN, 0, {}).events
    assert {e.key for e in events} >= {"gm:3f9a1c2e-7b6d-4e5f-a1b2-c3d4e5f60718:6a000000-0000-4000-8000-000000000007"}
    assert {e.project for e in events} == {"/home/dev/myproj"}
    assert all(e.prio >= 1 << 50 for e in events)


def test_incremental_read_keeps_the_session_id(tmp_path: Path) -> None:
    events = parse_in_two_reads(GeminiCli(), MAIN, tmp_path / "s.jsonl", cut_line=7)
    assert per_day_model(events) == MAIN_ONLY
    assert len({e.session for e in events}) == 1


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(GeminiCli(), MAIN, tmp_path / "s.jsonl")
    assert offset == complete


def test_discovery_under_home(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "gemini", tmp_path / ".gemini")
    (tmp_path / ".gemini" / "tmp" / "myproj" / "logs.json").write_text("[]")
    source = GeminiCli()
    [root] = source.roots(Env.under(tmp_path))
    assert root == tmp_path / ".gemini" / "tmp"
    found = sorted(p.name for p in source.discover(root))
    assert found == [
        "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d.jsonl",
        "session-2026-11-15T08-30-5a6b7c8d.json",
        "session-2026-11-15T08-30-5a6b7c8d.jsonl",
        "session-2026-11-20T23-40-3f9a1c2e.jsonl",
    ]
    assert [source.is_whole(p) for p in sorted(source.discover(root))].count(True) == 1


def test_gemini_cli_home_replaces_the_home(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"GEMINI_CLI_HOME": str(tmp_path / "elsewhere")})
    assert GeminiCli().roots(env) == [tmp_path / "elsewhere" / ".gemini" / "tmp"]
