"""Agent console timings on a real OpenSSH server on 127.0.0.1: launch to running, kill to verified gone.

Stand-in agents (tests/console/standin_agent.py) run on the host as ``claude``; each burns tokens
until killed and leaves a detached grandchild in its own session that ignores hangup (and, in the
second set, TERM too, so the kill waits out its 5 s grace before KILL). Prints medians of ``--runs``
launches and kills as the command line does them (``tokenclub session launch|kill --json``, each a
fresh process), then ``--cycles`` launch-and-kill cycles with TERM-deaf grandchildren and the
processes of any run left on the host afterwards (aim: 0).

    .venv/bin/python bench/bench_console.py [--runs 10] [--cycles 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.console.conftest import _keygen, fingerprint, make_server  # noqa: E402
from tests.console.test_sessions import put_agents, run_processes  # noqa: E402


def tokenclub(args: list[str], env: dict[str, str]) -> tuple[float, dict]:  # type: ignore[type-arg]
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if not done.stdout:
        raise SystemExit(f"tokenclub {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--cycles", type=int, default=50)
    opts = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tc-bench-console-") as tmp:
        base = Path(tmp)
        key = _keygen(base / "id_ed25519")
        server = make_server(base / "sshd", key, base / "host").start()
        put_agents(server.home)
        env = {**os.environ, "TOKENCLUB_HOME": str(base / "tc"), "TOKENCLUB_CACHE": str(base / "cache")}
        goals = {}
        for kind in ("hup", "1"):  # a grandchild deaf to hangup; one deaf to TERM as well (waits out the grace)
            goals[kind] = base / f"goal-{kind}"
            goals[kind].write_text(f"STANDIN mode=burn delay=0.1 grandchild={kind}\nbench goal\n")

        def launch(kind: str) -> list[str]:
            return ["session", "launch", "--host", "bench", "--agent", "claude-code", "--goal-file", str(goals[kind]),
                    "--json"]  # fmt: skip

        try:
            tokenclub(
                ["host", "add", "bench", "--ssh", "root@127.0.0.1", "--port", str(server.port), "--identity", str(key),
                 "--accept-host-key", fingerprint(server.host_key.with_suffix(".pub")), "--allow-this-machine",
                 "--claude-sandbox", "--json"],
                env,
            )  # fmt: skip
            to_running: list[float] = []
            to_gone: dict[str, list[float]] = {"hup": [], "1": []}
            left = []
            for kind in ("hup", "1"):
                for _ in range(opts.runs):
                    wall, row = tokenclub(launch(kind), env)
                    assert row["status"] == "running", row
                    to_running.append(wall)
                    time.sleep(0.5)
                    wall, doc = tokenclub(["session", "kill", row["id"], "--json"], env)
                    to_gone[kind].append(wall)
                    left.append(doc["killed"][0]["remaining"])
            t0 = time.perf_counter()
            for _ in range(opts.cycles):
                _, row = tokenclub(launch("1"), env)
                _, doc = tokenclub(["session", "kill", row["id"], "--json"], env)
                left.append(doc["killed"][0]["remaining"])
            cycles_s = time.perf_counter() - t0
            time.sleep(1)
            after = run_processes()
        finally:
            stop = "from app.console import hosts, ssh; [ssh.stop_master(t) for t in hosts.load().values()]"
            subprocess.run([sys.executable, "-c", stop], cwd=REPO, env=env, capture_output=True)
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
    print(f"launch to running (first event in hand), median of {2 * opts.runs}: {statistics.median(to_running):.3f} s "
          f"(min {min(to_running):.3f}, max {max(to_running):.3f})")  # fmt: skip
    for kind, what in (("hup", "ignores hangup"), ("1", "ignores hangup and TERM")):
        t = to_gone[kind]
        print(f"kill to verified gone, median of {opts.runs}, the grandchild {what}: {statistics.median(t):.3f} s "
              f"(min {min(t):.3f}, max {max(t):.3f})")  # fmt: skip
    print(f"{opts.cycles} launch and kill cycles with TERM-deaf grandchildren: {cycles_s:.1f} s; "
          f"processes the kills reported left: {sum(left)}; processes of any run on the host after: {len(after)} "
          f"(aim 0)")  # fmt: skip
    return 0 if not after and not sum(left) else 1


if __name__ == "__main__":
    raise SystemExit(main())
