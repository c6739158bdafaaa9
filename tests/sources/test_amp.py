"""Amp: ledger events or message usage per thread, never both; whole-file, newest rewrite wins."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson

from app.core.env import Env
from app.sources.amp import Amp
from tests.sources.common import EXTRA, FIXTURES, parse_all, per_day_model
from tests.sources.indexing import index_table, open_index

THREADS = FIXTURES / "amp" / "threads"
LEDGER = THREADS / "T-1c2d3e4f-5061-4b72-9c83-a4b5c6d7e8f9.json"
EXPECTED = {
    ("2026-11-20", "claude-sonnet-4-5-20250929"): (16, 722, 9700, 9000, 0),
    ("2026-11-21", "claude-opus-4-5-20251101"): (15, 330, 1200, 8000, 0),
}


def test_fixtures_match_expected() -> None:
    files = sorted(Amp().discover(THREADS))
    assert len(files) == 2
    assert per_day_model(parse_all(Amp(), files)) == EXPECTED


def test_ledger_takes_precedence_over_message_usage() -> None:
    [event] = Amp().parse(LEDGER, 0, {}).events
    assert event.key == "amp:T-1c2d3e4f-5061-4b72-9c83-a4b5c6d7e8f9:evt-fixture-0001"
    assert (event.inp, event.out, event.cw, event.cr) == (15, 330, 1200, 8000)


def test_a_newer_rewrite_replaces_the_older_copy(tmp_path: Path) -> None:
    thread = tmp_path / LEDGER.name
    shutil.copy(LEDGER, thread)
    os.utime(thread, (1_000, 1_000))
    old = Amp().parse(thread, 0, {}).events
    doc = orjson.loads(thread.read_bytes())
    doc["usageLedger"]["events"][0]["tokens"]["output"] = 400
    thread.write_bytes(orjson.dumps(doc))
    new = Amp().parse(thread, 0, {}).events
    assert new[0].prio > old[0].prio
    assert per_day_model(old + new)[("2026-11-21", "claude-opus-4-5-20251101")][1] == 400


def test_discovery_under_home(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "amp", tmp_path / ".local" / "share" / "amp")
    source = Amp()
    [root] = source.roots(Env.under(tmp_path))
    assert root == tmp_path / ".local" / "share" / "amp" / "threads"
    found = sorted(source.discover(root))
    assert [p.name for p in found] == sorted(p.name for p in THREADS.iterdir())
    assert all(source.is_whole(p) for p in found)


def test_xdg_data_home(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", {"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert Amp().roots(env) == [tmp_path / "xdg" / "amp" / "threads"]


NO_ID_HOME = EXTRA / "amp-no-message-id" / "home"
NO_ID_THREAD = NO_ID_HOME / ".local" / "share" / "amp" / "threads" / "T-5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b.json"
NO_ID_EXPECTED = {("2026-11-22", "claude-haiku-4-5-20251001"): (15, 220, 986, 23372, 0)}


def test_messages_without_message_id_are_each_counted(tmp_path: Path) -> None:
    assert per_day_model(Amp().parse(NO_ID_THREAD, 0, {}).events) == NO_ID_EXPECTED
    assert index_table(open_index(tmp_path), NO_ID_HOME, "amp") == NO_ID_EXPECTED


def test_a_message_without_id_keeps_its_key_when_the_thread_grows(tmp_path: Path) -> None:
    """Amp rewrites the whole thread: appended messages and a message's growing usage are no new calls."""
    thread = tmp_path / NO_ID_THREAD.name
    shutil.copy(NO_ID_THREAD, thread)
    os.utime(thread, (1_000, 1_000))
    old = Amp().parse(thread, 0, {}).events
    doc = orjson.loads(thread.read_bytes())
    doc["messages"][2]["usage"]["outputTokens"] = 50  # the second reply's usage, final now
    doc["messages"] += [{"role": "user", "content": "thanks"}, {**doc["messages"][2], "usage": {**NEXT_USAGE}}]
    thread.write_bytes(orjson.dumps(doc))
    new = Amp().parse(thread, 0, {}).events
    assert [e.key for e in new[:2]] == [e.key for e in old]
    assert per_day_model(old + new) == {("2026-11-22", "claude-haiku-4-5-20251001"): (15 + 7, 228 + 9, 986, 35372, 0)}


NEXT_USAGE = {
    "model": "claude-haiku-4-5-20251001",
    "inputTokens": 7,
    "outputTokens": 9,
    "cacheReadInputTokens": 12000,
    "timestamp": "2026-11-22T11:44:00.000Z",
}
