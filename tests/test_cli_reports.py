"""The `tokenclub` reports: tables, --json, --csv, filters, and clear errors on bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.main import main
from tests.burn_dataset import Burn, write_burn_home
from tests.conftest import lay_out_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home", ("claude", "codex"))


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--db", str(tmp_path / "i.sqlite"), "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_daily_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    code, out, _ = run(capsys, tmp_path, home, "report", "daily", "--json", "--tz", "UTC")
    assert code == 0
    doc = json.loads(out)
    day = doc["days"][0]
    for field in ("date", "in", "cw", "cr", "out", "rsn", "total", "cost_usd", "tier", "cache_hit_rate"):
        assert field in day
    assert set(day["by_agent"]["codex"]) >= {"in", "cw", "cr", "out", "rsn", "total", "cost_usd"}
    assert doc["totals"]["total"] == 63243 + 60560
    assert doc["price_source"]["name"].startswith("genai-prices")
    used = [d["date"] for d in doc["days"] if d["total"]]  # and today, with no calls yet
    assert used == ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]


def test_time_zone_moves_the_day_boundary(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    """Codex's 2026-11-19T23:00Z calls are on 2026-11-20 in Sydney (UTC+11 in November)."""
    _, out, _ = run(capsys, tmp_path, home, "report", "daily", "--json", "--tz", "Australia/Sydney", "--agent", "codex")
    days = {d["date"]: d["total"] for d in json.loads(out)["days"]}
    assert "2026-11-19" not in days and days["2026-11-20"] >= 17370


def test_since_until_and_agent_filters(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    _, out, _ = run(
        capsys,
        tmp_path,
        home,
        "report",
        "daily",
        "--json",
        "--tz",
        "UTC",
        "--since",
        "20261120",
        "--until",
        "2026-11-20",
        "--agent",
        "claude-code",
    )
    doc = json.loads(out)
    assert [d["date"] for d in doc["days"]] == ["2026-11-20"]
    assert doc["totals"]["total"] == 6238 + 26152


@pytest.mark.parametrize(
    ("kind", "key", "first_column"),
    [
        ("weekly", "periods", "period"),
        ("monthly", "periods", "period"),
        ("session", "sessions", "session"),
        ("models", "models", "model"),
        ("projects", "projects", "project"),
    ],
)
def test_every_report_prints_table_json_and_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, kind: str, key: str, first_column: str
) -> None:
    _, out, _ = run(capsys, tmp_path, home, "report", kind, "--json", "--tz", "UTC")
    doc = json.loads(out)
    assert sum(r["total"] for r in doc[key]) == doc["totals"]["total"] == 123803
    _, out, _ = run(capsys, tmp_path, home, "report", kind, "--csv", "--tz", "UTC")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(doc[key]) and first_column in rows[0]
    _, out, _ = run(capsys, tmp_path, home, "report", kind, "--tz", "UTC")
    assert "total" in out.splitlines()[-2] or "total" in out


def test_sessions_attribute_subagents_to_their_parent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path
) -> None:
    _, out, _ = run(capsys, tmp_path, home, "report", "session", "--json", "--agent", "claude-code")
    sessions = {s["session"]: s["total"] for s in json.loads(out)["sessions"]}
    assert sessions == {
        "7f3c2a10-5b4e-4c1d-9a8e-0d1f2e3a4b5c": 12416 + 13736 + 14398 + 6238,
        "a2b4c6d8-1e3f-4a5b-8c7d-9e0f1a2b3c4d": 14915,
        "c0ffee00-1111-4222-8333-444455556666": 1540,
    }


@pytest.fixture
def burn(tmp_path: Path) -> tuple[Path, Burn]:
    """Three days ending today (UTC); today holds the planted model switch and expired cache."""
    home = tmp_path / "burn"
    return home, write_burn_home(home, days=3)


def test_insights_json_csv_and_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, burn: tuple[Path, Burn]
) -> None:
    home, _ = burn
    _, out, _ = run(capsys, tmp_path, home, "report", "insights", "--json", "--tz", "UTC")
    doc = json.loads(out)
    assert [(i["kind"], i["session"], i["tokens"]) for i in doc["insights"]] == [
        ("cache-expired", "insight-idle", 157_000),
        ("model-switch", "insight-switch", 187_000),
    ]
    assert doc["totals"] == {"count": 2, "tokens": 344_000, "extra_cost_usd": pytest.approx(1.1868)}
    _, out, _ = run(capsys, tmp_path, home, "report", "insights", "--csv", "--no-refresh")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in rows] == ["cache-expired", "model-switch"]
    assert rows[1]["previous_model"] == "claude-opus-4-5-20251101" and rows[1]["idle_minutes"] == ""
    assert rows[0]["idle_minutes"] == "30.0" and float(rows[0]["extra_cost_usd"]) == pytest.approx(0.54165)
    _, out, _ = run(capsys, tmp_path, home, "report", "insights", "--no-refresh")
    assert "Switched claude-opus-4-5 → claude-sonnet-4-5 and re-paid 187K" in out
    assert out.splitlines()[-2].startswith("total") and "$1.19" in out.splitlines()[-2]


def test_dashboard_over_a_range(capsys: pytest.CaptureFixture[str], tmp_path: Path, burn: tuple[Path, Burn]) -> None:
    home, written = burn
    _, out, _ = run(capsys, tmp_path, home, "report", "dashboard", "--json", "--range", "7d", "--tz", "UTC")
    doc = json.loads(out)
    today = datetime.now(UTC).date()
    assert [d["date"] for d in doc["days"]] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert {d["date"]: d["total"] for d in doc["days"] if d["total"]} == written.per_day
    assert doc["totals"]["total"] == sum(written.per_day.values())
    assert {"today", "streaks", "milestones"} <= set(doc) and doc["totals"]["cache_saved_usd"] > 0
    _, out, _ = run(capsys, tmp_path, home, "report", "dashboard", "--csv", "--range", "7d", "--tz", "UTC")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["date"] for r in rows] == [d["date"] for d in doc["days"]]
    assert float(rows[-1]["cache_saved_usd"]) == doc["days"][-1]["cache_saved_usd"]
    assert rows[-1]["peak_sessions"] == str(doc["days"][-1]["peak_sessions"])
    _, out, _ = run(capsys, tmp_path, home, "report", "dashboard", "--tz", "UTC", "--no-refresh")
    assert "tokens per minute" in out and "days in a row" in out


def test_today_prints_the_tray_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, burn: tuple[Path, Burn]
) -> None:
    home, written = burn
    _, out, _ = run(capsys, tmp_path, home, "report", "today", "--json", "--tz", "UTC")
    doc = json.loads(out)
    today = datetime.now(UTC).date().isoformat()
    assert doc["date"] == today and doc["total"] == written.per_day[today]
    assert {"tier", "next_milestone", "to_next", "cost_usd", "tokens_per_minute", "active_sessions"} <= set(doc)
    _, out, _ = run(capsys, tmp_path, home, "report", "today", "--csv", "--tz", "UTC", "--no-refresh")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["date"] == today and int(row["total"]) == doc["total"] and "tokens_per_minute" in row


def test_sources_lists_roots_files_and_events(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    _, out, _ = run(capsys, tmp_path, home, "sources", "--json")
    by_agent = {s["agent"]: s for s in json.loads(out)["sources"]}
    assert by_agent["claude-code"]["files"] == 4 and by_agent["claude-code"]["events"] == 7
    assert by_agent["codex"]["files"] == 5  # the .zst beside its plain copy is not read
    assert by_agent["codex"]["roots"][0] == {"path": str(home / ".codex" / "sessions"), "exists": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "daily", "--since", "yesterday-ish"], "not a date"),
        (["report", "daily", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["report", "daily", "--agent", "clippy"], "unknown agent clippy"),
        (["report", "daily", "--since", "2026-11-21", "--until", "2026-11-20"], "--since is after --until"),
        (["report", "dashboard", "--range", "2w"], "unknown range '2w' (one of 7d, 30d, 90d, 1y, all)"),
        (["report", "dashboard", "--range", "7d", "--since", "3d"], "--range and --since/--until exclude each other"),
        (["report", "daily", "--range", "7d"], "--range applies to report dashboard only"),
        (["report", "today", "--since", "1d"], "report today takes no --since or --until"),
    ],
)
def test_bad_input_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, args: list[str], message: str
) -> None:
    code, out, err = run(capsys, tmp_path, home, *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [[], ["report"], ["sources"], ["refresh"], ["gui"]])
def test_every_command_has_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "70")
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith("usage: tokenclub")
    assert "--wait SECONDS" in out and "(default: 10)" in out
    assert max(map(len, out.splitlines())) <= 70


def test_a_file_that_is_not_an_index_is_refused_untouched(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("my notes, not a database\n" * 100)
    before = db.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "report", "daily", "--db", str(db), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "not a TokenClub index" in done.stderr
    assert "Traceback" not in done.stderr
    assert db.read_bytes() == before


def test_console_script_runs(tmp_path: Path, home: Path) -> None:
    exe = Path(sys.executable).with_name("tokenclub")
    done = subprocess.run(
        [str(exe), "report", "daily", "--json", "--db", str(tmp_path / "i.sqlite"), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["total"] == 123803


def test_console_script_flushes_everything_and_keeps_its_exit_status(tmp_path: Path, home: Path) -> None:
    """The command leaves without the interpreter's teardown: the output is whole and the status is kept."""
    exe = Path(sys.executable).with_name("tokenclub")
    args = [str(exe), "report", "session", "--db", str(tmp_path / "i.sqlite"), "--home", str(home)]
    table = subprocess.run([*args, "--csv"], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and table.stdout.count("\n") == len(table.stdout.splitlines()) > 2
    assert table.stdout == subprocess.run([*args, "--csv"], capture_output=True, text=True, timeout=60).stdout
    bad = subprocess.run([*args, "--since", "yesterday-ish"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("tokenclub: ")
    piped = subprocess.run(f"{' '.join(args)} | head -c 10", shell=True, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and len(piped.stdout) == 10 and "Traceback" not in piped.stderr
    if Path("/dev/full").exists():  # a full disk: a small output fails only when flushed on the way out
        with open("/dev/full", "w") as full:
            today = [*args[:2], "today", *args[3:], "--json"]
            buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
            done = subprocess.run(today, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, env=buffered)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("tokenclub: cannot write the output: No space left")


def test_reports_follow_the_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    """The desktop app's milestones, zone and agents are the command line's defaults too."""
    from app.core import settings

    settings.save(settings.Settings(tz="Australia/Sydney", milestones=(1_000, 20_000), agents={"claude-code": False}))
    _, out, _ = run(capsys, tmp_path, home, "report", "daily", "--json")
    doc = json.loads(out)
    assert doc["tz"] == "Australia/Sydney"
    assert doc["milestones"] == {"1K": 1_000, "20K": 20_000}
    assert {a for d in doc["days"] for a in d["by_agent"]} == {"codex"}
    assert "2026-11-20" in {d["date"] for d in doc["days"]} and "2026-11-19" not in {d["date"] for d in doc["days"]}
    _, out, _ = run(capsys, tmp_path, home, "report", "daily", "--json", "--tz", "UTC", "--agent", "claude-code")
    doc = json.loads(out)
    assert doc["tz"] == "UTC" and {a for d in doc["days"] for a in d["by_agent"]} == {"claude-code"}
