"""The Limits panel: each plan window as a bar with its reset, source and pace; Claude Code's current block.

It shows a :class:`~app.gui.limits_worker.Reading` at a given ``now`` (the app's clock, or a
test's). The same words make the tray tooltip's lines (:func:`tooltip_lines`) and the threshold
notifications (:func:`alert_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QGroupBox, QLabel, QProgressBar, QScrollArea, QVBoxLayout, QWidget

from app.core import limits
from app.core.limits import clock, duration, pace_text
from app.gui import formatting as fmt
from app.gui.limits_worker import Reading

AGENT_TITLES = {limits.CLAUDE: "Claude", limits.CODEX: "Codex"}
SOURCE_TITLES = {limits.LOG: "Codex's logs", limits.ACCOUNT: "Claude's account"}
BAR_STEPS = 1000
WARN_COLOUR, FULL_COLOUR = "#d97706", "#dc2626"
EMPTY = (
    "No plan window read yet. They show here once Codex has written its rate limits into its logs (its "
    "sessions record them after each turn), or once you opt in to reading Claude's plan use from its account "
    "in Settings (“Read Claude's plan use from its account”: Claude Code's sign-in, read-only)."
)
NO_BLOCK = "No Claude Code 5-hour block is active: the next call opens one."
ACCOUNT_HINT = "Claude's 5-hour and weekly windows: opt in to reading its account's plan use in Settings."


def window_title(w: limits.Window) -> str:
    """``Codex primary (5 h) · pro``; Claude's names say their length already (``5h``, ``weekly``)."""
    named = w.name.startswith(("5h", "weekly"))
    length = "" if w.window_minutes is None or named else f" ({duration(timedelta(minutes=w.window_minutes))})"
    plan = f" · {w.account}" if w.account else ""
    return f"{AGENT_TITLES.get(w.agent, w.agent)} {w.name}{length}{plan}"


def reset_text(w: limits.Window, now: datetime, tz: tzinfo) -> str:
    """``resets 17:00 (in 2 h 10 min)``, in local time."""
    if w.resets_at is None:
        return "reset time unknown"
    if w.resets_at <= now:
        return f"reset at {clock(w.resets_at, tz, now)}, since this reading"
    return f"resets {clock(w.resets_at, tz, now)} (in {duration(w.resets_at - now)})"


def source_text(w: limits.Window, now: datetime) -> str:
    """``from Codex's logs, read 3 min ago``."""
    return f"from {SOURCE_TITLES.get(w.source, w.source)}, read {duration(now - w.read_at)} ago"


def pace_line(w: limits.Window, now: datetime, tz: tzinfo) -> str:
    """``at this pace: full at 15:40, 1 h 20 min before it resets`` (as ``tokenclub limits`` says it)."""
    return pace_text(limits.window_dict(w, now, tz), tz, now)


def ordered(windows: Sequence[limits.Window]) -> list[limits.Window]:
    """Tightest first."""
    return sorted(windows, key=lambda w: (-w.used_percent, w.agent, w.name))


def tooltip_lines(reading: Reading | None, now: datetime, tz: tzinfo) -> list[str]:
    """One compact line per window (tightest first), then Claude Code's block: ``Codex primary 62% · resets 17:00``."""
    if reading is None:
        return []
    lines = []
    for w in ordered(reading.windows):
        line = f"{AGENT_TITLES.get(w.agent, w.agent)} {w.name} {w.used_percent:.0f}%"
        if w.resets_at is not None and w.resets_at > now:
            line += f" · resets {clock(w.resets_at, tz, now)}"
        elif w.resets_at is not None:
            line += " · reset since"
        p = limits.pace(w, now)
        if p.state == "full-before-reset" and p.full_at is not None:
            line += f" · full at {clock(p.full_at, tz, now)} at this pace"
        lines.append(line)
    b = reading.block
    if b is not None:
        lines.append(
            f"Claude block {fmt.tokens(b.total)} tokens · {fmt.cost(b.cost_usd, b.unpriced_tokens)}"
            f" · {duration(b.end - now)} left"
        )
    return lines


def alert_text(w: limits.Window, threshold: int, now: datetime, tz: tzinfo) -> tuple[str, str]:
    """A threshold notification's title and text."""
    title = f"{AGENT_TITLES.get(w.agent, w.agent)} {w.name} window at {w.used_percent:.0f}%"
    return title, f"Past your {threshold}% alert; {reset_text(w, now, tz)}. {pace_line(w, now, tz).capitalize()}."


def ring_share(reading: Reading | None, now: datetime) -> float | None:
    """How full the tightest open window is (0-1), for the tray ring; None when no window is open."""
    if reading is None:
        return None
    w = limits.tightest(reading.windows, now)
    return None if w is None else max(0.0, min(w.used_percent / 100, 1.0))


def shown_notes(reading: Reading) -> list[str]:
    """What is missing and why; the opt-in is said in the panel's words, not the command line's."""
    notes = [n for n in reading.notes if reading.account_asked or not n.startswith("claude: ")]
    if not reading.account_asked:
        notes.append(ACCOUNT_HINT)
    return notes


def _label(text: str, *, bold: bool = False, dim: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if bold:
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
    if dim:
        label.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # dimmed, in light and dark alike
    return label


class LimitsPanel(QScrollArea):
    """Every plan window and Claude Code's current block, rebuilt from each reading."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._bars: list[QProgressBar] = []
        self._labels: list[QLabel] = []
        self._put(QWidget())
        self._add(_label("Reading the plan limits…", dim=True))

    def _put(self, content: QWidget) -> None:
        old = self.takeWidget()
        if old is not None:
            old.deleteLater()
        self._column = QVBoxLayout(content)
        self._bars, self._labels = [], []
        self.setWidget(content)

    def _add(self, label: QLabel, layout: QVBoxLayout | QGridLayout | None = None, *at: int) -> QLabel:
        self._labels.append(label)
        if isinstance(layout, QGridLayout):
            layout.addWidget(label, *at)
        else:
            (layout or self._column).addWidget(label)
        return label

    def show_reading(self, reading: Reading, now: datetime, tz: tzinfo, alerts: Sequence[int]) -> None:
        """Show ``reading`` as at ``now``, times in ``tz``; bars turn amber at the first alert and red at the last."""
        self._put(QWidget())
        if reading.windows:
            for w in ordered(reading.windows):
                self._column.addWidget(self._window_row(w, now, tz, alerts))
        else:
            self._add(_label(EMPTY))
        self._column.addWidget(self._block_box(reading.block, now, tz))
        for note in shown_notes(reading):
            self._add(_label(note, dim=True))
        self._column.addStretch(1)

    def _window_row(self, w: limits.Window, now: datetime, tz: tzinfo, alerts: Sequence[int]) -> QFrame:
        row = QFrame()
        row.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(row)
        grid.setVerticalSpacing(2)
        self._add(_label(window_title(w), bold=True, wrap=False), grid, 0, 0)
        reset = self._add(_label(reset_text(w, now, tz), wrap=False), grid, 0, 1)
        reset.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if w.resets_at is not None:
            reset.setToolTip(f"{w.resets_at:%Y-%m-%d %H:%M} UTC")
        bar = QProgressBar()
        bar.setRange(0, BAR_STEPS)
        bar.setValue(int(BAR_STEPS * max(0.0, min(w.used_percent, 100.0)) / 100))
        bar.setFormat(f"{w.used_percent:g}% used")
        colour = _bar_colour(w.used_percent, alerts)
        if colour:  # the palette, not a style sheet: the bar keeps the style's look
            palette = bar.palette()
            palette.setColor(QPalette.ColorRole.Highlight, QColor(colour))
            bar.setPalette(palette)
        self._bars.append(bar)
        grid.addWidget(bar, 1, 0, 1, 2)
        self._add(_label(pace_line(w, now, tz)), grid, 2, 0)
        source = self._add(_label(source_text(w, now), dim=True, wrap=False), grid, 2, 1)
        source.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        source.setToolTip(f"read at {clock(w.read_at, tz, now)}")
        grid.setColumnStretch(0, 1)
        return row

    def _block_box(self, b: limits.Block | None, now: datetime, tz: tzinfo) -> QGroupBox:
        box = QGroupBox("Claude Code · current 5-hour block (from its logs)")
        column = QVBoxLayout(box)
        if b is None:
            self._add(_label(NO_BLOCK), column)
            return box
        left = b.end - now
        bar = QProgressBar()
        bar.setRange(0, BAR_STEPS)
        elapsed = 1 - left / (b.end - b.start)
        bar.setValue(int(BAR_STEPS * max(0.0, min(elapsed, 1.0))))
        bar.setFormat(f"{clock(b.start, tz, now)}–{clock(b.end, tz, now)} · {duration(left)} left")
        self._bars.append(bar)
        column.addWidget(bar)
        spent = fmt.cost(b.cost_usd, b.unpriced_tokens)
        calls = f"{b.entries:,} call{'' if b.entries == 1 else 's'}"
        self._add(_label(f"{fmt.tokens(b.total)} tokens · {spent} · {calls}"), column)
        if b.burn_rate is not None:
            rate = b.burn_rate
            self._add(
                _label(f"burn rate {fmt.tokens(rate.tokens_per_minute)} tokens/min · {fmt.usd(rate.cost_per_hour)}/h"),
                column,
            )
        if b.projection is not None:
            proj = b.projection
            self._add(
                _label(f"at this pace by its end: {fmt.tokens(proj.total_tokens)} tokens, {fmt.usd(proj.total_cost)}"),
                column,
            )
        return box

    # -- what the user reads (for tests and screenshots) -----------------------------------

    def text(self) -> str:
        """Every line shown, in order (bars as their text)."""
        return "\n".join([*(label.text() for label in self._labels), *(b.text() for b in self._bars)])

    def bars(self) -> list[tuple[str, int]]:
        """Each bar's text and value (of ``BAR_STEPS``), windows first, then the block's."""
        return [(b.format(), b.value()) for b in self._bars]


def _bar_colour(used: float, alerts: Sequence[int]) -> str | None:
    if alerts and used >= max(alerts):
        return FULL_COLOUR
    if alerts and used >= min(alerts):
        return WARN_COLOUR
    return None
