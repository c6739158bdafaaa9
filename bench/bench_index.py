#!/usr/bin/env python3
"""Side-by-side index benchmark: ccusage (native) vs ``tokenclub report daily``.

    python bench/bench_index.py [--size-mb 1024] [--corpus DIR] [--runs 3] [--seed 1]

* generates the corpus with bench/corpus.py when missing (cached in bench/.corpus/<size>);
* (1) ccusage native ``daily --json --offline --timezone UTC`` with HOME=CORPUS, ``--runs`` times,
  in turn with (2) tokenclub cold: a fresh index per run; (3) warm: nothing new (again in turn with
  ccusage runs, the ratio taken against those); (4) append one Claude line,
  then the same command (refresh-after-append latency); the appended bytes are truncated
  away afterwards so the cached corpus keeps matching EXPECTED.json;
* compares tokenclub ``totals`` vs EXPECTED.json vs ccusage (mapped onto our buckets).

Timing is stdlib only: ``time.perf_counter`` around ``subprocess.Popen`` + ``os.wait4``.
Memory, two figures per run:

* ``maxRSS``: ``ru_maxrss`` from ``os.wait4`` on the command's process. On Linux that
  rusage covers the process *and every descendant it reaped* (tokenclub's pool workers),
  and ru_maxrss is the largest single process among them (not a sum);
* ``tree PSS``: the peak over time of the summed PSS (``/proc/PID/smaps_rollup``) of the
  whole live process tree, sampled every 25 ms: the footprint of all processes at once,
  with pages shared between forked workers counted once (proportionally).

The 300 MiB target is checked against the larger of the two.

"cold" means a fresh index; the corpus files are in the page cache for both tools.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

BUCKETS = ("in", "cw", "cr", "out", "rsn", "total")
TARGETS = {"cold_ratio": 1.5, "warm_ratio": 0.1, "append_s": 0.2, "rss_mib": 300}


# --------------------------------------------------------------------------- measuring


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Result:
    def __init__(self, wall, maxrss_mib, tree_pss_mib, rc, stdout, stderr, nproc, cpu=0.0):
        self.wall, self.maxrss, self.pss, self.rc = wall, maxrss_mib, tree_pss_mib, rc
        self.cpu = cpu  # user + sys seconds of the process and every descendant it reaped
        self.stdout, self.stderr, self.nproc = stdout, stderr, nproc


def measure(cmd: list[str], env: dict | None = None, sample: bool = True) -> Result:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _measure(cmd, env, sample, out, err)


def _measure(cmd: list[str], env: dict | None, sample: bool, out, err) -> Result:
    peak = [0, 0]  # pss KiB, processes seen at once
    stop = threading.Event()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)

    def sampler():
        while not stop.is_set():
            pids = _tree(p.pid)
            s = sum(_pss_kib(x) for x in pids)
            peak[0] = max(peak[0], s)
            peak[1] = max(peak[1], len(pids))
            stop.wait(0.025)

    th = threading.Thread(target=sampler, daemon=True)
    if sample:
        th.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    if sample:
        th.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    cpu = ru.ru_utime + ru.ru_stime
    return Result(wall, ru.ru_maxrss / 1024, peak[0] / 1024, p.returncode, out.read(), err.read(), peak[1], cpu)


# --------------------------------------------------------------------------- tools


def find_ccusage() -> Path | None:
    base = HERE / "node_modules" / "@ccusage"
    for cand in sorted(base.glob("ccusage-linux-*/bin/ccusage")) if base.exists() else []:
        if not os.access(cand, os.X_OK):
            try:
                cand.chmod(0o755)
            except OSError:
                continue
        return cand
    return None


def cc_daily(cc: Path, *sub: str) -> list[str]:
    """``ccusage [SUB] daily`` as the issue names it: JSON, offline prices, UTC days."""
    return [str(cc), *sub, "daily", "--json", "--offline", "--timezone", "UTC"]


def ccusage_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "CODEX_", "XDG_"))}
    env["HOME"] = str(home)
    return env


def ccusage_map(doc: dict, rsn: int | None = None) -> dict:
    """ccusage ``daily --json`` totals -> our buckets (Codex inputTokens is already input-cached)."""
    t = doc["totals"]
    m = {
        "in": t["inputTokens"],
        "cw": t["cacheCreationTokens"],
        "cr": t["cacheReadTokens"],
        "out": t["outputTokens"],
        "rsn": rsn if rsn is not None else t.get("reasoningOutputTokens", 0),
        "total": t["totalTokens"],
    }
    return m


def tokenclub_bin() -> str:
    cand = Path(sys.executable).parent / "tokenclub"
    return str(cand) if cand.exists() else (shutil.which("tokenclub") or "tokenclub")


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    aff = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"nproc {aff} (cpu_count {os.cpu_count()}), CPU {model}, RAM {mem}, {platform.platform()},"
        f" Python {platform.python_version()}"
    )


# --------------------------------------------------------------------------- main


def fmt_s(xs: list[float]) -> str:
    return f"{min(xs):8.3f} {statistics.median(xs):8.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-ccusage", action="store_true")
    a = ap.parse_args(argv)

    print("machine:", machine())
    home, exp = corpus.cached(a.corpus, a.size_mb, a.seed)
    nb = sum(exp["bytes"].values())
    print(
        f"corpus: {home}\n  {nb / 2**20:.1f} MiB, {exp['files']} files, lines {exp['lines']} "
        f"(total {sum(exp['lines'].values())}), usage events {exp['usage_events']}, {len(exp['days'])} UTC days, "
        f"generated in {exp.get('generation_seconds', '?')} s"
    )

    # An installed package has its bytecode (pip compiles it); a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would recompile every module on every start instead.
    # The package is compiled where the tokenclub command imports it from (an editable install links it elsewhere).
    where = subprocess.run(
        [sys.executable, "-c", "import app, os; print(os.path.dirname(app.__file__))"],
        cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], check=True)
    print(f"bytecode: {where} compiled before timing, as an installed package has it"
          f" (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')})")  # fmt: skip

    tmp = Path(tempfile.mkdtemp(prefix="tcbench-"))
    tc_env = dict(os.environ)
    tc_env["TOKENCLUB_HOME"] = str(tmp / "tchome")  # never touch the user's own index
    tc = tokenclub_bin()

    def tc_cmd(db: Path) -> list[str]:
        # Options after the sub-command: given before it, the sub-parser's defaults win.
        return [tc, "report", "daily", "--db", str(db), "--json", "--tz", "UTC", "--home", str(home), "--quiet"]

    rows = []  # (label, walls, maxrss, pss)
    cpus: dict[str, list[float]] = {"cc": [], "cold": [], "warm": [], "append": []}  # user + sys s
    notes = []

    # (1) ccusage and (2) tokenclub cold, run by run in turn: a shared machine's speed drifts,
    # and pairs measured side by side keep the ratio honest
    cc = None if a.no_ccusage else find_ccusage()
    cc_walls, cc_rss, cc_doc = [], [], None
    if cc is None:
        notes.append("ccusage: NOT AVAILABLE (bench/node_modules/@ccusage/ccusage-linux-*/bin/ccusage missing; "
                     "npm install --no-save ccusage@20.0.24 @ccusage/ccusage-linux-x64@20.0.24)")  # fmt: skip
    cold_walls, cold_rss, tc_doc = [], [], None
    db = None
    for i in range(a.runs):
        if cc is not None:
            r = measure(cc_daily(cc), ccusage_env(home))
            if r.rc != 0:
                notes.append(f"ccusage run {i} failed rc={r.rc}: {r.stderr[-500:].decode(errors='replace')}")
                cc = None
            else:
                cc_walls.append(r.wall)
                cc_rss.append((r.maxrss, r.pss))
                cpus["cc"].append(r.cpu)
                cc_doc = json.loads(r.stdout)
                print(f"  ccusage run {i + 1}: {r.wall:.3f} s, cpu {r.cpu:.3f} s, maxRSS {r.maxrss:.0f} MiB",
                      flush=True)  # fmt: skip
        db = tmp / f"cold{i}.sqlite"
        r = measure(tc_cmd(db), tc_env)
        if r.rc != 0:
            print(r.stderr.decode(errors="replace")[-2000:])
            raise SystemExit(f"tokenclub cold run failed rc={r.rc}")
        cold_walls.append(r.wall)
        cold_rss.append((r.maxrss, r.pss))
        cpus["cold"].append(r.cpu)
        tc_doc = json.loads(r.stdout)
        print(f"  tokenclub cold run {i + 1}: {r.wall:.3f} s, cpu {r.cpu:.3f} s, maxRSS {r.maxrss:.0f} MiB,"
              f" tree PSS {r.pss:.0f} MiB ({r.nproc} procs)", flush=True)  # fmt: skip
    if cc_walls:
        rows.append(("ccusage daily (native, cold)", cc_walls, cc_rss, cpus["cc"]))
    rows.append(("tokenclub cold (fresh index)", cold_walls, cold_rss, cpus["cold"]))

    # (3) warm, again in turn with ccusage runs: the ratio is taken against ccusage at the same moment
    warm_walls, warm_rss, warm_doc, warm_cc_walls = [], [], None, []
    for _ in range(a.runs):
        if cc is not None:
            r = measure(cc_daily(cc), ccusage_env(home), sample=False)
            if r.rc == 0:
                warm_cc_walls.append(r.wall)
        r = measure(tc_cmd(db), tc_env)
        assert r.rc == 0, r.stderr
        warm_walls.append(r.wall)
        warm_rss.append((r.maxrss, r.pss))
        cpus["warm"].append(r.cpu)
        warm_doc = json.loads(r.stdout)
    rows.append(("tokenclub warm (nothing new)", warm_walls, warm_rss, cpus["warm"]))

    # (4) append, then refresh
    app_walls, app_rss, app_doc = [], [], None
    target = sorted((home / ".claude" / "projects").glob("*/*.jsonl"))[0]
    orig_size = target.stat().st_size
    orig_mtime = target.stat().st_mtime_ns
    try:
        for _ in range(a.runs):
            corpus.append_line(home)
            r = measure(tc_cmd(db), tc_env)
            assert r.rc == 0, r.stderr
            app_walls.append(r.wall)
            app_rss.append((r.maxrss, r.pss))
            cpus["append"].append(r.cpu)
            app_doc = json.loads(r.stdout)
    finally:
        os.truncate(target, orig_size)
        os.utime(target, ns=(orig_mtime, orig_mtime))
    rows.append(("tokenclub append 1 line + refresh", app_walls, app_rss, cpus["append"]))

    # ---------------------------------------------------------------- totals
    expt = {k: exp["totals"][k] for k in BUCKETS}
    tct = {k: tc_doc["totals"][k] for k in BUCKETS}
    warmt = {k: warm_doc["totals"][k] for k in BUCKETS}
    after = {k: expt[k] + a.runs * (corpus.APPEND_USAGE.get(k, 0) if k != "total" else
                                    sum(corpus.APPEND_USAGE[b] for b in ("in", "cw", "cr", "out")))
             for k in BUCKETS}  # fmt: skip
    appt = {k: app_doc["totals"][k] for k in BUCKETS}

    cc_map = None
    per_agent_cc = {}
    if cc_doc is not None:
        # Per-agent, per-day figures (untimed): `ccusage claude daily`, `ccusage codex daily`.
        for agent, sub in (("claude-code", "claude"), ("codex", "codex")):
            r = measure(cc_daily(cc, sub), ccusage_env(home),
                        sample=False)  # fmt: skip
            if r.rc == 0:
                per_agent_cc[agent] = json.loads(r.stdout)
        rsn = per_agent_cc.get("codex", {}).get("totals", {}).get("reasoningOutputTokens")
        cc_map = ccusage_map(cc_doc, rsn)

    # per-day / per-agent comparison
    day_diff_tc = 0
    tc_days = {d["date"]: d for d in tc_doc["days"]}
    for day, ags in exp["days"].items():
        got = tc_days.get(day, {}).get("by_agent", {})
        for ag, v in ags.items():
            if ag == "all":
                continue
            g = got.get(ag, {})
            if any(g.get(k, 0) != v[k] for k in BUCKETS):
                day_diff_tc += 1
    extra_days = set(tc_days) - set(exp["days"])
    day_diff_tc += len(extra_days)
    day_diff_cc = None
    if per_agent_cc:
        day_diff_cc = 0
        for agent, doc in per_agent_cc.items():
            got = {r["date"]: r for r in doc.get("daily", [])}
            for day, ags in exp["days"].items():
                v = ags.get(agent)
                g = got.pop(day, None)
                if v is None and g is None:
                    continue
                if v is None or g is None:
                    day_diff_cc += 1
                    continue
                m = {"in": g["inputTokens"], "cw": g["cacheCreationTokens"], "cr": g["cacheReadTokens"],
                     "out": g["outputTokens"], "total": g["totalTokens"]}  # fmt: skip
                if agent == "codex":
                    m["rsn"] = g.get("reasoningOutputTokens", 0)
                if any(m[k] != v[k] for k in m):
                    day_diff_cc += 1
            day_diff_cc += len(got)

    # ---------------------------------------------------------------- print
    print()
    print(f"{'':36} {'min s':>8} {'median s':>8} {'cpu med s':>9} {'maxRSS MiB':>11} {'treePSS MiB':>12}  runs")
    for label, walls, rss, cpu in rows:
        mr = max(x[0] for x in rss)
        ps = max(x[1] for x in rss)
        print(f"{label:36} {fmt_s(walls)} {statistics.median(cpu):9.3f} {mr:11.0f} {ps:12.0f}  {len(walls)}")
    print("cpu: user + sys seconds of the process and every descendant it reaped (os.wait4)")

    print()
    print(f"{'totals':24}" + "".join(f"{k:>14}" for k in BUCKETS))

    def trow(name, d):
        print(f"{name:24}" + "".join(f"{d[k]:>14,}" for k in BUCKETS))

    trow("EXPECTED.json", expt)
    trow("tokenclub cold", tct)
    trow("tokenclub warm", warmt)
    if cc_map:
        trow("ccusage (mapped)", cc_map)
    trow("expected after appends", after)
    trow("tokenclub after appends", appt)
    print("ccusage mapping: in=inputTokens (Codex: input-cached), cw=cacheCreationTokens, cr=cacheReadTokens, "
          "out=outputTokens (reasoning incl.), rsn=`ccusage codex daily` reasoningOutputTokens, total=totalTokens; "
          "plain `daily` = Claude + Codex (agent \"all\")")  # fmt: skip

    print()
    verdicts = []

    def verdict(name, ok, detail):
        verdicts.append(ok)
        print(f"  [{'PASS' if ok else 'FAIL'}] {name:44} {detail}")

    print("checks:")
    verdict("tokenclub totals == EXPECTED", tct == expt and warmt == expt, "cold and warm")
    verdict("tokenclub per day x agent == EXPECTED", day_diff_tc == 0, f"{day_diff_tc} differing (day, agent) cells")
    verdict("tokenclub after appends == EXPECTED + appends", appt == after, f"{a.runs} appended lines")
    if cc_map:
        verdict("ccusage (mapped) totals == EXPECTED", cc_map == expt, "")
        verdict("ccusage per day x agent == EXPECTED", day_diff_cc == 0, f"{day_diff_cc} differing cells")
    print("targets:")
    cold_med = statistics.median(cold_walls)
    warm_med = statistics.median(warm_walls)
    app_med = statistics.median(app_walls)
    if cc_walls and len(warm_cc_walls) == len(warm_walls):
        cc_med = statistics.median(cc_walls)
        cr = cold_med / cc_med
        mins = min(cold_walls) / min(cc_walls)
        paired = statistics.median(t / c for t, c in zip(cold_walls, cc_walls, strict=True))
        verdict(f"cold / ccusage <= {TARGETS['cold_ratio']}x", cr <= TARGETS["cold_ratio"],
                f"{cold_med:.3f} s / {cc_med:.3f} s = {cr:.3f}x (medians; run by run {paired:.3f}x;"
                f" mins {mins:.3f}x)")  # fmt: skip
        cpu_r = statistics.median(cpus["cold"]) / statistics.median(cpus["cc"])
        print(f"  [INFO] cold / ccusage cpu (user + sys)              {statistics.median(cpus['cold']):.3f} s /"
              f" {statistics.median(cpus['cc']):.3f} s = {cpu_r:.3f}x (medians)")  # fmt: skip
        warm_cc = statistics.median(warm_cc_walls)
        wr = warm_med / warm_cc
        paired = statistics.median(t / c for t, c in zip(warm_walls, warm_cc_walls, strict=True))
        verdict(f"warm / ccusage <= {TARGETS['warm_ratio']}x", wr <= TARGETS["warm_ratio"],
                f"{warm_med:.3f} s / {warm_cc:.3f} s = {wr:.3f}x (medians, ccusage run in turn; run by run"
                f" {paired:.3f}x)")  # fmt: skip
    else:
        print("  [SKIP] cold/warm ratios: ccusage not available")
    verdict(f"append + refresh < {TARGETS['append_s']} s", app_med < TARGETS["append_s"], f"median {app_med:.3f} s")
    peak = max(max(x) for x in cold_rss + warm_rss + app_rss)
    verdict(f"peak RSS < {TARGETS['rss_mib']} MiB", peak < TARGETS["rss_mib"],
            f"{peak:.0f} MiB (max of per-process maxRSS and tree PSS, all tokenclub runs)")  # fmt: skip
    for n in notes:
        print("note:", n)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
