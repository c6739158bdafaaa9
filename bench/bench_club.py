#!/usr/bin/env python3
"""Club merge benchmark: 1,000 members × 365 days.

    python bench/bench_club.py [--members 1000] [--days 365] [--runs 3] [--keep DIR]

Generates one signed export per member (365 days each, two agents and two models a day,
cost included: what ``tokenclub club export`` writes for a busy year), then times, from the
files on disk (page cache warm):

* merge: read, verify the schema and the Ed25519 signature, the plausibility rules, key
  pinning, the latest export per member and day (files checked in parallel processes, one
  per core, as ``tokenclub club merge`` does). Target: under 2 s (with the board below).
* board: rank every period, streaks and sparklines, and write CSV, JSON, SQLite, HTML and
  the kiosk page into a new folder swapped in whole.

and prints the size of the inputs and of every output.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.club import board, columns, export, merge  # noqa: E402
from app.club.signing import MemberKey  # noqa: E402
from app.core.milestones import tier_for  # noqa: E402

AGENTS = ("claude-code", "codex")
MODELS = ("claude-sonnet-4-5", "gpt-5.1-codex")


def _part(rng: random.Random, scale: float) -> dict[str, int]:
    inp = int(rng.uniform(0.5, 1.5) * 400_000 * scale)
    cw = int(rng.uniform(0.5, 1.5) * 300_000 * scale)
    cr = int(rng.uniform(0.5, 1.5) * 6_000_000 * scale)
    out = int(rng.uniform(0.5, 1.5) * 60_000 * scale)
    calls = max(1, int(rng.uniform(0.5, 1.5) * 120 * scale))
    return {"in": inp, "cw": cw, "cr": cr, "out": out, "rsn": out // 4, "total": inp + cw + cr + out,
            "calls": calls, "cost_musd": (inp * 3 + cw * 4 + cr // 3 + out * 15)}


def _sum(parts: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(p[k] for p in parts) for k in parts[0]}


def member_doc(n: int, days: int, end: date, key: MemberKey) -> dict:
    rng = random.Random(n)
    scale = rng.lognormvariate(0, 1.2)
    out_days = []
    for i in range(days):
        d = end - timedelta(days=days - 1 - i)
        a, b = _part(rng, scale), _part(rng, scale)
        total = _sum([a, b])
        out_days.append({"date": d.isoformat(), **total, "tier": tier_for(total["total"]), "devices": 1,
                         "by_agent": {AGENTS[0]: a, AGENTS[1]: b}, "by_model": {MODELS[0]: a, MODELS[1]: b}})
    doc = {"schema": "tokenclub.club-export", "version": 1, "tokenclub": "0.1.0", "member": f"member-{n:04d}",
           "created": "2026-12-01T00:00:00Z", "since": out_days[0]["date"], "until": out_days[-1]["date"],
           "milestones": [10**7, 10**8, 10**9], "includes": {"cost": True, "models": True},
           **columns.to_columns(out_days, models=True, cost=True)}
    return export.sign(doc, key)


def generate(folder: Path, members: int, days: int, end: date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(members):
        path = folder / f"member-{n:04d}.json"
        path.write_bytes(export.dumps(member_doc(n, days, end, MemberKey.generate()), pretty=False))
        paths.append(path)
    return paths


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    parser.add_argument("--workers", type=int, help="merge processes (default: as tokenclub club merge chooses)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="tc-bench-club-"))
    end = datetime.now(UTC).date() - timedelta(days=1)
    try:
        t0 = time.perf_counter()
        files = generate(base / "exports", args.members, args.days, end)
        gen = time.perf_counter() - t0
        inputs = sum(size(p) for p in files)
        print(f"{args.members:,} members × {args.days} days: generated and signed in {gen:.1f} s, "
              f"{inputs / 1e6:,.1f} MB of exports ({inputs / len(files) / 1e3:,.0f} kB each)")
        merges, boards, totals = [], [], []
        for run in range(args.runs):
            club = base / f"club-{run}"
            shutil.rmtree(club, ignore_errors=True)
            t0 = time.perf_counter()
            result = merge.merge(files, club, workers=args.workers)
            t1 = time.perf_counter()
            doc, folder = board.build(result, club, end)
            merge.save_pins(club, result.pins)
            t2 = time.perf_counter()
            merges.append(t1 - t0)
            boards.append(t2 - t1)
            totals.append(t2 - t0)
            assert result.files_merged == args.members and not result.rejections, result.rejections[:3]
            assert len(doc["members"]) == args.members
        print(f"merge (read, verify, rules, latest per day): median {statistics.median(merges):.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in merges)})")
        print(f"board (rank, streaks, write 5 files):        median {statistics.median(boards):.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in boards)})")
        total = statistics.median(totals)
        print(f"merge + board: median {total:.2f} s  (target < 2 s: {'met' if total < 2 else 'NOT met'})")
        print("outputs:")
        for p in sorted(folder.iterdir()):
            print(f"  {p.name:<20} {size(p) / 1e6:9.2f} MB")
        print(f"  {'members.json':<20} {size(club / 'members.json') / 1e6:9.2f} MB")
        workers = args.workers or (min(os.cpu_count() or 1, 8) if len(files) >= merge.PARALLEL_FROM else 1)
        print(f"cpu: {os.cpu_count()} cores visible; merge in {workers} process(es) (reading, verifying, checking "
              "each file); the board in one")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
        elif args.runs:
            for run in range(args.runs):
                shutil.rmtree(base / f"club-{run}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
