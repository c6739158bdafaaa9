"""A bad usage count in a document or database source skips that record alone, by name.

JSONL sources are covered end to end by tests/core/test_hostile_counts.py; here the sources that read
a whole document or database rows, each with one record spoiled in the real fixture.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from app.core.source import Source
from app.sources.factory_droid import FactoryDroid
from app.sources.goose import Goose
from app.sources.hermes_agent import HermesAgent
from app.sources.opencode import OpenCode
from tests.sources.common import EXTRA, FIXTURES

OUT_OF_RANGE = "usage count out of range"
NOT_A_NUMBER = "usage count not a number"


def totals(source: Source, path: Path) -> tuple[list[int], dict[str, int]]:
    result = source.parse(path, 0, {})
    return sorted(e.inp + e.cw + e.cr + e.out for e in result.events), result.skips


@pytest.mark.parametrize(
    ("token", "reason"), [("-5", OUT_OF_RANGE), ('"5"', NOT_A_NUMBER), (str(10**19), OUT_OF_RANGE)]
)
def test_opencode_database_row(tmp_path: Path, token: str, reason: str) -> None:
    db = tmp_path / "opencode.db"
    shutil.copy(FIXTURES / "opencode" / "opencode.db", db)
    before, _ = totals(OpenCode(), db)
    spoiled = "msg_7f1a2b3c5004VvWwXxYyZzAaBb"  # 30 in, 420 out, 15000 read, 900 written
    with sqlite3.connect(db) as conn:
        (data,) = conn.execute("SELECT data FROM message WHERE id = ?", (spoiled,)).fetchone()
        doc = orjson.loads(data)
        doc["tokens"]["input"] = 987654
        text = orjson.dumps(doc).decode().replace("987654", token)
        conn.execute("UPDATE message SET data = ? WHERE id = ?", (text, spoiled))
    conn.close()
    after, skips = totals(OpenCode(), db)
    assert skips == {reason: 1}
    before.remove(30 + 420 + 15000 + 900)
    assert after == before


def test_opencode_message_file(tmp_path: Path) -> None:
    files = sorted((FIXTURES / "opencode" / "storage" / "message").rglob("*.json"))
    spoiled = tmp_path / files[1].name  # an assistant message
    doc = orjson.loads(files[1].read_bytes())
    assert doc["role"] == "assistant"
    doc["tokens"]["cache"]["read"] = -1
    spoiled.write_bytes(orjson.dumps(doc))
    assert totals(OpenCode(), spoiled) == ([], {OUT_OF_RANGE: 1})


def test_factory_droid_settings(tmp_path: Path) -> None:
    original = next((EXTRA / "factory-droid").rglob("*.settings.json"))
    spoiled = tmp_path / original.name
    doc = orjson.loads(original.read_bytes())
    doc.setdefault("tokenUsage", {})["inputTokens"] = 1e300
    spoiled.write_bytes(orjson.dumps(doc))
    assert totals(FactoryDroid(), spoiled) == ([], {OUT_OF_RANGE: 1})


@pytest.mark.parametrize(("source", "db", "column"), [
    (HermesAgent(), EXTRA / "hermes-agent" / "state.db", "input_tokens"),
    (Goose(), EXTRA / "goose" / "sessions" / "sessions.db", "accumulated_input_tokens"),
])  # fmt: skip
def test_session_database_row(tmp_path: Path, source: Source, db: Path, column: str) -> None:
    copy = tmp_path / db.name
    shutil.copy(db, copy)
    before, before_skips = totals(source, copy)
    with sqlite3.connect(copy) as conn:
        ids = [row[0] for row in conn.execute(f"SELECT id FROM sessions WHERE {column} > 0 ORDER BY id")]
        conn.execute(f"UPDATE sessions SET {column} = -7 WHERE id = ?", (ids[0],))
    conn.close()
    after, skips = totals(source, copy)
    assert skips == {**before_skips, OUT_OF_RANGE: 1}
    assert len(after) == len(before) - 1 and set(after) <= set(before)


def test_goose_infinite_or_huge_times_are_no_times(tmp_path: Path) -> None:
    copy = tmp_path / "sessions.db"
    shutil.copy(EXTRA / "goose" / "sessions" / "sessions.db", copy)
    before, before_skips = totals(Goose(), copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE sessions SET updated_at = 9e999, created_at = 1e300")
    conn.close()
    after, skips = totals(Goose(), copy)  # nothing left to date them by
    undated = len(before) + before_skips.get("session without timestamp", 0)
    assert before and after == [] and skips == {"session without timestamp": undated}
