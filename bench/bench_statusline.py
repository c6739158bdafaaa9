#!/usr/bin/env python3
"""Claude Code's status line: ``tokenclub statusline`` vs ``ccusage statusline``, and ``report blocks`` vs ``blocks``.

    python bench/bench_statusline.py [--size-mb 256|1024] [--corpus DIR] [--runs 5] [--ccusage PATH]

* uses (or generates) the corpus of bench/corpus.py, cached in bench/.corpus/<size>;
* indexes it once into a temporary index (the app keeps one warm; not timed here: bench_index.py times that);
* feeds both tools the same status input (the session of the transcript a message is appended to), in turn,
  ``--runs`` times in three cases: (a) right after a new assistant message was appended to that transcript (what
  Claude Code does before every status update: ccusage's own cache is stale, tokenclub indexes the new line), (b)
  nothing new since the last call (ccusage answers from its output cache, kept 1 s; tokenclub reprints its kept
  answer, kept at most 5 s and only while this transcript, the index, the settings and the minute are unchanged),
  and (c) nothing new, but each call after both tools' kept answers expired (5.2 s apart); prints each run, the
  medians and the ratio ccusage / tokenclub, and the interpreter's own start (``python -c pass``) as tokenclub's
  floor;
* compares ``ccusage blocks --json --offline`` with ``tokenclub report blocks --json`` block by block (start, end,
  gap, entries, each token count, models; cost within 1%, the two tools' price tables differ slightly).

The appended lines are truncated away afterwards, so the cached corpus keeps matching its EXPECTED.json.
ccusage: bench/node_modules (``npm install --no-save ccusage@20.0.24 @ccusage/ccusage-linux-x64@20.0.24``;
its native binary needs ``chmod +x``, done here) or ``--ccusage PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
from bench_index import ccusage_env, find_ccusage, machine, tokenclub_bin  # noqa: E402

CASES = ("after a new message", "nothing new", "nothing new, 5.2 s later")
EXPIRED = CASES[2]
KEPT_S = 5.0  # app.cli.statusline.FRESH_S (not imported: the bench times the installed command)


def timed(cmd: list[str], env: dict[str, str], stdin: bytes) -> tuple[float, float, str, int]:
    """Wall and CPU seconds (children's user + sys) of one run, its stdout and exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout.decode(errors="replace").strip(), p.returncode


def status_input(home: Path) -> tuple[bytes, Path]:
    """Claude Code's status input for the transcript ``corpus.append_line`` appends to."""
    target = sorted((home / ".claude" / "projects").glob("*/*.jsonl"))[0]
    doc = {
        "hook_event_name": "Status",
        "session_id": target.stem,
        "transcript_path": str(target),
        "cwd": "/home/dev/proj",
        "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": "/home/dev/proj", "project_dir": "/home/dev/proj"},
        "version": "2.1.30",
    }
    return json.dumps(doc).encode(), target


def compare_blocks(cc_doc: dict, tc_doc: dict) -> list[str]:
    """Differences, block by block (an empty list: the same blocks)."""
    diffs = []
    a, b = cc_doc["blocks"], tc_doc["blocks"]
    if len(a) != len(b):
        diffs.append(f"ccusage has {len(a)} blocks, tokenclub {len(b)}")
    for x, y in zip(a, b, strict=False):
        for key in ("id", "startTime", "endTime", "actualEndTime", "isGap", "isActive", "entries", "totalTokens"):
            if x[key] != y[key]:
                diffs.append(f"{x['id']}: {key} {x[key]!r} (ccusage) != {y[key]!r} (tokenclub)")
        if x["tokenCounts"] != y["tokenCounts"]:
            diffs.append(f"{x['id']}: tokenCounts {x['tokenCounts']} != {y['tokenCounts']}")
        if sorted(x["models"]) != sorted(y["models"]):
            diffs.append(f"{x['id']}: models {x['models']} != {y['models']}")
        if abs(x["costUSD"] - y["costUSD"]) > 0.01 * max(abs(x["costUSD"]), 1e-9) + 1e-9:
            diffs.append(f"{x['id']}: cost ${x['costUSD']:.6f} != ${y['costUSD']:.6f}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=256)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ccusage", type=Path, default=None, help="the ccusage executable (default: bench/node_modules)")
    a = ap.parse_args(argv)

    print("machine:", machine())
    home, exp = corpus.cached(a.corpus, a.size_mb, a.seed)
    print(f"corpus: {home}: {sum(exp['bytes'].values()) / 2**20:.1f} MiB, {exp['files']} files")

    cc = a.ccusage or find_ccusage()
    if cc is not None and not os.access(cc, os.X_OK):
        cc.chmod(0o755)
    if cc is None:
        print("ccusage: NOT AVAILABLE (npm install --no-save ccusage@20.0.24 @ccusage/ccusage-linux-x64@20.0.24)")
    # compiled where the tokenclub command imports the package from, as an installed package is
    ask = [sys.executable, "-c", "import app, os; print(os.path.dirname(app.__file__))"]
    where = subprocess.run(ask, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="tcstatus-"))
    tc_env = {**os.environ, "TOKENCLUB_HOME": str(tmp / "tchome")}  # never the user's own index
    db = tmp / "index.sqlite"
    tc = tokenclub_bin()
    cc_env = ccusage_env(home)
    t0 = time.perf_counter()
    subprocess.run([tc, "refresh", "--db", str(db), "--home", str(home), "--quiet"], env=tc_env, check=True,
                   capture_output=True)  # fmt: skip
    print(f"tokenclub: index built in {time.perf_counter() - t0:.1f} s (once; the app keeps it warm)")
    stdin, target = status_input(home)
    tc_cmd = [tc, "statusline", "--db", str(db), "--home", str(home)]
    cc_cmd = [str(cc), "statusline"] if cc is not None else None

    size, mtime = target.stat().st_size, target.stat().st_mtime_ns
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    lines: dict[str, str] = {}
    try:
        for case in CASES:
            for i in range(a.runs):
                for name, cmd, env in (("tokenclub", tc_cmd, tc_env), ("ccusage", cc_cmd, cc_env)):
                    if cmd is None:
                        continue
                    if case == "after a new message":
                        corpus.append_line(home)
                    elif case == EXPIRED:
                        time.sleep(KEPT_S + 0.2)
                    wall, cpu, out, rc = timed(cmd, env, stdin)
                    if rc != 0:
                        print(f"  {name} failed (exit {rc})")
                        continue
                    walls.setdefault(f"{name}|{case}", []).append(wall)
                    cpus.setdefault(f"{name}|{case}", []).append(cpu)
                    lines[name] = out
                    print(f"  {case}: {name} run {i + 1}: {wall:.3f} s wall, {cpu:.3f} s cpu", flush=True)
            if case == "after a new message":  # the last appends indexed, as the app would have
                subprocess.run([tc, "refresh", "--db", str(db), "--home", str(home), "--quiet"], env=tc_env,
                               capture_output=True, check=True)  # fmt: skip
    finally:
        os.truncate(target, size)
        os.utime(target, ns=(mtime, mtime))

    floor = [timed([sys.executable, "-c", "pass"], tc_env, b"")[:2] for _ in range(a.runs)]
    print("\nlines printed:")
    for name, line in lines.items():
        print(f"  {name}: {line}")
    print("\nmedian seconds, wall and CPU (warm page cache; on a loaded machine CPU is the steadier figure):")
    for case in CASES:
        row = []
        for kind, got in (("wall", walls), ("cpu", cpus)):
            t = statistics.median(got.get(f"tokenclub|{case}", [float("nan")]))
            c = statistics.median(got.get(f"ccusage|{case}", [float("nan")]))
            row.append(f"{kind}: tokenclub {t:6.3f} ccusage {c:6.3f} = {c / t:5.1f}x")
        print(f"  {case:24s} " + "   ".join(row))
    walls_f, cpus_f = (statistics.median(x) for x in zip(*floor, strict=True))
    floor_row = f"wall: {walls_f:6.3f}   cpu: {cpus_f:6.3f}"
    print(f"  {'python -c pass':24s} {floor_row}  (the interpreter's own start: tokenclub's floor)")
    print("  (ccusage answers 'nothing new' from its own output cache, kept for --refresh-interval, 1 s by default;")
    print(f"   tokenclub reprints its kept answer for {KEPT_S:g} s at most, and never past a change to the transcript,")
    print("   the index, the settings or the minute)")

    # blocks, compared (the appended lines are gone again: index them away with a fresh index)
    if cc is not None:
        fresh = tmp / "blocks.sqlite"
        tc_out = subprocess.run([tc, "report", "blocks", "--json", "--db", str(fresh), "--home", str(home), "--quiet"],
                                env=tc_env, capture_output=True, check=True).stdout  # fmt: skip
        cc_out = subprocess.run([str(cc), "blocks", "--json", "--offline"], env=cc_env, capture_output=True,
                                check=True).stdout  # fmt: skip
        tc_doc, cc_doc = json.loads(tc_out), json.loads(cc_out)
        diffs = compare_blocks(cc_doc, tc_doc)
        real = [b for b in cc_doc["blocks"] if not b["isGap"]]
        print(f"\nblocks: ccusage {len(cc_doc['blocks'])} ({len(real)} with calls), tokenclub {len(tc_doc['blocks'])};"
              f" {len(diffs)} differences")  # fmt: skip
        for d in diffs[:20]:
            print("  " + d)
        (tmp / "ccusage_blocks.json").write_bytes(cc_out)
        (tmp / "tokenclub_blocks.json").write_bytes(tc_out)
        print(f"  both outputs kept in {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
