"""A refresh that found nothing new keeps what it saw; any change to it makes the next one walk again."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core import memo, snapshot
from app.core.env import Env
from app.core.index import Index
from app.core.source import Source, Sources
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.logmaker import claude_line

AN_HOUR_AGO = 3600


def age(tree: Path) -> None:
    """Every directory and file under ``tree`` an hour old (fresh ones are not trusted)."""
    for path in [tree, *tree.rglob("*")]:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - AN_HOUR_AGO * 10**9))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = lay_out_home(tmp_path / "home", ("claude", "codex", "opencode"))
    age(home)
    return home


class Walks:
    """Counts the walks of an index (a refresh that trusted its snapshot walks nowhere)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        plan = Index._plan

        def counted(index: Index, *args: object) -> object:
            self.count += 1
            return plan(index, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(Index, "_plan", counted)


def settled(index: Index, env: Env) -> None:
    """Read everything, then refresh once more: that refresh finds nothing and keeps a snapshot."""
    index.refresh(env)
    index.refresh(env)
    assert index.meta("snapshot") is not None


def test_nothing_new_is_known_without_walking(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    walks = Walks(monkeypatch)
    files = index.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    report = index.refresh(Env.under(home))
    assert walks.count == 0 and report.files_seen == files > 0


def _append(home: Path) -> None:
    transcript = next((home / ".claude" / "projects").rglob("*.jsonl"))
    with transcript.open("ab") as f:
        f.write(claude_line("msg_snap_1", "2026-11-21T10:00:00Z"))


def _new_file(home: Path) -> None:
    project = next((home / ".claude" / "projects").iterdir())
    (project / "new-session.jsonl").write_bytes(claude_line("msg_snap_2", "2026-11-21T10:00:00Z"))


def _new_directory(home: Path) -> None:
    (home / ".claude" / "projects" / "-home-dev-other").mkdir()


def _deleted_file(home: Path) -> None:
    next((home / ".codex" / "sessions").rglob("*.jsonl")).unlink()


def _new_root(home: Path) -> None:
    (home / ".gemini" / "tmp").mkdir(parents=True)


def _database_log(home: Path) -> None:
    db = next(home.rglob("opencode.db"))
    with sqlite3.connect(db) as conn:  # a write that stays in the write-ahead log
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS touched(x)")
        conn.execute("INSERT INTO touched VALUES (1)")


@pytest.mark.parametrize(
    "change", [_append, _new_file, _new_directory, _deleted_file, _new_root, _database_log], ids=lambda f: f.__name__
)
def test_any_change_walks_again(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], None]
) -> None:
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    before = index.conn.execute("SELECT SUM(inp + cw + cr + out), COUNT(*) FROM events").fetchone()
    walks = Walks(monkeypatch)
    change(home)
    index.refresh(Env.under(home))
    assert walks.count == 1
    if change is _append:
        after = index.conn.execute("SELECT SUM(inp + cw + cr + out), COUNT(*) FROM events").fetchone()
        assert after == (before[0] + 110, before[1] + 1)


def test_other_env_scope_or_code_walks_again(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    moved = tmp_path / "codex-elsewhere"
    moved.mkdir()
    age(moved)
    env = Env(home, {"CODEX_HOME": str(home / ".codex")})
    settled(index, env)
    walks = Walks(monkeypatch)
    index.refresh(env)
    assert walks.count == 0
    index.refresh(Env(home, {"CODEX_HOME": str(moved)}))  # a variable a source reads changed
    index.refresh(env, agents=["codex"])  # another scope
    monkeypatch.setattr(memo, "_stamp", ["another build"])
    index.refresh(env)
    assert walks.count == 3


def test_a_new_file_behind_a_linked_directory_walks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qwen Code's ``*/chats/*.jsonl`` glob follows a linked project folder (and a link loop ends)."""
    home = lay_out_home(tmp_path / "home", ("qwen",))
    elsewhere = tmp_path / "elsewhere" / "chats"
    elsewhere.mkdir(parents=True)
    projects = next(home.rglob("chats")).parent.parent
    (projects / "linked").symlink_to(elsewhere.parent, target_is_directory=True)
    (elsewhere.parent / "loop").symlink_to(elsewhere.parent, target_is_directory=True)
    age(tmp_path)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    walks = Walks(monkeypatch)
    chat = next(home.rglob("*.jsonl"))
    (elsewhere / "new.jsonl").write_bytes(chat.read_bytes())
    index.refresh(Env.under(home))
    assert walks.count == 1


def test_a_file_created_while_the_walk_runs_is_never_lost(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Directories are stated before the sources list them: a file made just after a listing is found next time."""
    from app.sources.claude_code import ClaudeCode

    monkeypatch.setattr(snapshot, "RACY_NS", 0)  # this ordering must hold even on a clock that never looks racy
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    _append(home)  # so the next refresh walks
    index.refresh(Env.under(home))
    listing = ClaudeCode.files

    def then_a_new_file(source: ClaudeCode, root: Path) -> object:
        listed = list(listing(source, root))
        if root.exists():
            _new_file(home)  # the walk has listed this folder already
        return iter(listed)

    monkeypatch.setattr(ClaudeCode, "files", then_a_new_file)
    index.refresh(Env.under(home))  # finds nothing new and keeps what it saw
    monkeypatch.setattr(ClaudeCode, "files", listing)
    assert index.meta("snapshot") is not None
    assert index.conn.execute("SELECT COUNT(*) FROM files WHERE path LIKE '%new-session.jsonl'").fetchone() == (0,)
    index.refresh(Env.under(home))
    assert index.conn.execute("SELECT events FROM files WHERE path LIKE '%new-session.jsonl'").fetchone() == (1,)


def test_a_directory_changed_just_now_is_not_trusted(tmp_path: Path, home: Path) -> None:
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    _new_directory(home)  # its parent's mtime is now
    index.refresh(Env.under(home))
    index.refresh(Env.under(home))
    assert index.meta("snapshot") is None
    age(home)  # the re-dated database is read again, then the next refresh finds nothing and keeps a snapshot
    settled(index, Env.under(home))


def test_a_file_that_keeps_failing_is_retried_every_time(tmp_path: Path, home: Path) -> None:
    broken = next((home / ".claude" / "projects").rglob("*.jsonl"))

    class Failing(Sources):
        def get(self, agent: str) -> Source:
            source = SOURCES.get(agent)
            if agent == "claude-code":

                class Broken(type(source)):  # type: ignore[misc]
                    def parse(self, path: Path, offset: int, state: dict) -> object:  # type: ignore[override]
                        if path == broken:
                            raise OSError(13, "Permission denied")
                        return super().parse(path, offset, state)

                return Broken()
            return source

    index = Index(tmp_path / "i.sqlite", sources=Failing("app.sources"))
    for _ in range(3):
        report = index.refresh(Env.under(home), workers=1)
        assert any("Permission denied" in w for w in report.warnings)
    assert index.meta("snapshot") is None


def test_a_path_with_a_newline_keeps_no_snapshot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = home / ".claude" / "projects" / "odd\nname"
    project.mkdir(parents=True)
    (project / "s.jsonl").write_bytes(claude_line("msg_snap_3", "2026-11-21T10:00:00Z"))
    age(home)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    index.refresh(Env.under(home))
    index.refresh(Env.under(home))
    assert index.meta("snapshot") is None
    assert snapshot.holds("not a snapshot", Env.under(home), "all") is None


def test_a_damaged_snapshot_walks_again_and_is_replaced(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    settled(index, Env.under(home))
    header = "\n".join(index.meta("snapshot").split("\n")[:3])
    index.conn.execute("UPDATE meta SET v = ? WHERE k = 'snapshot'", (header + "\nD only-two-fields",))
    walks = Walks(monkeypatch)
    index.refresh(Env.under(home))
    assert walks.count == 1 and "only-two-fields" not in index.meta("snapshot")
