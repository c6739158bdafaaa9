"""Qwen Code: one count per call, the original over a /branch copy, a telemetry record only for a call
no assistant record carries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson

from app.core.env import Env
from app.core.model import dedupe
from app.sources.qwen_code import QwenCode
from tests.sources.common import (
    EXTRA,
    FIXTURES,
    both_ways,
    parse_all,
    parse_half_line,
    parse_in_two_reads,
    per_day_model,
)
from tests.sources.indexing import index_table, open_index

PROJECTS = FIXTURES / "qwen" / "projects"
ORIGINAL = PROJECTS / "-home-dev-myproj" / "chats" / "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f.jsonl"
EXPECTED = {
    ("2026-11-20", "qwen3-coder-plus"): (12500, 900, 0, 23000, 0),
    ("2026-11-21", "qwen3-coder-flash"): (1000, 250, 0, 7000, 0),
    ("2026-11-21", "qwen3-coder-plus"): (1000, 500, 0, 15000, 0),
}
ORIGINAL_ONLY = {
    ("2026-11-20", "qwen3-coder-plus"): (12500, 900, 0, 23000, 0),
    ("2026-11-21", "qwen3-coder-flash"): (1000, 250, 0, 7000, 0),
}


def files() -> list[Path]:
    return list(QwenCode().discover(PROJECTS))


def test_fixtures_match_expected_in_either_order() -> None:
    assert len(files()) == 2
    assert per_day_model(parse_all(QwenCode(), files())) == EXPECTED
    assert per_day_model(parse_all(QwenCode(), reversed(files()))) == EXPECTED


def test_branch_copies_stay_with_the_original_session() -> None:
    events = parse_all(QwenCode(), reversed(files()))
    kept = {e.key: e for e in events if e.prio == 1}
    # the assistant record 3 follows its call's telemetry record 2, whose uuid keys the call
    assert kept["qw:9e000000-0000-4000-8000-000000000002"].session == "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def line(usage: dict[str, int]) -> bytes:
    record = {"uuid": "u1", "type": "assistant", "timestamp": "2026-11-20T00:00:00Z", "model": "m"}
    return orjson.dumps({**record, "usageMetadata": usage}) + b"\n"


def test_thoughts_rule_follows_the_total(tmp_path: Path) -> None:
    log = tmp_path / "s.jsonl"
    base = {"promptTokenCount": 100, "cachedContentTokenCount": 40}
    base |= {"candidatesTokenCount": 30, "thoughtsTokenCount": 10}
    log.write_bytes(line({**base, "totalTokenCount": 130}))
    [inside] = QwenCode().parse(log, 0, {}).events
    assert (inside.inp, inside.cr, inside.out, inside.rsn) == (60, 40, 30, 10)
    log.write_bytes(line({**base, "totalTokenCount": 140}))
    [added] = QwenCode().parse(log, 0, {}).events
    assert (added.inp, added.cr, added.out, added.rsn) == (60, 40, 40, 10)


def test_incremental_read(tmp_path: Path) -> None:
    events = parse_in_two_reads(QwenCode(), ORIGINAL, tmp_path / "s.jsonl", cut_line=6)
    assert per_day_model(events) == ORIGINAL_ONLY


def test_half_written_line_is_not_consumed(tmp_path: Path) -> None:
    offset, complete = parse_half_line(QwenCode(), ORIGINAL, tmp_path / "s.jsonl")
    assert offset == complete


def test_discovery_under_home(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "qwen", tmp_path / ".qwen")
    (tmp_path / ".qwen" / "projects" / "-home-dev-myproj" / "notes.jsonl").write_text("")
    source = QwenCode()
    root, legacy = source.roots(Env.under(tmp_path))
    assert (root, legacy) == (tmp_path / ".qwen" / "projects", tmp_path / ".qwen" / "tmp")
    assert [p.name for p in source.discover(root)] == [p.name for p in files()]
    assert not any(source.is_whole(p) for p in files())


def test_qwen_runtime_dir(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"QWEN_RUNTIME_DIR": str(tmp_path / "rt")})
    assert QwenCode().roots(env) == [tmp_path / "rt" / "projects", tmp_path / "rt" / "tmp"]


LEGACY_HOME = EXTRA / "qwen-legacy-tmp" / "home"
LEGACY = {
    ("2026-11-25", "qwen3-coder-plus"): (570, 150, 0, 140, 20),  # Gemini-shaped, under tmp/ only
    ("2026-11-26", "qwen3-coder-plus"): (400, 100, 0, 600, 0),  # one session, under projects/ and tmp/
}


def legacy_files(env: Env) -> list[Path]:
    source = QwenCode()
    return [p for root in source.roots(env) for p in source.discover(root)]


def test_legacy_tmp_chats_are_read_once_beside_projects(tmp_path: Path) -> None:
    files = legacy_files(Env.under(LEGACY_HOME))
    assert sorted(p.parent.parent.parent.name for p in files) == ["projects", "tmp", "tmp"]
    assert both_ways(QwenCode(), files) == LEGACY
    assert index_table(open_index(tmp_path), LEGACY_HOME, "qwen-code") == LEGACY


def test_legacy_tmp_chats_follow_qwen_runtime_dir(tmp_path: Path) -> None:
    runtime = tmp_path / "rt"
    shutil.copytree(LEGACY_HOME / ".qwen", runtime)
    files = legacy_files(Env(tmp_path / "home", {"QWEN_RUNTIME_DIR": str(runtime)}))
    assert per_day_model(parse_all(QwenCode(), files)) == LEGACY


def test_legacy_session_id_is_kept_across_reads(tmp_path: Path) -> None:
    [legacy] = (LEGACY_HOME / ".qwen" / "tmp").glob("*/chats/session-*.jsonl")
    copy = tmp_path / "tmp" / "h" / "chats" / legacy.name
    copy.parent.mkdir(parents=True)
    events = parse_in_two_reads(QwenCode(), legacy, copy, cut_line=3)
    assert {e.key.rsplit(":", 1)[0] for e in events} == {"qw:4c5d6e7f-8091-4a2b-9c3d-4e5f60718293"}
    assert per_day_model(events) == {("2026-11-25", "qwen3-coder-plus"): (570, 150, 0, 140, 20)}


LEGACY_JSON_HOME = EXTRA / "qwen-legacy-json" / "home"
# Gemini's total adds the thoughts (12420 = 12000 + 300 + 120); the second call's back end has them
# inside the output (13200 = 13000 + 200); the last reply's tokens have not arrived yet
LEGACY_JSON = {("2025-10-20", "qwen3-coder-plus"): (4000 + 1000, 420 + 200, 0, 8000 + 12000, 120 + 50)}


def test_legacy_json_session_documents_are_read(tmp_path: Path) -> None:
    source = QwenCode()
    [document] = legacy_files(Env.under(LEGACY_JSON_HOME))
    assert document.name == "session-2025-10-20T09-15-1a2b3c4d.json"  # not the prompt log beside chats/
    assert source.is_whole(document)
    events = source.parse(document, 0, {}).events
    assert {e.session for e in events} == {"1a2b3c4d-5e6f-4a70-8b91-c2d3e4f50617"}
    assert per_day_model(events) == LEGACY_JSON
    assert index_table(open_index(tmp_path), LEGACY_JSON_HOME, "qwen-code") == LEGACY_JSON


def test_a_rewritten_legacy_document_replaces_its_messages(tmp_path: Path) -> None:
    """The recorder rewrites the whole document: the late tokens are the same call, not a new one."""
    [original] = legacy_files(Env.under(LEGACY_JSON_HOME))
    document = tmp_path / "tmp" / "h" / "chats" / original.name
    document.parent.mkdir(parents=True)
    shutil.copy(original, document)
    os.utime(document, (1_000, 1_000))
    old = QwenCode().parse(document, 0, {}).events
    doc = orjson.loads(document.read_bytes())
    doc["messages"][-1]["tokens"] = {"input": 14000, "output": 90, "cached": 13000, "thoughts": 0, "total": 14090}
    document.write_bytes(orjson.dumps(doc))
    os.utime(document, (2_000, 2_000))
    new = QwenCode().parse(document, 0, {}).events
    assert [e.key for e in new[:2]] == [e.key for e in old]
    assert all(n.prio > o.prio for n, o in zip(new, old, strict=False))
    [(day_model, (inp, out, cw, cr, rsn))] = LEGACY_JSON.items()
    assert per_day_model(old + new) == {day_model: (inp + 1000, out + 90, cw, cr + 13000, rsn)}


# Qwen Code 0.24.4's own log of two headless turns (tests/realagents): each turn's call has a
# telemetry record and, linked to it by parentUuid, an assistant record; each turn is followed by a
# call of the background memory extractor (subagent_name managed-auto-memory-extractor), written only
# as a telemetry record. The usage is the local model server's: thoughts inside the output (the
# total is input + output), the input with the cache in it.
REAL_HOME = Path(__file__).parents[1] / "fixtures" / "realagents" / "qwen-code-0.24.4" / "home"
[REAL] = (REAL_HOME / ".qwen" / "projects").glob("*/chats/*.jsonl")
REAL_CALLS = [(1017, 5031, 43, 11), (1034, 5062, 46, 12), (1051, 5093, 49, 13), (1068, 5124, 52, 14)]
REAL_TOTALS = {
    ("2026-12-07", "qwen3-coder-plus"): (
        sum(c[0] for c in REAL_CALLS),
        sum(c[2] for c in REAL_CALLS),
        0,
        sum(c[1] for c in REAL_CALLS),
        sum(c[3] for c in REAL_CALLS),
    )
}


def test_sub_agent_calls_only_in_telemetry_count_once_each(tmp_path: Path) -> None:
    events = QwenCode().parse(REAL, 0, {}).events
    assert per_day_model(events) == REAL_TOTALS
    kept = sorted((e.inp, e.cr, e.out, e.rsn) for e in dedupe(events).values())
    assert kept == REAL_CALLS
    assert index_table(open_index(tmp_path), REAL_HOME, "qwen-code") == REAL_TOTALS


def test_an_assistant_record_read_after_its_telemetry_replaces_it(tmp_path: Path) -> None:
    # cut after the first call's telemetry record: the first read counts it, the second read's
    # assistant record takes its key
    events = parse_in_two_reads(QwenCode(), REAL, tmp_path / "s.jsonl", cut_line=3)
    assert per_day_model(events) == REAL_TOTALS
    first = [e for e in events if e.key == events[0].key]
    assert [e.prio for e in first] == [1 - 2, 1]
