"""Fast checks of what the installers are made of (the slow end-to-end run is packaging/linux/smoke_test.py).

Icons render from the one SVG into every size and container; the desktop entry validates; the
version is written in one place; the locks pin every file by hash; the recipes keep the traps out.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tomllib
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # as tests/gui: no display needed

from PySide6.QtGui import QColor, QImage  # noqa: E402

from app import __version__  # noqa: E402
from app.cli.main import main  # noqa: E402
from app.gui.tray import TIER_COLOURS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, qapp: object) -> Path:
    """The icons rendered into a temp folder (under pytest-qt's QApplication, which render.py reuses)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("icons_render", ROOT / "icons" / "render.py")
    assert spec is not None and spec.loader is not None
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    out = tmp_path_factory.mktemp("icons")
    render.main(out)
    return out


def test_pngs_in_every_hicolor_size(rendered: Path) -> None:
    for size in (16, 22, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(str(rendered / "png" / f"tokenclub-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0, "the corners of the rounded backdrop are transparent"


def test_ico_holds_png_entries_up_to_256(rendered: Path) -> None:
    data = (rendered / "tokenclub.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sides = []
    for i in range(count):
        width, _h, _c, _r, _planes, _bpp, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(data)
        sides.append(width or 256)
    assert sides == [16, 24, 32, 48, 64, 128, 256]


def test_icns_holds_every_macos_size(rendered: Path) -> None:
    data = (rendered / "tokenclub.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data)
    kinds, at = [], 8
    while at < len(data):
        kind, length = data[at : at + 4].decode(), struct.unpack_from(">I", data, at + 4)[0]
        assert data[at + 8 : at + 16] == b"\x89PNG\r\n\x1a\n"
        kinds.append(kind)
        at += length
    assert kinds == ["icp4", "icp5", "icp6", "ic07", "ic08", "ic09", "ic10"]


def test_tray_variants_per_tier_in_the_trays_palette(rendered: Path) -> None:
    for level in range(4):  # below 10M, then 10M, 100M, 1B reached
        for size in (16, 22, 24, 32, 48, 64):
            image = QImage(str(rendered / "tray" / f"tier-{level}-{size}.png"))
            assert image.width() == size
        big = QImage(str(rendered / "tray" / f"tier-{level}-64.png"))
        badge = big.pixelColor(32, 13)  # inside the badge, above the label
        want = QColor(TIER_COLOURS[level])
        assert abs(badge.red() - want.red()) + abs(badge.green() - want.green()) + abs(badge.blue() - want.blue()) < 30


def test_checked_in_icons_match_the_render_list() -> None:
    names = {p.relative_to(ROOT / "icons").as_posix() for p in (ROOT / "icons").rglob("*.png")}
    assert {f"png/tokenclub-{s}.png" for s in (16, 32, 48, 256, 512)} <= names
    assert {f"tray/tier-{level}-22.png" for level in range(4)} <= names
    assert (ROOT / "icons" / "tokenclub.ico").is_file() and (ROOT / "icons" / "tokenclub.icns").is_file()


def test_desktop_entry_validates() -> None:
    tool = shutil.which("desktop-file-validate")
    assert tool, "./dev.sh installs desktop-file-utils"
    done = subprocess.run([tool, str(ROOT / "resources" / "tokenclub.desktop")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout.lower()
    entry = (ROOT / "resources" / "tokenclub.desktop").read_text()
    assert "\nExec=tokenclub\n" in entry and "\nIcon=tokenclub\n" in entry


def test_version_written_once(capsys: pytest.CaptureFixture[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "app.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([.+-][0-9A-Za-z.]+)?", __version__)
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"tokenclub {__version__}"
    # every recipe reads it from app/__init__.py, none writes it down
    for recipe in ("linux/build.sh", "macos/build.sh", "windows/build.ps1", "tokenclub.spec"):
        text = (PACKAGING / recipe).read_text()
        assert "__version__" in text, recipe
        assert __version__ not in text, f"{recipe} writes the version down"
    assert "#error Pass /DAppVersion" in (PACKAGING / "windows" / "tokenclub.iss").read_text()


def _pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    blocks = re.split(r"\n(?=[a-z0-9])", text)
    pins = {}
    for block in blocks:
        match = re.match(r"([a-z0-9_.-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{path.name}: {match.group(1)} has no hash"
            pins[match.group(1)] = match.group(2)
    return pins


def test_build_locks_are_hashed_and_agree_with_the_apps() -> None:
    app = _pins(ROOT / "requirements" / "lock.txt")
    build = _pins(PACKAGING / "build-lock.txt")
    assert "pyinstaller" in build and "pyinstaller" not in app, "PyInstaller belongs to the build lock only"
    for name in app.keys() & build.keys():
        assert app[name] == build[name], f"{name}: the app lock and the build lock pin different versions"
    assert "pywin32-ctypes" in _pins(PACKAGING / "windows" / "extra-lock.txt")


def test_spec_keeps_the_traps_out() -> None:
    spec = (PACKAGING / "tokenclub.spec").read_text()
    compile(spec, "tokenclub.spec", "exec")
    assert "strip=True" not in spec and spec.count("strip=False") >= 2, "stripping breaks numpy's libraries"
    assert "upx=True" not in spec
    excluded = re.search(r"EXCLUDES = \[(.*?)\n\]", spec, re.S)
    assert excluded is not None
    for module in ("PySide6.QtWebEngineCore", "PySide6.QtQml", "PySide6.QtQuick", "pytest"):
        assert f'"{module}"' in excluded.group(1)
    for needed in ("QtOpenGL", "QtSvg"):  # pyqtgraph imports them
        assert f'"PySide6.{needed}"' not in excluded.group(1)
    assert '"genai_prices": "pyz+py"' in spec, "price_table reads genai_prices/data.py from disk"


def test_debian_maintainer_scripts_and_control() -> None:
    debian = PACKAGING / "linux" / "debian"
    for script in ("postinst", "postrm"):
        path = debian / script
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
        body = [line for line in path.read_text().splitlines() if not line.lstrip().startswith(("#", "echo"))]
        assert not any("rm " in line for line in body), f"{script} must leave the users' data alone"
    control = (debian / "control.in").read_text()
    for field in ("Package: tokenclub", "Version: @VERSION@", "Architecture: @ARCH@", "Depends: libc6 (>= 2.36)"):
        assert field in control


def test_tray_draws_over_the_rendered_variants(qapp: object) -> None:
    import xml.etree.ElementTree as ET

    from app.gui.tray import _rendered

    assert set(_rendered(1, "10M")) == {16, 22, 24, 32, 48, 64}
    assert _rendered(0, "·") and _rendered(3, "1B")
    assert _rendered(1, "5M") == {}, "a milestone of the user's own is drawn, not loaded"
    # the tray draws its ring (a tenth of the size wide, at the edge) over the SVG's track: same geometry
    circles = {e.get("id"): e for e in ET.parse(ROOT / "icons" / "tokenclub.svg").iter() if e.get("id")}
    size, ring = 256, 25.6
    assert float(circles["track"].get("stroke-width", 0)) == ring
    assert float(circles["track"].get("r", 0)) == (size - ring) / 2
    assert float(circles["badge"].get("r", 0)) == (size - 3 * ring) / 2
