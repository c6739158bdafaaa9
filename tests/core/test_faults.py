"""Bad input and faults: a warning naming the file and the reason, never a crash or a wrong total."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core import reports
from app.core.env import Env
from app.core.index import Index
from app.core.schema import IndexBusy
from app.sources import SOURCES
from app.sources.base import BLOCK, MAX_LINE
from tests.logmaker import claude_line, tool_result_line


def project_dir(home: Path) -> Path:
    d = home / ".claude" / "projects" / "-home-dev-proj"
    d.mkdir(parents=True, exist_ok=True)
    return d


def total(index: Index) -> int:
    return reports.daily(index.conn, reports.Filter())["totals"]["total"]


def skips(index: Index) -> dict[str, int]:
    found: dict[str, int] = {}
    for (blob,) in index.conn.execute("SELECT skips FROM files WHERE skips IS NOT NULL"):
        for why, n in json.loads(blob).items():
            found[why] = found.get(why, 0) + n
    return found


def test_malformed_json_and_binary_garbage_are_skipped_and_counted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = project_dir(home) / "s.jsonl"
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(5000)).replace(b"\n", b"")
    log.write_bytes(
        claude_line("m1", "2026-11-20T10:00:00Z")
        + b'{"type":"assistant","message":{"usage":{"input_tokens":5,\n'  # cut short
        + garbage
        + b'"usage":'
        + garbage
        + b"\n"
        + b"\x00\x01\x02 plain binary, no needle\n"
        + claude_line("m2", "2026-11-20T10:00:01Z")
    )
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    report = index.refresh(Env.under(home))
    assert total(index) == 220
    assert skips(index) == {"malformed JSON": 1, "undecodable line (not UTF-8)": 1}
    assert any(str(log) in w and "malformed JSON" in w and "undecodable line" in w for w in report.warnings)


def test_a_50_mb_line_is_read_and_an_oversized_one_skipped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    big_tool_output = tool_result_line(50 << 20)
    huge_usage = claude_line("m-big", "2026-11-20T10:00:02Z", out=5).replace(
        b'"text":"ok"', b'"text":"' + b"y" * (50 << 20) + b'"'
    )
    (d / "a.jsonl").write_bytes(
        claude_line("m1", "2026-11-20T10:00:00Z")
        + big_tool_output
        + huge_usage
        + claude_line("m2", "2026-11-20T10:00:03Z")
    )
    (d / "b.jsonl").write_bytes(tool_result_line(MAX_LINE + BLOCK + 1024) + claude_line("m3", "2026-11-20T10:00:04Z"))
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    index.refresh(Env.under(home))
    assert total(index) == 110 + 15 + 110 + 110
    assert skips(index) == {"line over 64 MiB": 1}


def test_unreadable_file_is_reported_and_the_rest_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    (d / "good.jsonl").write_bytes(claude_line("m1", "2026-11-20T10:00:00Z"))
    bad = d / "bad.jsonl"
    if os.geteuid() == 0:  # root reads any mode: a socket is a file nobody can open
        sock = socket.socket(socket.AF_UNIX)
        monkeypatch.chdir(d)  # a socket path is limited to 108 bytes: bind it by its relative name
        sock.bind(bad.name)
    else:
        bad.write_bytes(claude_line("m2", "2026-11-20T10:00:00Z"))
        bad.chmod(0)
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    report = index.refresh(Env.under(home))
    assert total(index) == 110
    assert any(str(bad) in w and "unreadable" in w for w in report.warnings)
    error = index.conn.execute("SELECT error FROM files WHERE path = ?", (str(bad),)).fetchone()[0]
    assert error.startswith("unreadable")


def test_file_deleted_between_discovery_and_reading(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = project_dir(home)
    (d / "stay.jsonl").write_bytes(claude_line("m1", "2026-11-20T10:00:00Z"))
    leaving = d / "leaving.jsonl"
    leaving.write_bytes(claude_line("m2", "2026-11-20T10:00:00Z"))
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    from app.core.index import RefreshReport
    from app.core.snapshot import Walk

    report = RefreshReport()
    jobs = list(index._plan(Env.under(home), None, report, Walk()))
    leaving.unlink()
    index._run(jobs, report, None, None, 1)
    assert total(index) == 110
    assert any("leaving.jsonl" in w and "vanished" in w for w in report.warnings)
    # next refresh: nothing to read, nothing lost
    index.refresh(Env.under(home))
    assert total(index) == 110


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_index_locked_by_another_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project_dir(home).joinpath("s.jsonl").write_bytes(claude_line("m1", "2026-11-20T10:00:00Z"))
    db = tmp_path / "i.sqlite"
    Index(db, sources=SOURCES).close()
    # the lock is held until the test kills its holder: the CLI below meets it however slowly it starts
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        index = Index(db, timeout=0.3, sources=SOURCES)
        with pytest.raises(IndexBusy, match="locked by another process"):
            index.refresh(Env.under(home))
        assert total(index) == 0  # reads still work while the writer waits
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "report",
                "daily",
                "--json",
                "--db",
                str(db),
                "--home",
                str(home),
                "--wait",
                "0.3",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "locked by another process" in cli.stderr
        assert json.loads(cli.stdout)["totals"]["total"] == 0
    finally:
        locker.kill()
        locker.wait()
    index.refresh(Env.under(home))
    assert total(index) == 110


def make_corpus(home: Path, files: int = 40, calls: int = 2500) -> int:
    """Enough usage lines that an ingest takes a while; returns the expected total."""
    d = project_dir(home)
    expected = 0
    for s in range(files):
        with open(d / f"s{s}.jsonl", "wb") as f:
            for i in range(calls):
                f.write(
                    claude_line(f"m{s}-{i}", f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", inp=s + 1, out=i % 97)
                )
                expected += s + 1 + i % 97
    return expected


def test_kill_9_at_any_point_then_rerun_gives_exact_totals(tmp_path: Path) -> None:
    home = tmp_path / "home"
    expected = make_corpus(home)
    db = tmp_path / "killed.sqlite"
    cmd = [sys.executable, "-m", "app.cli", "refresh", "--db", str(db), "--home", str(home), "-q"]
    for delay in (0.35, 0.6, 0.9, 1.3, 1.8):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: no worker outlives its parent
        proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    index = Index(db, sources=SOURCES)
    assert total(index) == expected
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    clean.refresh(Env.under(home))
    assert reports.daily(index.conn, reports.Filter()) == reports.daily(clean.conn, reports.Filter())


def test_kill_9_of_the_parent_alone_leaves_no_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_corpus(home, files=40, calls=4000)
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "refresh",
        "--db",
        str(tmp_path / "i.sqlite"),
        "--home",
        str(home),
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.8)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60  # a ceiling, not a pace: a loaded machine is slow
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a worker process outlived its killed parent")
