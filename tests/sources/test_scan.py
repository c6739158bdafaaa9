"""The marker scan (glibc memmem, or bytes.find) must give what decoding every line gives."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.core.source import ParseResult, Source
from app.sources import base
from app.sources.base import Marker, searcher
from app.sources.claude_code import ClaudeCode
from app.sources.codex import Codex
from app.sources.gemini_cli import GeminiCli
from app.sources.grok_build import GrokBuild
from app.sources.kimi_cli import KimiCli
from app.sources.openclaw import OpenClaw
from app.sources.pi_agent import PiAgent
from app.sources.qwen_code import QwenCode
from tests.logmaker import claude_line, tool_result_line
from tests.sources.common import EXTRA, FIXTURES

JSONL = [
    (ClaudeCode(), FIXTURES / "claude"),
    (Codex(), FIXTURES / "codex"),
    (GeminiCli(), FIXTURES / "gemini"),
    (QwenCode(), FIXTURES / "qwen"),
    (KimiCli(), EXTRA / "kimi-cli"),
    (PiAgent(), EXTRA / "pi-agent"),
    (OpenClaw(), EXTRA / "openclaw"),
    (GrokBuild(), EXTRA / "grok-build"),
]


def every_line(
    path: Path, offset: int, marker: Marker, on_line: Callable[[Any, int], None], result: ParseResult
) -> None:
    """The reference: decode every complete line, whatever it holds."""
    data = path.read_bytes()
    end = data.rfind(b"\n", offset) + 1 or offset
    at = offset
    while at < end:
        stop = data.index(b"\n", at)
        try:
            obj = orjson.loads(data[at:stop])
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            on_line(obj, at)
        at = stop + 1
    result.offset = end


def parse(source: Source, path: Path, offset: int = 0, state: dict[str, Any] | None = None) -> ParseResult:
    return source.parse(path, offset, {} if state is None else json.loads(json.dumps(state)))


def reference(
    monkeypatch: pytest.MonkeyPatch, source: Source, path: Path, offset: int = 0, state: dict[str, Any] | None = None
) -> ParseResult:
    with monkeypatch.context() as m:
        m.setattr(type(source).__module__ + ".scan_jsonl", every_line)
        return parse(source, path, offset, state)


def same(a: ParseResult, b: ParseResult) -> None:
    assert a.events == b.events
    assert a.state == b.state
    assert a.offset == b.offset
    assert a.skips.get("usage line without timestamp") == b.skips.get("usage line without timestamp")


def jsonl_files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*.jsonl")) if p.is_file())


@pytest.fixture(params=["memmem", "bytes.find"])
def finder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with glibc's memmem (where there is one) and with the portable bytes.find."""
    if request.param == "bytes.find":
        monkeypatch.setattr(base, "_searcher", base._py_searcher)
    return str(request.param)


@pytest.mark.parametrize(("source", "root"), JSONL, ids=[s.agent for s, _ in JSONL])
def test_every_fixture_scans_as_if_every_line_were_decoded(
    source: Source, root: Path, finder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = list(jsonl_files(root))
    assert files
    for path in files:
        same(parse(source, path), reference(monkeypatch, source, path))


def test_the_two_finders_agree(finder: str) -> None:
    buf = b'xx"usage":{"a":1}\n"usage"\n\\"usage\\":"usage":' + b"z" * 100
    found = []
    find = searcher(buf, len(buf))
    at = find(b'"usage":', 0)
    while at >= 0:
        found.append(at)
        at = find(b'"usage":', at + 1)
    assert found == [2, 36]  # the escaped copy inside a string is not a key
    assert searcher(buf, 10)(b'"usage":', 5) == -1  # the limit bounds the search
    assert searcher(buf, len(buf))(b'"usage":', len(buf) + 5) == -1


def write(path: Path, *lines: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    return path


def test_claude_edge_cases(tmp_path: Path, finder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    user_with_usage = orjson.dumps(
        {
            "type": "user",
            "timestamp": "2026-11-20T10:00:05.000Z",
            "toolUseResult": {"usage": {"input_tokens": 999, "output_tokens": 999}},
            "message": {"role": "user", "usage": {"input_tokens": 5}, "content": 'a quoted "usage": here'},
        }
    )
    needle_in_text = claude_line("m-text", "2026-11-20T10:00:06Z").replace(
        b'"text":"ok"', b'"text":"say \\"usage\\": {\\"input_tokens\\": 7} twice \\"usage\\":"'
    )
    crlf = claude_line("m-crlf", "2026-11-20T10:00:07Z", inp=3).replace(b"\n", b"\r\n")
    path = write(
        tmp_path / ".claude" / "projects" / "-p" / "s.jsonl",
        claude_line("m1", "2026-11-20T10:00:00Z"),
        tool_result_line(3000),
        claude_line("m1", "2026-11-20T10:00:01Z", out=150),  # a streamed snapshot: the larger copy wins
        user_with_usage + b"\n",
        needle_in_text,
        crlf,
        b'{"type":"assistant","message":{"usage":{"input_tokens":1}}}\n',  # no timestamp: a skip
        b'not json but "usage": anyway\n',
        claude_line("m-last", "2026-11-20T10:00:09Z").rstrip(b"\n"),  # still being written
    )
    fast = parse(ClaudeCode(), path)
    same(fast, reference(monkeypatch, ClaudeCode(), path))
    assert {e.key: e.out for e in fast.events} == {"cc:m1": 150, "cc:m-text": 100, "cc:m-crlf": 100}
    assert fast.offset == path.stat().st_size - len(claude_line("m-last", "2026-11-20T10:00:09Z")) + 1
    assert fast.skips == {"usage line without timestamp": 1, "malformed JSON": 1}
    # the tail completed later is read from the saved offset and state
    with open(path, "ab") as f:
        f.write(b"\n")
    more = parse(ClaudeCode(), path, fast.offset, fast.state)
    same(more, reference(monkeypatch, ClaudeCode(), path, fast.offset, fast.state))
    assert [e.key for e in more.events] == ["cc:m-last"]


def test_lines_across_block_edges(tmp_path: Path, finder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [claude_line(f"m{i}", f"2026-11-20T10:{i:02d}:00Z", inp=i) for i in range(40)]
    path = write(tmp_path / "s.jsonl", *(line + tool_result_line(97 * i) for i, line in enumerate(lines)))
    monkeypatch.setattr(base, "BLOCK", 1000)  # every line crosses a block edge somewhere
    fast = parse(ClaudeCode(), path)
    assert [e.inp for e in fast.events] == list(range(40))
    same(fast, reference(monkeypatch, ClaudeCode(), path))


def codex_line(kind: str, payload: dict[str, Any], ts: str = "2026-11-20T10:00:00.000Z") -> bytes:
    return orjson.dumps({"timestamp": ts, "type": kind, "payload": payload}) + b"\n"


def token_count(total: int, ts: str) -> bytes:
    usage = {"input_tokens": total, "cached_input_tokens": 0, "output_tokens": total // 10, "total_tokens": total}
    return codex_line(
        "event_msg", {"type": "token_count", "info": {"total_token_usage": usage, "last_token_usage": usage}}, ts
    )


def test_codex_session_meta_is_looked_for_until_the_first(
    tmp_path: Path, finder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = codex_line("session_meta", {"id": "thread-a", "cwd": "/home/dev/a"})
    parent_meta = codex_line("session_meta", {"id": "thread-parent", "cwd": "/elsewhere"})
    path = write(
        tmp_path / "rollout-2026-11-20T10-00-00-00000000-0000-0000-0000-000000000000.jsonl",
        codex_line("turn_context", {"model": "gpt-5.1-codex", "cwd": "/home/dev/tc"}),
        token_count(100, "2026-11-20T10:00:01.000Z"),  # before the meta line: the file name's thread
        codex_line("response_item", {"type": "message", "content": [{"type": "input_text", "text": "x" * 500}]}),
        meta,
        token_count(300, "2026-11-20T10:00:02.000Z"),
        parent_meta,  # a later copy of another thread's meta: ignored
        token_count(300, "2026-11-20T10:00:03.000Z"),  # a re-emit
        token_count(600, "2026-11-20T10:00:04.000Z").replace(b"\n", b"\r\n"),
    )
    fast = parse(Codex(), path)
    same(fast, reference(monkeypatch, Codex(), path))
    assert [(e.session, e.project, e.inp) for e in fast.events] == [
        ("00000000-0000-0000-0000-000000000000", "/home/dev/tc", 100),
        ("thread-a", "/home/dev/a", 300),  # the meta line names the thread and its project
        ("thread-a", "/home/dev/a", 600),
    ]
    # appended in two reads: the saved state says the meta line was seen
    half = write(tmp_path / "two" / path.name, path.read_bytes()[: path.read_bytes().index(parent_meta)])
    first = parse(Codex(), half)
    with open(half, "ab") as f:
        f.write(path.read_bytes()[len(half.read_bytes()) :])
    second = parse(Codex(), half, first.offset, first.state)
    same(second, reference(monkeypatch, Codex(), half, first.offset, first.state))
    assert first.events + second.events == fast.events


def assert_tail(result: ParseResult, path: Path) -> None:
    """The bytes a scan says lie before its offset are the file's (what the index would read back)."""
    if result.tail is None:
        return
    data = path.read_bytes()
    seen_path, at, tail = result.tail
    assert seen_path == str(path) and at == result.offset
    assert tail == data[max(at - base.TAIL, 0) : at]


@pytest.mark.parametrize(("source", "root"), JSONL, ids=[s.agent for s, _ in JSONL])
def test_the_tail_a_scan_keeps_is_the_files(source: Source, root: Path) -> None:
    for path in jsonl_files(root):
        whole = parse(source, path)
        assert_tail(whole, path)
        assert whole.tail is not None or whole.offset == 0 or path.suffix != ".jsonl"
        size = path.stat().st_size
        for offset in (0, 1, 31, 32, 33, size // 2, max(size - 40, 0)):
            data = path.read_bytes()
            line_start = data.rfind(b"\n", 0, offset) + 1 if offset else 0  # resume where a line starts
            assert_tail(parse(source, path, line_start), path)


def test_the_tail_across_blocks_and_skipped_long_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "BLOCK", 50)
    monkeypatch.setattr(base, "MAX_LINE", 120)
    lines = [claude_line(f"m{i}", f"2026-11-20T10:{i:02d}:00Z") for i in range(5)]
    path = write(tmp_path / "s.jsonl", lines[0], b"x" * 400 + b"\n", b"ab\n", lines[1], b"y" * 300 + b"\n", b"c\n")
    for offset in (0, len(lines[0])):
        result = parse(ClaudeCode(), path, offset)
        assert result.offset == path.stat().st_size
        assert result.tail is not None
        assert_tail(result, path)
    short = write(tmp_path / "t.jsonl", b"a\n", b"b" * 10)  # less than TAIL consumed from offset 0
    result = parse(ClaudeCode(), short)
    assert result.tail == (str(short), 2, b"a\n")
    assert parse(ClaudeCode(), short, 2).tail is None  # nothing consumed after the offset: unknown
