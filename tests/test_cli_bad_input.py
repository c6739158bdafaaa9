"""Bad input is refused with exit status 2 and a line naming it; ``--home DIR`` reports only what is under DIR."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import paths
from app.core.timezones import local_zone
from tests.conftest import lay_out_home


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home", ("claude",))


def test_a_missing_home_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    code, out, err = run(capsys, "report", "daily", "--home", str(missing))
    assert (code, out) == (2, "")
    assert err == f"tokenclub: --home {missing}: no such directory\n"
    assert not paths.default_db().exists()


def test_a_home_that_is_a_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    file.write_text("root:x:0:0\n")
    code, out, err = run(capsys, "--home", str(file), "sources")
    assert (code, out) == (2, "")
    assert err == f"tokenclub: --home {file}: not a directory\n"


@pytest.mark.parametrize("command", [[], ["gui"], ["demo"]])
def test_the_app_refuses_a_bad_home_before_it_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    code, out, err = run(capsys, *command, "--home", str(tmp_path / "gone"))
    assert (code, out) == (2, "")
    assert err == f"tokenclub: --home {tmp_path / 'gone'}: no such directory\n"


def test_each_home_has_its_own_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    claude = lay_out_home(tmp_path / "a", ("claude",))
    codex = lay_out_home(tmp_path / "b", ("codex",))
    empty = tmp_path / "c"
    empty.mkdir()
    seen = {}
    for name, home in (("a", claude), ("b", codex), ("c", empty), ("a again", claude)):
        code, out, err = run(capsys, "report", "daily", "--json", "--tz", "UTC", "--home", str(home))
        assert code == 0, err
        doc = json.loads(out)
        seen[name] = {agent for day in doc["days"] for agent in day["by_agent"]}
    assert seen == {"a": {"claude-code"}, "b": {"codex"}, "c": set(), "a again": {"claude-code"}}
    assert not paths.default_db().exists()  # the user's own index is not where a --home report goes
    assert len(list((paths.data_dir() / "homes").glob("*/index.sqlite"))) == 3


def test_db_still_names_the_index_with_a_home(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    db = tmp_path / "chosen.sqlite"
    code, _, err = run(capsys, "refresh", "--db", str(db), "--home", str(home), "--json")
    assert code == 0, err
    assert db.exists() and not (paths.data_dir() / "homes").exists()


def test_an_unknown_device_lists_the_known(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    from app.core.devices import local_name

    code, out, err = run(capsys, "report", "daily", "--home", str(home), "--device", "nosuchhost")
    assert (code, out) == (2, "")
    assert err == f"tokenclub: unknown device nosuchhost (known: {local_name()}, local)\n"
    code, out, err = run(capsys, "report", "daily", "--json", "--home", str(home), "--device", "local")
    assert code == 0, err
    assert json.loads(out)["totals"]["total"] > 0


def test_an_unknown_agent_lists_the_known(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, err = run(capsys, "report", "models", "--home", str(home), "--agent", "claude-code,nosuch")
    assert (code, out) == (2, "")
    assert err.startswith("tokenclub: unknown agent nosuch (known: amp, claude-code, cline, codex,")


@pytest.mark.parametrize(
    "args",
    [
        ["report", "daily", "--json", "--csv"],
        ["--csv", "report", "daily", "--json"],
        ["sources", "--csv", "--json"],
        ["refresh", "--json", "--csv"],
    ],
)
def test_json_and_csv_together_are_refused(capsys: pytest.CaptureFixture[str], home: Path, args: list[str]) -> None:
    code, out, err = run(capsys, *args, "--home", str(home))
    assert (code, out) == (2, "")
    assert err == "tokenclub: --json and --csv exclude each other: choose one output\n"


@pytest.mark.parametrize(
    ("wait", "said"),
    [
        ("-5", "argument --wait: -5 seconds is out of range (0 to 86400)"),
        ("soon", "argument --wait: not a number of seconds: 'soon'"),
        ("nan", "argument --wait: nan seconds is out of range (0 to 86400)"),
        ("1e9", "argument --wait: 1e9 seconds is out of range (0 to 86400)"),
    ],
)
def test_a_bad_wait_is_refused(capsys: pytest.CaptureFixture[str], home: Path, wait: str, said: str) -> None:
    code, out, err = run(capsys, "report", "daily", "--home", str(home), "--wait", wait)
    assert (code, out) == (2, "")
    assert said in err
    code, _, err = run(capsys, "report", "daily", "--home", str(home), "--wait", "0")
    assert code == 0, err


def test_help_names_home_dir(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0
    assert "--home DIR" in out and "--home HOME" not in out


def test_report_daily_shows_today_with_no_calls_yet(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    today = datetime.now(local_zone()).date().isoformat()
    code, out, err = run(capsys, "report", "daily", "--json", "--home", str(home))
    assert code == 0, err
    days = json.loads(out)["days"]
    assert days[-1]["date"] == today and days[-1]["total"] == 0 and days[-1]["tier"] is None
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)
    code, out, _ = run(capsys, "report", "daily", "--home", str(home), "--no-refresh")
    assert out.splitlines()[-3].startswith(today)  # the day above the totals row
    code, out, _ = run(capsys, "report", "daily", "--json", "--home", str(home), "--until", "2026-11-30")
    assert today not in {d["date"] for d in json.loads(out)["days"]}


def test_sources_prints_the_roots_searched_and_the_skips(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = home / ".claude" / "projects" / "-p"
    project.mkdir(parents=True)
    # a line marked as usage that does not decode, and one of broken JSON
    (project / "s.jsonl").write_bytes(b'{"type":"assistant","message":{"usage":\xff\xfe}}\n{"usage": {"inp\n')
    code, out, err = run(capsys, "sources", "--home", str(home))
    assert code == 0, err
    assert "(none found)" not in out
    lines = out.splitlines()
    claude = next(line for line in lines if line.startswith("claude-code"))
    assert claude.split()[1] == "1" and claude.split()[5] == "2"  # one file, two skips
    assert claude.endswith("~/.claude/projects")
    codex = next(line for line in lines if line.startswith("codex"))
    assert codex.endswith("none of 2 exists (below)")
    searched = lines.index(f"roots searched (~ is {home}; * exists):")
    assert lines[searched + 1].split() == ["claude-code", "*", "~/.claude/projects"]
    assert lines[searched + 2].split() == ["~/.config/claude/projects"]
    assert "claude-code: skipped 1 × undecodable line (not UTF-8)" in lines
    assert "claude-code: skipped 1 × malformed JSON" in lines


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["provider", "sync", "--days", "0"], "argument --days: 0 days is out of range (1 to 366)"),
        (["provider", "sync", "--days", "-3"], "argument --days: -3 days is out of range (1 to 366)"),
        (["host", "add", "b", "--ssh", "a@b", "--port", "-1"], "argument --port: -1 is out of range (1 to 65535)"),
        (["report", "reconcile", "--threshold", "-5"], "argument --threshold: -5 percent is out of range (0 to 1000)"),
        (["keys", "set", "openai", "--low-balance", "-5"], "argument --low-balance: -5 is out of range (0 to 1e+12)"),
        (["keys", "add", "openai", "--low-balance", "lots"], "argument --low-balance: not a number: 'lots'"),
        (["statusline", "--budget", "-1"], "argument --budget: -1 seconds is out of range (0 to 60)"),
        (["statusline", "--budget=61"], "argument --budget: 61 seconds is out of range (0 to 60)"),
    ],
)
def test_numbers_out_of_range_are_refused(capsys: pytest.CaptureFixture[str], args: list[str], said: str) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert said in err


@pytest.mark.parametrize("budget", ["-1", "61", "nan", "lots"])
def test_the_status_lines_fast_start_leaves_a_bad_budget_to_the_parser(budget: str) -> None:
    from app.cli.launch import statusline_options

    assert statusline_options(["statusline", f"--budget={budget}"]) is None
    assert statusline_options(["statusline", "--budget=0.2"]) is not None


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--budget-usd", "-1"], "--budget-usd must be more than 0"),
        (["--budget-tokens", "0"], "--budget-tokens must be more than 0"),
        (["--until", "true", "--max-iterations", "0"], "--max-iterations must be 1 or more"),
        (["--until", "true"], "--until needs --max-iterations N"),
        (["--stall-minutes", "0"], "--stall-minutes must be more than 0"),
    ],
)
def test_a_launch_is_refused_before_the_host_is_looked_up(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    code, out, err = run(capsys, "session", "launch", "--host", "nosuch", "--agent", "codex", "--goal", "x", *args)
    assert (code, out) == (2, "")
    assert said in err and "nosuch" not in err
