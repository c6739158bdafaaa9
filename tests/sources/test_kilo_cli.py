"""Kilo CLI: OpenCode's rules under ``~/.local/share/kilo``.

Expected, by hand, from tests/fixtures/agent-logs-extra/kilo-cli (kilo.db.sql + storage/):
* msg_k1Sonnet, DB row (2026-11-20 14:00Z): in 20, out 300, cw 2000, cr 1000; its stale
  JSON copy (out 10) loses to the row.
* msg_k3Legacy, JSON only (2026-11-20 14:01:40Z): in 5, out 50, cr 3000.
* msg_k2Gpt, DB row (2026-11-21 14:00Z): in 500, out 100, cr 4000, rsn 40.
Total 20+300+2000+1000 + 5+50+3000 + 500+100+4000 = 10975.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.kilo_cli import KiloCli
from tests.sources.common import EXTRA, both_ways, total

DATA = EXTRA / "kilo-cli"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5"): (25, 350, 2000, 4000, 0),
    ("2026-11-21", "gpt-5.1"): (500, 100, 0, 4000, 40),
}


def test_fixture_matches_hand_computed_totals_in_either_order() -> None:
    files = list(KiloCli().discover(DATA))
    assert [p.name for p in files[:1]] == ["kilo.db"] and len(files) == 3
    table = both_ways(KiloCli(), files)
    assert table == EXPECTED
    assert total(table) == 10975


def test_keys_are_kilos_own() -> None:
    events = KiloCli().parse(DATA / "kilo.db", 0, {}).events
    assert {e.key for e in events} == {"kilo:msg_k1Sonnet", "kilo:msg_k2Gpt"}
    assert {e.agent for e in events} == {"kilo-cli"}


def test_discovery_under_home(tmp_path: Path) -> None:
    data = tmp_path / ".local" / "share" / "kilo"
    shutil.copytree(DATA, data)
    shutil.copy(DATA / "kilo.db", data / "opencode.db")  # another agent's file is not Kilo's
    source = KiloCli()
    [root] = source.roots(Env.under(tmp_path))
    assert root == data
    assert sorted(p.name for p in source.discover(root)) == ["kilo.db", "msg_k1Sonnet.json", "msg_k3Legacy.json"]


def test_xdg_data_home_and_no_opencode_db_override(tmp_path: Path) -> None:
    env = Env(tmp_path, {"XDG_DATA_HOME": str(tmp_path / "xdg"), "OPENCODE_DB": "/elsewhere.db"})
    assert KiloCli().roots(env) == [tmp_path / "xdg" / "kilo"]
