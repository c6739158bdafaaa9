"""The stand-in agent CLIs (standin_agent.py) on their own, run locally like the console runs them.

Each stand-in's stdout must carry its usage the way that CLI's stream reports it, and its log
must be what TokenClub indexes, with the same calls under the same ids; the exits and the
detached grandchild the console tests depend on are checked here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import tokenclub

STANDIN = Path(__file__).with_name("standin_agent.py")
ARGV = {
    "claude": ["-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"],
    "codex": ["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-"],
    "gemini": ["--output-format", "stream-json", "--yolo"],
    "opencode": ["run", "--format", "json"],
    "qwen": ["--output-format", "stream-json", "--yolo"],
}
AGENT = {"claude": "claude-code", "codex": "codex", "gemini": "gemini-cli", "opencode": "opencode", "qwen": "qwen-code"}
# what moves each CLI's data away from $HOME; the stand-ins honour them, so the tests clear them
MOVERS = ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME", "XDG_DATA_HOME", "QWEN_RUNTIME_DIR")
STEPS = 3
IN, CW, CR, OUT = 101, 52, 1003, 24  # per call; no two sums of these coincide
# one call as (in, cw, cr, out): a format without a cache-write count has those tokens in its input
PER_CALL = {n: (IN, CW, CR, OUT) if n in ("claude", "opencode") else (IN + CW, 0, CR, OUT) for n in ARGV}
MARKER = "STANDIN_TEST_MARKER"


def run(
    tmp_path: Path, name: str, goal: str, args: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The stand-in installed as ``name`` in a bin folder, run in tmp_path/work with HOME=tmp_path/home."""
    exe = tmp_path / "bin" / name
    exe.parent.mkdir(exist_ok=True)
    shutil.copy(STANDIN, exe)
    exe.chmod(0o755)
    for sub in ("home", "work"):
        (tmp_path / sub).mkdir(exist_ok=True)
    goal_file = tmp_path / "goal"
    goal_file.write_text(goal)
    clean = {k: v for k, v in os.environ.items() if k not in MOVERS}
    with goal_file.open() as stdin:
        return subprocess.run(
            [str(exe), *(ARGV[name] if args is None else args)],
            stdin=stdin,
            cwd=tmp_path / "work",
            env={**clean, "HOME": str(tmp_path / "home"), "IS_SANDBOX": "1", **(env or {})},  # claude may run as root
            capture_output=True,
            text=True,
            timeout=30,
        )


def stream_usage(name: str, events: list[dict[str, Any]]) -> tuple[int, int, int, int]:
    """(in, cw, cr, out) the way a reader of this CLI's stream adds it up."""
    kinds = [e["type"] for e in events]
    if name in ("claude", "qwen"):
        calls = {e["message"]["id"]: e["message"]["usage"] for e in events if e["type"] == "assistant"}
        if name == "claude":  # one event per content block, each with the whole message's usage
            assert kinds.count("assistant") == 2 * len(calls)
        cached_in_input = name == "qwen"  # Qwen's input_tokens is the prompt count, cache reads included
        parts = [
            (
                u["input_tokens"] - (u["cache_read_input_tokens"] if cached_in_input else 0),
                u.get("cache_creation_input_tokens", 0),
                u["cache_read_input_tokens"],
                u["output_tokens"],
            )
            for u in calls.values()
        ]
        ins, cws, crs, outs = zip(*parts, strict=True)
        total = sum(ins), sum(cws), sum(crs), sum(outs)
        result = events[-1]
        assert result["type"] == "result" and not result["is_error"] and result["num_turns"] == len(calls)
        if name == "claude":  # its messages carry the usage of their start (output 1); the result the totals
            assert total[3] == len(calls)
            [per_model] = result["modelUsage"].values()
            keys = ("inputTokens", "cacheCreationInputTokens", "cacheReadInputTokens", "outputTokens")
            assert total[:3] == tuple(per_model[k] for k in keys[:3])
            total = tuple(per_model[k] for k in keys)
        assert result["usage"]["output_tokens"] == total[3]
        return total
    if name == "codex":  # one turn per exec: its only turn.completed has the thread's totals
        assert kinds[:2] == ["thread.started", "turn.started"] and kinds.count("turn.completed") == 1
        u = events[-1]["usage"]
        return u["input_tokens"] - u["cached_input_tokens"], 0, u["cached_input_tokens"], u["output_tokens"]
    if name == "gemini":  # usage only in the final result
        stats = events[-1]["stats"]
        assert events[-1]["status"] == "success" and stats["input"] == stats["input_tokens"] - stats["cached"]
        return stats["input"], 0, stats["cached"], stats["output_tokens"]
    steps = [e["part"]["tokens"] for e in events if e["type"] == "step_finish"]  # opencode: one per step
    return (
        sum(t["input"] for t in steps),
        sum(t["cache"]["write"] for t in steps),
        sum(t["cache"]["read"] for t in steps),
        sum(t["output"] for t in steps),
    )


def stream_ids(name: str, events: list[dict[str, Any]]) -> tuple[str, set[str]]:
    """(session, per-call ids) in the stream; Codex and Gemini name no call, only the session."""
    first = events[0]
    session = str(first.get("session_id") or first.get("thread_id") or first.get("sessionID"))
    if name in ("claude", "qwen"):
        return session, {e["message"]["id"] for e in events if e["type"] == "assistant"}
    if name == "opencode":
        return session, {e["part"]["messageID"] for e in events if e["type"] == "step_finish"}
    return session, set()


def log_call_ids(name: str, home: Path) -> set[str]:
    """The per-call ids in the CLI's own log."""
    if name == "opencode":
        files = home.glob(".local/share/opencode/storage/message/*/*.json")
        return {p.stem for p in files if json.loads(p.read_text())["role"] == "assistant"}
    pattern = {"claude": ".claude/projects/*/*.jsonl", "qwen": ".qwen/projects/*/chats/*.jsonl"}.get(name)
    if pattern is None:
        return set()
    lines = [json.loads(line) for p in home.glob(pattern) for line in p.read_text().splitlines()]
    records = [r for r in lines if r.get("type") == "assistant"]
    return {r["message"]["id"] if name == "claude" else r["uuid"] for r in records}


@pytest.mark.parametrize("name", list(ARGV))
def test_the_stream_and_the_log_carry_the_same_calls(tmp_path: Path, name: str) -> None:
    done = run(tmp_path, name, f"STANDIN steps={STEPS} delay=0 usage={IN},{CW},{CR},{OUT}\nwrite the parser\n")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events and all(isinstance(e, dict) and e.get("type") for e in events)
    expected = tuple(STEPS * n for n in PER_CALL[name])
    assert stream_usage(name, events) == expected

    home = tmp_path / "home"
    report = json.loads(tokenclub("report", "session", "--json", "--tz", "UTC", home=home).stdout)
    [row] = report["sessions"]
    assert row["agent"] == AGENT[name] and row["calls"] == STEPS, row
    assert (row["in"], row["cw"], row["cr"], row["out"]) == expected, row
    session, calls = stream_ids(name, events)
    assert row["session"] == session and row["project"] == str(tmp_path / "work")
    assert log_call_ids(name, home) == calls and len(calls) == (0 if name in ("codex", "gemini") else STEPS)


@pytest.mark.parametrize("name", list(ARGV))
def test_exit_now_fails_before_any_event(tmp_path: Path, name: str) -> None:
    done = run(tmp_path, name, "STANDIN mode=exit-now\n")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == "error: something broke\n"
    assert list((tmp_path / "home").iterdir()) == []  # no log either


@pytest.mark.parametrize(
    ("name", "args", "code", "says"),
    [
        ("claude", ["-p", "--verbose"], 2, "usage: claude -p --output-format stream-json --verbose"),
        ("claude", ["-p", "--output-format", "stream-json"], 1, "stream-json requires --verbose"),
        ("codex", ["exec", "-"], 2, "usage: codex exec --json"),
        ("opencode", ["run", "--format=json", "--model", "openai/gpt-5"], 0, ""),
    ],
)
def test_the_headless_flags_are_checked(tmp_path: Path, name: str, args: list[str], code: int, says: str) -> None:
    done = run(tmp_path, name, "STANDIN steps=1 delay=0\n", args=args)
    assert done.returncode == code and says in done.stderr, done.stderr
    assert bool(done.stdout) == (code == 0)


def marked(value: str) -> list[int]:
    """Live processes whose environment carries MARKER=value."""
    needle = f"{MARKER}={value}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            if state != b"Z" and needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(int(pid))
    return found


@pytest.fixture
def marker() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in marked(value):  # the grandchild ignores TERM: only KILL stops it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_grandchild_outlives_the_agent_in_a_session_of_its_own(tmp_path: Path, marker: str) -> None:
    done = run(tmp_path, "claude", "STANDIN steps=1 delay=0 grandchild=1\n", env={MARKER: marker})
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # it calls setsid() just after its fork
        pids = marked(marker)
        if len(pids) == 1 and os.getsid(pids[0]) == pids[0]:
            break
        time.sleep(0.02)
    [pid] = marked(marker)
    assert os.getsid(pid) == pid != os.getsid(0)
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    ignored = int(status["SigIgn"], 16)
    assert ignored & (1 << (signal.SIGHUP - 1)) and ignored & (1 << (signal.SIGTERM - 1))
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.1)
    assert marked(marker) == [pid]
