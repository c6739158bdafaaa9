"""Kimi CLI: StatusUpdate token_usage per message_id, epoch-second timestamps, model from config.

Expected, by hand, from tests/fixtures/agent-logs-extra/kimi-cli/ (model
``kimi-k2-0905-preview`` from config.json):
* chatcmpl-kimi-0001, 1795183205.5 s = 2026-11-20T14:00:05.5Z: in 1200, out 300, cr 4000,
  cw 500; the StatusUpdate repeated for the same message_id counts once, and the
  StatusUpdate without token_usage counts nothing.
* chatcmpl-kimi-0002, 1795269600 s = 2026-11-21T14:00Z: in 50, out 20, cr 6000.
* a truncated last line, ignored. Totals: 6000 + 6070 = 12070.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from app.core.env import Env
from app.sources.kimi_cli import KimiCli
from tests.sources.common import EXTRA, parse_all, parse_half_line, parse_in_two_reads, per_day_model

ROOT = EXTRA / "kimi-cli"
EXPECTED = {
    ("2026-11-20", "kimi-k2-0905-preview"): (1200, 300, 500, 4000, 0),
    ("2026-11-21", "kimi-k2-0905-preview"): (50, 20, 0, 6000, 0),
}


def files() -> list[Path]:
    return list(KimiCli().discover(ROOT / "sessions"))


def test_fixture_matches_hand_computed_totals() -> None:
    assert len(files()) == 1
    table = per_day_model(parse_all(KimiCli(), files()))
    assert table == EXPECTED
    assert sum(sum(row[:4]) for row in table.values()) == 12070


def test_model_defaults_without_config(tmp_path: Path) -> None:
    home = tmp_path / ".kimi"
    shutil.copytree(ROOT / "sessions", home / "sessions")
    [wire] = KimiCli().discover(home / "sessions")
    assert {e.model for e in KimiCli().parse(wire, 0, {}).events} == {"kimi-for-coding"}


def test_incremental_read(tmp_path: Path) -> None:
    wire = tmp_path / ".kimi" / "sessions" / "g" / "s" / "wire.jsonl"
    wire.parent.mkdir(parents=True)
    shutil.copy(ROOT / "config.json", tmp_path / ".kimi" / "config.json")
    events = parse_in_two_reads(KimiCli(), files()[0], wire, cut_line=4)
    assert per_day_model(events) == EXPECTED


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(KimiCli(), files()[0], tmp_path / "wire.jsonl")
    assert offset == complete


def test_discovery_under_home(tmp_path: Path) -> None:
    shutil.copytree(ROOT, tmp_path / ".kimi")
    (tmp_path / ".kimi" / "sessions" / "wire.jsonl").write_text("")  # not <group>/<session>/
    source = KimiCli()
    [root] = source.roots(Env.under(tmp_path))
    assert root == tmp_path / ".kimi" / "sessions"
    assert [p.relative_to(root).parts[-1] for p in source.discover(root)] == ["wire.jsonl"]
    assert len(list(source.discover(root))) == 1


def test_kimi_share_dir(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"KIMI_SHARE_DIR": str(tmp_path / "share")})
    assert KimiCli().roots(env) == [tmp_path / "share" / "sessions"]
