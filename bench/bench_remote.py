#!/usr/bin/env python3
"""A dedicated machine over loopback: the first pull and index of a 1 GB corpus against a local cold index.

    python bench/bench_remote.py [--size-mb 1024] [--corpus DIR] [--runs 5]

* generates the corpus with bench/corpus.py when missing (cached in bench/.corpus/<size>,
  shared with bench_index.py);
* starts a throwaway OpenSSH server on 127.0.0.1 (as tests/console does) whose sessions
  see the corpus as their home, and pairs it as host ``bench``;
* (1) local cold: ``tokenclub refresh --local-only --home CORPUS`` into a new index;
* (2) remote first: ``tokenclub refresh`` with an empty workstation home: pull + index;
* (3) nothing new on either side, the shared connection open: ``--runs`` refreshes, median;
  the same for a local refresh with nothing new, for reference;
* checks that both indexes give the same daily totals, and prints the bytes fetched, the
  bytes over ssh and the mirror's size on disk.

Aims: (2) at most 1.5 x (1); (3) under 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import corpus  # noqa: E402

from tests.console.conftest import _keygen, fingerprint, make_server  # noqa: E402


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    os.sync()  # each run starts without the last one's dirty pages being written back under it
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"tokenclub {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    opts = ap.parse_args(argv)
    home = opts.corpus or HERE / ".corpus" / f"{int(opts.size_mb)}"
    if not (home / "EXPECTED.json").exists():
        print(f"generating a {opts.size_mb:g} MB corpus in {home} …", file=sys.stderr)
        corpus.generate(home, size_mb=opts.size_mb, seed=opts.seed, quiet=True)
    size = sum(p.stat().st_size for p in home.rglob("*.jsonl"))

    with tempfile.TemporaryDirectory(prefix="tc-bench-remote-") as tmp:
        base = Path(tmp)
        user_key = _keygen(base / "id_ed25519")
        server = make_server(base / "sshd", user_key, home).start()
        env = {**os.environ, "TOKENCLUB_HOME": str(base / "tc"), "TOKENCLUB_CACHE": str(base / "cache")}
        local_env = {**env, "TOKENCLUB_HOME": str(base / "tc-local")}
        empty = base / "workstation"
        empty.mkdir()
        try:
            run(["prices", "--home", str(empty), "--db", str(base / "warm.sqlite")], env)  # the price table, once
            cold_local, _ = run(["refresh", "--local-only", "-q", "--home", str(home)], local_env)
            run(
                [
                    "host",
                    "add",
                    "bench",
                    "--ssh",
                    "root@127.0.0.1",
                    "--port",
                    str(server.port),
                    "--identity",
                    str(user_key),
                    "--accept-host-key",
                    fingerprint(server.host_key.with_suffix(".pub")),
                    "--allow-this-machine",
                ],
                env,
            )
            cold_remote, done = run(["refresh", "--json", "--home", str(empty)], env)
            first = json.loads(done.stdout)["hosts"][0]
            warm_remote = []
            for _ in range(opts.runs):
                wall, done = run(["refresh", "--json", "--home", str(empty)], env)
                assert json.loads(done.stdout)["hosts"][0]["files_fetched"] == 0
                warm_remote.append(wall)
            warm_local = [run(["refresh", "-q", "--home", str(home)], local_env)[0] for _ in range(opts.runs)]
            report = ["report", "daily", "--json", "--tz", "UTC", "--no-refresh"]
            remote_doc = json.loads(run([*report, "--home", str(empty)], env)[1].stdout)
            local_doc = json.loads(run([*report, "--home", str(home)], local_env)[1].stdout)
            same = [(d["date"], d["total"]) for d in remote_doc["days"]] == [
                (d["date"], d["total"]) for d in local_doc["days"]
            ]
            mirror = base / "tc" / "data" / "hosts" / "bench" / "root"
            apparent = disk = 0
            for top, _dirs, files in os.walk(mirror):
                for f in files:
                    st = os.stat(os.path.join(top, f))
                    apparent += st.st_size
                    disk += st.st_blocks * 512
        finally:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from app.console import hosts, ssh; [ssh.stop_master(t) for t in hosts.load().values()]",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
            )
            server.stop()

    zlib_level = os.environ.get("TOKENCLUB_PULL_ZLIB", "0 (loopback default)")
    print(f"corpus: {size / 2**20:.0f} MiB of JSONL in {home}")
    print(f"local cold index:          {cold_local:7.2f} s")
    print(f"remote first pull + index: {cold_remote:7.2f} s  ({cold_remote / cold_local:.2f} x local; aim <= 1.5 x)")
    print(
        f"  fetched {first['bytes_fetched'] / 2**20:.0f} MiB in {first['files_fetched']} files, "
        f"{first['bytes_transferred'] / 2**20:.0f} MiB over ssh (zlib level {zlib_level}), "
        f"pull alone {first['seconds']:.2f} s"
    )
    print(
        f"nothing new, remote (+local): median {statistics.median(warm_remote):.3f} s "
        f"(min {min(warm_remote):.3f}; aim < 0.3 s); local alone median {statistics.median(warm_local):.3f} s"
    )
    print(f"mirror after indexing: {apparent / 2**20:.0f} MiB apparent, {disk / 2**20:.1f} MiB on disk")
    print(f"daily totals equal to the local index: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
