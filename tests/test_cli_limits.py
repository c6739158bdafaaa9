"""`tokenclub limits`, `report blocks` and `statusline` on logs built from the documented shapes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.main import main
from tests.core.test_limits import ANSWER, ID2, PRO, ZEROS, token_count, write_rollout
from tests.httpserver import FakeApi, Reply
from tests.logmaker import claude_line

TOKEN = "sk-ant-oat01-TESTTOKEN0claude0account0HHHHHHHHHHHHHHHHwxyz"
SESSION = "5e551071-0000-4000-8000-000000000001"


def stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def home(tmp_path: Path, now: datetime) -> Path:
    """Claude Code calls in the last minute (an active block), Codex rollouts, and Claude Code's sign-in."""
    home = tmp_path / "home"
    project = home / ".claude" / "projects" / "-home-dev-proj"
    project.mkdir(parents=True)
    lines = [
        claude_line("msg-1", stamp(now - timedelta(seconds=20)), inp=100, out=900, cr=200, session=SESSION),
        claude_line("msg-2", stamp(now - timedelta(seconds=10)), inp=50, out=450, cw=300, session=SESSION),
    ]
    (project / f"{SESSION}.jsonl").write_bytes(b"".join(lines))
    codex = home / ".codex"
    write_rollout(
        codex / "sessions/2026/11/21" / f"rollout-2026-11-21T09-00-00-{ID2}.jsonl",
        [token_count("2026-11-21T10:00:00.000", PRO), token_count("2026-11-21T10:00:01.000", ZEROS)],
        "2026-11-21T10:00:01",
    )
    creds = {"claudeAiOauth": {"accessToken": TOKEN, "expiresAt": 1, "subscriptionType": "max"}}
    (home / ".claude" / ".credentials.json").write_text(json.dumps(creds))
    return home


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--db", str(tmp_path / "i.sqlite"), "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def opt_in(settings: Path, url: str) -> None:
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"limits_account": True, "limits_account_url": url}))


def settings_path() -> Path:
    from app.core import paths

    return paths.settings_file()


def test_limits_json_every_window_and_the_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, api: FakeApi
) -> None:
    api.route("/api/oauth/usage", Reply(json.loads(ANSWER.read_text())))
    opt_in(settings_path(), api.url)
    code, out, err = run(capsys, tmp_path, home, "limits", "--json", "--tz", "UTC")
    assert code == 0, err
    doc = json.loads(out)
    names = [(w["agent"], w["name"], w["used_percent"], w["source"], w["resets_at"]) for w in doc["windows"]]
    assert names == [
        ("claude-code", "5h", 61.0, "account endpoint", "2026-11-21T12:59:59.571Z"),
        ("claude-code", "weekly", 22.0, "account endpoint", "2026-11-25T08:59:59.571Z"),
        ("claude-code", "weekly (sonnet)", 4.0, "account endpoint", "2026-11-25T08:59:59.571Z"),
        ("codex", "primary", 75.0, "log", "2026-11-21T12:00:00.000Z"),  # the zero placeholder after it skipped
        ("codex", "secondary", 9.0, "log", "2026-11-25T00:00:00.000Z"),
    ]
    codex = doc["windows"][3]
    assert codex["account"] == "pro" and codex["read_at"] == "2026-11-21T10:00:00.000Z"
    assert codex["pace"]["state"] == "reset"  # its reading is older than its reset
    block = doc["claude_block"]
    assert block["isActive"] and block["entries"] == 2
    assert block["tokenCounts"] == {
        "inputTokens": 150,
        "outputTokens": 1350,
        "cacheCreationInputTokens": 300,
        "cacheReadInputTokens": 200,
    }
    assert block["projection"]["remainingMinutes"] <= 300 and block["burnRate"]["tokensPerMinute"] == 2000 / (10 / 60)
    assert doc["notes"] == []
    (request,) = api.requests
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["anthropic-beta"] == "oauth-2025-04-20"
    # the token went into that header only
    for path in [*tmp_path.rglob("*")]:
        if path.is_file() and path.name != ".credentials.json":
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in out + err


def test_limits_text_says_when_this_pace_fills_a_window(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, api: FakeApi, now: datetime
) -> None:
    """60% of a 5-hour window opened 2 h ago: full in 1 h 20 min, 1 h 40 min before it resets."""
    start = now - timedelta(hours=2)
    reset = start + timedelta(hours=5)
    answer = {"five_hour": {"utilization": 60.0, "resets_at": reset.isoformat()}}
    api.route("/api/oauth/usage", Reply(answer))
    opt_in(settings_path(), api.url)
    code, out, err = run(capsys, tmp_path, home, "limits", "--tz", "UTC")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        f"claude-code (max) 5h: 60% used of 5 h, resets {reset:%H:%M} ({reset:%H:%M} UTC, in 3 h)"
    ) or lines[0].startswith(
        f"claude-code (max) 5h: 60% used of 5 h, resets {reset:%H:%M} ({reset:%H:%M} UTC, in 2 h 59 min)"
    )
    full = now + timedelta(hours=1, minutes=20)  # the reading is taken a moment after now: a minute later at most
    minutes = f"({full:%H:%M}|{full + timedelta(minutes=1):%H:%M})"
    assert re.fullmatch(
        rf"  account endpoint, read \d+ s ago; at this pace: full at {minutes}, 1 h (39|40) min before it resets",
        lines[1],
    ), lines[1]


def test_limits_account_refused_is_a_redacted_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, api: FakeApi
) -> None:
    api.route("/api/oauth/usage", Reply({"error": {"message": f"bad token {TOKEN}"}}, 401))
    opt_in(settings_path(), api.url)
    code, out, err = run(capsys, tmp_path, home, "limits", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [w["agent"] for w in doc["windows"]] == ["codex", "codex"]
    (note,) = doc["notes"]
    assert note.startswith("claude: claude account: the key was refused (401") and TOKEN not in note
    assert TOKEN[:20] not in out + err


def test_limits_without_sign_in_or_opt_in(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    (home / ".claude" / ".credentials.json").unlink()
    code, out, _ = run(capsys, tmp_path, home, "limits", "--json", "--account")
    assert code == 0
    assert json.loads(out)["notes"][0].startswith("claude: claude account: no Claude Code sign-in found at ")
    code, out, _ = run(capsys, tmp_path, home, "limits", "--json")
    assert json.loads(out)["notes"] == [
        "claude: the account's plan use is not asked (opt in: --account, or the limits_account setting)"
    ]


def test_report_blocks_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, now: datetime) -> None:
    project = home / ".claude" / "projects" / "-home-dev-proj"
    older = [
        claude_line("old-1", "2026-11-20T08:10:00.000Z", inp=10, out=100),
        claude_line("old-2", "2026-11-20T13:00:00.000Z", inp=10, out=100),  # at the block's end: still in it
        claude_line("old-3", "2026-11-20T13:00:01.000Z", inp=10, out=100, model="claude-opus-4-5-20251101"),
    ]
    (project / "older.jsonl").write_bytes(b"".join(older))
    code, out, err = run(capsys, tmp_path, home, "report", "blocks", "--json")
    assert code == 0, err
    got = [
        (b["startTime"], b["endTime"], b["isGap"], b["isActive"], b["entries"], b["totalTokens"])
        for b in json.loads(out)["blocks"]
    ]
    first = now - timedelta(seconds=20)
    assert got[:3] == [
        ("2026-11-20T08:00:00.000Z", "2026-11-20T13:00:00.000Z", False, False, 2, 220),
        ("2026-11-20T13:00:00.000Z", "2026-11-20T18:00:00.000Z", False, False, 1, 110),
        ("2026-11-20T18:00:01.000Z", stamp(first), True, False, 0, 0),
    ]
    assert got[3] == (stamp(first.replace(minute=0, second=0)), got[3][1], False, True, 2, 2000) and len(got) == 4
    code, out, _ = run(
        capsys, tmp_path, home, "report", "blocks", "--since", "2026-11-20", "--until", "2026-11-20", "--tz", "UTC"
    )
    assert code == 0 and out.count("2026-11-20 ") == 5 and "active" not in out  # three rows; the gap ends today


def test_statusline_on_claude_codes_input(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    from app.cli import limits as limits_cli

    code, _, _ = run(capsys, tmp_path, home, "refresh")
    assert code == 0
    raw = json.dumps(
        {
            "session_id": SESSION,
            "transcript_path": str(home / ".claude/projects/-home-dev-proj" / f"{SESSION}.jsonl"),
            "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
            "workspace": {"current_dir": "/home/dev/proj", "project_dir": "/home/dev/proj"},
        }
    ).encode()
    args = argparse_namespace(tmp_path, home)
    line = limits_cli.statusline(args, raw)
    assert re.fullmatch(
        r"Opus 4\.1 │ today 2\.0K tok │ block 2\.0K tok \$\d+\.\d\d, resets \d\d:\d\d \((\d h( \d+ min)?|\d+ min)\)"
        r" │ session 2\.0K tok \$\d+\.\d\d",
        line,
    ), line
    # garbage, a JSON list, another session: a line all the same
    for junk in (b"\xff\xfe{not json", b"[1, 2]", b"", json.dumps({"session_id": 5, "model": "x"}).encode()):
        assert limits_cli.statusline(args, junk).startswith("today 2.0K tok │ block 2.0K tok")


def argparse_namespace(tmp_path: Path, home: Path) -> object:
    import argparse

    return argparse.Namespace(db=tmp_path / "i.sqlite", home=home, quiet=True, budget=0.5)


def test_statusline_never_waits_on_an_open_stdin(tmp_path: Path, home: Path, tokenclub_home: Path) -> None:
    """Claude Code closes the pipe; a caller that does not still gets its line, within the input's wait."""
    db = tmp_path / "i.sqlite"
    env = {**os.environ, "TOKENCLUB_HOME": str(tokenclub_home)}
    cmd = [sys.executable, "-m", "app", "statusline", "--db", str(db), "--home", str(home)]
    first = subprocess.run(cmd, input=b"", capture_output=True, env=env, timeout=60, cwd=Path(__file__).parent.parent)
    assert first.stdout.decode().startswith("TokenClub: nothing indexed yet")
    assert subprocess.run([*cmd[:3], "refresh", *cmd[4:]], env=env, timeout=60, capture_output=True).returncode == 0
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=Path(__file__).parent.parent
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b'{"session_id": "' + SESSION.encode() + b'", "model": {"display_name": "Sonnet"}')  # no end
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0  # it ended with its input still open
        out = proc.stdout.read()
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stdout.close()
    assert out.decode().startswith("today 2.0K tok │ block 2.0K tok"), out
    big = b'{"session_id": "' + b"x" * 200_000 + b'"}'
    done = subprocess.run(cmd, input=big, capture_output=True, env=env, timeout=60, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0 and done.stdout.decode().startswith("today 2.0K tok"), done.stdout


def test_account_endpoint_that_keeps_asking_to_wait_is_given_up_on_time(home: Path, api: FakeApi) -> None:
    """A 429 with a long Retry-After, again and again: the reading is abandoned at its time limit, not after minutes."""
    import time

    from app.core.env import Env
    from app.providers import claude_account
    from app.providers.base import ProviderError

    api.route("/api/oauth/usage", Reply({"error": {"message": "slow down"}}, 429, headers={"retry-after": "30"}))
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"no answer within 1 s"):
        claude_account.fetch(Env.under(home), api.url, total=1.0)
    assert time.monotonic() - started < 30
    assert len(api.requests) == 1  # waiting out the first Retry-After was cut short


def test_account_answer_that_is_not_the_documented_shape(home: Path, api: FakeApi) -> None:
    from app.core.env import Env
    from app.providers import claude_account
    from app.providers.base import ProviderError

    api.route("/api/oauth/usage", Reply(["not", "an", "object"]))
    with pytest.raises(ProviderError, match="not the documented answer"):
        claude_account.fetch(Env.under(home), api.url)
    api.route("/api/oauth/usage", Reply({"five_hour": {"utilization": "lots"}, "seven_day": None}))
    assert claude_account.fetch(Env.under(home), api.url) == []


def test_statusline_beside_a_writer_and_on_a_damaged_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path
) -> None:
    import sqlite3
    import time

    assert run(capsys, tmp_path, home, "refresh")[0] == 0
    (home / ".claude/projects/-home-dev-proj" / "later.jsonl").write_bytes(
        claude_line("msg-3", stamp(datetime.now(UTC)), inp=1, out=1, session="other")
    )
    writer = sqlite3.connect(tmp_path / "i.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the app is writing: the status line answers from what is indexed
    try:
        started = time.monotonic()
        code, out, err = run(capsys, tmp_path, home, "statusline")
        assert code == 0 and out.startswith("today 2.0K tok │ block 2.0K tok") and err == ""
        assert time.monotonic() - started < 30
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not an index" * 100)
    code = main(["statusline", "--db", str(garbage), "--home", str(home)])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith("TokenClub: no status (")
    assert garbage.read_bytes() == b"not an index" * 100


# -- the status line's kept answers ---------------------------------------------------------------------


def status_raw(home: Path, session: str = SESSION, model: str = "Opus 4.1", **extra: object) -> bytes:
    transcript = home / ".claude/projects/-home-dev-proj" / f"{session}.jsonl"
    return json.dumps(
        {"session_id": session, "transcript_path": str(transcript), "model": {"display_name": model}, **extra}
    ).encode()


def kept(tmp_path: Path, home: Path, raw: bytes, budget: float = 0.5) -> str:
    """The status line as the command answers it (kept answers included), for ``raw`` on stdin."""
    from app.cli import statusline

    return statusline.answer_for(str(tmp_path / "i.sqlite"), str(home), budget, raw)


def doctor(change: Callable[[list[str]], None]) -> None:
    """Rewrite every kept answer in place (a stale one planted where a fresh one was)."""
    from app.cli import statusline

    where = os.path.join(statusline.cache_dir(), "statusline")
    entries = statusline.load(where)
    assert entries, "nothing was kept"
    for entry in entries:
        change(entry)
    statusline.store(where, entries)


def plant(entry: list[str]) -> None:
    entry[8] = "PLANTED"


@pytest.fixture
def indexed(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> Path:
    assert run(capsys, tmp_path, home, "refresh")[0] == 0
    return home


def wait_past_tick(path: Path) -> None:
    """Until ``path`` changed longer ago than a file clock's tick (an answer is not kept before)."""
    deadline = time.monotonic() + 60
    while time.time_ns() - path.stat().st_mtime_ns < 100_000_000 and time.monotonic() < deadline:
        time.sleep(0.02)


def test_statusline_kept_answer_is_the_computed_one(tmp_path: Path, indexed: Path) -> None:
    from app.cli import limits as limits_cli

    raw = status_raw(indexed)
    wait_past_tick(tmp_path / "i.sqlite")
    for _ in range(3):  # a minute turning between them is retried
        fresh = limits_cli.statusline(argparse_namespace(tmp_path, indexed), raw)
        first, again = kept(tmp_path, indexed, raw), kept(tmp_path, indexed, raw)
        if first == fresh:
            break
    assert first == again == fresh, (first, again, fresh)
    doctor(plant)  # the next answer is the kept one: the tests below see a recomputation as a changed line
    assert kept(tmp_path, indexed, raw) == "PLANTED"
    assert statusline_subprocess(tmp_path, indexed, raw) == "PLANTED\n"  # the command prints it too
    # Claude Code's other fields (cost, duration) change between calls: the same session and model still match
    assert kept(tmp_path, indexed, status_raw(indexed, cost={"total_duration_ms": 1234})) == "PLANTED"
    assert kept(tmp_path, indexed, status_raw(indexed, padding="x" * 20_000)) == "PLANTED"  # matched by its fields
    assert kept(tmp_path, indexed, status_raw(indexed, model="Sonnet 4.5")).startswith("Sonnet 4.5 │ today 2.0K")
    assert kept(tmp_path, indexed, status_raw(indexed, session="other")) != "PLANTED"
    assert kept(tmp_path, indexed, raw, budget=0) != "PLANTED"  # other options


def test_statusline_new_message_in_the_transcript_changes_the_answer(tmp_path: Path, indexed: Path) -> None:
    raw = status_raw(indexed)
    assert "session 2.0K tok" in keep_planted(tmp_path, indexed, raw)
    transcript = indexed / ".claude/projects/-home-dev-proj" / f"{SESSION}.jsonl"
    with transcript.open("ab") as f:
        f.write(claude_line("msg-9", stamp(datetime.now(UTC)), inp=1000, out=2000, session=SESSION))
    assert "session 5.0K tok" in kept(tmp_path, indexed, raw)


def keep_planted(tmp_path: Path, indexed: Path, raw: bytes) -> str:
    """An answer kept, then replaced by a planted one that the next call is shown to print; the real answer."""
    for path in [
        tmp_path / "i.sqlite",
        tmp_path / "i.sqlite-wal",
        settings_path(),
        settings_path().parent / "prices.toml",
    ]:
        if path.exists():
            wait_past_tick(path)
    line = kept(tmp_path, indexed, raw)
    doctor(plant)
    assert kept(tmp_path, indexed, raw) == "PLANTED"
    return line


def test_statusline_changed_index_settings_or_prices_change_the_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, indexed: Path
) -> None:
    import sqlite3

    raw = status_raw(indexed)
    keep_planted(tmp_path, indexed, raw)
    # another session's call, indexed by someone else (the app): the index changed, this transcript did not
    (indexed / ".claude/projects/-home-dev-proj" / "later.jsonl").write_bytes(
        claude_line("msg-3", stamp(datetime.now(UTC)), inp=3000, out=1000, session="other")
    )
    assert kept(tmp_path, indexed, raw) == "PLANTED"  # not indexed yet: within FRESH_S, the kept answer
    assert run(capsys, tmp_path, indexed, "refresh")[0] == 0
    assert "today 6.0K tok" in kept(tmp_path, indexed, raw)
    # a write that changes no call still makes a new answer (never an old one)
    keep_planted(tmp_path, indexed, raw)
    with sqlite3.connect(tmp_path / "i.sqlite") as conn:
        conn.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('statusline-test', '1')")
    assert kept(tmp_path, indexed, raw) != "PLANTED"
    for changed in (settings_path(), settings_path().parent / "prices.toml"):
        keep_planted(tmp_path, indexed, raw)
        changed.parent.mkdir(parents=True, exist_ok=True)
        changed.write_text("{}" if changed.suffix == ".json" else "")
        assert kept(tmp_path, indexed, raw) != "PLANTED", changed


def test_statusline_new_minute_new_day_or_old_answer_is_recomputed(tmp_path: Path, indexed: Path) -> None:
    raw = status_raw(indexed)
    keep_planted(tmp_path, indexed, raw)

    def yesterday(entry: list[str]) -> None:
        entry[1] = str(int(entry[1]) - 24 * 60)

    doctor(yesterday)
    assert kept(tmp_path, indexed, raw) != "PLANTED"
    keep_planted(tmp_path, indexed, raw)

    def older(entry: list[str]) -> None:
        entry[0] = str(int(entry[0]) - 6_000_000_000)  # past FRESH_S, still this minute

    doctor(older)
    assert kept(tmp_path, indexed, raw) != "PLANTED"


def test_statusline_kept_file_damaged_or_foreign_is_a_miss(tmp_path: Path, indexed: Path) -> None:
    from app.cli import statusline

    raw = status_raw(indexed)
    where = Path(statusline.cache_dir()) / "statusline"
    wait_past_tick(tmp_path / "i.sqlite")
    fresh = kept(tmp_path, indexed, raw)
    for junk in (b"\xff\xfe", b"tokenclub-statusline 1\nx\ty\n", b"other format\n" + where.read_bytes()[23:]):
        where.write_bytes(junk)
        assert kept(tmp_path, indexed, raw).startswith(fresh[:30])
    assert statusline.load(str(where)) != []  # rewritten whole
    keep_planted(tmp_path, indexed, raw)

    def torn(entry: list[str]) -> None:
        entry[7] = entry[7].rpartition("\x1f")[0]  # a path without its state

    doctor(torn)
    assert kept(tmp_path, indexed, raw).startswith(fresh[:30])


def test_statusline_options_read_without_the_parser() -> None:
    from app.cli.launch import statusline_options as opts

    assert opts(["statusline"]) == (None, None, 0.5)
    assert opts(["--db", "/x/i.sqlite", "statusline", "--budget=0", "-q", "--wait", "3"]) == ("/x/i.sqlite", None, 0.0)
    assert opts(["statusline", "--db=/y", "--db", "/z"]) == ("/z", None, 0.5)
    assert opts(["statusline", "--home", "/", "--db", "/z"]) == ("/z", "/", 0.5)
    # the full parser's: help, abbreviations, errors, --home's own index
    for argv in (
        [],
        ["report", "daily"],
        ["statusline", "--help"],
        ["--budget", "0", "statusline"],
        ["statusline", "--bud", "0"],
        ["statusline", "--budget", "soon"],
        ["statusline", "--budget", "-1"],
        ["statusline", "--db"],
        ["statusline", "--json", "--csv"],
        ["statusline", "--wait", "1e9"],
        ["statusline", "--home", "/"],
        ["statusline", "--home", "/no/such/dir", "--db", "/z"],
        ["statusline", "statusline"],
        ["statusline", "--", "x"],
    ):
        assert opts(argv) is None, argv


def statusline_subprocess(tmp_path: Path, home: Path, raw: bytes, *extra: str) -> str:
    db = str(tmp_path / "i.sqlite")
    cmd = [sys.executable, "-m", "app", "statusline", "--db", db, "--home", str(home), *extra]
    done = subprocess.run(cmd, input=raw, capture_output=True, timeout=60, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    return done.stdout.decode()


def test_statusline_quick_and_full_command_lines_print_the_same(tmp_path: Path, indexed: Path) -> None:
    """`python -m app statusline` answered before the parser is built, and through it (an abbreviated option)."""
    wait_past_tick(tmp_path / "i.sqlite")
    for _ in range(3):  # a minute turning between them is retried
        outs = [statusline_subprocess(tmp_path, indexed, status_raw(indexed), *x) for x in ([], ["--bud", "0.5"], [])]
        if len(set(outs)) == 1:
            break
    assert outs[0].startswith("Opus 4.1 │ today 2.0K tok │ block 2.0K tok $") and outs[0].endswith("\n")
    assert outs[0] == outs[1] == outs[2], outs
