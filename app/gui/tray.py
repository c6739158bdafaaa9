"""The tray icon: today's tier in its picture, today's burn in its tooltip, the app's menu.

The picture: a badge in the colour of the highest tier reached today with the tier's label,
and a ring that fills towards the next milestone. Badge and label are the tray variants
rendered from ``icons/tokenclub.svg`` (``icons/render.py``, one per tier of the default
milestones); with milestones of the user's own, or without the rendered files, they are drawn
the same way here. The ring is always drawn, over either.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.core.milestones import DEFAULT_MILESTONES, tier_label, to_go
from app.gui.formatting import cost, percent, tokens

# below the first milestone, then one colour per milestone reached (the last repeats past six)
TIER_COLOURS = ("#6b7280", "#16a34a", "#2563eb", "#d97706", "#db2777", "#7c3aed", "#0f766e")
ICON_SIZES = (16, 22, 24, 32, 48, 64)


def tier_level(total: int, milestones: Sequence[int]) -> int:
    """0 below the first milestone, else how many milestones ``total`` reached."""
    return sum(1 for m in milestones if total >= m)


def tier_icon(total: int, milestones: Sequence[int], ring: float | None = None) -> QIcon:
    """The tray picture for a day that burned ``total`` tokens; ``ring`` (0-1) fills the ring instead of the
    distance to the next milestone (the tightest plan window, when the ring follows the limits)."""
    level = tier_level(total, milestones)
    ahead = sorted(m for m in milestones if m > total)
    floor = max([0, *(m for m in milestones if m <= total)])
    progress = 1.0 if not ahead else (total - floor) / (ahead[0] - floor)
    if ring is not None:
        progress = ring
    label = tier_label(max(m for m in milestones if m <= total)) if level else "·"
    rendered = _rendered(level, label)
    icon = QIcon()
    for size in ICON_SIZES:
        colour = TIER_COLOURS[min(level, len(TIER_COLOURS) - 1)]
        icon.addPixmap(_badge(size, colour, label, progress, rendered.get(size)))
    return icon


@cache
def _rendered(level: int, label: str) -> dict[int, QPixmap]:
    """The rendered tray variant of ``level`` by size, if it shows ``label`` (the default milestones' tiers)."""
    defaults = ["·", *(tier_label(m) for m in DEFAULT_MILESTONES)]
    if level >= len(defaults) or defaults[level] != label:
        return {}
    from app.gui.about import icons_dir

    found = {}
    for size in ICON_SIZES:
        pixmap = QPixmap(str(icons_dir() / "tray" / f"tier-{level}-{size}.png"))
        if pixmap.isNull() or pixmap.width() != size:
            return {}
        found[size] = pixmap
    return found


def _badge(size: int, colour: str, label: str, progress: float, base: QPixmap | None = None) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    ring = max(size / 10, 1.5)
    outer = QRectF(ring / 2, ring / 2, size - ring, size - ring)
    if base is not None:  # track, badge and label rendered from the SVG, in this same geometry
        p.drawPixmap(0, 0, base)
    else:
        p.setPen(QPen(QColor(255, 255, 255, 70), ring))
        p.drawEllipse(outer)
    p.setPen(QPen(QColor("#fbbf24"), ring))
    p.drawArc(outer, 90 * 16, -int(360 * 16 * max(0.0, min(progress, 1.0))))
    if base is not None:
        p.end()
        return pixmap
    inner = outer.adjusted(ring, ring, -ring, -ring)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(colour))
    p.drawEllipse(inner)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(int(inner.height() * (0.62 if len(label) <= 2 else 0.5 if len(label) == 3 else 0.4)), 6))
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(inner, Qt.AlignmentFlag.AlignCenter, label)
    p.end()
    return pixmap


def tooltip(
    today: dict[str, Any], balances: Sequence[str] = (), hosts_down: Sequence[str] = (), plan: Sequence[str] = ()
) -> str:
    """Today's total, cost, tier and the distance to the next milestone, then the buckets apart.

    ``hosts_down``: the dedicated machines the last pull could not reach, each with why.
    ``plan``: the plan windows, one line each (``app.gui.limits_panel.tooltip_lines``).
    """
    spent = cost(today.get("cost_usd"), today.get("unpriced_tokens"))
    lines = [f"TokenClub · today {tokens(today['total'])} tokens · {spent}"]
    tier = today.get("tier")
    lines.append(f"Tier: {tier} a day" if tier else "Tier: below the first milestone")
    if today.get("next_milestone"):
        lines.append(to_go(today["total"], [today["next_milestone"]]))
    else:
        lines.append("Every milestone reached")
    lines.append(
        f"input {tokens(today['in'])} · cache write {tokens(today['cw'])} · "
        f"cache read {tokens(today['cr'])} · output {tokens(today['out'])} "
        f"(reasoning {tokens(today['rsn'])})"
    )
    lines.append(f"cache hit {percent(today.get('cache_hit_rate'))}")
    if today.get("tokens_per_minute") is not None:
        active = today.get("active_sessions") or 0
        lines.append(
            f"now {tokens(today['tokens_per_minute'])} tokens/min, {active} active session{'' if active == 1 else 's'}"
        )
    if balances:
        lines.append("Balances: " + "; ".join(balances))
    if hosts_down:
        lines.append("Not pulled: " + "; ".join(hosts_down))
    if plan:
        lines.append("Plan limits:")
        lines.extend(f"  {line}" for line in plan)
    return "\n".join(lines)


class Tray(QObject):
    """The system tray icon and its menu.

    Signals:
        open_requested(): show the dashboard (menu entry, or a click on the icon).
        refresh_requested(): read what is new now.
        watching_toggled(bool): watching the agents' logs turned on (True) or paused.
        settings_requested(): open the settings.
        providers_requested(): open the providers page (keys, provider usage beside the logs, balances).
        club_requested(): open the Club page (export, import members' files, the board).
        club_export_requested(): export your signed numbers for the club (asks where to save).
        console_requested(): open the Console page (agent sessions on the dedicated machines).
        stop_sessions_requested(): stop every live session on every host (asked to confirm first).
        about_requested(): show the About box (version, where the index lives).
        quit_requested(): leave the app.
    """

    open_requested = Signal()
    refresh_requested = Signal()
    watching_toggled = Signal(bool)
    settings_requested = Signal()
    providers_requested = Signal()
    club_requested = Signal()
    club_export_requested = Signal()
    console_requested = Signal()
    stop_sessions_requested = Signal()
    about_requested = Signal()
    quit_requested = Signal()

    def __init__(self, milestones: Sequence[int], watching: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.milestones = tuple(milestones)
        self.icon = QSystemTrayIcon(tier_icon(0, self.milestones), self)
        self.icon.setToolTip("TokenClub · reading the index…")
        self.menu = QMenu()  # kept: a tray menu without an owner is collected and vanishes
        self.open_action = self._action("Open dashboard", self.open_requested.emit)
        self.refresh_action = self._action("Refresh now", self.refresh_requested.emit)
        self.pause_action = QAction("Pause watching", self.menu)
        self.pause_action.setCheckable(True)
        self.pause_action.setChecked(not watching)
        self.pause_action.toggled.connect(self._paused)
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.settings_action = self._action("Settings…", self.settings_requested.emit)
        self.providers_action = self._action("Keys and providers…", self.providers_requested.emit)
        self.club_action = self._action("Club…", self.club_requested.emit)
        self.club_export_action = self._action("Export to club…", self.club_export_requested.emit)
        self.menu.addSeparator()
        self.sessions_action = self._action("Sessions…", self.console_requested.emit)
        self.stop_sessions_action = self._action("Stop all sessions", self._confirm_stop)
        self.stop_sessions_action.setEnabled(False)
        self.menu.addSeparator()
        self.about_action = self._action("About TokenClub…", self.about_requested.emit)
        self.quit_action = self._action("Quit TokenClub", self.quit_requested.emit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.today: dict[str, Any] | None = None
        self.balances: list[str] = []  # provider balances, appended to the tooltip
        self.hosts_down: list[str] = []  # dedicated machines the last pull could not reach, with why
        self.plan_lines: list[str] = []  # the plan windows, one line each
        self.plan_ring: float | None = None  # the tightest window's share, when the ring follows it
        self._indexing = False  # the tooltip shows indexing progress, not today's numbers

    def _action(self, text: str, slot: Any) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_milestones(self, milestones: Sequence[int]) -> None:
        self.milestones = tuple(milestones)
        if self.today is not None:
            self.show_today(self.today)

    def show_today(self, today: dict[str, Any]) -> None:
        """Redraw the picture and the tooltip from today's numbers."""
        self.today = today
        self._indexing = False
        self.icon.setIcon(tier_icon(int(today["total"]), self.milestones, self.plan_ring))
        self.icon.setToolTip(tooltip(today, self.balances, self.hosts_down, self.plan_lines))

    def show_progress(self, share: float, files_done: int) -> None:
        """A cold index is running: the tooltip says how far (today's numbers come back after)."""
        self._indexing = True
        self.icon.setToolTip(f"TokenClub · indexing {share:.0%} ({files_done:,} files)")

    def end_progress(self) -> None:
        if self._indexing:
            self._indexing = False
            if self.today is not None:
                self.icon.setToolTip(tooltip(self.today, self.balances, self.hosts_down, self.plan_lines))

    def set_balances(self, lines: list[str]) -> None:
        """Provider balances for the tooltip (``app.gui.providers_page.balance_lines``)."""
        self.balances = list(lines)
        if self.today is not None and not self._indexing:
            self.icon.setToolTip(tooltip(self.today, self.balances, self.hosts_down, self.plan_lines))

    def set_hosts(self, pulled: list[dict[str, Any]]) -> None:
        """The last pull of the dedicated machines (``IndexWorker.hosts``): the unreachable ones join the tooltip."""
        # the reason names itself ("unreachable (ssh: …)", "a header line longer than 16 MiB")
        self.hosts_down = [f"{h['host']}: {h['error']}" for h in pulled if not h["ok"]]
        if self.today is not None and not self._indexing:
            self.icon.setToolTip(tooltip(self.today, self.balances, self.hosts_down, self.plan_lines))

    def set_plan(self, lines: list[str], ring: float | None) -> None:
        """The plan windows' tooltip lines, and the ring's share (None: the ring shows the next milestone)."""
        redraw = ring != self.plan_ring
        self.plan_lines, self.plan_ring = list(lines), ring
        if self.today is not None and redraw:
            self.icon.setIcon(tier_icon(int(self.today["total"]), self.milestones, ring))
        if self.today is not None and not self._indexing:
            self.icon.setToolTip(tooltip(self.today, self.balances, self.hosts_down, self.plan_lines))

    def set_running(self, count: int) -> None:
        """How many agent sessions are live on the dedicated machines (``Console.running_changed``)."""
        self.sessions_action.setText(f"Sessions: {count} running…" if count else "Sessions…")
        self.stop_sessions_action.setEnabled(count > 0)

    def _confirm_stop(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        asked = QMessageBox.question(None, "Stop all sessions", "Stop every live agent session on every host?")
        if asked == QMessageBox.StandardButton.Yes:
            self.stop_sessions_requested.emit()

    def notify(self, title: str, text: str) -> None:
        self.icon.showMessage(title, text, self.icon.icon(), 8000)

    def _paused(self, paused: bool) -> None:
        self.watching_toggled.emit(not paused)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()
