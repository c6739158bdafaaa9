"""Hostile usage counts and binary garbage in logs: a named skip for the record, never a crash, never a silent 0.

The real ``tokenclub`` command runs in a subprocess on a home whose Claude transcript, Codex rollout
and Gemini session document each hold one bad record among good ones: refresh and report succeed,
``sources --json`` names the skip, and the good records count exactly.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.core.env import Env
from app.core.index import Index
from app.core.model import UsageEvent
from app.core.readers import BAD_EVENT, Job, read
from app.core.source import MAX_COUNT, BadCount, ParseResult, Source, Sources
from app.sources import SOURCES
from app.sources.base import count, counts
from tests.conftest import lay_out_home
from tests.logmaker import claude_line

OUT_OF_RANGE = "usage count out of range"
NOT_A_NUMBER = "usage count not a number"
NOT_WHOLE = "usage count not a whole number"

# the JSON token written where a count belongs -> the skip it must give
BAD_TOKENS = {
    "10000000000000000000": OUT_OF_RANGE,  # 10**19: past SQLite's 64-bit integers
    "1" + "0" * 30: OUT_OF_RANGE,  # 10**30: decoded as a float
    "1e300": OUT_OF_RANGE,
    str(MAX_COUNT + 1): OUT_OF_RANGE,
    "-5": OUT_OF_RANGE,
    '"5"': NOT_A_NUMBER,
    "true": NOT_A_NUMBER,
    "[5]": NOT_A_NUMBER,
    "5.5": NOT_WHOLE,
    "NaN": "malformed JSON",  # not JSON at all: the decoder refuses the line (or the whole document)
}

CLAUDE_GOOD = 110 + 330  # m1 (10 in + 100 out) and m3 (30 in + 300 out)
CODEX_GOOD = 1100 + 2200  # the first and third calls
GEMINI_GOOD = 7500  # the first message: 7000 input (2000 of it cached) + 500 output


def tokenclub(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line, in its own process, from this checkout."""
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=120, cwd=root
    )


def codex_count(ts: str, total: dict[str, int], last: str) -> bytes:
    """A token_count line; ``last`` is the raw JSON of last_token_usage (it may hold a bad token)."""
    info = '{"total_token_usage":' + orjson.dumps(total).decode() + ',"last_token_usage":' + last + "}"
    return (
        f'{{"timestamp":"{ts}","type":"event_msg","payload":{{"type":"token_count","info":{info},"rate_limits":null}}}}\n'
    ).encode()


def usage(inp: int, out: int) -> dict[str, int]:
    return {"input_tokens": inp, "cached_input_tokens": 0, "output_tokens": out, "reasoning_output_tokens": 0,
            "total_tokens": inp + out}  # fmt: skip


def write_home(home: Path, token: str) -> None:
    """One Claude transcript, one Codex rollout and one Gemini session document, each with ``token``
    as a count of its second record."""
    claude = home / ".claude" / "projects" / "-home-dev-proj"
    claude.mkdir(parents=True)
    bad_claude = claude_line("m2", "2026-11-20T10:00:01Z", inp=987654).replace(b"987654", token.encode())
    (claude / "s.jsonl").write_bytes(
        claude_line("m1", "2026-11-20T10:00:00Z")
        + bad_claude
        + claude_line("m3", "2026-11-20T10:00:02Z", inp=30, out=300)
    )

    codex = home / ".codex" / "sessions" / "2026" / "11" / "20"
    codex.mkdir(parents=True)
    thread = "019aa1b2-c3d4-7e5f-8a9b-0c1d2e3f4a99"
    meta = {"timestamp": "2026-11-20T09:00:00Z", "type": "session_meta", "payload": {"id": thread, "cwd": "/p"}}
    turn = {"timestamp": "2026-11-20T09:00:01Z", "type": "turn_context", "payload": {"model": "gpt-5.1-codex"}}
    bad_last = orjson.dumps(usage(987654, 100)).decode().replace("987654", token)
    (codex / f"rollout-2026-11-20T09-00-00-{thread}.jsonl").write_bytes(
        orjson.dumps(meta) + b"\n" + orjson.dumps(turn) + b"\n"
        + codex_count("2026-11-20T09:00:02Z", usage(1000, 100), orjson.dumps(usage(1000, 100)).decode())
        + codex_count("2026-11-20T09:00:03Z", usage(2000, 200), bad_last)
        + codex_count("2026-11-20T09:00:04Z", usage(4000, 400), orjson.dumps(usage(2000, 200)).decode())
    )  # fmt: skip

    chats = home / ".gemini" / "tmp" / "myproj" / "chats"
    chats.mkdir(parents=True)
    tokens = {"input": 7000, "output": 500, "cached": 2000, "thoughts": 0, "tool": 0}
    model = "gemini-2.5-pro"
    messages = [
        {"id": "g1", "timestamp": "2026-11-20T08:00:00Z", "type": "gemini", "tokens": tokens, "model": model},
        {"id": "g2", "timestamp": "2026-11-20T08:01:00Z", "type": "gemini", "tokens": {**tokens, "output": 987654},
         "model": model},
    ]  # fmt: skip
    doc = orjson.dumps({"sessionId": "gs-1", "messages": messages}).replace(b"987654", token.encode())
    (chats / "session-2026-11-20T08-00-gs1.json").write_bytes(doc)


def agent_totals(report: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for day in report["days"]:
        for agent, sums in day["by_agent"].items():
            found[agent] = found.get(agent, 0) + sums["total"]
    return found


def skipped(sources: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {s["agent"]: s["skipped"] for s in sources["sources"] if s["skipped"]}


@pytest.mark.parametrize("token", list(BAD_TOKENS))
def test_a_bad_count_is_a_named_skip_and_the_rest_counts(tmp_path: Path, token: str) -> None:
    home, db = tmp_path / "home", str(tmp_path / "i.sqlite")
    write_home(home, token)
    reason = BAD_TOKENS[token]

    refreshed = tokenclub("refresh", "--json", "--db", db, "--home", str(home))
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Traceback" not in refreshed.stderr and reason in refreshed.stderr  # the warning names it

    listed = tokenclub("sources", "--json", "--db", db, "--home", str(home))
    assert listed.returncode == 0, listed.stderr
    assert skipped(json.loads(listed.stdout)) == {a: {reason: 1} for a in ("claude-code", "codex", "gemini-cli")}

    for _ in range(2):  # and again: nothing is left that stops the next run
        report = tokenclub("report", "daily", "--json", "--tz", "UTC", "--db", db, "--home", str(home))
        assert report.returncode == 0, report.stderr
        expected = {"claude-code": CLAUDE_GOOD, "codex": CODEX_GOOD, "gemini-cli": GEMINI_GOOD}
        if reason == "malformed JSON":  # a document that is not JSON cannot be read: its good message goes with it
            del expected["gemini-cli"]
        assert agent_totals(json.loads(report.stdout)) == expected


def test_missing_and_null_counts_are_zero_and_valid_ones_pass_as_they_are() -> None:
    assert count(None) == 0 and count(0) == 0 and count(MAX_COUNT) == MAX_COUNT and count(12.0) == 12
    values = [1, 2, 3]
    assert counts(values) is values  # the common case is one check, no copy
    assert counts([None, 4.0]) == [0, 4]
    for bad, reason in ((MAX_COUNT + 1, OUT_OF_RANGE), (-1, OUT_OF_RANGE), (float("inf"), OUT_OF_RANGE),
                        (float("nan"), NOT_A_NUMBER), (False, NOT_A_NUMBER), ({}, NOT_A_NUMBER)):  # fmt: skip
        with pytest.raises(BadCount, match=reason):
            count(bad)
        with pytest.raises(BadCount, match=reason):
            counts([1, bad])


def test_cached_above_input_is_a_named_skip(tmp_path: Path) -> None:
    """Codex's input includes its cached part: a cached count larger than the input is a damaged line."""
    home = tmp_path / "home"
    write_home(home, "0")
    rollout = next((home / ".codex").rglob("rollout-*.jsonl"))
    rollout.write_bytes(
        rollout.read_bytes().replace(
            b'"input_tokens":0,"cached_input_tokens":0', b'"input_tokens":10,"cached_input_tokens":50'
        )
    )
    index = Index(tmp_path / "i.sqlite", overrides=tmp_path / "none.toml", sources=SOURCES)
    try:
        index.refresh(Env.under(home), workers=1)
        (skips,) = index.conn.execute("SELECT skips FROM files WHERE agent = 'codex'").fetchone()
        assert json.loads(skips) == {"cached count above input": 1}
        assert index.conn.execute("SELECT SUM(inp + cw + cr + out) FROM events WHERE agent = 'codex'").fetchone() == (
            CODEX_GOOD,
        )
    finally:
        index.close()


class _Careless(Source):
    """A source with a parser bug: it hands the index whatever numbers it found."""

    agent = "careless"
    title = "Careless"

    def roots(self, env: Env) -> list[Path]:
        return []

    def discover(self, root: Path) -> Any:
        return iter(())

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state)
        result.offset = path.stat().st_size

        def event(key: str, inp: Any, ts: Any = 1_795_000_000_000, prio: Any = 0) -> UsageEvent:
            return UsageEvent(key, prio, self.agent, ts, "m", "s", "p", inp, 0, 0, 1)

        result.events = [event("good", 5), event("huge", 10**19), event("negative", -1), event("float", 1.5),
                         event("text", "5"), event("time", 5, ts=10**30), event("order", 5, prio=-(10**20)),
                         event("float time", 5, ts=1e12)]  # fmt: skip
        return result


def test_the_index_drops_what_a_buggy_parser_hands_it(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"x\n")

    class Careless(Sources):
        def get(self, agent: str) -> Source:
            return _Careless()

    done = read(Job("careless", str(log), 0, {}, True, (0, 0, 2, 0), 2), Careless("app.sources"))
    assert done.error is None
    assert [row[7] for row in done.rows] == [5]
    assert done.skips == {BAD_EVENT: 7}


def test_binary_garbage_in_a_transcript_and_a_rollout_is_counted_and_the_totals_hold(tmp_path: Path) -> None:
    """Seeded random bytes inside a Claude transcript and appended to a Codex rollout: the garbage lines
    that carry a source's marker are named skips; lines without it are not usage and are passed over."""
    home, db = lay_out_home(tmp_path / "home", ("claude", "codex")), str(tmp_path / "i.sqlite")
    clean = tokenclub("report", "daily", "--json", "--tz", "UTC", "--db", db, "--home", str(home))
    assert clean.returncode == 0, clean.stderr
    before = agent_totals(json.loads(clean.stdout))
    assert sum(before.values()) == 63243 + 60560  # EXPECTED.md

    rng = random.Random(22)

    def garbage(marker: bytes) -> bytes:
        """Five lines of random bytes (not UTF-8), two of them holding ``marker``."""
        lines = [bytes(rng.randrange(256) for _ in range(300)).replace(b"\n", b"") for _ in range(5)]
        lines[1] = lines[1][:100] + marker + lines[1][100:]
        lines[3] = b"\x00\xff" + marker + lines[3]
        for line in lines:
            with pytest.raises(UnicodeDecodeError):
                line.decode()
        return b"\n".join(lines) + b"\n"

    transcript = max((home / ".claude").rglob("*.jsonl"), key=lambda p: p.stat().st_size)
    data = transcript.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1  # between two lines
    transcript.write_bytes(data[:cut] + garbage(b'"usage":') + data[cut:])
    rollout = next((home / ".codex" / "sessions").rglob("rollout-*.jsonl"))
    with rollout.open("ab") as f:
        f.write(garbage(b'"type":"t'))

    refreshed = tokenclub("refresh", "--db", db, "--home", str(home))
    assert refreshed.returncode == 0, refreshed.stderr
    listed = tokenclub("sources", "--json", "--db", db, "--home", str(home))
    undecodable = {"undecodable line (not UTF-8)": 2}
    assert skipped(json.loads(listed.stdout)) == {"claude-code": undecodable, "codex": undecodable}
    after = tokenclub("report", "daily", "--json", "--tz", "UTC", "--db", db, "--home", str(home))
    assert agent_totals(json.loads(after.stdout)) == before

    fresh_db = str(tmp_path / "fresh.sqlite")  # the same from a first read of the damaged files
    again = tokenclub("report", "daily", "--json", "--tz", "UTC", "--db", fresh_db, "--home", str(home))
    assert agent_totals(json.loads(again.stdout)) == before
