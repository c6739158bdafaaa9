"""OpenCode: one count per message id, the database row over a stale legacy JSON copy."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from app.sources.base import Env
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
