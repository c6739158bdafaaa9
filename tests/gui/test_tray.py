"""The tray icon: a picture per tier, a tooltip with today's numbers, a menu whose entries all act."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from app.core.milestones import DEFAULT_MILESTONES
from app.gui.tray import Tray, tier_icon, tier_level, tooltip


def _image(total: int) -> QImage:
    return tier_icon(total, DEFAULT_MILESTONES).pixmap(QSize(32, 32)).toImage()


def _today(total: int, **extra: Any) -> dict[str, Any]:
    doc = {
        "date": "2026-11-20",
        "in": total // 10,
        "cw": total // 10,
        "cr": total - 3 * (total // 10),
        "out": total // 10,
        "rsn": total // 20,
        "total": total,
        "cost_usd": 12.5,
        "cache_hit_rate": 0.7,
        "tier": None,
        "next_milestone": 10_000_000,
        "to_next": 10_000_000 - total,
        "tokens_per_minute": 1500.0,
        "active_sessions": 2,
    }
    return {**doc, **extra}


def test_levels() -> None:
    assert [tier_level(t, DEFAULT_MILESTONES) for t in (0, 9_999_999, 10**7, 10**8, 10**9, 5 * 10**9)] == [
        0,
        0,
        1,
        2,
        3,
        3,
    ]


def test_each_tier_has_its_own_picture(qtbot: QtBot) -> None:
    images = [_image(t) for t in (1_000_000, 20_000_000, 200_000_000, 2_000_000_000)]
    for a in range(len(images)):
        for b in range(a + 1, len(images)):
            assert images[a] != images[b]
    # the ring fills towards the next milestone: the same tier at another distance is another picture
    assert _image(20_000_000) != _image(90_000_000)
    assert _image(2_000_000_000) == _image(3_000_000_000)  # past the last milestone the ring is full


def test_tooltip_says_total_cost_tier_and_distance() -> None:
    text = tooltip(_today(4_000_000))
    assert "today 4M tokens · $12.50" in text
    assert "below the first milestone" in text
    assert "6M more to reach 10M" in text
    assert "cache read 2.8M" in text and "(reasoning 200K)" in text and "cache hit 70.0%" in text
    top = tooltip(_today(1_200_000_000, tier="1B", next_milestone=None, to_next=None))
    assert "Tier: 1B a day" in top and "Every milestone reached" in top


def test_menu_entries_emit(qtbot: QtBot) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == [
        "Open dashboard",
        "Refresh now",
        "Pause watching",
        "Settings…",
        "Keys and providers…",
        "Club…",
        "Export to club…",
        "Sessions…",
        "Stop all sessions",
        "About TokenClub…",
        "Quit TokenClub",
    ]
    for action, signal in (
        (tray.open_action, tray.open_requested),
        (tray.refresh_action, tray.refresh_requested),
        (tray.settings_action, tray.settings_requested),
        (tray.club_action, tray.club_requested),
        (tray.club_export_action, tray.club_export_requested),
        (tray.providers_action, tray.providers_requested),
        (tray.about_action, tray.about_requested),
        (tray.quit_action, tray.quit_requested),
        (tray.sessions_action, tray.console_requested),
    ):
        with qtbot.waitSignal(signal, timeout=1000):
            action.trigger()
    with qtbot.waitSignal(tray.watching_toggled, timeout=1000) as paused:
        tray.pause_action.trigger()
    assert paused.args == [False]
    with qtbot.waitSignal(tray.watching_toggled, timeout=1000) as resumed:
        tray.pause_action.trigger()
    assert resumed.args == [True]


def test_show_today_redraws(qtbot: QtBot) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=False)
    assert tray.pause_action.isChecked()
    tray.show_today(_today(150_000_000, tier="100M", next_milestone=1_000_000_000, to_next=850_000_000))
    assert "850M more to reach 1B" in tray.icon.toolTip()
    assert tray.icon.icon().pixmap(QSize(32, 32)).toImage() == _image(150_000_000)
    tray.set_milestones((1_000_000, 2_000_000_000))
    assert tray.icon.icon().pixmap(QSize(32, 32)).toImage() != _image(150_000_000)


def test_indexing_progress_borrows_the_tooltip_and_gives_it_back(qtbot: QtBot) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    today = _today(4_000_000)
    tray.show_today(today)
    tray.show_progress(0.42, 120)
    assert tray.icon.toolTip() == "TokenClub · indexing 42% (120 files)"
    tray.end_progress()
    assert tray.icon.toolTip() == tooltip(today)
    tray.icon.setToolTip("left alone")
    tray.end_progress()  # nothing was borrowed: nothing is redrawn
    assert tray.icon.toolTip() == "left alone"


def test_tooltip_never_shows_unpriced_tokens_as_dollars() -> None:
    assert "· unpriced" in tooltip(_today(5_000, cost_usd=None, unpriced_tokens=5_000)).splitlines()[0]
    assert "· ≥ $12.50" in tooltip(_today(5_000, unpriced_tokens=1_000)).splitlines()[0]
