"""Real windows on a real 1280x800 X display (Xvfb) with a real tray host (trayer): the app docks and reads right.

The screenshots land in tests/artifacts/screens/ for people to look at: every page in the
light and the dark theme, the dashboard over the generated 120-day dataset (days past 10M
and 1B) and over a day-one home (under 1M a day). The test checks that the icon docked,
that every picture was saved with real content, that the tray told today's numbers, that
the dashboard opened inside the screen, that every milestone line and label is inside the
plot on both homes, and that no visible text is clipped on any page (tests/gui/clipping.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from PySide6.QtGui import QImage

from app.core.env import Env
from app.core.index import Index
from app.core.milestones import tier_for
from app.gui.formatting import tokens
from app.sources import SOURCES
from tests.burn_dataset import Burn
from tests.logmaker import claude_line
from tests.xdisplay import docked, tools_missing, virtual_display

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screens"
RUN_TIMEOUT_S = 300
DOCK_TIMEOUT_S = 60
SCREEN = (1280, 800)
PAGES = ("console", "settings", "hosts", "providers", "club", "about")
TABS = ("cost", "models", "projects", "sessions", "insights", "by-model")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb and trayer are Linux tools")


def _colours(path: Path) -> int:
    """Distinct colours in a coarse sample: a blank or one-colour screen has one or two."""
    image = QImage(str(path))
    assert not image.isNull(), path
    step = 8
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


def day_one_index(base: Path) -> Path:
    """A home whose agent ran for three weeks at 5K to 225K tokens a day, and its index."""
    home = base / "day-one"
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    lines = []
    for back in range(21):
        total = 5_000 + (back * 37_000) % 220_000
        ts = (today - timedelta(days=back)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines.append(
            claude_line(f"m{back}", ts, inp=total // 10, cr=total * 8 // 10, out=total - total // 10 - total * 8 // 10)
        )
    log = home / ".claude" / "projects" / "-home-dev-first" / "s-1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"".join(lines))
    db = base / "day-one.sqlite"
    index = Index(db, overrides=base / "no-prices.toml", sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()
    return db


def test_screenshots_on_a_real_display(burn_home: tuple[Path, Path, Burn], tmp_path: Path) -> None:
    assert not tools_missing(), f"./dev.sh installs these: {tools_missing()}"
    home, built, burn = burn_home
    db = tmp_path / "index.sqlite"
    shutil.copy(built, db)
    first = day_one_index(tmp_path)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    # a dedicated machine nobody answers for (a closed port on loopback): its row on the Hosts page, its
    # unreachable note on the Console page, both read for clipping like the rest
    registry = tmp_path / "tokenclub" / "config" / "hosts.json"
    registry.parent.mkdir(parents=True)
    registry.write_text(orjson.dumps({"hosts": {"agent-box": {"ssh": "developer@127.0.0.1", "port": 9}}}).decode())
    with virtual_display(*SCREEN) as display:
        env = {**display, "TOKENCLUB_HOME": str(tmp_path / "tokenclub"), "PYTHONPATH": str(ROOT), "TZ": "UTC"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.screens", str(ARTIFACTS), str(db), str(home), str(first)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + DOCK_TIMEOUT_S
        icons: list[str] = []
        while not icons and proc.poll() is None and time.monotonic() < deadline:
            icons = docked(display)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, err.decode()
    assert icons, "the tray host docked no icon"
    report = orjson.loads(out.strip().splitlines()[-1])
    today = max(burn.per_day)
    assert report["today"]["date"] == today
    assert report["today"]["total"] == burn.per_day[today]
    assert report["today"]["tier"] == tier_for(burn.per_day[today])
    assert f"today {tokens(burn.per_day[today])} tokens" in report["tooltip"]

    x, y, width, height = report["screen"]
    fx, fy, fw, fh = report["dashboard_frame"]
    assert (width, height) == SCREEN or height < SCREEN[1]  # a tray host may reserve a strip
    assert fx >= x and fy >= y and fx + fw <= x + width and fy + fh <= y + height, "the dashboard opened off screen"
    assert report["log_scale_default"]
    for case in ("milestones_busy", "milestones_day_one_light", "milestones_day_one_dark"):
        seen = report[case]
        assert seen["lines_in_view"] == {"10M": True, "100M": True, "1B": True}, case
        assert seen["labels_inside"] == {"10M": True, "100M": True, "1B": True}, case
    assert "more to reach 10M" in report["milestones_day_one_light"]["standing"]

    expected = [
        f"{name}-{theme}.png"
        for theme in ("light", "dark")
        for name in (*(f"dashboard-{t}" for t in TABS), "day-one", *PAGES)
    ]
    assert sorted(report["saved"]) == sorted([*expected, "tray-tooltip.png", "tray-menu.png"])
    for name in report["saved"]:
        assert _colours(ARTIFACTS / name) > 20, f"{name} looks blank"
    clipped = {name: found for name, found in report["clipped"].items() if found}
    assert not clipped, "clipped text:\n" + "\n".join(f"{n}: {f}" for n, fs in clipped.items() for f in fs)
