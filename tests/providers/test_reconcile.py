"""Reconciliation over the agent-log fixtures: a provider report that disagrees on one day and model."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from app.core.env import Env
from app.core.index import Index
from app.providers import keys, reconcile, sync
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.httpserver import FakeApi, Reply
from tests.providers.conftest import FAKE_KEYS, MemoryKeyring, fixture_json
from tests.providers.test_sync import point_at


def _synced_index(api: FakeApi, tmp_path: Path) -> Path:
    keys.add("anthropic", FAKE_KEYS["anthropic"], "org")
    point_at(api, anthropic="")
    api.route("/v1/organizations/usage_report/messages", Reply(fixture_json("anthropic_usage_report_reconcile.json")))
    api.route("/v1/organizations/cost_report", Reply(fixture_json("anthropic_cost_report_empty.json")))
    path = tmp_path / "index.sqlite"
    index = Index(path, overrides=tmp_path / "no-prices.toml", sources=SOURCES)
    index.refresh(Env.under(lay_out_home(tmp_path / "home")), workers=1)
    [result] = sync.sync(index.conn, today=date(2026, 11, 21), days=3)
    assert result.ok, result.message
    index.close()
    return path


def test_exactly_the_disagreeing_cell_is_flagged(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    path = _synced_index(api, tmp_path)
    index = Index(path, sources=SOURCES)
    doc = reconcile.report(index.conn, date(2026, 11, 15), date(2026, 11, 22), threshold_pct=5)
    index.close()
    cells = {(r["date"], reconcile.norm(r["model"])): r for r in doc["rows"]}
    assert sorted(cells) == [
        ("2026-11-19", "claude-sonnet-4-5"),
        ("2026-11-20", "claude-haiku-4-5"),
        ("2026-11-20", "claude-sonnet-4-5"),  # Claude Code, Amp and OpenCode ("claude-sonnet-4-5") together
        ("2026-11-21", "claude-opus-4-5"),
        ("2026-11-21", "claude-sonnet-4-5"),
    ]
    assert [k for k, r in cells.items() if r["flagged"]] == [("2026-11-20", "claude-haiku-4-5")]
    assert doc["flagged"] == 1
    bad = cells[("2026-11-20", "claude-haiku-4-5")]
    assert (bad["provider"]["total"], bad["logs"]["total"], bad["diff"]["tokens"]) == (8238, 6238, 2000)
    assert bad["diff"]["pct"] == 24.28
    assert all(r["diff"]["tokens"] == 0 for k, r in cells.items() if k != ("2026-11-20", "claude-haiku-4-5"))
    # a threshold above the difference flags nothing
    index = Index(path, sources=SOURCES)
    assert reconcile.report(index.conn, None, None, threshold_pct=30)["flagged"] == 0
    index.close()


def test_cli_reconcile_json(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    path = _synced_index(api, tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "app", "report", "reconcile", "--db", str(path), "--no-refresh", "--json",
         "--since", "2026-11-19", "--until", "2026-11-20"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [(r["date"], r["model"], r["flagged"]) for r in doc["rows"]] == [
        ("2026-11-19", "claude-sonnet-4-5-20250929", False),
        ("2026-11-20", "claude-haiku-4-5-20251001", True),
        ("2026-11-20", "claude-sonnet-4-5-20250929", False),
    ]
    assert doc["threshold_pct"] == 5.0 and doc["days_in"] == "UTC"


def test_cli_threshold_and_options_that_do_not_apply(
    api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli.main import main
    from app.providers import config

    path = _synced_index(api, tmp_path)
    base = ["report", "reconcile", "--db", str(path), "--no-refresh"]
    assert main([*base, "--json", "--threshold", "30"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged"] == 0
    cfg = config.load()
    cfg.threshold_pct = 1.0  # the provider settings' threshold when none is given
    config.save(cfg)
    assert main(base) == 0
    out = capsys.readouterr().out
    assert out.count("FLAG") == 1 and "flagged above 1%: 1 of 5" in out
    assert main([*base, "--tz", "Europe/Paris"]) == 2
    assert "--tz does not apply to report reconcile" in capsys.readouterr().err
