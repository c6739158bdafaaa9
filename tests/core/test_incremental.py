"""The index reads only what is new, and re-reading (rotation, shrink, resume copies) never doubles."""

from __future__ import annotations

import os
from pathlib import Path

from app.core import reports
from app.core.env import Env
from app.core.index import Index
from app.sources import SOURCES
from tests.logmaker import claude_line, tool_result_line


def total(index: Index) -> int:
    return reports.daily(index.conn, reports.Filter())["totals"]["total"]


def project_dir(home: Path) -> Path:
    d = home / ".claude" / "projects" / "-home-dev-proj"
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_index(tmp_path: Path) -> Index:
    return Index(tmp_path / "index.sqlite", overrides=None, sources=SOURCES)


def test_append_reads_only_new_bytes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-11-20T10:00:00Z") + tool_result_line(50_000))
    index = open_index(tmp_path)
    first = index.refresh(Env.under(home))
    assert first.files_read == 1 and total(index) == 110

    quiet = index.refresh(Env.under(home))
    assert quiet.files_read == 0 and quiet.bytes_read == 0

    added = claude_line("m2", "2026-11-20T10:01:00Z", inp=5, out=20)
    with open(log, "ab") as f:
        f.write(added)
    again = index.refresh(Env.under(home))
    assert again.bytes_read == len(added)
    assert total(index) == 135


def test_half_written_line_waits_until_complete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    whole = claude_line("m1", "2026-11-20T10:00:00Z")
    second = claude_line("m2", "2026-11-20T10:00:05Z", out=1000)
    log.write_bytes(whole + second[:40])
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    assert total(index) == 110
    offset = index.conn.execute("SELECT offset FROM files").fetchone()[0]
    assert offset == len(whole)  # the partial tail is not consumed

    with open(log, "ab") as f:
        f.write(second[40:])
    index.refresh(Env.under(home))
    assert total(index) == 110 + 1010


def test_streamed_snapshots_keep_the_largest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-11-20T10:00:00Z", out=8))
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    with open(log, "ab") as f:
        f.write(claude_line("m1", "2026-11-20T10:00:01Z", out=400))
    index.refresh(Env.under(home))
    assert total(index) == 410


def test_rotation_to_a_new_name_does_not_double(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    log = d / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-11-20T10:00:00Z") + claude_line("m2", "2026-11-20T10:01:00Z"))
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    assert total(index) == 220
    os.rename(log, d / "s-1.old.jsonl")
    log.write_bytes(claude_line("m3", "2026-11-20T10:02:00Z"))
    index.refresh(Env.under(home))
    assert total(index) == 330


def test_shrunk_or_rewritten_file_is_read_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-11-20T10:00:00Z") + claude_line("m2", "2026-11-20T10:01:00Z"))
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    log.write_bytes(claude_line("m3", "2026-11-20T10:02:00Z", out=7))  # shorter: truncated and rewritten
    index.refresh(Env.under(home))
    assert total(index) == 220 + 17  # history kept, the new call added


def test_rewritten_in_place_to_a_longer_file_is_noticed(tmp_path: Path) -> None:
    """Same inode, larger size, different bytes before the old offset: read from the start."""
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-11-20T10:00:00Z"))
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    with open(log, "r+b") as f:
        f.truncate(0)
        f.write(claude_line("m9", "2026-11-20T11:00:00Z", out=1) + claude_line("m8", "2026-11-20T11:00:00Z"))
    index.refresh(Env.under(home))
    assert total(index) == 110 + 11 + 110


def test_resume_copy_in_a_new_file_is_counted_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    original = claude_line("m1", "2026-11-20T10:00:00Z", session="s-1") + claude_line(
        "m2", "2026-11-20T10:01:00Z", session="s-1"
    )
    (d / "s-1.jsonl").write_bytes(original)
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    resumed = (
        claude_line("m1", "2026-11-20T10:00:00Z", session="s-2")
        + claude_line("m2", "2026-11-20T10:01:00Z", session="s-2")
        + claude_line("m3", "2026-11-21T09:00:00Z", session="s-2")
    )
    (d / "s-2.jsonl").write_bytes(resumed)
    index.refresh(Env.under(home))
    assert total(index) == 330
    sessions = {s["session"]: s["total"] for s in reports.sessions(index.conn, reports.Filter())["sessions"]}
    assert sessions == {"s-1": 220, "s-2": 110}  # the copies stay with the session that made the calls


def test_history_survives_deleted_logs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s-1.jsonl"
    log.write_bytes(claude_line("m1", "2026-10-01T10:00:00Z"))
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    log.unlink()
    index.refresh(Env.under(home))
    assert total(index) == 110
    assert index.conn.execute("SELECT gone FROM files").fetchone()[0] == 1


def test_codex_append_resumes_with_saved_state(tmp_path: Path) -> None:
    """The model of a later token_count comes from a turn_context read in an earlier refresh."""
    from tests.conftest import FIXTURES

    src = FIXTURES / "codex/sessions/2026/11/20/rollout-2026-11-20T09-00-00-019aa1b2-c3d4-7e5f-8a9b-0c1d2e3f4a51.jsonl"
    home = tmp_path / "home"
    dest = home / ".codex/sessions/2026/11/20" / src.name
    dest.parent.mkdir(parents=True)
    lines = src.read_bytes().split(b"\n")
    dest.write_bytes(b"\n".join(lines[:13]) + b"\n")
    index = open_index(tmp_path)
    index.refresh(Env.under(home))
    dest.write_bytes(src.read_bytes())  # the rest arrives
    index.refresh(Env.under(home))
    found = {
        (d.date.isoformat(), m): t.total
        for d in reports.days(index.conn, reports.Filter())
        for m, t in d.by_model.items()
    }
    assert found == {("2026-11-19", "gpt-5.1-codex"): 17370, ("2026-11-20", "gpt-5.1-codex-max"): 16740}


def test_parallel_cold_ingest_equals_inline(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    padding = tool_result_line(30_000)
    for s in range(40):
        with open(d / f"s-{s}.jsonl", "wb") as f:
            for i in range(30):
                f.write(claude_line(f"m{s}-{i}", f"2026-11-{1 + i % 28:02d}T10:00:00Z", inp=s, out=i))
                f.write(padding)
    inline = Index(tmp_path / "a.sqlite", sources=SOURCES)
    inline.refresh(Env.under(home), workers=1)
    pooled = Index(tmp_path / "b.sqlite", sources=SOURCES)
    pooled.refresh(Env.under(home), workers=2)
    assert reports.daily(inline.conn, reports.Filter()) == reports.daily(pooled.conn, reports.Filter())
