"""Codex: calls with only ``last_token_usage``, and copied rollouts without ``session_meta``, each counted once;
an archived copy of an active rollout is not read."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.codex import Codex
from tests.sources.common import EXTRA, FIXTURES, both_ways, parse_all, per_day_model
from tests.sources.indexing import index_table, open_index

LAST_ONLY_HOME = EXTRA / "codex-last-only" / "home"
LAST_ONLY = {("2026-11-23", "gpt-5-codex"): (400, 110, 0, 120, 21)}  # 2 calls; the re-emit is not one
BRANCH_HOME = EXTRA / "codex-branch-copy" / "home"
BRANCH = {("2026-11-24", "gpt-5.2"): (1400, 510, 0, 1100, 40)}  # the copied first call once


def rollouts(home: Path) -> list[Path]:
    source = Codex()
    return sorted(p for root in source.roots(Env.under(home)) for p in source.discover(root))


def test_last_token_usage_without_totals_counts_once_across_active_and_archived(tmp_path: Path) -> None:
    assert [p.parent.name for p in rollouts(LAST_ONLY_HOME)] == ["23"]  # the archived copy is not read
    files = sorted((LAST_ONLY_HOME / ".codex").glob("*/**/rollout-*.jsonl"))
    assert [p.parent.name for p in files] == ["archived_sessions", "23"]
    assert both_ways(Codex(), files) == LAST_ONLY  # and were both read, the call would still count once
    assert len(Codex().parse(files[0], 0, {}).events) == 2
    assert index_table(open_index(tmp_path), LAST_ONLY_HOME, "codex") == LAST_ONLY


def test_a_branch_copy_without_session_meta_counts_the_parents_call_once(tmp_path: Path) -> None:
    files = rollouts(BRANCH_HOME)
    assert len(files) == 2
    assert both_ways(Codex(), files) == BRANCH
    assert index_table(open_index(tmp_path), BRANCH_HOME, "codex") == BRANCH


def test_a_rollout_with_session_meta_keeps_its_thread_key() -> None:
    """Keys already in users' indexes stay the same: a re-read of a thread adds nothing."""
    name = "rollout-2026-11-18T14-00-00-0199f0e1-d2c3-7b4a-9c8d-7e6f5a4b3c53.jsonl"
    path = FIXTURES / "codex" / "archived_sessions" / name
    [event] = Codex().parse(path, 0, {}).events
    assert event.key.startswith("cx:0199f0e1-d2c3-7b4a-9c8d-7e6f5a4b3c53:")


# Codex 0.171.0's own rollout of two headless turns (a fresh one and `codex exec resume --last`)
# against the local model server (tests/realagents): 1017 + 1034 fresh input, 5031 + 5062 cached,
# 43 + 46 output with 11 + 12 reasoning inside.
REAL_HOME = Path(__file__).parents[1] / "fixtures" / "realagents" / "codex-0.171.0" / "home"
REAL = {("2026-12-07", "gpt-5.5"): (1017 + 1034, 43 + 46, 0, 5031 + 5062, 11 + 12)}


def test_a_real_rollout(tmp_path: Path) -> None:
    assert index_table(open_index(tmp_path), REAL_HOME, "codex") == REAL


def test_an_archived_copy_that_differs_from_the_active_rollout_is_not_counted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(REAL_HOME, home)
    [active] = (home / ".codex" / "sessions").glob("*/*/*/rollout-*.jsonl")
    archived = home / ".codex" / "archived_sessions" / active.name
    archived.parent.mkdir()
    # a stale copy of the same thread whose numbers differ from the active file's, so no key collapses them
    stale = active.read_text().replace('"input_tokens":6048', '"input_tokens":7048')
    stale = stale.replace('"total_tokens":6091', '"total_tokens":7091')
    assert stale != active.read_text()
    archived.write_text(stale)
    assert [p.name for p in rollouts(home)] == [active.name]
    assert per_day_model(parse_all(Codex(), [archived])) != REAL  # read alone, it would count differently
    assert index_table(open_index(tmp_path), home, "codex") == REAL
