#!/usr/bin/env python3
"""Desktop-app benchmark: start to tray, chart redraw, append to tray.

    python bench/bench_gui.py [--runs 5]

* start to tray: a one-year index (generated, already indexed), ``tokenclub gui`` started on a
  real X display (Xvfb) with a real tray host (trayer); the time until the tray host has
  docked TokenClub's icon. Target: under 1.5 s.
* chart redraw: two years of days, each stacking, on the dashboard chart (offscreen Qt).
  Target: under 50 ms.
* append to tray: the app's controller in this process (offscreen Qt: the real watcher, index
  thread and tray icon) over the one-year index; one usage line appended to a watched Claude
  Code log; the time until the tray's tooltip shows the new total. Target: under 1 s.

Needs Xvfb, trayer and xwininfo (``./dev.sh test`` installs them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.burn_dataset import write_burn_home  # noqa: E402
from tests.xdisplay import docked, stop, virtual_display  # noqa: E402

TRAY_TIMEOUT_S = 30.0


def prepare(base: Path, days: int) -> tuple[Path, Path, dict[str, str]]:
    """A home with ``days`` days of logs and an index already built over it."""
    home, db = base / f"home-{days}", base / f"index-{days}.sqlite"
    env = {**os.environ, "TOKENCLUB_HOME": str(base / "tokenclub")}
    burn = write_burn_home(home, days=days)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "app", "refresh", "--db", str(db), "--home", str(home), "--quiet"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  {days} days: {burn.files} files, indexed in {time.perf_counter() - started:.2f} s")
    return home, db, env


def start_to_tray(home: Path, db: Path, env: dict[str, str], runs: int) -> list[float]:
    times = []
    with virtual_display() as display:
        for _ in range(runs):
            started = time.perf_counter()
            app = subprocess.Popen(
                [sys.executable, "-m", "app", "gui", "--db", str(db), "--home", str(home)],
                env={**env, **display},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while not docked(display):
                    if app.poll() is not None:
                        raise SystemExit(f"tokenclub gui exited with {app.returncode} before showing a tray icon")
                    if time.perf_counter() - started > TRAY_TIMEOUT_S:
                        raise SystemExit("no tray icon within 30 s")
                    time.sleep(0.01)
                times.append(time.perf_counter() - started)
            finally:
                stop(app, grace_s=10)
    return times


def chart_redraw(home: Path, db: Path, runs: int) -> dict[str, list[float]]:
    """Offscreen: build the two-year dashboard doc once, then time set_days per stacking."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.core import dashboard
    from app.core.reports import Filter
    from app.core.schema import connect
    from app.gui.charts import BurnChart

    app = QApplication.instance() or QApplication([])
    conn = connect(db)
    tz = UTC
    doc = dashboard.build(conn, Filter(tz=tz))
    conn.close()
    chart = BurnChart()
    chart.resize(1400, 700)
    chart.show()
    app.processEvents()
    out: dict[str, list[float]] = {}
    for stacking in ("agent", "model", "bucket"):
        for log in (False, True):
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                chart.set_days(doc["days"], stacking, log, doc["milestones"])
                app.processEvents()  # the redraw itself happens on the next paint
                chart.repaint()
                samples.append(time.perf_counter() - started)
            out[f"{stacking}{' log' if log else ''}"] = samples
    print(f"  chart: {len(doc['days'])} days")
    return out


def append_to_tray(home: Path, db: Path, runs: int) -> list[float]:
    """Offscreen, in this process: the real watcher, worker thread and tray; one line appended per run."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.core.env import Env
    from app.gui.app import Controller
    from app.gui.formatting import tokens
    from tests.logmaker import claude_line

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    controller = Controller(app, db, Env.under(home), tray_available=True)
    controller.start()
    tray = controller.tray
    assert tray is not None
    _spin(app, lambda: controller.last_report is not None, "the first refresh")
    log = home / ".claude" / "projects" / "-home-dev-bench" / "append.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    times = []
    for n in range(runs):
        before = tray.today["total"] if tray.today else 0
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = claude_line(f"msg_bench_append_{n}_{time.time_ns()}", stamp, inp=1_000_000, out=1, session="bench")
        started = time.perf_counter()
        with log.open("ab") as f:
            f.write(line)
        # the tooltip rounds to three digits: wait for the exact total the tray drew it from
        _spin(app, lambda b=before: tray.today is not None and tray.today["total"] == b + 1_000_001, "the tray")
        times.append(time.perf_counter() - started)
        assert f"today {tokens(tray.today['total'])} tokens" in tray.icon.toolTip()
        _spin(app, lambda: False, "a pause", timeout=0.3, fail=False)  # the next append is a new burst
    controller.shutdown()
    return times


def _spin(app: object, done: object, what: str, timeout: float = TRAY_TIMEOUT_S, fail: bool = True) -> None:
    deadline = time.perf_counter() + timeout
    while not done():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            if fail:
                raise SystemExit(f"timed out waiting for {what}")
            return
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tokenclub-bench-gui-") as tmp:
        base = Path(tmp)
        print("preparing datasets")
        year_home, year_db, env = prepare(base, 365)
        two_home, two_db, _ = prepare(base, 730)

        print("start to tray (one-year index)")
        tray = start_to_tray(year_home, year_db, env, a.runs)
        for i, t in enumerate(tray, 1):
            print(f"  run {i}: {t:.3f} s")

        print("chart redraw (two years of days)")
        redraw = chart_redraw(two_home, two_db, a.runs)

        print("append to tray (one-year index, watched)")
        latency = append_to_tray(year_home, year_db, a.runs)

        print()
        print(f"{'measure':44}{'median':>10}{'max':>10}  target")
        rows = [("start to tray visible, 1-year index", tray, 1.5)]
        rows += [(f"chart redraw, 2 years, by {k}", v, 0.050) for k, v in redraw.items()]
        rows.append(("append one line to tray tooltip", latency, 1.0))
        ok = True
        for name, samples, target in rows:
            med = statistics.median(samples)
            passed = med < target
            ok &= passed
            print(
                f"{name:44}{med * 1000:>8.1f}ms{max(samples) * 1000:>8.1f}ms  < {target * 1000:.0f} ms "
                f"{'PASS' if passed else 'FAIL'} ({med / target:.2f}x of target)"
            )
    print(
        f"\n{datetime.now(UTC).isoformat(timespec='seconds')}  python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
