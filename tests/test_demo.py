"""``tokenclub demo``: a month of sample logs, reported exactly, in a folder of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.demo import write_sample
from app.core.model import BUCKETS
from app.core.timezones import local_zone

ROOT = Path(__file__).parents[1]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def _user(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A user's environment with its own home, XDG folders and TMPDIR, and no TOKENCLUB_HOME."""
    user = tmp_path / "user"
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENCLUB_HOME", "TOKENCLUB_CACHE")}
    for name, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config")):
        (user / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(user / sub)
    env["XDG_CACHE_HOME"] = str(user / ".cache")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    # what the user already has: an index, settings and a price override that must stay as they are
    data = user / ".local/share/tokenclub"
    data.mkdir(parents=True)
    (data / "index.sqlite").write_bytes(b"the user's own index")
    conf = user / ".config/tokenclub"
    conf.mkdir(parents=True)
    (conf / "settings.json").write_text('{"tz": "Asia/Tokyo"}')
    (conf / "prices.toml").write_text("")
    return env, user


def _demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "demo", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_demo_report_equals_what_was_generated_and_leaves_the_user_alone(tmp_path: Path) -> None:
    env, user = _user(tmp_path)
    before = _tree(user)
    done = _demo(env, "--report", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    # the generator is deterministic for a day: the same sample, written again, sums the same
    tz = local_zone()
    sample = write_sample(tmp_path / "again", tz, datetime.now(tz))
    want = sample.totals()
    assert {k: doc["totals"][k] for k in (*BUCKETS, "total")} == want
    by_day = {d["date"]: d["total"] for d in doc["days"]}
    assert by_day == sample.days  # every day of the month, today included
    assert len(by_day) == 30
    assert sum(1 for d in doc["days"] if d["total"] >= 10_000_000) == 1
    assert {a for d in doc["days"] for a in d["by_agent"]} == {"claude-code", "codex", "gemini-cli"}
    assert doc["unpriced_models"] == [] and doc["totals"]["cost_usd"] > 0
    assert str(doc["tz"]) != "Asia/Tokyo"  # not the user's settings
    assert _tree(user) == before
    assert list((tmp_path / "tmp").iterdir()) == []  # the demo's folder is gone


def test_demo_table_has_a_totals_row_and_the_10m_day(tmp_path: Path) -> None:
    env, user = _user(tmp_path)
    before = _tree(user)
    done = _demo(env, "--report")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["date", "input"]
    assert any(line.startswith("total") for line in lines)
    assert sum(1 for line in lines if line.rstrip().endswith("10M")) == 1
    assert _tree(user) == before


def test_demo_without_a_display_says_so_and_removes_its_folder(tmp_path: Path) -> None:
    env, user = _user(tmp_path)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    before = _tree(user)
    done = _demo(env)
    assert done.returncode == 2
    assert "no display found" in done.stderr
    assert _tree(user) == before
    assert list((tmp_path / "tmp").iterdir()) == []


def test_demo_refuses_options_that_do_not_apply(tmp_path: Path) -> None:
    env, _ = _user(tmp_path)
    for args, said in (
        (["--db", str(tmp_path / "x.sqlite")], "--db and --home do not apply"),
        (["--home", str(tmp_path)], "--db and --home do not apply"),
        (["--json"], "apply to demo --report only"),
    ):
        done = _demo(env, *args)
        assert done.returncode == 2, args
        assert said in done.stderr, done.stderr


def test_the_sample_is_never_in_the_future_and_has_realistic_cache_splits(tmp_path: Path) -> None:
    now = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # just after midnight: today has half an hour
    sample = write_sample(tmp_path / "home", UTC, now)
    stamps = [
        json.loads(line)["timestamp"]
        for f in (tmp_path / "home" / ".claude").rglob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert max(stamps) < "2026-12-07T00:30:00"
    assert min(stamps) >= (now - timedelta(days=29)).date().isoformat()
    t = sample.totals()
    assert 0.75 < t["cr"] / (t["in"] + t["cw"] + t["cr"]) < 0.92
    assert set(sample.by_agent) == {"claude-code", "codex", "gemini-cli"}


APP_PROBE = """
import os, sqlite3, sys, tempfile, time
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.cli.main import main

app = QApplication(["tokenclub"])
want, shot = int(sys.argv[1]), sys.argv[2]
started = time.monotonic()

def indexed() -> int:
    for folder in Path(tempfile.gettempdir()).glob("tokenclub-demo-*"):
        db = folder / "tokenclub" / "data" / "index.sqlite"
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                    return conn.execute("SELECT IFNULL(SUM(inp + cw + cr + out), 0) FROM events").fetchone()[0]
            except sqlite3.Error:
                return -1
    return -1

def poll() -> None:
    shown = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowTitle().startswith("TokenClub")]
    if (shown and indexed() == want) or time.monotonic() - started > 60:
        print("indexed", indexed(), "windows", [w.windowTitle() for w in shown], flush=True)
        if shown:
            shown[0].grab().save(shot)
        app.quit()
    else:
        QTimer.singleShot(250, poll)

QTimer.singleShot(250, poll)
sys.exit(main(["demo"]))
"""


def test_demo_opens_the_app_over_the_sample_and_removes_it_on_quit(tmp_path: Path) -> None:
    from tests.xdisplay import tools_missing, virtual_display

    if tools_missing():
        pytest.skip(f"not installed: {', '.join(tools_missing())}")
    env, user = _user(tmp_path)
    before = _tree(user)
    tz = local_zone()
    want = write_sample(tmp_path / "again", tz, datetime.now(tz)).totals()["total"]
    shot = tmp_path / "demo.png"
    with virtual_display(1600, 1000) as display:
        done = subprocess.run(
            [sys.executable, "-c", APP_PROBE, str(want), str(shot)],
            cwd=ROOT,
            env={**env, **display},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert f"indexed {want} windows ['TokenClub" in done.stdout, done.stdout + done.stderr
    assert shot.stat().st_size > 10_000  # a drawn dashboard
    assert _tree(user) == before
    assert list((tmp_path / "tmp").iterdir()) == []
