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

import shutil
from pathlib import Path

from app.sources.base import Env
from app.sources.openclaw import OpenClaw, is_transcript, session_of
from tests.sources.common import EXTRA, parse_all, parse_half_line, parse_in_two_reads, per_day_model

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
    for order in (files(), files()[::-1]):
        table = per_day_model(parse_all(OpenClaw(), order))
        assert table == EXPECTED
        assert sum(sum(row[:4]) for row in table.values()) == 133565


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
