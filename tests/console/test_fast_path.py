"""Without hosts, a refresh never loads the ssh machinery; the helper speaks its frames locally too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from tests.console.conftest import REPO


def test_a_refresh_without_hosts_loads_no_ssh_code(tmp_path: Path) -> None:
    code = (
        "import sys; from app.cli.main import main; main(['refresh', '-q', '--home', sys.argv[1]]); "
        "print(sorted(m for m in sys.modules if m.startswith('app.console')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = done.stdout.strip().splitlines()[-1]
    assert loaded == "['app.console', 'app.console.agents']"


# the oldest Python the helper supports, where one is installed (pyenv), beside the system's python3
PYTHONS = ["python3", *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.8*/bin/python3.8"))]


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The helper file as it is uploaded (joined from its package), outside every test's own folder."""
    from app.console import ssh

    data, sha = ssh.helper_source()
    path = tmp_path_factory.mktemp("helper") / f"helper-{sha}.py"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("python", PYTHONS)
def test_helper_frames_with_the_hosts_python(tmp_path: Path, python: str, helper: Path) -> None:
    """The helper as the host runs it (``-E -S``, Python 3.8 too): frames on stdin and stdout."""
    log = tmp_path / "a.jsonl"
    log.write_bytes(b'{"x": 1}\n' * 1000)
    reqs = [
        {"op": "info", "env": ["HOME"], "clis": ["definitely-not-a-cli"]},
        {"op": "scan", "roots": [str(tmp_path), str(tmp_path / "missing")]},
        {"op": "read", "files": [{"path": str(log), "offset": 9000 - 18}], "level": 1},
        {"op": "read", "files": [{"path": str(log), "offset": 8991}, {"path": str(tmp_path / "gone")}], "level": 0},
        {"op": "nope"},
    ]
    stdin = b"".join(json.dumps(r).encode() + b"\n" for r in reqs)
    out = subprocess.run(
        [python, "-E", "-S", str(helper)], input=stdin, capture_output=True, check=True, timeout=30
    ).stdout
    frames = []
    while out:
        line, out = out.split(b"\n", 1)
        header = json.loads(line)
        n = header.get("n", 0)
        frames.append((header, out[:n]))
        out = out[n:]
    info = frames[0][0]
    assert info["ok"] and info["env"]["HOME"] and info["clis"]["definitely-not-a-cli"]["path"] is None
    scan = frames[1][0]
    assert scan["files"][0][:2] == [str(log), 9000] and scan["missing"] == [str(tmp_path / "missing")]
    data, done = frames[2], frames[3][0]
    assert zlib.decompress(data[1]) == b'{"x": 1}\n' * 2 and done["done"] and done["read"] == 18
    raw = frames[5]  # frames[4] closed the first read; level 0 is sent as it is (sendfile on Linux)
    assert raw == ({"i": 0, "raw": 9, "n": 9}, b'{"x": 1}\n') and frames[6][0]["done"]
    assert frames[7][0]["i"] == 1 and "error" in frames[7][0] and frames[8][0] == {"ok": True, "z": 0}
    assert frames[-1][0] == {"ok": False, "error": "unknown verb 'nope'"}


@pytest.mark.parametrize("python", PYTHONS)
def test_a_run_with_the_hosts_python(tmp_path: Path, python: str, helper: Path) -> None:
    """The supervisor as the host runs it (Python 3.8 too): launch, count, finish, list, kill."""
    from tests.console.test_sessions import put_agents

    put_agents(tmp_path)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = {
        "id": "t1",
        "agent": "claude-code",
        "argv": ["claude", "-p", "--output-format", "stream-json", "--verbose"],
        "format": "claude",
        "goal": "STANDIN steps=3\nthe goal",
        "budgets": {},
    }

    def ask(*reqs: dict) -> list[dict]:  # type: ignore[type-arg]
        stdin = b"".join(json.dumps(r).encode() + b"\n" for r in reqs)
        done = subprocess.run([python, "-E", "-S", str(helper)], input=stdin, capture_output=True, env=env, timeout=60)
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith(b"{")]

    launched = ask({"op": "launch", "run": run, "wait_s": 30})[0]
    assert launched["state"]["status"] in ("running", "finished"), launched
    assert launched["first_event"]["type"] == "system"
    for _ in range(100):
        state = ask({"op": "runs"})[0]["runs"][0]
        if state["status"] == "finished":
            break
        time.sleep(0.1)
    assert state["status"] == "finished" and state["tokens"]["total"] == 3 * 1170, state
    assert ask({"op": "kill", "ids": ["t1"]})[0]["killed"] == [
        {"id": "t1", "status": "finished", "reason": "done", "remaining": 0}
    ]
