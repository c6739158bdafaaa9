"""The host helper's live counting, in process, on the streams and logs of the real CLIs' versions.

The helper's modules (``app.console.remote``, joined into one file for the hosts) are imported here as
they are. The fixtures and the totals their calls add up to are in tests/fixtures/streams/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from app.console.remote import hostcheck, processes, streams, supervisor

REPO = Path(__file__).resolve().parents[2]
STREAMS = REPO / "tests" / "fixtures" / "streams"


def lines(name: str) -> list[bytes]:
    return (STREAMS / name).read_bytes().splitlines()


def usage(fmt: str, agent: str | None = None, model: str | None = None, includes_cache: bool = False) -> Any:
    return streams._Usage(fmt, includes_cache, agent, model)


def totals(u: Any) -> dict[str, list[int]]:
    """Per model: in, cache write, cache read, out, reasoning."""
    return {m: list(v) for m, v in u.totals()[1].items()}


CLAUDE = "claude-sonnet-4-5-20250929"


def test_claude_code_counts_the_results_totals_once() -> None:
    u = usage("claude", "claude-code")
    stream = lines("claude-code-2.1.332.stream.jsonl")
    for line in stream[:-1]:
        u.feed(line)
    # the stream's messages carry the usage of their start: output 1 each until the result
    assert totals(u) == {CLAUDE: [1046, 2108, 3082, 2, 0]}
    u.feed(stream[-1])
    assert totals(u) == {CLAUDE: [1046, 2108, 3082, 41, 0]}
    assert u.sums == [1046, 2108, 3082, 41, 0]
    assert u.result == {"ok": True, "text": "done"}
    for line in stream:  # the same events again (a repeat) change nothing
        u.feed(line)
    assert u.sums == [1046, 2108, 3082, 41, 0]


def test_claude_code_counts_each_message_final_from_its_log_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live totals under-count by the message in flight at most, and the result adds nothing on top."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    log = tmp_path / "claude" / "projects" / "-root-w" / "7d0c1a5e-2b3f-4c6d-8e9f-0a1b2c3d4e5f.jsonl"
    log.parent.mkdir(parents=True)
    stream, session = lines("claude-code-2.1.332.stream.jsonl"), lines("claude-code-2.1.332.session.jsonl")
    u = usage("claude", "claude-code")
    for line in stream[:3]:  # init and message A's two events
        u.feed(line)
    log.write_bytes(b"\n".join(session[:3]) + b"\n")  # message A, final
    u.live_log()
    assert u.sums == [1034, 2048, 0, 25, 0]
    for line in stream[3:5]:  # the tool result, message B's start
        u.feed(line)
    assert u.sums == [1046, 2108, 3082, 26, 0]  # short by message B's output, still in flight
    log.write_bytes(b"\n".join(session) + b"\n")
    u.live_log()
    assert u.sums == [1046, 2108, 3082, 41, 0]
    u.feed(stream[5])  # the result: the same calls, counted once
    assert totals(u) == {CLAUDE: [1046, 2108, 3082, 41, 0]}
    with log.open("ab") as f:  # a late copy of a message the result holds
        f.write(session[-1] + b"\n")
    u.live_log()
    assert u.sums == [1046, 2108, 3082, 41, 0]


def test_claude_code_result_replaces_only_its_own_process(tmp_path: Path) -> None:
    """In a loop each iteration is a process with its own result: earlier ones stay counted."""
    u = usage("claude", "claude-code")
    stream = lines("claude-code-2.1.332.stream.jsonl")
    for run in (b"7d0c1a5e", b"8e1d2b6f"):  # each process its own session
        u.begin()
        for line in stream:
            u.feed(line.replace(b"7d0c1a5e", run))
    assert u.sums == [2 * 1046, 2 * 2108, 2 * 3082, 2 * 41, 0]


def test_qwen_code_result_holds_its_memory_agents_call_the_stream_never_shows() -> None:
    u = usage("claude", "qwen-code", includes_cache=True)
    stream = lines("qwen-code-0.24.4.stream.jsonl")
    for line in stream[:-1]:
        u.feed(line)
    assert totals(u) == {"qwen3-coder-plus": [1034, 0, 5002, 42, 0]}
    u.feed(stream[-1])
    assert totals(u) == {"qwen3-coder-plus": [2072, 0, 10064, 88, 0]}


def test_codex_model_and_tokens_from_its_rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    u = usage("codex", "codex")
    for line in lines("codex-0.171.0.stream.jsonl"):
        u.feed(line)
    assert totals(u) == {"unknown": [4096, 0, 3072, 97, 64]}  # the stream never names the model
    day = tmp_path / "codex" / "sessions" / time.strftime("%Y/%m/%d")
    day.mkdir(parents=True)
    shutil.copy(
        STREAMS / "codex-0.171.0.rollout.jsonl",
        day / "rollout-2026-12-07T02-00-00-019ae0a1-7c2b-7d3e-8f40-a1b2c3d4e5f6.jsonl",
    )
    u.live_log()
    assert totals(u) == {"gpt-5.1-codex": [4096, 0, 3072, 97, 64]}
    assert u.model == "gpt-5.1-codex"


def test_codex_priced_from_the_launch_model_before_its_log_names_one() -> None:
    u = usage("codex", "codex", model="gpt-5.1-codex")
    for line in lines("codex-0.171.0.stream.jsonl"):
        u.feed(line)
    assert totals(u) == {"gpt-5.1-codex": [4096, 0, 3072, 97, 64]}


def test_gemini_cli_thoughts_in_output_and_the_routers_calls_from_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path))
    chats = tmp_path / ".gemini" / "tmp" / "w" / "chats"
    chats.mkdir(parents=True)
    shutil.copy(STREAMS / "gemini-cli-0.61.0.chat.jsonl", chats / "session-2026-12-07T02-00-3f2e1d0c.jsonl")
    u = usage("gemini", "gemini-cli")
    stream = lines("gemini-cli-0.61.0.stream.jsonl")
    for line in stream[:-1]:
        u.feed(line)
    assert u.model is None  # "auto-gemini-2.5" routes each call: not a model
    u.live_log()  # mid-run: the log's calls, thoughts inside output
    assert totals(u) == {"gemini-2.5-pro": [6100, 0, 4000, 97, 37]}
    u.feed(stream[-1])
    want = {"gemini-2.5-pro": [6100, 0, 4000, 97, 37], "gemini-2.5-flash-lite": [1420, 0, 0, 26, 0]}
    assert totals(u) == want
    u.live_log()  # after the result the log adds nothing
    assert totals(u) == want


def test_gemini_cli_result_alone() -> None:
    u = usage("gemini", "gemini-cli", model="gemini-2.5-pro")
    for line in lines("gemini-cli-0.61.0.stream.jsonl"):
        u.feed(line)
    assert u.sums == [7520, 0, 4000, 123, 37]


def _opencode_db(path: Path, session: str, model: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_updated INT, data TEXT)")
        user = {"role": "user", "model": {"providerID": "anthropic", "modelID": model}}
        reply = {"role": "assistant", "modelID": model, "providerID": "anthropic", "tokens": {"input": 1}}
        con.execute("INSERT INTO message VALUES ('msg_u', ?, 1, ?)", (session, json.dumps(user)))
        con.execute("INSERT INTO message VALUES ('msg_a1', ?, 2, ?)", (session, json.dumps(reply)))
    con.close()


def test_opencode_reasoning_apart_and_the_model_from_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    u = usage("opencode", "opencode")
    for line in lines("opencode-1.18.33.stream.jsonl"):
        u.feed(line)
    assert totals(u) == {"unknown": [1074, 0, 11114, 70, 20]}
    _opencode_db(tmp_path / "opencode" / "opencode.db", "ses_5f1e2d3c4b5aAbCdEfGhIjKlMn", "claude-sonnet-4-5")
    u.live_log()
    assert totals(u) == {"claude-sonnet-4-5": [1074, 0, 11114, 70, 20]}


def test_opencode_older_builds_reasoning_inside_output_is_not_added_again() -> None:
    u = usage("opencode", "opencode", model="claude-sonnet-4-5")
    tokens = {"input": 1034, "output": 42, "reasoning": 12, "cache": {"read": 5002, "write": 0}}  # no total
    u.feed(json.dumps({"type": "step_finish", "sessionID": "ses_1", "part": {"id": "prt_1", "tokens": tokens}}))
    assert totals(u) == {"claude-sonnet-4-5": [1034, 0, 5002, 42, 12]}


@pytest.mark.parametrize("bad", [-5, 1.5, 2**53, "12", True, [1], {"n": 1}])
def test_impossible_counts_are_ignored_with_a_note(bad: Any) -> None:
    u = usage("claude", "claude-code")
    msg = {
        "id": "m1",
        "model": CLAUDE,
        "usage": {"input_tokens": bad, "output_tokens": 7, "cache_read_input_tokens": 3},
    }
    u.feed(json.dumps({"type": "assistant", "message": msg}))
    assert u.sums == [0, 0, 3, 7, 0]
    assert len(u.notes) == 1 and u.notes[0].startswith("ignored input_tokens=") and "not a token count" in u.notes[0]


def test_the_largest_exact_count_is_kept() -> None:
    u = usage("codex", "codex", model="m")
    u.feed(json.dumps({"type": "turn.completed", "usage": {"input_tokens": 2**53 - 1, "output_tokens": 1}}))
    assert u.sums[0] == 2**53 - 1 and u.notes == []


@pytest.mark.parametrize(
    "event",
    [
        {"type": "assistant", "message": "text"},
        {"type": "assistant", "message": {"id": ["x"], "usage": {"input_tokens": -1}, "model": 5}},
        {"type": "result", "modelUsage": {"m": "x", "n": {"inputTokens": -2, "outputTokens": 1e300}}},
        {"type": "result", "stats": {"models": {"m": [1]}}},
        {"type": "result", "stats": [1, 2]},
        {"type": "step_finish", "part": {"tokens": "many"}},
        {"type": "step_finish", "part": ["x"]},
        {"type": "turn.completed", "usage": {"input_tokens": None, "cached_input_tokens": -9}},
        {"type": "system", "model": {"name": "x"}, "session_id": 12},
    ],
)
@pytest.mark.parametrize("fmt", ["claude", "codex", "gemini", "opencode"])
def test_odd_shapes_never_crash_the_parser(fmt: str, event: dict[str, Any]) -> None:
    u = usage(fmt, "claude-code" if fmt == "claude" else None)
    u.feed(json.dumps(event))
    u.live_log()
    assert all(isinstance(v, int) and v >= 0 for v in u.sums)
    assert all(len(n) < 200 for n in u.notes)


def test_money_keeps_two_significant_digits() -> None:
    assert [supervisor._usd(x) for x in (0.0123, 0.001, 0.5, 12.345, 0, 0.000049)] == [
        "$0.0123",
        "$0.001",
        "$0.50",
        "$12.35",
        "$0.00",
        "$0.000049",
    ]


def test_configured_models_of_codex_gemini_and_opencode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CODEX_HOME", "GEMINI_CLI_HOME", "GEMINI_MODEL", "XDG_CONFIG_HOME", "OPENCODE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hostcheck._configured_model("codex", None)[0] is None
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(
        'model_reasoning_effort = "high"\nmodel = "gpt-5.1-codex"\n\n[profiles.fast]\nmodel = "gpt-5.1-codex-mini"\n'
    )
    assert hostcheck._configured_model("codex", None) == ("gpt-5.1-codex", str(tmp_path / ".codex" / "config.toml"))
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text('{"model": {"name": "gemini-2.5-flash"}}')
    assert hostcheck._configured_model("gemini-cli", None)[0] == "gemini-2.5-flash"
    monkeypatch.setenv("GEMINI_MODEL", "gemini-2.5-pro")
    assert hostcheck._configured_model("gemini-cli", None)[0] == "gemini-2.5-pro"
    cfg = tmp_path / ".config" / "opencode"
    cfg.mkdir(parents=True)
    (cfg / "opencode.jsonc").write_text('{\n  // the default\n  "model": "anthropic/claude-sonnet-4-5", /* x */\n}\n')
    assert hostcheck._configured_model("opencode", None)[0] == "anthropic/claude-sonnet-4-5"
    work = tmp_path / "w"
    work.mkdir()
    (work / "opencode.json").write_text('{"model": "openai/gpt-5.1"}')
    assert hostcheck._configured_model("opencode", str(work)) == ("openai/gpt-5.1", str(work / "opencode.json"))
    assert hostcheck._configured_model("claude-code", None)[0] is None


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_cli_version_is_bounded_sanitized_and_timed_out(tmp_path: Path) -> None:
    ok = _script(tmp_path / "ok", "printf '\\033[1m2.1.332 (Claude Code)\\033[0m\\a\\n'\n")
    assert hostcheck._cli_version(ok, 5) == "2.1.332 (Claude Code)"
    flood = _script(tmp_path / "flood", "yes 0.171.0-$(printf 'x%.0s' $(seq 300))\n")
    t0 = time.monotonic()
    text = hostcheck._cli_version(flood, 5)
    assert text.startswith("0.171.0-xxx") and len(text) == 120 and time.monotonic() - t0 < 5
    slow = _script(tmp_path / "slow", "sleep 30\n")
    t0 = time.monotonic()
    assert hostcheck._cli_version(slow, 0.5) == "error: no answer in 0.5 s"
    assert time.monotonic() - t0 < 5
    assert hostcheck._cli_version(str(tmp_path / "missing"), 1).startswith("error: ")


def test_cli_search_is_the_runs_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    local = tmp_path / ".local" / "bin"
    local.mkdir(parents=True)
    _script(local / "gemini", "echo 0.61.0\n")
    assert os.pathsep + str(local) in processes._agent_path()
    assert shutil.which("gemini", path=processes._agent_path()) == str(local / "gemini")


# -- streams recorded from the real CLIs (tests/console/record_streams.py) --------------------------

RECORDED = STREAMS / "recorded"
# (helper format, TokenClub agent, input includes the cache, model known at launch)
RECORDED_RUNS = {
    "claude-2.1.332": ("claude", "claude-code", False, None),
    "codex-0.171.0": ("codex", "codex", False, None),
    "gemini-0.61.0": ("gemini", "gemini-cli", False, None),
    "qwen-0.24.4": ("claude", "qwen-code", True, None),
    "opencode-1.18.33": ("opencode", "opencode", False, "qwen3-coder-plus"),  # its config: local/qwen3-coder-plus
}
# where each log goes in a home for the helper to find it, and what reasoning each stream reports
LOG_HOME = {"claude": ".claude/projects/-w", "codex": ".codex/sessions/{day}", "gemini": ".gemini/tmp/w/chats"}


def _server(stem: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{stem}.server.json").read_text())  # type: ignore[no-any-return]


def _expected(stem: str) -> dict[str, list[int]]:
    """The server's usage per model, without the calls the CLI reports nowhere: OpenCode's session
    title (made by its small model, in neither its stream nor its storage)."""
    sums: dict[str, list[int]] = {}
    for call in _server(stem)["calls"]:
        if call["purpose"] == "title":
            continue
        acc = sums.setdefault(call["model"], [0, 0, 0, 0, 0])
        for i, bucket in enumerate(("in", "cw", "cr", "out", "rsn")):
            acc[i] += call["usage"][bucket]
    return sums


@pytest.mark.parametrize("stem", list(RECORDED_RUNS))
def test_recorded_real_streams_count_what_the_server_returned(
    stem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fmt, agent, includes_cache, model = RECORDED_RUNS[stem]
    for name in ("CODEX_HOME", "GEMINI_CLI_HOME", "CLAUDE_CONFIG_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    log = _server(stem)["log"]
    if log:
        folder = tmp_path / LOG_HOME[fmt].format(day=time.strftime("%Y/%m/%d"))
        folder.mkdir(parents=True)
        shutil.copy(RECORDED / f"{stem}.log.jsonl", folder / log)
    u = usage(fmt, agent, model, includes_cache)
    for line in (RECORDED / f"{stem}.stream.jsonl").read_bytes().splitlines():
        u.feed(line)
        u.live_log()
    got, want = totals(u), _expected(stem)
    assert u.notes == []
    assert {m: v[:4] for m, v in got.items()} == {m: v[:4] for m, v in want.items()}
    if agent in ("claude-code", "qwen-code"):  # their streams report no reasoning count (it is in the output)
        assert all(v[4] == 0 for v in got.values())
    else:
        assert got == want
