"""The Settings dialog: a form over ``app.core.settings``, which validates and saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.core import autostart, settings
from app.core.milestones import DEFAULT_MILESTONES
from app.core.settings import InvalidSettings, Settings
from app.core.timezones import local_zone
from app.sources import all_sources

LOCAL_ZONE = "This machine's zone"
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
AGENT_COLUMNS = 3


class FieldError(QWidget):
    """Why the field above it was rejected: a warning icon and the reason, hidden while there is none.

    Drawn with the palette's text colour and the style's icon, so it reads in light and dark.
    """

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size))
        self._text = QLabel(self)
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self._text, 1)
        self.hide()

    def text(self) -> str:
        return self._text.text()

    def show_error(self, text: str) -> None:
        self._text.setText(text)
        self.show()

    def clear(self) -> None:
        self._text.clear()
        self.hide()


class SettingsDialog(QDialog):
    """Edit the user's settings; OK and Apply validate every field, save, and announce the result.

    Nothing is written unless every field is valid. A rejected field shows why beneath it and
    the dialog stays open. Start at login is registered with the OS on save; if that fails, the
    other settings are still saved, start at login keeps its old value and a message box says why.

    Signals:
        saved(object): the new, validated :class:`~app.core.settings.Settings`, already on disk.
    """

    saved = Signal(object)
    hosts_changed = Signal()

    def __init__(self, current: Settings, path: Path | None = None, parent: QWidget | None = None) -> None:
        """Show ``current``; save to ``path`` (default: the settings file under the app's config dir)."""
        super().__init__(parent)
        self.setWindowTitle("TokenClub settings")
        self._settings = current
        self._path = path
        self._autostart_error: str | None = None

        self._tz = QComboBox(self)
        self._tz.setObjectName("tz")
        self._tz.setEditable(True)
        self._tz.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self._tz.addItem(f"{LOCAL_ZONE} ({_zone_name()})")
        self._tz.addItems(sorted(available_timezones()))
        completer = QCompleter(self._tz.model(), self._tz)  # "paris" finds Europe/Paris
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._tz.setCompleter(completer)
        self._tz_error = FieldError("tz-error", self)
        self._tz.editTextChanged.connect(self._tz_error.clear)

        self._agents: dict[str, QCheckBox] = {}
        agents = QGridLayout()
        for i, source in enumerate(all_sources()):
            box = QCheckBox(source.agent, self)
            box.setObjectName(f"agent-{source.agent}")
            self._agents[source.agent] = box
            agents.addWidget(box, i // AGENT_COLUMNS, i % AGENT_COLUMNS)

        self._milestones = QLineEdit(self)
        self._milestones.setObjectName("milestones")
        self._milestones.setPlaceholderText(settings.describe_milestones(DEFAULT_MILESTONES))
        self._milestones.setToolTip("Daily token counts, lowest first, e.g. 10M, 100M, 1B (K, M and B suffixes)")
        reset = QPushButton("Reset", self)
        reset.setObjectName("milestones-reset")
        reset.setToolTip("Back to the default milestones")
        reset.clicked.connect(self._reset_milestones)
        milestones = QHBoxLayout()
        milestones.addWidget(self._milestones, 1)
        milestones.addWidget(reset)
        self._milestones_error = FieldError("milestones-error", self)
        self._milestones.textChanged.connect(self._milestones_error.clear)

        self._notify_tiers = QCheckBox("A milestone crossed today", self)
        self._notify_tiers.setObjectName("notify_tiers")
        self._start_at_login = QCheckBox("Start TokenClub when I log in", self)
        self._start_at_login.setObjectName("start_at_login")

        self._limit_alerts = QLineEdit(self)
        self._limit_alerts.setObjectName("limit_alerts")
        self._limit_alerts.setToolTip("Notify once per window when its use reaches each percent, e.g. 80, 95")
        self._limit_alerts_error = FieldError("limit_alerts-error", self)
        self._limit_alerts.textChanged.connect(self._limit_alerts_error.clear)
        self._ring_follows = QCheckBox("The tray ring shows the fullest plan window, not the next milestone", self)
        self._ring_follows.setObjectName("ring_follows_limits")
        self._limits_account = QCheckBox("Read Claude's plan use from its account", self)
        self._limits_account.setObjectName("limits_account")
        self._limits_account.setToolTip(
            "Asks the account's usage endpoint with Claude Code's sign-in, read-only; the token is never copied"
        )
        self._limits_url = QLineEdit(self)
        self._limits_url.setObjectName("limits_account_url")
        self._limits_url.setToolTip("The account endpoint's base URL")
        self._limits_url_error = FieldError("limits_account_url-error", self)
        self._limits_url.textChanged.connect(self._limits_url_error.clear)
        self._limits_account.toggled.connect(self._limits_url.setEnabled)

        self._theme = QComboBox(self)
        self._theme.setObjectName("theme")
        for theme in settings.THEMES:
            self._theme.addItem(THEME_LABELS[theme], theme)

        form = QFormLayout()
        form.addRow("Days start at midnight in", self._tz)
        form.addRow("", self._tz_error)
        form.addRow("Agents to count", agents)
        form.addRow("Milestones", milestones)
        form.addRow("", self._milestones_error)
        form.addRow("Notify me of", self._notify_tiers)
        form.addRow("Start at login", self._start_at_login)
        form.addRow("Theme", self._theme)
        form.addRow("Plan limit alerts (%)", self._limit_alerts)
        form.addRow("", self._limit_alerts_error)
        form.addRow("Tray ring", self._ring_follows)
        form.addRow("Claude's plan", self._limits_account)
        form.addRow("Account base URL", self._limits_url)
        form.addRow("", self._limits_url_error)
        hosts = QPushButton("Dedicated machines…", self)
        hosts.setObjectName("hosts")
        hosts.setToolTip("Hosts over ssh whose agents' tokens count here too: add, check, remove, pull interval")
        hosts.clicked.connect(self.show_hosts)
        form.addRow("Hosts", hosts)
        self._hosts_page: QDialog | None = None

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        buttons.clicked.connect(self._clicked)
        self._buttons = buttons

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._show(current)

    def show_hosts(self) -> None:
        """The Hosts page (``app.gui.hosts_page``), a dialog of its own over this one."""
        from app.gui.hosts_page import HostsPage

        if self._hosts_page is None:
            page = HostsPage(self)
            page.changed.connect(self.hosts_changed)
            self._hosts_page = page
        self._hosts_page.show()
        self._hosts_page.raise_()

    def current(self) -> Settings:
        """The settings last saved by this dialog, or those it opened with."""
        return self._settings

    def set_current(self, current: Settings) -> None:
        """Show ``current`` instead, dropping unsaved edits (call it when the settings changed elsewhere)."""
        self._settings = current
        self._show(current)

    def done(self, result: int) -> None:
        """Close; edits not saved are dropped, so the next opening shows the saved settings."""
        self._show(self._settings)
        super().done(result)

    def autostart_error(self) -> str | None:
        """Why the last save could not change start at login, or None."""
        return self._autostart_error

    def accept_values(self) -> Settings | None:
        """Validate every field, save, register start at login and emit ``saved``.

        Returns:
            The saved settings, or None when nothing was saved: a field was rejected (its error is
            shown beneath it) or the file could not be written (a message box says why).
        """
        try:
            new = settings.updated(self._settings, self._changes())
        except InvalidSettings as exc:
            self._show_errors(exc.errors)
            return None
        self._autostart_error = None
        if new.start_at_login != self._settings.start_at_login or new.start_at_login != _registered():
            try:
                if new.start_at_login:
                    autostart.enable()
                else:
                    autostart.disable()
            except OSError as exc:
                action = "turn on" if new.start_at_login else "turn off"
                self._autostart_error = f"Could not {action} start at login: {exc}"
                self._alert("Start at login", self._autostart_error)
                new.start_at_login = self._settings.start_at_login
                self._start_at_login.setChecked(new.start_at_login)
        try:
            settings.save(new, self._path)
        except OSError as exc:  # the next save registers start at login again if it drifted
            self._alert("Settings not saved", f"Could not save the settings: {exc}")
            return None
        self._settings = new
        self.saved.emit(new)
        return new

    def _changes(self) -> dict[str, Any]:
        text = self._tz.currentText().strip()
        changes: dict[str, Any] = {
            "tz": None if text in (self._tz.itemText(0), LOCAL_ZONE) else text,
            "milestones": self._milestones.text(),
            "notify_tiers": self._notify_tiers.isChecked(),
            "start_at_login": self._start_at_login.isChecked(),
            "theme": self._theme.currentData(),
            "limit_alerts": self._limit_alerts.text(),
            "ring_follows_limits": self._ring_follows.isChecked(),
            "limits_account": self._limits_account.isChecked(),
            "limits_account_url": self._limits_url.text(),
        }
        # Only toggled agents: one never toggled stays absent, so it follows the default (on).
        agents = self._settings.agents
        changes.update(
            {
                f"agents.{agent}": box.isChecked()
                for agent, box in self._agents.items()
                if box.isChecked() != agents.get(agent, True)
            }
        )
        return changes

    def _show(self, s: Settings) -> None:
        self._show_errors({})
        if s.tz is None:
            self._tz.setCurrentIndex(0)
        else:
            found = self._tz.findText(s.tz)
            if found >= 0:
                self._tz.setCurrentIndex(found)
            else:
                self._tz.setEditText(s.tz)
        for agent, box in self._agents.items():
            box.setChecked(s.agents.get(agent, True))
        self._milestones.setText(settings.describe_milestones(s.milestones))
        self._notify_tiers.setChecked(s.notify_tiers)
        self._start_at_login.setChecked(s.start_at_login)
        self._theme.setCurrentIndex(max(0, self._theme.findData(s.theme)))
        self._limit_alerts.setText(", ".join(str(p) for p in s.limit_alerts))
        self._ring_follows.setChecked(s.ring_follows_limits)
        self._limits_account.setChecked(s.limits_account)
        self._limits_url.setText(s.limits_account_url)
        self._limits_url.setEnabled(s.limits_account)

    def _show_errors(self, errors: dict[str, str]) -> None:
        fields = {
            "tz": (self._tz, self._tz_error),
            "milestones": (self._milestones, self._milestones_error),
            "limit_alerts": (self._limit_alerts, self._limit_alerts_error),
            "limits_account_url": (self._limits_url, self._limits_url_error),
        }
        first = True
        for key, (widget, error) in fields.items():
            if key in errors:
                error.show_error(errors[key])
                if first:
                    widget.setFocus()
                    first = False
            else:
                error.clear()
        others = [f"{key}: {why}" for key, why in errors.items() if key not in fields]
        if others:  # not from this form's fields, but never dropped silently
            self._alert("Settings not saved", "\n".join(others))

    def _alert(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): returns at once, modal to this dialog only

    def _reset_milestones(self) -> None:
        self._milestones.setText(settings.describe_milestones(DEFAULT_MILESTONES))

    def _ok(self) -> None:
        if self.accept_values() is not None and self._autostart_error is None:
            self.accept()

    def _clicked(self, button: QAbstractButton) -> None:
        if self._buttons.buttonRole(button) == QDialogButtonBox.ButtonRole.ApplyRole:
            self.accept_values()


def _zone_name() -> str:
    zone = local_zone()
    return str(getattr(zone, "key", None) or zone)


def _registered() -> bool | None:
    """Whether the OS has TokenClub's login entry; None when that cannot be read."""
    try:
        return autostart.is_enabled()
    except OSError:
        return None
