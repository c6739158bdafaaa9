"""OpenCode: one count per message id, the database row over a stale legacy JSON copy; the reasoning
by what each version stored; step-finish parts only for a message whose own tokens are zero."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson

from app.core.env import Env
from app.sources.opencode import OpenCode
from tests.sources.common import FIXTURES, parse_all, per_day_model

DATA = FIXTURES / "opencode"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5"): (42, 1060, 15900, 15000, 0),
    ("2026-11-20", "gpt-5.1"): (2100, 900, 0, 6000, 512),
    ("2026-11-21", "claude-opus-4-5"): (8, 210, 400, 15900, 0),
}
JSON_ONLY = {
    ("2026-11-20", "claude-sonnet-4-5"): (30, 420, 900, 15000, 0),
    ("2026-11-20", "gpt-5.1"): (2100, 900, 0, 6000, 512),
}


def files() -> list[Path]:
    return list(OpenCode().discover(DATA))


def test_fixtures_match_expected_in_either_order() -> None:
    assert per_day_model(parse_all(OpenCode(), files())) == EXPECTED
    assert per_day_model(parse_all(OpenCode(), reversed(files()))) == EXPECTED


def test_legacy_json_alone() -> None:
    jsons = [p for p in files() if p.suffix == ".json"]
    assert len(jsons) == 6
    assert per_day_model(parse_all(OpenCode(), jsons)) == JSON_ONLY


def test_database_rows() -> None:
    result = OpenCode().parse(DATA / "opencode.db", 0, {})
    assert not result.skips
    assert {e.key for e in result.events} == {
        "oc:msg_7f1a2b3c5002HhIiJjKkLlMmNn",
        "oc:msg_7f1a2b3c5004VvWwXxYyZzAaBb",
        "oc:msg_7f1a2b4d6002JjKkLlMmNnOoPp",
        "oc:msg_7f1a2c9e7002XxYyZzAaBbCcDd",
    }
    assert {e.project for e in result.events} == {"/home/dev/myproj"}
    assert all(1 << 50 < e.prio < 1 << 63 for e in result.events)


def test_a_later_update_of_a_row_wins(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    shutil.copy(DATA / "opencode.db", db)
    before = {e.key: e.prio for e in OpenCode().parse(db, 0, {}).events}
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE message SET time_updated = time_updated + 1")
    after = {e.key: e.prio for e in OpenCode().parse(db, 0, {}).events}
    assert all(after[k] > before[k] for k in before)


def test_corrupt_database_is_a_skip_not_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    db.write_bytes(b"this is not an SQLite database" * 200)
    result = OpenCode().parse(db, 0, {})
    assert result.events == [] and any(r.startswith("unreadable database") for r in result.skips)


def test_discovery_under_home(tmp_path: Path) -> None:
    data = tmp_path / ".local" / "share" / "opencode"
    shutil.copytree(DATA, data)
    shutil.copy(DATA / "opencode.db", data / "opencode-nightly.db")
    source = OpenCode()
    [root] = source.roots(Env.under(tmp_path))
    assert root == data
    found = list(source.discover(root))
    assert [p.name for p in found[:2]] == ["opencode.db", "opencode-nightly.db"]
    assert len(found) == 8 and all(source.is_whole(p) for p in found)
    assert source.companions(data / "opencode.db") == (data / "opencode.db-wal",)


def test_env_overrides(tmp_path: Path) -> None:
    source = OpenCode()
    xdg = Env(tmp_path, {"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert source.roots(xdg) == [tmp_path / "xdg" / "opencode"]
    relative = Env(tmp_path, {"OPENCODE_DB": "custom.db"})
    data = tmp_path / ".local" / "share" / "opencode"
    assert source.roots(relative) == [data, data / "custom.db"]
    absolute = Env(tmp_path, {"OPENCODE_DB": str(tmp_path / "x.db")})
    assert source.roots(absolute)[1] == tmp_path / "x.db"
    (tmp_path / "x.db").write_bytes(b"")
    assert list(source.discover(tmp_path / "x.db")) == [tmp_path / "x.db"]


# OpenCode 1.18.33's own database after two headless turns (tests/realagents) against the local
# model server: tokens {"total": 6142, "input": 1034, "output": 34, "reasoning": 12, "cache":
# {"read": 5062, "write": 0}}, the total adding the reasoning beside an output without it (the
# server returned 46 output tokens, 12 of them reasoning). The session's title call is stored nowhere.
REAL_HOME = Path(__file__).parents[1] / "fixtures" / "realagents" / "opencode-1.18.33" / "home"
REAL_DB = REAL_HOME / ".local" / "share" / "opencode" / "opencode.db"
REAL = {("2026-12-07", "qwen3-coder-plus"): (1034 + 1051, 46 + 49, 0, 5062 + 5093, 12 + 13)}


def test_reasoning_outside_the_stored_output_is_added() -> None:
    assert per_day_model(OpenCode().parse(REAL_DB, 0, {}).events) == REAL


def legacy_message(tmp_path: Path, tokens: dict[str, object]) -> Path:
    path = tmp_path / "storage" / "message" / "ses_1" / "msg_1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "id": "msg_1",
        "sessionID": "ses_1",
        "role": "assistant",
        "modelID": "m",
        "time": {"created": 1_764_000_000_000},
    }
    path.write_bytes(orjson.dumps({**doc, "tokens": tokens}))
    return path


def test_older_builds_keep_the_reasoning_inside_the_output(tmp_path: Path) -> None:
    cache = {"read": 50, "write": 0}
    # no total, or a total without the reasoning: the AI SDK's output, reasoning included
    for tokens in (
        {"input": 100, "output": 30, "reasoning": 10, "cache": cache},
        {"total": 180, "input": 100, "output": 30, "reasoning": 10, "cache": cache},
    ):
        [event] = OpenCode().parse(legacy_message(tmp_path, tokens), 0, {}).events
        assert (event.inp, event.cr, event.out, event.rsn) == (100, 50, 30, 10)


def test_a_message_with_zero_tokens_counts_its_step_finish_parts(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    shutil.copy(REAL_DB, db)
    zero = '{"total": 0, "input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}}'
    with sqlite3.connect(db) as conn:
        changed = conn.execute(
            "UPDATE message SET data = json_set(data, '$.tokens', json(?))"
            " WHERE json_extract(data, '$.role') = 'assistant'",
            (zero,),
        ).rowcount
    assert changed == 2
    assert per_day_model(OpenCode().parse(db, 0, {}).events) == REAL


def test_legacy_step_finish_part_files(tmp_path: Path) -> None:
    path = legacy_message(tmp_path, {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}})
    parts = tmp_path / "storage" / "part" / "msg_1"
    parts.mkdir(parents=True)
    for n, output in enumerate((20, 30)):
        step = {
            "type": "step-finish",
            "tokens": {"total": 100 + output + 5, "input": 100, "output": output, "reasoning": 5},
        }
        (parts / f"prt_{n}.json").write_bytes(orjson.dumps(step))
    (parts / "prt_9.json").write_bytes(orjson.dumps({"type": "text", "text": "not usage"}))
    [event] = OpenCode().parse(path, 0, {}).events
    assert (event.inp, event.out, event.rsn) == (200, 60, 10)
