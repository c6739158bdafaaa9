"""Grok Build: turn_completed usage per model; sub-agent sessions and fork copies counted once.

Expected, by hand, from tests/fixtures/agent-logs-extra/grok-build/sessions/ (``inputTokens`` holds
the cache, so in = input - cachedRead - cacheCreation; reasoning is inside output):
* %2Fhome%2Fdev%2Fgrokproj/…0a (cwd /home/dev/grokproj), 6 lines + a truncated 7th:
  turn 5d1c… 2026-11-22T10:00Z: grok-4.5 in 10000-8000-500 = 1500, out 800 (rsn 300), cw 500,
  cr 8000; grok-code-fast-1 in 2000-1000 = 1000, out 100, cr 1000. A cancelled turn without
  usage: nothing. Turn 8c3f… 11-22T23:30Z grok-4.5: in 100, out 50, cr 2900. Turn 9d40…
  11-23T00:15Z: its grok-4.5 row reads 200 cached of 100 input (skipped as damaged), its
  grok-code-fast-1 row in 40, out 4.
* …0b is a sub-agent (``session_kind: subagent``): its turn is inside …0a's turn 5d1c, not counted.
* …0c is a fork of …0a: its copy of turn 5d1c counts once; its own turn 1f73… 11-23 grok-4.5:
  in 100, out 70, cr 600.
* %2Fsrv%2Fapp/…0d has no summary.json and no modelUsage: model unknown, in 50, out 5.
Totals: 13850 + 2100 + 44 + 770 + 55 = 16819.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.grok_build import GrokBuild
from tests.sources.common import EXTRA, both_ways, parse_all, parse_half_line, parse_in_two_reads, per_day_model, total

SESSIONS = EXTRA / "grok-build" / "sessions"
MAIN = SESSIONS / "%2Fhome%2Fdev%2Fgrokproj" / "019e1a00-0000-7000-8000-00000000000a" / "updates.jsonl"
EXPECTED = {
    ("2026-11-22", "grok-4.5"): (1600, 850, 500, 10900, 300),
    ("2026-11-22", "grok-code-fast-1"): (1000, 100, 0, 1000, 0),
    ("2026-11-23", "grok-code-fast-1"): (40, 4, 0, 0, 0),
    ("2026-11-23", "grok-4.5"): (100, 70, 0, 600, 0),
    ("2026-11-23", "unknown"): (50, 5, 0, 0, 0),
}
MAIN_ONLY = {
    ("2026-11-22", "grok-4.5"): (1600, 850, 500, 10900, 300),
    ("2026-11-22", "grok-code-fast-1"): (1000, 100, 0, 1000, 0),
    ("2026-11-23", "grok-code-fast-1"): (40, 4, 0, 0, 0),
}


def files() -> list[Path]:
    return sorted(GrokBuild().discover(SESSIONS))


def test_fixture_matches_hand_computed_totals_in_either_order() -> None:
    assert len(files()) == 4  # the sub-agent's meta.json pointer is not a log
    table = both_ways(GrokBuild(), files())
    assert table == EXPECTED
    assert total(table) == 16819


def test_damaged_row_is_skipped_and_said() -> None:
    result = GrokBuild().parse(MAIN, 0, {})
    assert result.skips == {"cached count above input": 1}
    assert {e.project for e in result.events} == {"/home/dev/grokproj"}
    assert {e.session for e in result.events} == {"019e1a00-0000-7000-8000-00000000000a"}


def test_fork_copy_ranks_below_and_project_falls_back_to_the_folder() -> None:
    events = parse_all(GrokBuild(), files())
    copies = sorted(e.key for e in events if e.prio == 0)  # the fork's lines, its copy included
    assert copies == [
        "grok:1f73e195-7b9e-4ca5-8db6-4e5f60718293:grok-4.5",
        "grok:5d1c0a6e-0b1f-4c55-9a10-2b0d3e4f5a61:grok-4.5",
        "grok:5d1c0a6e-0b1f-4c55-9a10-2b0d3e4f5a61:grok-code-fast-1",
    ]
    assert {e.project for e in events if e.model == "unknown"} == {"/srv/app"}


def test_incremental_read(tmp_path: Path) -> None:
    target = tmp_path / "p" / "s" / "updates.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copy(MAIN.parent / "summary.json", target.parent / "summary.json")
    events = parse_in_two_reads(GrokBuild(), MAIN, target, cut_line=4)
    assert per_day_model(events) == MAIN_ONLY


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(GrokBuild(), MAIN, tmp_path / "updates.jsonl")
    assert offset == complete


def test_roots(tmp_path: Path) -> None:
    assert GrokBuild().roots(Env.under(tmp_path)) == [tmp_path / ".grok" / "sessions"]
    assert GrokBuild().roots(Env(tmp_path, {"GROK_HOME": str(tmp_path / "g")})) == [tmp_path / "g" / "sessions"]


def test_oversized_summary_is_not_trusted(tmp_path: Path) -> None:
    session = tmp_path / "sessions" / "%2Fx" / "s"
    shutil.copytree(MAIN.parent, session)
    (session / "summary.json").write_bytes(b'{"session_kind":"subagent","pad":"' + b"x" * (1 << 20) + b'"}')
    events = GrokBuild().parse(session / "updates.jsonl", 0, {}).events
    assert per_day_model(events) == MAIN_ONLY  # counted as a main session, project from the folder
    assert {e.project for e in events} == {"/x"}


def test_through_the_index(tmp_path: Path) -> None:
    from tests.sources.indexing import index_table, open_index

    home = tmp_path / "home"
    shutil.copytree(SESSIONS, home / ".grok" / "sessions")
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "grok-build") == EXPECTED
        assert index_table(index, home, "grok-build") == EXPECTED
    finally:
        index.close()
