"""Factory Droid: one event per ``*.settings.json`` session total, dated at its last write.

Expected, by hand, from tests/fixtures/agent-logs-extra/factory-droid/sessions/ with the mtimes
set below (a checkout's mtimes are arbitrary):
* -home-dev-droidproj/3f9a….settings.json, written 11-20 17:00Z: claude-sonnet-4-5-20250929,
  in 120, out 3000 + thinking 500, cw 8000, cr 60000 (71620).
* 7b2e….settings.json (at the root), its mtime rewound to 11-01 by a copy, provider locked
  11-21 08:00Z (the floor, its day): gpt-5.1-codex, in 4000, out 900 + 300, cr 20000 (25200).
* 0c1d….settings.json, written 11-21 12:00Z: only ``totalTokens`` 1500 (output), no model.
* 5a6b… is half written (skipped, counted); 9e8d… has no ``tokenUsage`` yet (no event).
Total 71620 + 25200 + 1500 = 98320.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from app.core.env import Env
from app.sources.factory_droid import FactoryDroid
from tests.sources.common import EXTRA, parse_all, per_day_model
from tests.sources.indexing import index_table, open_index

SESSIONS = EXTRA / "factory-droid" / "sessions"
PROJECT = "-home-dev-droidproj"
FIRST = f"{PROJECT}/3f9a2b1c-6d4e-4f8a-9b0c-1e2d3f4a5b6c.settings.json"
WRITTEN = {
    FIRST: "2026-11-20T17:00:00",
    "7b2e4c6a-8d0f-4a1b-9c3e-5f7a9b1c3d5e.settings.json": "2026-11-01T00:00:00",
    f"{PROJECT}/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f.settings.json": "2026-11-21T12:00:00",
}
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5-20250929"): (120, 3500, 8000, 60000, 500),
    ("2026-11-21", "gpt-5.1-codex"): (4000, 1200, 0, 20000, 300),
    ("2026-11-21", "unknown"): (0, 1500, 0, 0, 0),
}


def touch(path: Path, moment: str) -> None:
    seconds = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()
    os.utime(path, (seconds, seconds))


def lay_out(home: Path) -> Path:
    sessions = home / ".factory" / "sessions"
    shutil.copytree(SESSIONS, sessions)
    for name, moment in WRITTEN.items():
        touch(sessions / name, moment)
    return sessions


def test_fixture_matches_hand_computed_totals(tmp_path: Path) -> None:
    sessions = lay_out(tmp_path)
    files = sorted(FactoryDroid().discover(sessions))
    assert len(files) == 5
    table = per_day_model(parse_all(FactoryDroid(), files))
    assert table == EXPECTED
    assert sum(sum(row[:4]) for row in table.values()) == 98320


def test_half_written_settings_are_skipped_and_counted(tmp_path: Path) -> None:
    sessions = lay_out(tmp_path)
    half = sessions / PROJECT / "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d.settings.json"
    result = FactoryDroid().parse(half, 0, {})
    assert (result.events, result.skips) == ([], {"malformed JSON": 1})
    [event] = FactoryDroid().parse(sessions / FIRST, 0, {}).events
    assert (event.key, event.session, event.project) == (
        "droid:3f9a2b1c-6d4e-4f8a-9b0c-1e2d3f4a5b6c",
        "3f9a2b1c-6d4e-4f8a-9b0c-1e2d3f4a5b6c",
        PROJECT,
    )


def test_discovery_under_home_and_growth_replaces(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sessions = lay_out(home)
    assert FactoryDroid().roots(Env.under(home)) == [sessions]
    index = open_index(tmp_path)
    try:
        assert index_table(index, home, "factory-droid") == EXPECTED
        assert index_table(index, home, "factory-droid") == EXPECTED
        path = sessions / FIRST  # the session goes on the next day; Droid rewrites its totals
        doc = json.loads(path.read_text())
        doc["tokenUsage"] |= {"inputTokens": 150, "outputTokens": 3600, "cacheReadTokens": 90000}
        path.write_text(json.dumps(doc, indent=2))
        touch(path, "2026-11-21T09:00:00")
        grown = {k: v for k, v in EXPECTED.items() if k[0] != "2026-11-20"}
        grown[("2026-11-21", "claude-sonnet-4-5-20250929")] = (150, 4100, 8000, 90000, 500)
        assert index_table(index, home, "factory-droid") == grown
        assert index_table(index, home, "factory-droid") == grown
    finally:
        index.close()
