"""Render every icon TokenClub ships from the one design, ``icons/tokenclub.svg``.

    .venv/bin/python icons/render.py [OUT_DIR]        (default: icons/, beside this script)

Writes, under OUT_DIR:

- ``png/tokenclub-<N>.png`` for the hicolor sizes (16 … 512): the app icon (desktop entry,
  window icon, the About box, the Linux packages);
- ``tokenclub.ico`` (16 … 256, PNG-compressed entries) for the Windows executable and installer;
- ``tokenclub.icns`` (16 … 1024) for the macOS app bundle;
- ``tray/tier-<L>-<N>.png``: the tray variants, one per tier level ``L`` (0 below the first
  milestone, then one per default milestone reached) at the tray sizes, without the backdrop,
  in the tray's own palette (``app.gui.tray.TIER_COLOURS``) and labels.

Qt's SVG renderer draws them (PySide6 is in the lock already), offscreen: no display, no
Inkscape, no ImageMagick. The ``.ico`` and ``.icns`` containers are written here directly:
both are a small header and a table of PNG images.
"""

from __future__ import annotations

import os
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # app.gui.tray's palette, app.core.milestones' labels

SOURCE = HERE / "tokenclub.svg"
SVG_NS = "http://www.w3.org/2000/svg"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)  # the hicolor theme's usual sizes
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS chunk types holding PNG data, by pixel size
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256), ("ic09", 512), ("ic10", 1024))
TRAY_SIZES = (16, 22, 24, 32, 48, 64)


def tiers() -> list[tuple[int, str, str]]:
    """(level, colour, label) of every tray variant: below the first default milestone, then each one reached."""
    from app.core.milestones import DEFAULT_MILESTONES, tier_label
    from app.gui.tray import TIER_COLOURS

    out = [(0, TIER_COLOURS[0], "·")]
    for level, milestone in enumerate(DEFAULT_MILESTONES, start=1):
        out.append((level, TIER_COLOURS[level], tier_label(milestone)))
    return out


def tray_svg(colour: str, label: str) -> bytes:
    """The design as a tray variant: no backdrop, the mark at full size without progress (the tray
    draws that over it), in the tier's colour with its label sized as the tray sizes it."""
    ET.register_namespace("", SVG_NS)
    tree = ET.parse(SOURCE)
    root = tree.getroot()
    root.remove(_by_id(root, "backdrop"))
    mark = _by_id(root, "mark")
    del mark.attrib["transform"]
    mark.remove(_by_id(mark, "ring"))
    _by_id(mark, "badge").set("fill", colour)
    text = _by_id(mark, "label")
    text.text = label
    diameter = 2 * float(_by_id(mark, "badge").get("r", "0"))
    share = 0.62 if len(label) <= 2 else 0.5 if len(label) == 3 else 0.4  # as app/gui/tray.py's _badge
    size = diameter * share
    text.set("font-size", f"{size:.1f}")
    text.set("y", f"{128 + 0.36 * size:.1f}")  # the baseline that centres capitals (Qt's SVG has no dy)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _by_id(parent: ET.Element, name: str) -> ET.Element:
    for element in parent.iter():
        if element.get("id") == name:
            return element
    raise SystemExit(f"{SOURCE}: no element with id {name!r}")


def render(svg: bytes, size: int) -> bytes:
    """``svg`` as a ``size``-pixel square PNG with a transparent background."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon holding ``pngs`` (size -> PNG bytes); 256 is written as 0, as the format wants."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        side = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset + len(blobs))
        blobs += blob
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS icon family holding ``pngs`` under their PNG chunk types."""
    chunks = b""
    for kind, size in ICNS_TYPES:
        blob = pngs[size]
        chunks += kind.encode() + struct.pack(">I", 8 + len(blob)) + blob
    return b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks


def main(out: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (fonts need an application)
    written: list[Path] = []

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    svg = SOURCE.read_bytes()
    wanted = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    pngs = {size: render(svg, size) for size in wanted}
    for size in PNG_SIZES:
        write(out / "png" / f"tokenclub-{size}.png", pngs[size])
    write(out / "tokenclub.ico", ico({size: pngs[size] for size in ICO_SIZES}))
    write(out / "tokenclub.icns", icns(pngs))
    for level, colour, label in tiers():
        variant = tray_svg(colour, label)
        for size in TRAY_SIZES:
            write(out / "tray" / f"tier-{level}-{size}.png", render(variant, size))
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    done = main(target)
    print(f"{len(done)} icons written under {target}")
