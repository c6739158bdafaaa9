"""pi: usage on assistant message lines; a branched session's copied history counts once.

Expected, by hand, from tests/fixtures/agent-logs-extra/pi-agent/sessions/--home-dev-piproj--/:
* 2026-11-20T10-00…_0a1b….jsonl (original, 7 lines + a truncated 8th):
  A1 11-20 sonnet (in 100, out 200, cr 0, cw 5000), A2 11-20 sonnet (8, 120, 5000, 300),
  A3 11-21 gpt-5.1 (700, 90, 2000, 0).
* 2026-11-21T09-59…_1b2c….jsonl (``branchedFrom`` the above): lines 2-5 copy A1 and A2
  verbatim (0), then B1 11-21 sonnet (4, 60, 5300, 100).
Totals: 10728 + 2790 + 5464 = 18982.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.pi_agent import PiAgent
from tests.sources.common import EXTRA, both_ways, parse_all, parse_half_line, parse_in_two_reads, per_day_model, total

SESSIONS = EXTRA / "pi-agent" / "sessions"
ORIGINAL = SESSIONS / "--home-dev-piproj--" / "2026-11-20T10-00-00-000Z_0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.jsonl"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5"): (108, 320, 5300, 5000, 0),
    ("2026-11-21", "claude-sonnet-4-5"): (4, 60, 100, 5300, 0),
    ("2026-11-21", "gpt-5.1"): (700, 90, 0, 2000, 0),
}
ORIGINAL_ONLY = {k: v for k, v in EXPECTED.items() if k != ("2026-11-21", "claude-sonnet-4-5")}


def files() -> list[Path]:
    return sorted(PiAgent().discover(SESSIONS))


def test_fixture_matches_hand_computed_totals_in_either_order() -> None:
    assert len(files()) == 2
    table = both_ways(PiAgent(), files())
    assert table == EXPECTED
    assert total(table) == 18982


def test_copied_history_stays_with_the_original_session() -> None:
    events = parse_all(PiAgent(), files()[::-1])
    kept = {e.session for e in events if e.prio == 1}
    assert kept == {"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
    assert {e.project for e in events} == {"/home/dev/piproj"}


def test_incremental_read_keeps_the_header(tmp_path: Path) -> None:
    events = parse_in_two_reads(PiAgent(), ORIGINAL, tmp_path / "x_s.jsonl", cut_line=3)
    assert per_day_model(events) == ORIGINAL_ONLY
    assert {e.session for e in events} == {"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(PiAgent(), ORIGINAL, tmp_path / "s.jsonl")
    assert offset == complete


def test_discovery_under_home(tmp_path: Path) -> None:
    shutil.copytree(SESSIONS, tmp_path / ".pi" / "agent" / "sessions")
    source = PiAgent()
    [root] = source.roots(Env.under(tmp_path))
    assert root == tmp_path / ".pi" / "agent" / "sessions"
    assert sorted(p.name for p in source.discover(root)) == [p.name for p in files()]


def test_pi_coding_agent_dir(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"PI_CODING_AGENT_DIR": str(tmp_path / "pi")})
    assert PiAgent().roots(env) == [tmp_path / "pi" / "sessions"]
