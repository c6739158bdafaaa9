"""A first load into an empty index drops per-row upkeep and rebuilds it: the result must be the same index."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core import reports
from app.core.env import Env
from app.core.index import Index, Progress
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.core.test_quarters import assert_consistent
from tests.logmaker import claude_line

SCHEMA = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'events' ORDER BY name"


def home_with(tmp_path: Path, calls: int) -> Path:
    home = lay_out_home(tmp_path / "home")
    d = home / ".claude" / "projects" / "-home-dev-bulk"
    d.mkdir(parents=True)
    with open(d / "s.jsonl", "wb") as f:
        for i in range(calls):
            f.write(claude_line(f"bulk-{i}", f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", inp=i, out=3))
    return home


def test_first_load_keeps_every_index_and_trigger_and_sums_exactly(tmp_path: Path) -> None:
    home = home_with(tmp_path, 200)
    fresh = Index(tmp_path / "fresh.sqlite", sources=SOURCES)
    schema = fresh.conn.execute(SCHEMA).fetchall()
    fresh.refresh(Env.under(home), workers=1)
    assert fresh.conn.execute(SCHEMA).fetchall() == schema
    assert_consistent(fresh.conn)

    # the same calls arriving into an index that is not empty take the per-row path
    step = Index(tmp_path / "step.sqlite", sources=SOURCES)
    step.refresh(Env.under(home), agents=["codex"], workers=1)
    step.refresh(Env.under(home), workers=1)
    assert_consistent(step.conn)
    assert reports.daily(fresh.conn, reports.Filter()) == reports.daily(step.conn, reports.Filter())

    # after the first load the triggers keep the sums again
    before = reports.daily(fresh.conn, reports.Filter())["totals"]["total"]
    with open(next((home / ".claude" / "projects" / "-home-dev-bulk").iterdir()), "ab") as f:
        f.write(claude_line("bulk-late", "2026-11-30T10:00:00Z", inp=5, out=5))
    fresh.refresh(Env.under(home), workers=1)
    assert_consistent(fresh.conn)
    assert reports.daily(fresh.conn, reports.Filter())["totals"]["total"] == before + 10


def interrupt_after(files: int) -> Callable[[Progress], None]:
    def progress(p: Progress) -> None:
        if p.files_done >= files:
            raise KeyboardInterrupt

    return progress


def test_interrupted_first_load_keeps_what_it_read_and_stays_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, 50)
    monkeypatch.setattr("app.core.index.COMMIT_EVERY_S", 0.0)  # report progress after every file
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    schema = index.conn.execute(SCHEMA).fetchall()
    with pytest.raises(KeyboardInterrupt):
        index.refresh(Env.under(home), progress=interrupt_after(3), workers=1)
    assert not index.conn.in_transaction
    assert index.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 3
    assert index.conn.execute(SCHEMA).fetchall() == schema
    assert_consistent(index.conn)
    index.refresh(Env.under(home), workers=1)
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    clean.refresh(Env.under(home), workers=1)
    assert reports.daily(index.conn, reports.Filter()) == reports.daily(clean.conn, reports.Filter())


def test_a_crash_inside_the_first_load_leaves_the_empty_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = home_with(tmp_path, 20)
    monkeypatch.setattr("app.core.index.COMMIT_EVERY_S", 0.0)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    schema = index.conn.execute(SCHEMA).fetchall()

    def fail(p: Progress) -> None:
        raise sqlite3.DatabaseError("disk went away")

    with pytest.raises(sqlite3.DatabaseError):
        index.refresh(Env.under(home), progress=fail, workers=1)
    assert index.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert index.conn.execute(SCHEMA).fetchall() == schema


@pytest.mark.parametrize("death", ["exit", "SIGKILL"])
def test_what_a_reader_process_that_dies_leaves_the_main_process_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, death: str
) -> None:
    home = home_with(tmp_path, 30)
    monkeypatch.setattr("app.core.readers.POOL_MIN_BYTES", 0)

    def die(jobs: object, sources: object) -> None:  # runs in the forked readers (the OOM killer, say)
        if death == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr("app.core.readers.read_all", die)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    report = index.refresh(Env.under(home), workers=2)
    assert report.files_read == index.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] > 0
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    clean.refresh(Env.under(home), workers=1)
    assert reports.daily(index.conn, reports.Filter()) == reports.daily(clean.conn, reports.Filter())


def test_with_other_threads_running_the_readers_are_spawned_not_forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    home = home_with(tmp_path, 30)
    monkeypatch.setattr("app.core.readers.POOL_MIN_BYTES", 0)
    monkeypatch.setattr("app.core.readers.Forked", None)  # forking now would fail the refresh
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    failures: list[BaseException] = []

    def refresh() -> None:  # as the desktop app does: off the main thread
        try:
            index.refresh(Env.under(home), workers=2)
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=refresh)
    worker.start()
    worker.join(120)
    assert not failures
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    clean.refresh(Env.under(home), workers=1)
    assert reports.daily(index.conn, reports.Filter()) == reports.daily(clean.conn, reports.Filter())


def test_when_no_reader_can_be_forked_the_main_process_reads_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, 30)
    monkeypatch.setattr("app.core.readers.POOL_MIN_BYTES", 0)

    def no_fork() -> int:
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr("app.core.readers.os.fork", no_fork)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    index.refresh(Env.under(home), workers=2)
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    clean.refresh(Env.under(home), workers=1)
    assert reports.daily(index.conn, reports.Filter()) == reports.daily(clean.conn, reports.Filter())


def home_with_copies(tmp_path: Path) -> Path:
    """Calls copied between files (resumed sessions, side chains): later copies replace or lose to earlier ones."""
    home = lay_out_home(tmp_path / "home")
    d = home / ".claude" / "projects" / "-home-dev-copies"
    d.mkdir(parents=True)
    first = [claude_line(f"c-{i}", f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", inp=i, out=3) for i in range(60)]
    (d / "a.jsonl").write_bytes(b"".join(first))
    later = [
        # a larger copy in another quarter and under another model replaces the first
        *(
            claude_line(
                f"c-{i}",
                f"2026-11-{1 + i % 28:02d}T11:{i % 60:02d}:00Z",
                inp=i + 50,
                out=9,
                model="claude-opus-4-5-20251101",
                session="s-2",
            )
            for i in range(0, 60, 3)
        ),  # fmt: skip
        *(claude_line(f"c-{i}", "2026-11-29T10:00:00Z", inp=1, out=1, sidechain=True) for i in range(1, 60, 3)),
        *(claude_line(f"d-{i}", f"2026-11-{1 + i % 28:02d}T12:00:00Z", inp=7, out=7) for i in range(30)),
        claude_line("before-1970", "1969-12-31T23:50:00Z", inp=4, out=4),  # SQL's quarter of a negative ts
        claude_line("c-1", "1969-12-31T23:40:00Z", inp=90, out=9),  # and a copy moving there
    ]
    (d / "b.jsonl").write_bytes(b"".join(later))
    return home


@pytest.mark.parametrize("keys_max", [1_000_000, 10, 0])
def test_first_load_sums_copies_as_the_upsert_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_max: int
) -> None:
    """The quarters a first load sums as rows arrive equal the calls kept, with copies across files
    (and summed in SQL instead once there are too many keys to follow)."""
    home = home_with_copies(tmp_path)
    monkeypatch.setattr("app.core.bulk.BULK_KEYS_MAX", keys_max)
    fresh = Index(tmp_path / "fresh.sqlite", sources=SOURCES)
    fresh.refresh(Env.under(home), workers=1)
    assert_consistent(fresh.conn)
    assert fresh.conn.execute("SELECT COUNT(*) FROM events WHERE session = 's-2'").fetchone()[0] == 20
    step = Index(tmp_path / "step.sqlite", sources=SOURCES)
    step.refresh(Env.under(home), agents=["codex"], workers=1)
    step.refresh(Env.under(home), workers=1)  # the triggers' path
    assert reports.daily(fresh.conn, reports.Filter()) == reports.daily(step.conn, reports.Filter())
    quarters = "SELECT q, agent, model, inp, cw, cr, out, rsn, ROUND(cost, 9), unpriced, calls FROM quarters"
    assert sorted(fresh.conn.execute(quarters + " WHERE calls > 0")) == sorted(
        step.conn.execute(quarters + " WHERE calls > 0")
    )
