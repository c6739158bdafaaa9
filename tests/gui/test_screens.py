"""Real windows on a real X display (Xvfb) with a real tray host (trayer): the app docks, and looks right.

The screenshots land in tests/artifacts/screens/ for people to look at; the test checks
that the icon docked in the tray host, that every picture was saved with real content, and
that the tray told today's numbers of the generated 120-day dataset.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from PySide6.QtGui import QImage

from app.core.milestones import tier_for
from app.gui.formatting import tokens
from tests.burn_dataset import Burn
from tests.xdisplay import docked, tools_missing, virtual_display

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screens"
RUN_TIMEOUT_S = 120
DOCK_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb and trayer are Linux tools")


def _colours(path: Path) -> int:
    """Distinct colours in a coarse sample: a blank or one-colour screen has one or two."""
    image = QImage(str(path))
    assert not image.isNull(), path
    step = 8
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


def test_screenshots_on_a_real_display(burn_home: tuple[Path, Path, Burn], tmp_path: Path) -> None:
    assert not tools_missing(), f"./dev.sh installs these: {tools_missing()}"
    home, built, burn = burn_home
    db = tmp_path / "index.sqlite"
    shutil.copy(built, db)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    with virtual_display() as display:
        env = {**display, "TOKENCLUB_HOME": str(tmp_path / "tokenclub"), "PYTHONPATH": str(ROOT), "TZ": "UTC"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.gui.screens", str(ARTIFACTS), str(db), str(home)],
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
    assert report["saved"] == [
        "dashboard-agent.png",
        "dashboard-model.png",
        "dashboard-bucket.png",
        "dashboard-bucket-log.png",
        "dashboard-insights.png",
        "dashboard-dark.png",
        "tray-tooltip.png",
        "tray-menu.png",
    ]
    for name in report["saved"]:
        assert _colours(ARTIFACTS / name) > 20, f"{name} looks blank"
