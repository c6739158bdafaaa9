"""The club share card: a member's day or week as a 1200×630 PNG, drawn offscreen with QPainter.

The numbers come from ``app.club.card.build`` (Qt-free); this module only draws them. The
command line reaches it lazily (``tokenclub club card``), so a report never loads Qt.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath, QPen

from app.gui.formatting import tokens

WIDTH, HEIGHT = 1200, 630
TIER_COLOURS = {None: "#6b7280", "10M": "#16a34a", "100M": "#2563eb", "1B": "#d97706"}  # the tray's palette
CLUB_NAMES = {"10M": "0.01B club", "100M": "0.1B club", "1B": "1B club"}
_app: Any = None  # the QGuiApplication made here when none exists (kept: Qt needs it alive)


def _ensure_app() -> None:
    global _app
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _app = QGuiApplication(["tokenclub-card"])


def _font(size: int, bold: bool = False) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(size)
    font.setBold(bold)
    return font


def _period_label(data: dict[str, Any]) -> str:
    end = date.fromisoformat(data["end"])
    if data["period"] == "week":
        start = date.fromisoformat(data["start"])
        return f"Week {start.strftime('%d %b')} – {end.strftime('%d %b %Y')}"
    return end.strftime("%A, %d %B %Y")


def render(data: dict[str, Any]) -> QImage:
    """The card as an image (ARGB32, 1200×630)."""
    _ensure_app()
    image = QImage(WIDTH, HEIGHT, QImage.Format.Format_ARGB32)
    tier = data.get("tier")
    accent = QColor(TIER_COLOURS.get(tier, TIER_COLOURS[None]))
    p = QPainter(image)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        bg = QLinearGradient(0, 0, WIDTH, HEIGHT)
        bg.setColorAt(0.0, QColor("#0f172a"))
        bg.setColorAt(1.0, QColor("#1e293b"))
        p.fillRect(0, 0, WIDTH, HEIGHT, bg)
        p.fillRect(0, 0, WIDTH, 10, accent)
        white, muted = QColor("#f8fafc"), QColor("#94a3b8")

        p.setPen(muted)
        p.setFont(_font(26, bold=True))
        p.drawText(QRectF(60, 40, 700, 40), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "TokenClub")
        p.setFont(_font(24))
        p.drawText(QRectF(400, 40, 740, 40), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   _period_label(data))
        p.setPen(white)
        p.setFont(_font(40, bold=True))
        p.drawText(QRectF(60, 90, 1080, 56), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   data.get("member") or "My token burn")

        # the big number and its tier badge
        p.setFont(_font(132, bold=True))
        p.drawText(QRectF(52, 150, 760, 170), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   tokens(data["total"]))
        p.setPen(muted)
        p.setFont(_font(24))
        what = "tokens this week" if data["period"] == "week" else "tokens today" if data.get("is_today") else "tokens"
        sub = f"{what} · {tokens(data['fresh'])} fresh · {data['calls']:,} call{'' if data['calls'] == 1 else 's'}"
        if data["period"] == "week":
            sub += f" · {tokens(data['per_day'])} a day"
        p.drawText(QRectF(60, 318, 780, 40), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, sub)
        badge = QRectF(860, 170, 280, 120)
        path = QPainterPath()
        path.addRoundedRect(badge, 60, 60)
        p.fillPath(path, accent)
        p.setPen(white)
        p.setFont(_font(44 if tier else 30, bold=True))
        p.drawText(badge.adjusted(0, 8, 0, -34), Qt.AlignmentFlag.AlignCenter, tier or "no tier yet")
        p.setFont(_font(22))
        p.drawText(badge.adjusted(0, 66, 0, 0), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                   CLUB_NAMES.get(tier or "", "under 10M a day"))

        # streak and cache hit rate
        p.setPen(white)
        p.setFont(_font(26, bold=True))
        streak = data["streak"]
        p.drawText(QRectF(860, 318, 280, 40), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                   f"{streak}-day streak" if streak != 1 else "1 day at 10M+")
        rate = data.get("cache_hit_rate")
        _stat(p, QRectF(60, 390, 500, 36), "Cache hit rate", muted)
        bar = QRectF(60, 432, 460, 22)
        _bar(p, bar, rate or 0.0, QColor("#38bdf8"))
        p.setPen(white)
        p.setFont(_font(26, bold=True))
        p.drawText(QRectF(530, 426, 140, 34), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "–" if rate is None else f"{rate * 100:.1f}%")

        # top models
        _stat(p, QRectF(680, 390, 460, 36), "Top models", muted)
        y = 432.0
        for entry in data.get("top_models", [])[:3]:
            p.setPen(white)
            p.setFont(_font(20))
            name = entry["model"] if len(entry["model"]) <= 30 else entry["model"][:29] + "…"
            p.drawText(QRectF(680, y - 4, 330, 28), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            p.setPen(muted)
            p.drawText(QRectF(1010, y - 4, 130, 28), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{tokens(entry['total'])} · {entry['share'] * 100:.0f}%")
            _bar(p, QRectF(680, y + 26, 460, 6), entry["share"], accent)
            y += 48
        if not data.get("top_models"):
            p.setPen(muted)
            p.setFont(_font(20))
            p.drawText(QRectF(680, 428, 460, 28), Qt.AlignmentFlag.AlignLeft, "no calls in this period")

        p.setPen(muted)
        p.setFont(_font(18))
        p.drawText(QRectF(60, 580, 1080, 30), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "Counted from the agents' own logs by TokenClub · 0.01B · 0.1B · 1B tokens a day")
    finally:
        p.end()
    return image


def _stat(p: QPainter, rect: QRectF, text: str, colour: QColor) -> None:
    p.setPen(colour)
    p.setFont(_font(26, bold=True))
    p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)


def _bar(p: QPainter, rect: QRectF, share: float, colour: QColor) -> None:
    track = QPainterPath()
    track.addRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    p.fillPath(track, QColor(255, 255, 255, 36))
    filled = QRectF(rect.x(), rect.y(), max(rect.height(), rect.width() * min(max(share, 0.0), 1.0)), rect.height())
    if share > 0:
        path = QPainterPath()
        path.addRoundedRect(filled, rect.height() / 2, rect.height() / 2)
        p.fillPath(path, colour)
    p.setPen(QPen(Qt.PenStyle.NoPen))


def render_png(data: dict[str, Any], path: Path) -> None:
    """Draw the card and save it as PNG at ``path`` (written whole, then renamed into place)."""
    image = render(data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    if not image.save(str(tmp)):  # PNG, from the suffix
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}")
    os.replace(tmp, path)
