"""Light, dark or the system's colour scheme, and a signal when the effective colours change.

On Qt 6.8+ a light or dark choice is asked of the platform (``QStyleHints.setColorScheme``),
so native styles draw it themselves. Platforms that ignore the request (offscreen, X11
without a desktop theme) and older Qt get Fusion with an explicit palette instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.core.settings import THEMES

# App properties: whether the palette is ours, and the style it replaced (restored with the system's colours).
_OWN_PALETTE = "tokenclub-own-palette"
_NATIVE_STYLE = "tokenclub-native-style"

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup
_SCHEMES = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}

# Fusion's own light palette and its usual dark counterpart, role by role.
_ACTIVE: dict[_Role, tuple[str, str]] = {  # role: (light, dark)
    _Role.Window: ("#efefef", "#2d2d2d"),
    _Role.WindowText: ("#000000", "#e6e6e6"),
    _Role.Base: ("#ffffff", "#1e1e1e"),
    _Role.AlternateBase: ("#f7f7f7", "#262626"),
    _Role.ToolTipBase: ("#ffffdc", "#3c3c3c"),
    _Role.ToolTipText: ("#000000", "#e6e6e6"),
    _Role.PlaceholderText: ("#7f7f7f", "#8c8c8c"),
    _Role.Text: ("#000000", "#e6e6e6"),
    _Role.Button: ("#efefef", "#353535"),
    _Role.ButtonText: ("#000000", "#e6e6e6"),
    _Role.BrightText: ("#ffffff", "#ff5555"),
    _Role.Light: ("#ffffff", "#474747"),
    _Role.Midlight: ("#cacaca", "#3e3e3e"),
    _Role.Mid: ("#b8b8b8", "#262626"),
    _Role.Dark: ("#9f9f9f", "#1a1a1a"),
    _Role.Shadow: ("#767676", "#0a0a0a"),
    _Role.Highlight: ("#308cc6", "#2a82da"),
    _Role.HighlightedText: ("#ffffff", "#ffffff"),
    _Role.Link: ("#0000ff", "#6cb4ff"),
    _Role.LinkVisited: ("#ff00ff", "#c58af9"),
}
_DISABLED: dict[_Role, tuple[str, str]] = {
    _Role.WindowText: ("#bebebe", "#7f7f7f"),
    _Role.Text: ("#bebebe", "#7f7f7f"),
    _Role.ButtonText: ("#bebebe", "#7f7f7f"),
    _Role.Highlight: ("#919191", "#505050"),
    _Role.HighlightedText: ("#ffffff", "#a0a0a0"),
}


def palette(dark: bool) -> QPalette:
    """TokenClub's explicit light or dark palette (used where the platform cannot switch)."""
    pal = QPalette()
    for role, colours in _ACTIVE.items():
        pal.setColor(role, QColor(colours[dark]))
    for role, colours in _DISABLED.items():
        pal.setColor(_Group.Disabled, role, QColor(colours[dark]))
    return pal


def apply_theme(app: QApplication, theme: str) -> None:
    """Use ``theme`` ("system", "light" or "dark") for every window of ``app``.

    Raises:
        ValueError: ``theme`` is not one of ``app.core.settings.THEMES``.
    """
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}")
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+; Unknown means "follow the system"
        wanted = _SCHEMES[theme]
        hints.setColorScheme(wanted)
        if theme == "system" or hints.colorScheme() == wanted:
            _drop_own_palette(app)
            return
    if theme == "system":
        _drop_own_palette(app)
    else:
        _use_own_palette(app, dark=theme == "dark")


def is_dark(app: QGuiApplication) -> bool:
    """Whether ``app``'s windows are drawn light on dark (whatever set the colours)."""
    pal = app.palette()
    return pal.color(_Role.Window).lightness() < pal.color(_Role.WindowText).lightness()


def _use_own_palette(app: QApplication, dark: bool) -> None:
    # Native styles (Windows Vista, macOS) ignore most of a palette; Fusion draws all of it.
    style = app.style().name()
    if style.lower() != "fusion":
        if app.property(_NATIVE_STYLE) is None:
            app.setProperty(_NATIVE_STYLE, style)
        app.setStyle("Fusion")
    app.setProperty(_OWN_PALETTE, True)
    app.setPalette(palette(dark))


def _drop_own_palette(app: QApplication) -> None:
    if not app.property(_OWN_PALETTE):
        return
    app.setProperty(_OWN_PALETTE, None)
    native = app.property(_NATIVE_STYLE)
    if native is not None:
        app.setProperty(_NATIVE_STYLE, None)
        app.setStyle(str(native))
    app.setPalette(QPalette())  # an empty palette resolves to the platform's own


class ThemeWatcher(QObject):
    """Tells when the application's colours change: a theme applied, or the system switching scheme.

    Widgets drawn with fixed colours (pyqtgraph plots) re-read the palette on ``changed``.

    Signals:
        changed(bool): the application palette changed; True when it is now dark.
    """

    changed = Signal(bool)

    def __init__(self, app: QApplication, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._app = app
        self._colours = self._key()
        app.installEventFilter(self)
        app.styleHints().colorSchemeChanged.connect(self._check)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._app and event.type() == QEvent.Type.ApplicationPaletteChange:
            self._check()
        return False

    def _check(self) -> None:
        colours = self._key()
        if colours != self._colours:
            self._colours = colours
            self.changed.emit(is_dark(self._app))

    def _key(self) -> tuple[int, ...]:
        pal = self._app.palette()
        return tuple(pal.color(role).rgba() for role in _ACTIVE)
