"""Reports remembered until the index changes: never a stale one, whoever writes the index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import memo, paths
from app.core.env import Env
from app.core.index import Index
from app.core.schema import connect
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.logmaker import claude_line


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home", ("claude", "codex"))


def report(capsys: pytest.CaptureFixture[str], db: Path, home: Path, *args: str) -> str:
    assert main(["report", *args, "--db", str(db), "--home", str(home), "--quiet"]) == 0
    return capsys.readouterr().out


def memos(db: Path) -> dict[str, str]:
    conn = connect(db)
    try:
        return dict(conn.execute("SELECT k, v FROM meta WHERE k GLOB 'memo:*'").fetchall())
    finally:
        conn.close()


def transcript(home: Path) -> Path:
    return next((home / ".claude" / "projects").rglob("*.jsonl"))


def test_a_rerun_prints_the_same_and_an_append_is_seen(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path
) -> None:
    db = tmp_path / "i.sqlite"
    first = report(capsys, db, home, "daily", "--json", "--tz", "UTC")
    assert set(memos(db)) == {"memo:daily"}
    assert report(capsys, db, home, "daily", "--json", "--tz", "UTC") == first
    with transcript(home).open("ab") as f:
        f.write(claude_line("msg_memo_1", "2026-11-21T10:00:00.000Z", inp=1000, out=234))
    after = json.loads(report(capsys, db, home, "daily", "--json", "--tz", "UTC"))
    assert after["totals"]["total"] == json.loads(first)["totals"]["total"] + 1234


def test_options_and_kinds_are_remembered_apart(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    db = tmp_path / "i.sqlite"
    outputs = {}
    for args in (("daily", "--json", "--tz", "UTC"), ("daily", "--tz", "UTC"), ("daily", "--csv", "--tz", "UTC"),
                 ("daily", "--json", "--tz", "Australia/Sydney"), ("daily", "--json", "--agent", "codex"),
                 ("monthly", "--json"), ("models", "--json")):  # fmt: skip
        outputs[args] = report(capsys, db, home, *args)
        assert report(capsys, db, home, *args) == outputs[args]  # the second run is the memo
    assert len(set(outputs.values())) == len(outputs)
    fresh = tmp_path / "fresh.sqlite"  # every output equals computing it on an index that never remembered
    for args, text in outputs.items():
        conn = connect(fresh)
        conn.execute("DELETE FROM meta WHERE k GLOB 'memo:*'")
        conn.close()
        assert report(capsys, fresh, home, *args) == text


def test_a_memo_is_found_by_another_process(tmp_path: Path, home: Path) -> None:
    """Keys do not depend on a process's hash seed (the order of a set of agents, say)."""
    import subprocess
    import sys

    db = tmp_path / "i.sqlite"
    agents = "claude-code,codex,gemini-cli,amp,opencode"
    args = [sys.executable, "-m", "app", "report", "models", "--agent", agents, "--json",
            "--db", str(db), "--home", str(home)]  # fmt: skip
    outs = [subprocess.run(args, capture_output=True, text=True, check=True, timeout=60) for _ in range(3)]
    assert outs[0].stdout == outs[1].stdout == outs[2].stdout
    stored = memos(db)["memo:models"]
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(args, capture_output=True, text=True, check=True, timeout=60, env=env)
        assert memos(db)["memo:models"] == stored  # found, not recomputed and stored under another key


def test_a_memo_from_before_another_writer_is_never_stored(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "i.sqlite"
    writer = Index(db, sources=SOURCES)
    writer.refresh(Env.under(home))
    reader = connect(db)
    reader.execute("BEGIN")
    assert memo.recall(reader, "daily", "k") is None  # the reader's snapshot starts here
    with transcript(home).open("ab") as f:
        f.write(claude_line("msg_memo_2", "2026-11-21T11:00:00.000Z"))
    writer.refresh(Env.under(home))  # commits after the reader's snapshot
    memo.remember(reader, "daily", "k", "what the reader computed")
    reader.execute("COMMIT")
    assert memos(db) == {}
    reader.execute("BEGIN")
    memo.remember(reader, "daily", "k", "computed after the write")  # a fresh snapshot may store
    reader.execute("COMMIT")
    assert memo.recall(reader, "daily", "k") == "computed after the write"
    assert memo.recall(reader, "daily", "other key") is None
    writer.close()
    reader.close()


def test_a_locked_index_is_not_waited_for(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "i.sqlite"
    Index(db, sources=SOURCES).close()
    holder = connect(db)
    holder.execute("BEGIN IMMEDIATE")
    reader = connect(db, timeout=30)
    reader.execute("BEGIN")
    memo.remember(reader, "daily", "k", "text")  # returns at once: the writer keeps its lock
    reader.execute("COMMIT")
    (wait,) = reader.execute("PRAGMA busy_timeout").fetchone()
    assert wait == 30_000
    holder.execute("COMMIT")
    assert memos(db) == {}


def test_new_prices_and_new_code_forget_memos(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "i.sqlite"
    before = json.loads(report(capsys, db, home, "models", "--json"))
    prices = paths.overrides_file()
    prices.parent.mkdir(parents=True, exist_ok=True)
    prices.write_text('[models."claude-*"]\ninput_mtok = 1000.0\n', encoding="utf-8")
    after = json.loads(report(capsys, db, home, "models", "--json"))
    assert after["totals"]["cost_usd"] > before["totals"]["cost_usd"]
    monkeypatch.setattr(memo, "_stamp", ["another build"])  # what code_stamp() gives after an upgrade
    stored = memos(db)["memo:models"]
    report(capsys, db, home, "models", "--json")
    assert memos(db)["memo:models"] != stored and "another build" in memos(db)["memo:models"]


def test_new_zone_rules_forget_a_zone_s_memos(tmp_path: Path) -> None:
    """A tzdata update can move a named zone's days: its rules file is part of the key."""
    import importlib.util
    import shutil
    import zoneinfo

    from app.core.timezones import rules_stamp

    bases = [*map(Path, zoneinfo.TZPATH)]
    spec = importlib.util.find_spec("tzdata")  # zoneinfo's fallback when the system has no zone files
    if spec is not None and spec.origin:
        bases.append(Path(spec.origin).parent / "zoneinfo")
    source = next(base / "Europe" / "Paris" for base in bases if (base / "Europe" / "Paris").is_file())
    (tmp_path / "Europe").mkdir()
    copy = tmp_path / "Europe" / "Paris"
    shutil.copyfile(source, copy)
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    try:
        zone = zoneinfo.ZoneInfo.no_cache("Europe/Paris")
        before = rules_stamp(zone)
        os.utime(copy, ns=(0, copy.stat().st_mtime_ns + 10**9))  # what an update of the rules does
        assert rules_stamp(zone) != before and before.startswith("Europe/Paris:")
    finally:
        zoneinfo.reset_tzpath()
    from datetime import UTC

    assert rules_stamp(UTC) == "UTC"
