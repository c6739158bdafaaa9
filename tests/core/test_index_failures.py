"""An index that cannot be opened, written or migrated: one line naming the path, the cause and what to do.

Every case runs the real command line in a child process and checks the exit status, that
stderr is one line naming the path and the cause, and that no traceback escaped. The tests
run as root, which no permission bit stops: read-only cases use file systems that refuse
root too (a tmpfs remounted read-only, /proc, /sys, an immutable file), a full disk is a
small tmpfs filled to the last byte.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.env import Env
from app.core.index import Index
from app.core.schema import SCHEMA_VERSION, IndexUnavailable, move_aside
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.logmaker import claude_line

REPO = Path(__file__).parents[2]
COMMANDS = [["report", "daily"], ["report", "daily", "--no-refresh"], ["sources"], ["refresh"], ["prices"]]


def tokenclub(*args: str, db: Path | str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args, "--db", str(db), "--home", str(home)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOKENCLUB_HOME": str(home.parent / "tokenclub")},
    )


def fails_in_one_line(done: subprocess.CompletedProcess[str], path: Path | str, *cause: str) -> str:
    """The exit status is 1, nothing is printed on stdout, stderr is one line naming ``path`` and ``cause``."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert done.stdout == ""
    line = lines[0]
    assert line.startswith(f"tokenclub: index {path}: "), line
    for words in cause:
        assert words in line, line
    return line


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home", ("claude", "codex"))


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of this test's own (unmounted after it), or a skip saying why it could not be mounted."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_folder_named_as_the_index(tmp_path: Path, home: Path, command: list[str]) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    line = fails_in_one_line(tokenclub(*command, db=folder, home=home), folder, "is a folder, not a file")
    assert str(folder / "index.sqlite") in line
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_that_is_not_sqlite_is_left_untouched(tmp_path: Path, home: Path, command: list[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n" * 100)
    fails_in_one_line(tokenclub(*command, db=text, home=home), text, "not a TokenClub index", "not an SQLite file")
    assert text.read_text() == "my notes\n" * 100
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("notes")] == ["notes.txt"]  # no -wal, -shm
    proc = Path("/proc/version")  # what /proc shows is no SQLite file either, and cannot be written
    fails_in_one_line(tokenclub(*command, db=proc, home=home), proc, "not a TokenClub index")


def test_another_programs_sqlite_file_is_left_untouched(tmp_path: Path, home: Path) -> None:
    other = tmp_path / "places.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE bookmarks(url TEXT)")
    conn.execute("INSERT INTO bookmarks VALUES ('https://example.org')")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    for command in COMMANDS:
        fails_in_one_line(tokenclub(*command, db=other, home=home), other, "without TokenClub's tables")
    assert other.read_bytes() == before  # not even switched to WAL
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA user_version = 3")  # a program of its own numbering, within ours
    conn.close()
    fails_in_one_line(tokenclub("refresh", db=other, home=home), other, "not a TokenClub index")


def test_an_index_from_a_newer_tokenclub(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "index.sqlite"
    assert tokenclub("refresh", db=db, home=home).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 2}")
    conn.close()
    for command in COMMANDS:
        line = fails_in_one_line(tokenclub(*command, db=db, home=home), db, "a newer TokenClub wrote it")
        assert f"schema {SCHEMA_VERSION + 2}" in line and "upgrade TokenClub" in line


def test_a_damaged_index(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "index.sqlite"
    assert tokenclub("refresh", db=db, home=home).returncode == 0
    page = 16384
    data = bytearray(db.read_bytes())
    assert len(data) > 2 * page
    data[page:] = b"\xa5" * (len(data) - page)  # every page but the header's: each table reads garbage
    db.write_bytes(bytes(data))
    for command in COMMANDS:
        line = fails_in_one_line(tokenclub(*command, db=db, home=home), db, "the file is damaged", "malformed")
        assert "move it aside" in line and "tokenclub refresh" in line


def test_folders_that_refuse_new_files(tmp_path: Path, home: Path) -> None:
    cannot_create = Path("/proc/tokenclub-test/index.sqlite")
    fails_in_one_line(tokenclub("refresh", db=cannot_create, home=home), cannot_create, "cannot be created")
    sys_file = Path("/sys/kernel/index.sqlite")  # sysfs takes no new file, from root neither
    fails_in_one_line(tokenclub("refresh", db=sys_file, home=home), sys_file, "no file can be created in its folder")


def test_an_immutable_index_is_permission_denied(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "index.sqlite"
    db.touch()  # an empty file is a new index: the first write meets the flag
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag (chattr +i)")
    try:
        fails_in_one_line(tokenclub("refresh", db=db, home=home), db, "it cannot be written: permission denied")
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_a_read_only_file_system_with_and_without_an_index(tmpfs: Path, home: Path) -> None:
    with_index = tmpfs / "data" / "index.sqlite"
    assert tokenclub("refresh", db=with_index, home=home).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    for command in COMMANDS:
        fails_in_one_line(tokenclub(*command, db=with_index, home=home), with_index, "the file system is read-only")
    fresh = tmpfs / "index.sqlite"
    fails_in_one_line(
        tokenclub("refresh", db=fresh, home=home), fresh, "no file can be created", "the file system is read-only"
    )
    fails_in_one_line(tokenclub("sources", db=tmpfs / "new" / "i.sqlite", home=home), tmpfs / "new" / "i.sqlite")


def fill(folder: Path) -> None:
    """Write zeros into ``folder`` until its file system has no byte left."""
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as f:
        for _ in range(100_000):  # bounded: a 2 MiB tmpfs takes 512 of these
            f.write(b"\0" * 4096)
            f.flush()
    assert os.statvfs(folder).f_bavail == 0


def test_a_full_disk(tmpfs: Path, home: Path) -> None:
    db = tmpfs / "index.sqlite"
    assert tokenclub("refresh", db=db, home=home).returncode == 0
    expected = json.loads(tokenclub("report", "daily", "--json", "--tz", "UTC", db=db, home=home).stdout)
    keeper = sqlite3.connect(db, isolation_level=None)  # holds the -shm open (a reader needs it)
    keeper.execute("DELETE FROM meta WHERE k GLOB 'memo:*'")  # the report is computed again, and its memo written
    keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a write needs new bytes in the WAL
    try:
        fill(tmpfs)
        # a report computed is printed, even when remembering it fails
        done = tokenclub("report", "daily", "--no-refresh", "--json", "--tz", "UTC", db=db, home=home)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == expected
        assert done.stderr.splitlines() == [
            "tokenclub: warning: the report was not remembered for the next run (database or disk is full)"
        ]
        # a refresh with something new to write fails in one line, and loses nothing
        log = next((home / ".claude" / "projects").rglob("*.jsonl"))
        with log.open("ab") as f:
            for i in range(200):
                f.write(claude_line(f"msg_full_{i}", "2026-11-21T10:00:00.000Z", inp=1000 + i))
        for command in (["refresh"], ["report", "daily"]):
            fails_in_one_line(tokenclub(*command, db=db, home=home), db, "the disk is full", "free some space")
        (tmpfs / "filler").unlink()
        assert tokenclub("refresh", db=db, home=home).returncode == 0
        after = json.loads(tokenclub("report", "daily", "--json", "--tz", "UTC", db=db, home=home).stdout)
        assert after["totals"]["in"] == expected["totals"]["in"] + sum(1000 + i for i in range(200))
    finally:
        keeper.close()


def test_refresh_exit_status_names_what_could_not_be_read(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "index.sqlite"
    done = tokenclub("refresh", "--json", db=db, home=home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["failures"] == []
    # a log file that even root cannot read: a write-only attribute of sysfs, linked where a transcript goes
    unreadable = next(iter(_write_only_sysfs_files()), None)
    if unreadable is None:
        pytest.skip("no write-only sysfs attribute on this machine to stand for an unreadable log")
    link = home / ".claude" / "projects" / "-home-dev-locked" / "locked.jsonl"
    link.parent.mkdir()
    link.symlink_to(unreadable)
    done = tokenclub("refresh", "--json", db=db, home=home)
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["failures"] == [{"file": str(link), "error": "unreadable: Permission denied"}]
    assert done.stderr == f"tokenclub: warning: {link}: unreadable: Permission denied\n"
    table = tokenclub("refresh", db=db, home=home)
    assert table.returncode == 3 and "failures" in table.stdout.splitlines()[0]


def _write_only_sysfs_files() -> Iterator[Path]:
    for folder in (Path("/sys/class/zram-control"), *Path("/sys/devices").glob("pci*/*")):
        for path in sorted(folder.glob("*"))[:50] if folder.is_dir() else ():
            with contextlib.suppress(OSError):
                if path.is_file() and path.stat().st_mode & 0o777 == 0o200:
                    try:
                        path.open("rb").close()
                    except PermissionError:
                        yield path


def test_the_core_raises_one_kind_of_error(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable) as caught:
        Index(tmp_path, sources=SOURCES)
    assert caught.value.path == tmp_path and caught.value.kind == "folder" and not caught.value.rebuildable
    assert "is a folder" in caught.value.cause and "--db" in caught.value.advice


def test_moving_aside_keeps_every_file(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "index.sqlite"
    index = Index(db, sources=SOURCES)
    index.refresh(Env.under(home))
    keeper = sqlite3.connect(db)  # a reader keeps -wal and -shm on disk
    keeper.execute("SELECT 1 FROM events").fetchone()
    index.close()
    names = {p.name for p in tmp_path.iterdir()}
    assert {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"} <= names
    moved = move_aside(db, now=0)
    assert moved == tmp_path / "index.sqlite.broken-19700101T000000Z"
    again = move_aside(db.with_name("nothing-here.sqlite"), now=0)  # nothing to move: nothing renamed
    assert not again.exists()
    db.write_bytes(b"")
    assert move_aside(db, now=0) == tmp_path / "index.sqlite.broken-19700101T000000Z-2"
    keeper.close()
    after = {p.name for p in tmp_path.iterdir()}
    assert "index.sqlite" not in after
    assert {"index.sqlite.broken-19700101T000000Z", "index.sqlite.broken-19700101T000000Z-2"} <= after
    old = sqlite3.connect(moved)  # the old history is all there
    assert old.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
    old.close()
