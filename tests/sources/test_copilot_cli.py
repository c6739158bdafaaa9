"""GitHub Copilot CLI: one event per model per ``session.shutdown`` (a process run's totals).

Expected, by hand, from tests/fixtures/agent-logs-extra/copilot-cli/session-state/:
* 7c1e…/events.jsonl: the 11-20 18:00Z shutdown: claude-sonnet-4.5 input 40000 with cr 30000
  and cw 9000 (in 1000), out 1500; gpt-5-mini input 5000, cr 4096 (in 904), out 300, rsn 120.
  After a resume, a half-written shutdown line (skipped), then the 11-21 10:00Z shutdown of that
  run: claude-sonnet-4.5 input 20000, cr 19000, cw 900 (in 100), out 800. The per-message
  ``outputTokens`` (1200, 700) are never added.
* 2b8d….jsonl (the older flat layout): 11-21 22:30Z gpt-4.1 input 3000, out 200, no cache field.
Total 41500 + 5300 + 20800 + 3200 = 70800.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.copilot_cli import CopilotCli
from tests.sources.common import EXTRA, both_ways, parse_half_line, parse_in_two_reads, per_day_model, total
from tests.sources.indexing import index_table, open_index

STATE = EXTRA / "copilot-cli" / "session-state"
SESSION = "7c1e9f3a-52b4-4d8e-a6f0-3b9d2e1c4a57"
EVENTS = STATE / SESSION / "events.jsonl"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4.5"): (1000, 1500, 9000, 30000, 0),
    ("2026-11-20", "gpt-5-mini"): (904, 300, 0, 4096, 120),
    ("2026-11-21", "claude-sonnet-4.5"): (100, 800, 900, 19000, 0),
    ("2026-11-21", "gpt-4.1"): (3000, 200, 0, 0, 0),
}
EVENTS_ONLY = {k: v for k, v in EXPECTED.items() if k[1] != "gpt-4.1"}


def files() -> list[Path]:
    return list(CopilotCli().discover(STATE))


def test_fixture_matches_hand_computed_totals_in_either_order() -> None:
    assert [p.name for p in files()] == ["2b8d4f6a-1c3e-4a5b-9d7f-0e2c4a6b8d13.jsonl", "events.jsonl"]
    table = both_ways(CopilotCli(), files())
    assert table == EXPECTED
    assert total(table) == 70800


def test_half_written_shutdown_is_skipped_and_counted() -> None:
    result = CopilotCli().parse(EVENTS, 0, {})
    assert result.skips == {"malformed JSON": 1}
    assert {e.session for e in result.events} == {SESSION}
    assert {e.project for e in result.events} == {"/home/dev/copiproj"}


def test_incremental_read_keeps_the_session(tmp_path: Path) -> None:
    target = tmp_path / "renamed" / "events.jsonl"
    target.parent.mkdir()
    events = parse_in_two_reads(CopilotCli(), EVENTS, target, cut_line=6)
    assert per_day_model(events) == EVENTS_ONLY
    assert {e.session for e in events} == {SESSION}


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(CopilotCli(), EVENTS, tmp_path / "s.jsonl")
    assert offset == complete


def test_discovery_under_home_and_rereads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(STATE, home / ".copilot" / "session-state")
    shutil.copytree(STATE / SESSION, home / ".copilot" / "history-session-state" / SESSION)  # the same run twice
    source = CopilotCli()
    roots = source.roots(Env.under(home))
    assert roots == [home / ".copilot" / "session-state", home / ".copilot" / "history-session-state"]
    assert sum(len(list(source.discover(r))) for r in roots) == 3
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "copilot-cli") == EXPECTED
        assert index_table(index, home, "copilot-cli") == EXPECTED
        live = home / ".copilot" / "session-state" / SESSION / "events.jsonl"
        with open(live, "ab") as f:  # the next run writes messages, not yet its shutdown
            f.write(
                b'{"type":"assistant.message","data":{"outputTokens":500},"timestamp":"2026-11-22T08:00:00.000Z"}\n'
            )
        assert index_table(index, home, "copilot-cli") == EXPECTED
        live.write_bytes(live.read_bytes())  # rewritten in place: read again from the start
        assert index_table(index, home, "copilot-cli") == EXPECTED
    finally:
        index.close()


def test_copilot_home(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"COPILOT_HOME": str(tmp_path / "cp")})
    assert CopilotCli().roots(env) == [tmp_path / "cp" / "session-state", tmp_path / "cp" / "history-session-state"]
