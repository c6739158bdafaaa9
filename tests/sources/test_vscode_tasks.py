"""Roo Code, Kilo Code and Cline: ``api_req_started`` messages in each task's ``ui_messages.json``.

Expected, by hand, from tests/fixtures/agent-logs-extra/{roo-code,kilo-code,cline}/Code/…/tasks/:
* Roo Code, task 0b5c…: 11-20 10:00Z sonnet tokensIn 2508 with cw 2000 + cr 500 (whole prompt:
  in 8), out 300; 10:01Z an older record, tokensIn 12 below cw 100 + cr 2500 (fresh already:
  in 12), out 120; 11-21 09:00Z gpt-5.1 (openai) tokensIn 5000, cr 4000 (in 1000), out 200;
  a placeholder without tokens (not a call) and a half-written text (skipped).
  The model comes from the next user turn's ``<model>`` tag, the project from
  ``history_item.json``. Total 5540 + 5200 = 10740.
* Kilo Code, task 5e9d…: 11-21 23:30Z tokensIn 1500, cr 1200 (in 300), out 80. Total 1580.
* Cline, task 1795175990000: tokensIn is fresh; the model is the last ``model_usage`` switch
  at or before the call. 11-20 (40, 500, cw 3000) and a cancelled call, still billed
  (6, 150, cw 200, cr 3000); 11-21 gpt-5.1 (700, 90, cr 1300); a ``text`` that is a number
  (skipped). Total 6896 + 2090 = 8986.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from app.core.env import Env
from app.sources.vscode_tasks import Cline, KiloCode, RooCode, VscodeTasks
from tests.sources.common import EXTRA, Table, parse_all, per_day_model
from tests.sources.indexing import index_table, open_index

CASES: list[tuple[VscodeTasks, str, Table, int]] = [
    (
        RooCode(),
        "roo-code",
        {
            ("2026-11-20", "claude-sonnet-4-5"): (20, 420, 2100, 3000, 0),
            ("2026-11-21", "gpt-5.1"): (1000, 200, 0, 4000, 0),
        },
        10740,
    ),
    (KiloCode(), "kilo-code", {("2026-11-21", "anthropic/claude-haiku-4.5"): (300, 80, 0, 1200, 0)}, 1580),
    (
        Cline(),
        "cline",
        {
            ("2026-11-20", "claude-sonnet-4-5-20250929"): (46, 650, 3200, 3000, 0),
            ("2026-11-21", "gpt-5.1"): (700, 90, 0, 1300, 0),
        },
        8986,
    ),
]
IDS = [case[1] for case in CASES]
SKIPS = {"roo-code": 1, "kilo-code": 0, "cline": 1}


def tasks_dir(source: VscodeTasks) -> Path:
    return EXTRA / source.agent / "Code" / "User" / "globalStorage" / source.extension / "tasks"


@pytest.mark.parametrize(("source", "agent", "expected", "total"), CASES, ids=IDS)
def test_fixture_matches_hand_computed_totals(source: VscodeTasks, agent: str, expected: Table, total: int) -> None:
    files = list(source.discover(tasks_dir(source)))
    assert len(files) == 1
    table = per_day_model(parse_all(source, files))
    assert table == expected
    assert sum(sum(row[:4]) for row in table.values()) == total


@pytest.mark.parametrize(("source", "agent", "expected", "total"), CASES, ids=IDS)
def test_malformed_usage_is_skipped_and_counted(source: VscodeTasks, agent: str, expected: Table, total: int) -> None:
    [path] = source.discover(tasks_dir(source))
    result = source.parse(path, 0, {})
    assert sum(result.skips.values()) == SKIPS[agent]
    assert {e.agent for e in result.events} == {agent}
    assert all(e.key.startswith(f"{agent}:{path.parent.name}:") for e in result.events)
    assert {e.project for e in result.events} == {"/home/dev/rooproj" if agent == "roo-code" else ""}


@pytest.mark.parametrize(("source", "agent", "expected", "total"), CASES, ids=IDS)
def test_discovery_under_home_and_rereads(
    tmp_path: Path, source: VscodeTasks, agent: str, expected: Table, total: int
) -> None:
    home = tmp_path / "home"
    shutil.copytree(EXTRA / agent / "Code", home / ".config" / "Code")
    roots = source.roots(Env.under(home))
    found = [p for root in roots for p in source.discover(root)]
    assert [p.parent.parent for p in found] == [
        home / ".config" / "Code" / "User" / "globalStorage" / source.extension / "tasks"
    ]
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, agent) == expected
        assert index_table(index, home, agent) == expected  # unchanged: nothing read twice
        # the extension rewrites the whole file: a new placeholder call is said
        [path] = found
        messages = orjson.loads(path.read_bytes())
        messages.append({"ts": 1795400000000, "type": "say", "say": "api_req_started", "text": "{}"})
        path.write_bytes(orjson.dumps(messages))
        assert index_table(index, home, agent) == expected
    finally:
        index.close()


def test_filled_in_call_replaces_its_earlier_copy(tmp_path: Path) -> None:
    """A call re-read after its text grew (a later save of the same message) counts once, at its final size."""
    task = tmp_path / "tasks" / "t1"
    task.mkdir(parents=True)
    path = task / "ui_messages.json"
    first = {"ts": 1795168800000, "type": "say", "say": "api_req_started", "text": '{"tokensIn":10,"tokensOut":5}'}
    final = {**first, "text": '{"tokensIn":10,"tokensOut":50,"cacheWrites":0,"cacheReads":0}'}
    path.write_bytes(orjson.dumps([first]))
    early = Cline().parse(path, 0, {}).events
    path.write_bytes(orjson.dumps([final]))
    late = Cline().parse(path, 0, {}).events
    assert per_day_model(early + late) == {("2026-11-20", "unknown"): (10, 50, 0, 0, 0)}


def test_editor_forks_and_platforms(tmp_path: Path) -> None:
    env = Env(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "APPDATA": str(tmp_path / "AppData")})
    roots = RooCode().roots(env)
    tail = Path("User") / "globalStorage" / "rooveterinaryinc.roo-cline" / "tasks"
    for base in (tmp_path / "xdg", tmp_path / "Library" / "Application Support", tmp_path / "AppData"):
        for editor in ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf"):
            assert base / editor / tail in roots
    assert tmp_path / ".vscode-server" / "data" / tail in roots


def test_cline_data_dir(tmp_path: Path) -> None:
    assert Cline().roots(Env.under(tmp_path))[-1] == tmp_path / ".cline" / "data" / "tasks"
    assert Cline().roots(Env(tmp_path, {"CLINE_DIR": str(tmp_path / "c")}))[-1] == tmp_path / "c" / "data" / "tasks"
    env = Env(tmp_path, {"CLINE_DIR": str(tmp_path / "c"), "CLINE_DATA_DIR": str(tmp_path / "d")})
    assert Cline().roots(env)[-1] == tmp_path / "d" / "tasks"
