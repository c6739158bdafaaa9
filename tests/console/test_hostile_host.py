"""A compromised dedicated machine, on the real sshd: its helper lies, the workstation stays whole.

The host is played as an attacker who owns it would: the helper file the workstation copied
there (``~/.cache/tokenclub/helper-<sha>.py``, run by its hash, never checked again) is
replaced with the real helper plus overrides of its verbs, which answer as ``~/.attack``
(JSON, written by each test) says. Every test then runs the real ``tokenclub refresh --json``
and asserts: nothing outside the host's mirror changed (a sentinel folder and the
workstation's home, by tree, sizes and mtimes), nothing of the host reached the index, and the
host's entry is ``ok: false`` with kind ``protocol`` and the reason named. ``refresh`` itself
exits with ``app.cli.report``'s "refresh incomplete" status (a failed host is a warning on stderr and
listed in ``failures``; the local report stands), as for an unreachable host.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from app.cli import report
from app.console import pull, ssh
from app.core import paths
from tests.conftest import lay_out_home
from tests.console.conftest import REPO, Server, add_host, tokenclub

INCOMPLETE = report.REFRESH_INCOMPLETE  # refresh's status when a host failed
HOSTILE = r"""
# -- a compromised host: the verbs above, answering as ~/.attack says ---------------------------
import io as _io

_real = {"info": op_info, "scan": op_scan, "read": op_read, "runs": op_runs}


def _attack():
    try:
        with open(os.path.expanduser("~/.attack")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _real_answer(verb, req):
    buf = _io.BytesIO()
    _real[verb](req, buf)
    return json.loads(buf.getvalue().split(b"\n", 1)[0])


def op_runs(req, out):
    if _attack().get("mode") == "runs":
        _send(out, {"ok": True, "runs": [1, "x"], "ids": []})
    else:
        _real["runs"](req, out)


def _forever(out, frame):
    while True:
        out.write(frame)
        out.flush()


def op_info(req, out):
    a = _attack()
    doc = _real_answer("info", req)
    if a.get("mode") == "home":
        doc["home"] = a["home"]
    _send(out, doc)


def op_scan(req, out):
    a = _attack()
    mode = a.get("mode")
    if mode == "endless-line":
        _forever(out, b"x" * (1 << 20))
    doc = _real_answer("scan", req)
    if mode == "scan-paths":
        root = req["roots"][0]
        doc["files"] += [[(root if a.get("under", True) else "") + p, 0, 1, 1, 1] for p in a["paths"]]
    elif mode == "short-entry":
        doc["files"].append(doc["files"][0][:2])
    elif mode == "length":
        doc["n"] = a["n"]
    out.write(json.dumps(doc).encode() + b"\n")


def op_read(req, out):
    a = _attack()
    mode = a.get("mode")
    if mode == "larger":
        block = b"\n" * (4 << 20)
        _forever(out, json.dumps({"i": 0, "raw": len(block), "n": len(block)}).encode() + b"\n" + block)
    elif mode == "frames":
        _forever(out, b'{"i":0,"raw":1,"n":1}\nx')
    elif mode == "index":
        _send(out, {"i": 99, "done": True})
    elif mode == "bomb":
        z = zlib.compress(b"\0" * (64 << 20))  # 64 MiB in about 64 KB
        _send(out, {"i": 0, "raw": 100}, z)
    else:
        return _real["read"](req, out)
    _send(out, {"ok": True, "z": req.get("level", 1)})


if __name__ == "__main__":
    main()
"""


pytestmark = pytest.mark.usefixtures("close_shared_connections")


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    """A folder of the workstation's that an escaping path would reach."""
    folder = tmp_path / "sentinel"
    (folder / ".claude" / "projects" / "p").mkdir(parents=True)
    (folder / "important.txt").write_text("keep me\n")
    (folder / ".claude" / "projects" / "p" / "own.jsonl").write_text("{}\n")
    return folder


def tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``roots``: (size, mtime_ns), links not followed."""
    out = {}
    for root in roots:
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                st = os.lstat(os.path.join(top, name))
                out[os.path.join(top, name)] = (st.st_size, st.st_mtime_ns)
    return out


def hostile(server: Server, workstation: Path, attack: dict[str, Any]) -> None:
    """Pair the host (its real helper uploaded), then put the attacker's helper in its place."""
    lay_out_home(server.home, ("claude",))
    add_host(server, "h1", workstation, "--allow-this-machine")
    data, sha = ssh.helper_source()
    source = data.decode()
    cut = source.rindex('if __name__ == "__main__":')
    (server.home / ".cache" / "tokenclub" / f"helper-{sha}.py").write_text(source[:cut] + HOSTILE)
    (server.home / ".attack").write_text(json.dumps(attack))


def host_events() -> int:
    db = next(paths.data_dir().glob("homes/*/index.sqlite"))  # the workstation's --home has an index of its own
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE device = 'h1'").fetchone()[0])


def refused(
    workstation: Path, sentinel: Path, reason: str, env: dict[str, str] | None = None, kind: str = "protocol"
) -> dict[str, Any]:
    """Refresh; the host's entry is a named error (of ``kind``), and nothing outside the mirror moved."""
    before = tree(sentinel, workstation)
    done = tokenclub("refresh", "--json", home=workstation, env=env, check=False)
    assert done.returncode == INCOMPLETE, done.stderr
    entry = json.loads(done.stdout)["hosts"][0]
    assert entry["host"] == "h1" and not entry["ok"], entry
    assert entry["kind"] == kind, entry
    assert reason in entry["error"], entry
    assert f"host h1: {entry['error']}" in done.stderr
    assert tree(sentinel, workstation) == before
    assert host_events() == 0
    print(f"refresh -> host h1: {entry['error']}")
    return entry  # type: ignore[no-any-return]


def climb(target: Path) -> str:
    """A path that, joined to the mirror as text, lands on ``target``."""
    return "/.." * 40 + str(target)


def test_scan_paths_out_of_the_mirror_create_and_delete_nothing(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path
) -> None:
    escape = [climb(sentinel / "important.txt"), climb(sentinel / "newdir" / "created.txt")]
    hostile(sshd, workstation, {"mode": "scan-paths", "paths": escape})
    refused(workstation, sentinel, "not normalised")
    assert not (sentinel / "newdir").exists()
    # a path listed as both a file and a folder, and one outside the roots asked for
    (host_home / ".attack").write_text(json.dumps({"mode": "scan-paths", "paths": ["/x", "/x/y"]}))
    refused(workstation, sentinel, "is both a file and a folder")
    (host_home / ".attack").write_text(json.dumps({"mode": "scan-paths", "paths": ["\0"]}))
    refused(workstation, sentinel, "holds a NUL")
    (host_home / ".attack").write_text(json.dumps({"mode": "scan-paths", "paths": [str(sentinel)], "under": False}))
    refused(workstation, sentinel, "is outside the roots asked for")
    # a state written before paths were checked lists an escaping path: dropped, never deleted
    honest = sshd.home / ".attack"
    honest.write_text("{}")
    state = pull.host_dir("h1") / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({climb(sentinel / "important.txt"): [8, 1, 1, 0, 0, 0]}))
    before = tree(sentinel)
    done = tokenclub("refresh", "--json", home=workstation)
    assert json.loads(done.stdout)["hosts"][0]["ok"], done.stdout
    assert tree(sentinel) == before
    assert (sentinel / "important.txt").read_text() == "keep me\n"
    assert host_events() > 0  # the honest pull indexes as before


def test_an_escaping_home_is_refused(sshd: Server, host_home: Path, workstation: Path, sentinel: Path) -> None:
    hostile(sshd, workstation, {"mode": "home", "home": climb(sentinel)})
    refused(workstation, sentinel, "home")
    (host_home / ".attack").write_text(json.dumps({"mode": "home", "home": "relative/home"}))
    refused(workstation, sentinel, "not absolute")


def test_an_endless_line_is_cut_off_with_bounded_memory_and_time(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path, tmp_path: Path
) -> None:
    hostile(sshd, workstation, {"mode": "endless-line"})
    before = tree(sentinel, workstation)
    out = tmp_path / "refresh.out"
    cmd = [sys.executable, "-m", "app", "refresh", "--json", "--home", str(workstation)]
    started = time.monotonic()
    with open(out, "wb") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.DEVNULL, env={**os.environ})
        guard = threading.Timer(120, proc.kill)
        guard.start()
        _pid, status, usage = os.wait4(proc.pid, 0)  # its own peak RSS (kilobytes on Linux)
        guard.cancel()
    seconds = time.monotonic() - started
    assert os.waitstatus_to_exitcode(status) == INCOMPLETE
    entry = json.loads(out.read_text())["hosts"][0]
    assert not entry["ok"] and entry["kind"] == "protocol", entry
    assert "a header line longer than 16 MiB" in entry["error"], entry
    peak_mb = usage.ru_maxrss / 1024
    print(f"endless line: refresh gave up after {seconds:.2f} s, peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 300, peak_mb
    assert seconds < 60, seconds
    assert tree(sentinel, workstation) == before
    assert host_events() == 0


@pytest.mark.parametrize(("n", "reason"), [(-1, "a frame length -1"), ("5", "a frame length '5'")])
def test_a_negative_or_string_length_is_refused(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path, n: object, reason: str
) -> None:
    hostile(sshd, workstation, {"mode": "length", "n": n})
    refused(workstation, sentinel, reason)


def test_a_file_larger_than_listed_is_cut_off(sshd: Server, host_home: Path, workstation: Path, sentinel: Path) -> None:
    hostile(sshd, workstation, {"mode": "larger"})
    refused(workstation, sentinel, "bytes the scan listed")
    assert pull.mirror_usage("h1")[0] < 64 << 20  # what reached the mirror's scratch before it stopped


def test_an_endless_stream_of_frames_is_cut_off(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path
) -> None:
    hostile(sshd, workstation, {"mode": "frames"})
    refused(workstation, sentinel, "frames for")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("index", "a frame for file 99"), ("short-entry", "is not [path, size, mtime_ns, ino, dev]")],
)
def test_malformed_frames_are_named(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path, mode: str, reason: str
) -> None:
    hostile(sshd, workstation, {"mode": mode})
    refused(workstation, sentinel, reason)


def test_a_compressed_frame_that_inflates_past_its_size_is_refused(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path
) -> None:
    hostile(sshd, workstation, {"mode": "bomb"})
    refused(workstation, sentinel, "inflates past", env={"TOKENCLUB_PULL_ZLIB": "1"})


def test_the_frame_bound_holds_the_helpers_block() -> None:
    from app.console.remote import frames

    assert frames.CHUNK == ssh.RAW_MAX


def test_a_malformed_run_list_is_a_named_warning(sshd: Server, host_home: Path, workstation: Path) -> None:
    hostile(sshd, workstation, {"mode": "runs"})
    done = tokenclub("session", "list", "--json", home=workstation, check=False)
    assert "host h1: a runs answer that is not a list of objects with an id" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_session_kill_refuses_an_id_that_is_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.console.remote import runs

    state = tmp_path / "state"
    victim = state / "tokenclub" / "victim"  # beside the runs, shaped like a live run
    victim.mkdir(parents=True)
    (victim / "spec.json").write_text(json.dumps({"nonce": "n"}))
    (victim / "state.json").write_text(json.dumps({"status": "running"}))
    (state / "tokenclub" / "runs").mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    out = io.BytesIO()
    runs.op_kill({"op": "kill", "ids": ["../victim", str(victim), "..", 5], "grace_s": 0}, out)
    killed = json.loads(out.getvalue())["killed"]
    assert [k["status"] for k in killed] == ["unknown"] * 4, killed
    assert all("bad run id" in k["reason"] for k in killed), killed
    assert not (victim / "kill").exists()
    assert json.loads((victim / "state.json").read_text()) == {"status": "running"}


def test_a_symlink_in_the_mirror_is_never_written_through(
    sshd: Server, host_home: Path, workstation: Path, sentinel: Path
) -> None:
    hostile(sshd, workstation, {})  # an honest answer, into a mirror whose folder is a link to the sentinel
    link = Path(str(pull.mirror_root("h1")) + str(host_home))
    link.parent.mkdir(parents=True)
    link.symlink_to(sentinel, target_is_directory=True)
    refused(workstation, sentinel, "the mirror has a symlink at", kind="local")
    assert link.is_symlink()
