"""Dedicated machines over a real OpenSSH server on 127.0.0.1: pairing, pulling, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.console import hosts as host_registry
from app.console import pull, ssh
from app.core import reports
from app.core.env import Env
from app.core.filters import Filter
from app.core.index import Index
from app.sources import SOURCES
from tests.conftest import lay_out_home
from tests.console.conftest import REPO, Server, add_host, make_server, refresh_json, tokenclub
from tests.core.test_expected_totals import EXPECTED

pytestmark = pytest.mark.usefixtures("close_shared_connections")


@pytest.fixture
def own_server(tmp_path: Path, user_key: Path) -> Iterator[Server]:
    """A server of the test's own, which it may stop, restart or re-key."""
    server = make_server(tmp_path / "sshd", user_key, tmp_path / "host-home").start()
    yield server
    server.stop()


def daily(home: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    done = tokenclub("report", "daily", "--json", "--tz", "UTC", "--no-refresh", *extra, home=home)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def per_agent_day(doc: dict) -> dict[tuple[str, str], tuple[int, ...]]:  # type: ignore[type-arg]
    out = {}
    for day in doc["days"]:
        for agent, t in day["by_agent"].items():
            out[(agent, day["date"])] = (t["in"], t["out"], t["cw"], t["cr"], t["rsn"])
    return out


def expected_per_agent_day() -> dict[tuple[str, str], tuple[int, ...]]:
    out: dict[tuple[str, str], list[int]] = {}
    for agent, cells in EXPECTED.items():
        for (day, _model), values in cells.items():
            acc = out.setdefault((agent, day), [0] * 5)
            for i, v in enumerate(values):
                acc[i] += v
    return {k: tuple(v) for k, v in out.items()}


def test_fixture_logs_on_the_host_give_expected_totals_under_its_device(
    sshd: Server, host_home: Path, workstation: Path
) -> None:
    lay_out_home(host_home)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    first = refresh_json(workstation)
    assert first["hosts"][0]["ok"], first
    doc = daily(workstation)
    assert per_agent_day(doc) == expected_per_agent_day()
    assert all(set(day["by_device"]) == {"box"} for day in doc["days"] if day["calls"])  # not today, still empty
    assert set(doc["totals"]["by_device"]) == {"box"}
    assert doc["totals"]["by_device"]["box"]["total"] == doc["totals"]["total"]
    # --device: the host alone is everything, this machine alone is nothing
    assert daily(workstation, "--device", "box")["totals"]["total"] == doc["totals"]["total"]
    assert daily(workstation, "--device", "local")["totals"]["total"] == 0
    # a second refresh with nothing new fetches nothing and reads nothing
    again = refresh_json(workstation)
    assert again["hosts"][0]["files_fetched"] == 0 and again["events_read"] == 0
    # sources lists the host's agents
    src = json.loads(tokenclub("sources", "--json", "--no-refresh", home=workstation).stdout)
    box = {h["host"]: h["agents"] for h in src["hosts"]}["box"]
    assert box["claude-code"]["files"] > 0 and box["codex"]["events"] > 0
    assert all(s["files"] == 0 for s in src["sources"])  # the workstation has no logs of its own


def test_append_on_the_host_transfers_only_the_new_bytes(sshd: Server, host_home: Path, workstation: Path) -> None:
    from bench.corpus import APPEND_USAGE, append_line, generate

    generate(host_home, size_mb=8, jobs=1, quiet=True)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    refresh_json(workstation)
    # the mirror keeps no second copy: what the index consumed was punched out
    apparent, on_disk = pull.mirror_usage("box")
    assert apparent > 8_000_000 and on_disk < apparent / 10, (apparent, on_disk)
    print(f"mirror: {apparent:,} bytes apparent, {on_disk:,} on disk")
    before = daily(workstation)["totals"]["total"]
    path = append_line(host_home)
    appended = len(path.read_bytes().splitlines(keepends=True)[-1])
    zlib = {"TOKENCLUB_PULL_ZLIB": "1"}  # as over a network (loopback sends bytes as they are)
    after = json.loads(tokenclub("refresh", "--json", home=workstation, env=zlib).stdout)
    h = after["hosts"][0]
    assert h["files_fetched"] == 1
    # the new line plus the 32 bytes before the index's offset, which it compares to notice a rewrite
    assert h["bytes_fetched"] == appended + 32, (h, appended)
    assert h["bytes_compressed"] < appended  # zlib in transit
    added = sum(APPEND_USAGE[k] for k in ("in", "cw", "cr", "out"))
    assert daily(workstation)["totals"]["total"] == before + added
    print(
        f"appended {appended} bytes: fetched {h['bytes_fetched']} ({h['bytes_compressed']} compressed); "
        f"{h['bytes_transferred']} bytes over ssh with the file listing"
    )


def test_host_down_is_a_named_warning_and_keeps_its_history(own_server: Server, workstation: Path) -> None:
    lay_out_home(own_server.home, ("claude",))
    lay_out_home(workstation, ("codex",))
    add_host(own_server, "far", workstation, "--allow-this-machine")
    refresh_json(workstation)
    had = daily(workstation)["totals"]["by_device"]
    assert "far" in had and len(had) == 2
    ssh.stop_master(host_registry.load()["far"])
    own_server.stop()
    done = tokenclub("refresh", "--json", home=workstation, check=False)
    assert done.returncode == 3  # indexed, but a host could not be pulled
    assert "host far: unreachable" in done.stderr, done.stderr
    assert json.loads(done.stdout)["hosts"][0]["ok"] is False
    report = tokenclub("report", "daily", "--json", "--tz", "UTC", home=workstation)
    assert report.returncode == 0 and "host far" in report.stderr
    assert json.loads(report.stdout)["totals"]["by_device"] == had  # local numbers and the host's history
    local = tokenclub("refresh", "--json", "--local-only", home=workstation)
    assert "host far" not in local.stderr


def test_changed_host_key_is_refused_until_rekey(own_server: Server, workstation: Path) -> None:
    lay_out_home(own_server.home, ("qwen",))
    add_host(own_server, "box", workstation, "--allow-this-machine")
    old = own_server.fingerprint
    refresh_json(workstation)
    ssh.stop_master(host_registry.load()["box"])
    own_server.stop()
    own_server.new_host_key()
    own_server.start()
    new = own_server.fingerprint
    assert new != old
    done = tokenclub("refresh", "--json", home=workstation, check=False)
    assert done.returncode == 3
    assert "host box: host key changed" in done.stderr and old in done.stderr and new in done.stderr, done.stderr
    wrong = tokenclub("host", "rekey", "box", "--accept-host-key", old, home=workstation, check=False)
    assert wrong.returncode == 1
    tokenclub("host", "rekey", "box", "--accept-host-key", new, home=workstation)
    assert refresh_json(workstation)["hosts"][0]["ok"]
    listed = json.loads(tokenclub("host", "list", "--json", home=workstation).stdout)
    assert listed["hosts"][0]["host_key"] == new


def test_host_add_needs_the_fingerprint_and_refuses_this_machine(sshd: Server, workstation: Path) -> None:
    blind = tokenclub(
        "host",
        "add",
        "box",
        "--ssh",
        "root@127.0.0.1",
        "--port",
        str(sshd.port),
        "--identity",
        str(sshd.user_key),
        home=workstation,
        check=False,
    )
    assert blind.returncode == 1 and sshd.fingerprint in blind.stderr and "--accept-host-key" in blind.stderr
    same = add_host(sshd, "box", workstation, check=False)
    assert same.returncode == 1 and "is this machine" in same.stderr and "--allow-this-machine" in same.stderr
    assert json.loads(tokenclub("host", "list", "--json", home=workstation).stdout)["hosts"] == []
    assert ssh.pinned(ssh.Target("box", "root@127.0.0.1", sshd.port)) == []
    add_host(sshd, "box", workstation, "--allow-this-machine")
    check = json.loads(tokenclub("host", "check", "box", "--json", home=workstation).stdout)
    assert check["reachable"] and check["python"] and check["rtt_ms"] >= 0 and check["disk_free_bytes"] > 0
    assert set(check["clis"]) == {"claude", "codex", "gemini", "opencode", "qwen", "amp"}
    assert "claude-code" in check["agents"]
    removed = tokenclub("host", "remove", "box", "--forget-usage", home=workstation)
    assert "removed box" in removed.stdout


def test_kill_9_mid_pull_then_exact_totals(sshd: Server, host_home: Path, workstation: Path, tmp_path: Path) -> None:
    from bench.corpus import generate

    generate(host_home, size_mb=40, jobs=1, quiet=True)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    cmd = [sys.executable, "-m", "app", "refresh", "-q", "--home", str(workstation)]
    env = {**os.environ, "TOKENCLUB_SSH_PERSIST": "5"}
    for delay in (0.4, 0.8, 1.2, 1.8):
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    refresh_json(workstation)
    got = daily(workstation)
    clean = Index(tmp_path / "clean.sqlite", sources=SOURCES)
    try:
        clean.refresh(Env.under(host_home))
        want = reports.daily(clean.conn, Filter())
    finally:
        clean.close()
    assert got["totals"]["total"] == want["totals"]["total"]
    assert per_agent_day(got) == per_agent_day(want)


def test_no_python_and_unreadable_logs_are_named_warnings(
    own_server: Server, workstation: Path, tmp_path: Path
) -> None:
    home = own_server.home
    lay_out_home(home, ("claude",))
    loop = next((home / ".claude" / "projects").iterdir()) / "loop.jsonl"
    loop.symlink_to(loop.name)  # a link to itself: unreadable even for root
    add_host(own_server, "box", workstation, "--allow-this-machine")
    done = tokenclub("refresh", "--json", home=workstation)
    assert f"host box: cannot read {loop}" in done.stderr, done.stderr
    assert json.loads(done.stdout)["hosts"][0]["ok"]  # the rest was pulled
    assert daily(workstation)["totals"]["total"] > 0
    ssh.stop_master(host_registry.load()["box"])
    own_server.stop()
    own_server.extra = [f"SetEnv HOME={home} PATH=/nonexistent"]
    own_server.start()
    done = tokenclub("refresh", "--json", home=workstation, check=False)
    assert done.returncode == 3
    (failure,) = json.loads(done.stdout)["failures"]
    assert failure["host"] == "box" and failure["error"].startswith("python3 is not on the host's PATH")
    assert "host box: python3 is not on the host's PATH" in done.stderr, done.stderr


def test_a_host_past_its_deadline_is_cut_off_and_named(workstation: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host_registry.save({"slow": ssh.Target("slow", "root@127.0.0.1", silent.getsockname()[1])})
        started = time.monotonic()
        done = tokenclub("refresh", "--json", home=workstation, env={"TOKENCLUB_HOST_TIMEOUT": "1"}, check=False)
        elapsed = time.monotonic() - started
    assert done.returncode == 3
    assert "host slow: timed out after 1 s" in done.stderr, done.stderr
    assert elapsed < 8, elapsed


def test_host_add_at_a_terminal_shows_the_fingerprint_and_asks(sshd: Server, workstation: Path) -> None:
    import pty
    import select

    leader, follower = pty.openpty()
    cmd = [sys.executable, "-m", "app", "host", "add", "box", "--ssh", "root@127.0.0.1", "--port", str(sshd.port)]
    cmd += ["--identity", str(sshd.user_key), "--allow-this-machine", "--home", str(workstation)]
    env = {**os.environ, "TOKENCLUB_SSH_PERSIST": "5"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen, answered = b"", False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                assert sshd.fingerprint.encode() in seen  # shown before anything is trusted
                assert host_registry.load() == {}
                os.write(leader, b"y\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        os.close(leader)
    assert answered and proc.returncode == 0, seen.decode(errors="replace")
    assert b"added box" in seen
    assert ssh.pinned(host_registry.load()["box"])[0].fingerprint == sshd.fingerprint
