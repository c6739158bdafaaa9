"""`tokenclub limits`, `report blocks` and `statusline` on logs built from the documented shapes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from tests.core.test_limits import ANSWER, ID2, PRO, ZEROS, token_count, write_rollout
from tests.logmaker import claude_line
from tests.providers.conftest import FakeApi, Reply

TOKEN = "sk-ant-oat01-TESTTOKEN0claude0account0HHHHHHHHHHHHHHHHwxyz"
SESSION = "5e551071-0000-4000-8000-000000000001"


def stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    try:
        yield server
    finally:
        server.close()


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
    from app import limits_cli

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
        r"Opus 4\.1 │ today 2\.0K tok │ block 2\.0K tok \$\d+\.\d\d, resets \d\d:\d\d \((\d h )?\d+ min\)"
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

    from app.providers import claude_account
    from app.providers.base import ProviderError
    from app.sources.env import Env

    api.route("/api/oauth/usage", Reply({"error": {"message": "slow down"}}, 429, headers={"retry-after": "30"}))
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"no answer within 1 s"):
        claude_account.fetch(Env.under(home), api.url, total=1.0)
    assert time.monotonic() - started < 30
    assert len(api.requests) == 1  # waiting out the first Retry-After was cut short


def test_account_answer_that_is_not_the_documented_shape(home: Path, api: FakeApi) -> None:
    from app.providers import claude_account
    from app.providers.base import ProviderError
    from app.sources.env import Env

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
