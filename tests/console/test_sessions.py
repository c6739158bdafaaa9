"""Agent runs on a dedicated machine over the real OpenSSH server on 127.0.0.1.

Stand-in agents (tests/console/standin_agent.py) sit on the host's PATH in ~/.local/bin and
stream each agent's format; directives in the goal (their stdin) make them burn, hang, flood,
exit at once or leave a detached grandchild. "On the host" is this machine, so the tests look
for a run's processes in /proc, by the marker every process of a run carries and by the host's
home (a folder of this test session): the runs of anyone else on this machine are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.console import hosts as host_registry
from app.console import ssh
from app.console.sessions import FINAL
from app.core import paths
from tests.console.conftest import Server, add_host, make_server, tokenclub

STANDIN = Path(__file__).with_name("standin_agent.py")
NAMES = ("claude", "codex", "gemini", "opencode", "qwen")
CALL = 100 + 50 + 1000 + 20  # the stand-ins' tokens per call (in, cw, cr, out)


def run_processes(home: Path, rid: str | None = None) -> list[int]:
    """Live processes of the runs started on the host whose home is ``home`` or lies under it: of
    the run ``rid``, or of any. Only this suite's runs have such a home (the ssh sessions' HOME),
    so the runs of another suite or of a real agent on this machine are never counted nor signalled.
    """
    marker = b"TOKENCLUB_RUN=" + (rid.encode() + b":" if rid else b"")
    root = b"HOME=" + str(home).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        ours = any(v == root or v.startswith(root + b"/") for v in env)
        if state != b"Z" and ours and any(v.startswith(marker) for v in env):
            found.append(int(name))
    return found


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    for t in host_registry.load().values():
        ssh.stop_master(t)
    for pid in run_processes(tmp_path_factory.getbasetemp()):  # a failed test must not leave agents burning
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Box:
    """The host ``box``: the workstation's home (for ``tokenclub``) and the host's."""

    home: Path
    host: Path

    def repo(self, name: str) -> Path:
        """A git repository on the host with one commit."""
        path = self.host / name
        path.mkdir()
        for cmd in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "start"]):
            subprocess.run(["git", "-C", str(path), *cmd], check=True, env=_git_env())
        return path


def _git_env() -> dict[str, str]:
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    return {**os.environ, **who, "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def put_agents(home: Path) -> None:
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        shutil.copy(STANDIN, bin_dir / name)
        (bin_dir / name).chmod(0o755)
    (home / ".gitconfig").write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")


@pytest.fixture
def box(sshd: Server, host_home: Path, workstation: Path) -> Box:
    put_agents(host_home)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    return Box(workstation, host_home)


def launch(box: Box, goal: str, *extra: str, agent: str = "claude-code") -> dict[str, Any]:
    done = tokenclub(
        "session", "launch", "--host", "box", "--agent", agent, "--goal", goal, "--json", *extra,
        home=box.home, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def sessions(box: Box) -> dict[str, dict[str, Any]]:
    doc = json.loads(tokenclub("session", "list", "--json", home=box.home).stdout)
    return {r["id"]: r for r in doc["sessions"]}


def wait_for(box: Box, rid: str, ok: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        row = sessions(box)[rid]
        if ok(row):
            return row
        time.sleep(0.3)
    raise AssertionError(f"timed out; last row: {row}")


def ended(row: dict[str, Any]) -> bool:
    return row["status"] in FINAL


def kill(box: Box, rid: str) -> dict[str, Any]:
    doc = json.loads(tokenclub("session", "kill", rid, "--json", home=box.home, check=False).stdout)
    return doc["killed"][0]  # type: ignore[no-any-return]


def test_launch_run_tokens_kill_and_nothing_left_on_the_host(box: Box) -> None:
    row = launch(box, "STANDIN mode=burn delay=0.1 grandchild=1\nwrite the parser")
    assert row["status"] == "running", row
    assert row["first_event"]["type"] == "system"
    rid = row["id"]
    burning = wait_for(box, rid, lambda r: r["tokens"]["total"] >= 3 * CALL)
    assert burning["status"] == "running" and burning["tokens_per_min"] > 0
    calls = burning["tokens"]["total"] // CALL
    assert burning["tokens"] == {"in": 100 * calls, "cw": 50 * calls, "cr": 1000 * calls, "out": 20 * calls,
                                 "total": CALL * calls}  # fmt: skip
    assert burning["cost_usd"] is not None and burning["cost_usd"] > 0
    assert len(run_processes(box.host, rid)) >= 2  # the agent and its detached grandchild
    killed = kill(box, rid)
    assert killed == {"id": rid, "host": "box", "status": "killed", "reason": "killed on request", "remaining": 0}
    assert run_processes(box.host, rid) == []
    assert sessions(box)[rid]["status"] == "killed"


def test_the_goal_is_never_an_argument_on_either_machine(box: Box, tmp_path: Path) -> None:
    goal_file = tmp_path / "goal.txt"
    goal_file.write_text("STANDIN mode=burn delay=0.2\ngoal-marker-7f3a9c: rewrite the billing module\n")
    done = tokenclub(
        "session", "launch", "--host", "box", "--agent", "codex", "--goal-file", str(goal_file), "--json",
        home=box.home,
    )  # fmt: skip
    rid = json.loads(done.stdout)["id"]
    wait_for(box, rid, lambda r: r["tokens"]["total"] > 0)
    seen = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                argv = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            seen += 1
            assert b"goal-marker-7f3a9c" not in argv, argv
    assert seen > 5
    assert kill(box, rid)["remaining"] == 0


def test_a_silent_agent_is_stalled_then_killed(box: Box) -> None:
    rid = launch(box, "STANDIN mode=hang", "--stall-minutes", "0.05")["id"]
    row = wait_for(box, rid, lambda r: r["status"] == "stalled")
    assert row["reason"].startswith("no event and no CPU for"), row
    assert kill(box, rid)["remaining"] == 0


def test_an_agent_blocked_on_a_question_is_waiting_for_input(box: Box) -> None:
    fifo = box.host / "question"
    os.mkfifo(fifo)
    rid = launch(box, f"STANDIN mode=wait-input fifo={fifo}")["id"]
    row = wait_for(box, rid, lambda r: r["status"] == "waiting-input")
    assert row["reason"] == f"blocked reading {fifo}"
    assert kill(box, rid)["remaining"] == 0


@pytest.mark.parametrize("agent", ["claude-code", "codex", "gemini-cli"])  # Codex, Gemini: from their logs
def test_token_budget_kills_the_run(box: Box, agent: str) -> None:
    rid = launch(box, "STANDIN mode=burn delay=0.05 grandchild=1", "--budget-tokens", "6000", agent=agent)["id"]
    row = wait_for(box, rid, ended)
    assert row["status"] == "over-budget", row
    assert row["reason"].startswith("used ") and row["reason"].endswith("of a 6000 token budget")
    assert 6000 <= row["tokens"]["total"] <= 6000 + 40 * CALL  # stopped within about a second's burn
    assert row["remaining"] == 0 and run_processes(box.host, rid) == []


def test_dollar_budget_kills_the_run(box: Box) -> None:
    rid = launch(box, "STANDIN mode=burn delay=0.02", "--model", "claude-sonnet-4-5-20250929", "--budget-usd", "0.01")[
        "id"
    ]
    row = wait_for(box, rid, ended)
    assert row["status"] == "over-budget" and row["reason"].startswith("spent $0.01"), row
    assert row["reason"].endswith(" of a $0.01 budget"), row  # two significant digits at least: $0.0107
    assert row["cost_usd"] >= 0.01


def test_loop_ends_when_its_check_passes(box: Box) -> None:
    work = box.repo("repo")
    rid = launch(
        box, "STANDIN steps=1 touch=progress.txt", "--cwd", str(work),
        "--until", "test $(wc -l < progress.txt) -ge 2", "--max-iterations", "5",
    )["id"]  # fmt: skip
    row = wait_for(box, rid, ended)
    assert (row["status"], row["iterations"]) == ("finished", 2), row["reason"]
    assert row["reason"] == "the check passed after 2 iterations"
    assert row["tokens"]["total"] == 2 * CALL


def test_loop_stops_at_its_cap_and_without_progress(box: Box) -> None:
    work = box.repo("capped")
    capped = launch(
        box, "STANDIN steps=1 touch=log.txt commit=1", "--cwd", str(work), "--until", "false", "--max-iterations", "3"
    )["id"]
    idle = launch(box, "STANDIN steps=1", "--cwd", str(box.repo("idle")), "--until", "exit 1", "--max-iterations", "9")
    row = wait_for(box, capped, ended)
    assert (row["status"], row["iterations"]) == ("failed", 3), row
    assert row["reason"] == "the check still fails after 3 iterations (--max-iterations)"
    assert len((work / "log.txt").read_text().splitlines()) == 3
    row = wait_for(box, idle["id"], ended)
    assert (row["status"], row["iterations"]) == ("failed", 3), row
    assert row["reason"].startswith("no progress in 3 iterations in a row")


def test_worktree_run_works_on_a_new_branch(box: Box) -> None:
    work = box.repo("main-repo")
    row = launch(box, "STANDIN steps=1 touch=done.txt commit=1", "--cwd", str(work), "--worktree")
    done = wait_for(box, row["id"], ended)
    assert done["status"] == "finished", done
    branch = f"tokenclub/{row['id']}"
    assert done["branch"] == branch and done["workdir"] != str(work)
    assert (Path(done["workdir"]) / "done.txt").exists() and not (work / "done.txt").exists()
    log = subprocess.run(["git", "-C", str(work), "log", "--oneline", branch], capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("agent", "goal", "status", "reason"),
    [
        ("gemini-cli", "STANDIN mode=exit-now", "failed", "exited with code 3: error: something broke"),
        ("claude-code", "STANDIN mode=not-logged-in", "failed", "not logged in: "),
        ("codex", "STANDIN mode=not-logged-in", "failed", "not logged in: "),
        ("claude-code", "STANDIN mode=no-result", "crashed", "exited without a final result"),
        ("codex", "STANDIN exit=1 steps=1", "failed", "exited with code 1: the model refused"),
        ("custom", "anything", "failed", "not found: no-such-agent-cli is not on the host's PATH"),
    ],
)
def test_a_run_that_cannot_work_says_why(box: Box, agent: str, goal: str, status: str, reason: str) -> None:
    extra = ("--command", "no-such-agent-cli --json") if agent == "custom" else ()
    row = wait_for(box, launch(box, goal, *extra, agent=agent)["id"], ended)
    assert row["status"] == status and row["reason"].startswith(reason), row
    assert row["remaining"] == 0


def test_a_flood_of_output_is_drained_and_counted(box: Box) -> None:
    rid = launch(box, "STANDIN mode=flood steps=2", agent="qwen-code")["id"]
    row = wait_for(box, rid, ended)
    assert row["status"] == "finished", row
    assert row["tokens"]["total"] == 2 * CALL
    assert row["events"] > 200_000
    tail = tokenclub("session", "tail", rid, "--raw", home=box.home)
    assert tail.stdout.count("\n") == row["events"]


def test_all_agents_stream_their_tokens(box: Box) -> None:
    """Each format's usage, and two launches at once on one host."""
    agents = ("claude-code", "codex", "gemini-cli", "opencode", "qwen-code")
    with ThreadPoolExecutor(len(agents)) as pool:
        rows = list(pool.map(lambda a: launch(box, "STANDIN steps=2", agent=a), agents))
    assert len({r["id"] for r in rows}) == len(agents)
    for r in rows:
        done = wait_for(box, r["id"], ended)
        assert done["status"] == "finished", done
        assert done["tokens"]["total"] == 2 * CALL, done
        assert done["agent_sessions"], done


def test_run_tokens_land_in_the_index_once_under_the_host(box: Box) -> None:
    rid = launch(box, "STANDIN steps=4")["id"]
    row = wait_for(box, rid, ended)
    refresh = json.loads(tokenclub("refresh", "--json", home=box.home).stdout)
    assert refresh["hosts"][0]["ok"], refresh
    doc = json.loads(tokenclub("report", "session", "--json", "--tz", "UTC", "--no-refresh", home=box.home).stdout)
    mine = [s for s in doc["sessions"] if s["session"] in row["agent_sessions"]]
    assert len(mine) == 1 and mine[0]["total"] == 4 * CALL, doc
    daily = json.loads(tokenclub("report", "daily", "--json", "--no-refresh", home=box.home).stdout)
    assert daily["totals"]["by_device"]["box"]["total"] == 4 * CALL  # the stream did not count a second time


def test_runs_are_found_again_and_a_kill_while_the_host_is_down_is_carried_out(
    tmp_path: Path, user_key: Path, workstation: Path
) -> None:
    server = make_server(tmp_path / "sshd", user_key, tmp_path / "host-home").start()
    try:
        put_agents(server.home)
        add_host(server, "box", workstation, "--allow-this-machine")
        b = Box(workstation, server.home)
        rid = launch(b, "STANDIN mode=burn delay=0.2 grandchild=1")["id"]
        # the app restarted with nothing kept: it finds the run by asking the host
        shutil.rmtree(paths.config_dir() / "console")
        assert sessions(b)[rid]["status"] == "running"
        ssh.stop_master(host_registry.load()["box"])
        server.stop()
        pending = json.loads(tokenclub("session", "kill", rid, "--json", home=workstation, check=False).stdout)
        assert pending["killed"][0]["status"] == "kill-pending", pending
        assert run_processes(b.host, rid)  # still burning: the host was not reached
        listed = tokenclub("session", "list", "--json", home=workstation)
        stale = json.loads(listed.stdout)["sessions"]
        assert [r["status"] for r in stale] == ["running"] and stale[0]["stale"] is True
        assert "host box: unreachable" in listed.stderr
        server.start()  # same port, same keys: the host is back
        after = tokenclub("session", "list", "--json", home=workstation)
        assert f"a pending kill of {rid} on box is done: killed" in after.stderr, after.stderr
        assert json.loads(after.stdout)["sessions"][0]["status"] == "killed"
        assert run_processes(b.host, rid) == []
    finally:
        server.stop()


def test_a_grandchild_left_behind_by_a_finished_agent_is_stopped(box: Box) -> None:
    row = wait_for(box, launch(box, "STANDIN steps=2 grandchild=1")["id"], ended)
    assert (row["status"], row["remaining"]) == ("finished", 0), row
    assert run_processes(box.host, row["id"]) == []


def test_a_supervisor_killed_on_the_host_is_a_crash_not_a_stuck_run(box: Box) -> None:
    rid = launch(box, "STANDIN mode=burn delay=0.1 grandchild=1")["id"]
    supervisor = [int(p) for p in os.listdir("/proc") if p.isdigit() and f"--supervise\0{rid}".encode() in _cmdline(p)]
    assert len(supervisor) == 1
    os.kill(supervisor[0], signal.SIGKILL)
    row = wait_for(box, rid, ended)
    assert row["status"] == "crashed" and row["reason"].startswith("the supervisor is gone"), row
    assert row["remaining"] == 0 and run_processes(box.host, rid) == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
