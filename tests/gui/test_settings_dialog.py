"""The Settings dialog saves exactly what it shows, refuses bad input, and the theme follows the choice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import orjson
import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDialogButtonBox, QLineEdit, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from app.core import paths, settings
from app.core.settings import Settings
from app.gui.settings_dialog import LOCAL_ZONE, FieldError, SettingsDialog
from app.gui.theme import ThemeWatcher, apply_theme, is_dark
from app.sources import all_sources

AGENTS = [s.agent for s in all_sources()]
LEFT = Qt.MouseButton.LeftButton
W = TypeVar("W", bound=QObject)


@pytest.fixture(autouse=True)
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Start-at-login entries go to a temp XDG config dir, never the real one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@pytest.fixture
def system_theme(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    apply_theme(qapp, "system")


def open_dialog(qtbot: QtBot, current: Settings) -> SettingsDialog:
    dialog = SettingsDialog(current)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def field(dialog: SettingsDialog, kind: type[W], name: str) -> W:
    widget = dialog.findChild(kind, name)
    assert widget is not None, name
    return widget


def error(dialog: SettingsDialog, name: str) -> FieldError:
    return field(dialog, FieldError, f"{name}-error")


def button(dialog: SettingsDialog, which: QDialogButtonBox.StandardButton) -> QPushButton:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    return box.button(which)


def on_disk() -> dict[str, object]:
    return orjson.loads(paths.settings_file().read_bytes())


def entry(xdg: Path) -> Path:
    return xdg / "autostart" / "tokenclub.desktop"


def test_opens_showing_the_settings_it_was_given(qtbot: QtBot) -> None:
    current = Settings(
        tz="Asia/Tokyo", agents={"codex": False}, milestones=(5_000_000, 12_345_678), notify_tiers=False, theme="dark"
    )
    dialog = open_dialog(qtbot, current)
    assert field(dialog, QComboBox, "tz").currentText() == "Asia/Tokyo"
    assert not field(dialog, QCheckBox, "agent-codex").isChecked()
    assert all(field(dialog, QCheckBox, f"agent-{a}").isChecked() for a in AGENTS if a != "codex")
    assert [field(dialog, QCheckBox, f"agent-{a}").text() for a in AGENTS] == AGENTS
    assert field(dialog, QLineEdit, "milestones").text() == "5M, 12345678"
    assert not field(dialog, QCheckBox, "notify_tiers").isChecked()
    assert not field(dialog, QCheckBox, "start_at_login").isChecked()
    assert field(dialog, QComboBox, "theme").currentData() == "dark"
    assert field(dialog, QComboBox, "tz").itemText(0).startswith(LOCAL_ZONE)


def test_unchanged_settings_save_as_they_were(qtbot: QtBot) -> None:
    current = Settings(
        tz="America/Sao_Paulo",
        agents={"amp": False, "agent-of-a-newer-version": True},
        milestones=(1_500_000, 12_345_678, 2_000_000_000),
        notify_tiers=False,
        watching=False,
        theme="light",
        extra={"future_key": [1, 2]},
    )
    dialog = open_dialog(qtbot, current)
    with qtbot.waitSignal(dialog.saved) as emitted:
        result = dialog.accept_values()
    assert result == current
    assert emitted.args == [current]
    assert settings.load().settings == current


def test_every_field_round_trips(qtbot: QtBot, xdg_config: Path) -> None:
    before = Settings(tz="Europe/Paris", agents={"codex": False}, watching=False, extra={"future_key": "kept"})
    dialog = open_dialog(qtbot, before)
    field(dialog, QComboBox, "tz").setEditText("Asia/Tokyo")
    field(dialog, QCheckBox, "agent-codex").setChecked(True)
    field(dialog, QCheckBox, "agent-amp").setChecked(False)
    field(dialog, QLineEdit, "milestones").setText("1m 12345678, 2B")
    field(dialog, QCheckBox, "notify_tiers").setChecked(False)
    field(dialog, QCheckBox, "start_at_login").setChecked(True)
    theme = field(dialog, QComboBox, "theme")
    theme.setCurrentIndex(theme.findData("dark"))

    with qtbot.waitSignal(dialog.saved) as emitted:
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok), LEFT)

    expected = Settings(
        tz="Asia/Tokyo",
        agents={"codex": True, "amp": False},
        milestones=(1_000_000, 12_345_678, 2_000_000_000),
        notify_tiers=False,
        start_at_login=True,
        watching=False,
        theme="dark",
        extra={"future_key": "kept"},
    )
    assert emitted.args == [expected]
    assert dialog.current() == expected
    assert on_disk() == orjson.loads(orjson.dumps(expected.as_dict()))
    assert settings.load().settings == expected
    assert entry(xdg_config).exists()
    assert not dialog.isVisible()


def test_this_machines_zone_saves_as_none(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings(tz="UTC"))
    tz = field(dialog, QComboBox, "tz")
    tz.setCurrentIndex(0)
    result = dialog.accept_values()
    assert result is not None and result.tz is None
    tz.setEditText(LOCAL_ZONE)
    result = dialog.accept_values()
    assert result is not None and result.tz is None


def test_apply_saves_and_keeps_the_dialog_open(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    field(dialog, QCheckBox, "notify_tiers").setChecked(False)
    with qtbot.waitSignal(dialog.saved):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Apply), LEFT)
    assert dialog.isVisible()
    assert on_disk()["notify_tiers"] is False


def test_cancel_saves_nothing(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    field(dialog, QCheckBox, "notify_tiers").setChecked(False)
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Cancel), LEFT)
    assert not dialog.isVisible()
    assert not paths.settings_file().exists()


def test_an_unknown_time_zone_is_shown_and_nothing_is_saved(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    tz = field(dialog, QComboBox, "tz")
    tz.setEditText("Mars/Olympus_Mons")
    with qtbot.assertNotEmitted(dialog.saved):
        assert dialog.accept_values() is None
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok), LEFT)
    assert dialog.isVisible()
    assert error(dialog, "tz").isVisible()
    assert "unknown time zone 'Mars/Olympus_Mons'" in error(dialog, "tz").text()
    assert not error(dialog, "milestones").isVisible()
    assert not paths.settings_file().exists()
    assert dialog.current() == Settings()

    tz.setEditText("Europe/Paris")  # editing the field clears its error
    assert not error(dialog, "tz").isVisible()
    result = dialog.accept_values()
    assert result is not None and result.tz == "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("100M, 10M", "strictly increasing"),
        ("ten million", "is not a token count"),
        ("", "give 1 to"),
        ("1M 2M 3M 4M 5M 6M 7M", "give 1 to"),
        ("0", "must be positive"),
    ],
)
def test_bad_milestones_are_shown_and_nothing_is_saved(qtbot: QtBot, text: str, why: str) -> None:
    dialog = open_dialog(qtbot, Settings())
    field(dialog, QLineEdit, "milestones").setText(text)
    with qtbot.assertNotEmitted(dialog.saved):
        assert dialog.accept_values() is None
    assert error(dialog, "milestones").isVisible()
    assert why in error(dialog, "milestones").text()
    assert not paths.settings_file().exists()


def test_every_bad_field_is_shown_at_once(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    field(dialog, QComboBox, "tz").setEditText("Nowhere/Land")
    field(dialog, QLineEdit, "milestones").setText("1B, 1M")
    assert dialog.accept_values() is None
    assert error(dialog, "tz").isVisible() and error(dialog, "milestones").isVisible()
    field(dialog, QComboBox, "tz").setEditText("UTC")
    assert dialog.accept_values() is None  # milestones still wrong; the fixed zone's error is gone
    assert not error(dialog, "tz").isVisible() and error(dialog, "milestones").isVisible()


def test_reset_restores_the_default_milestones(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings(milestones=(1_000, 2_000)))
    qtbot.mouseClick(field(dialog, QPushButton, "milestones-reset"), LEFT)
    assert field(dialog, QLineEdit, "milestones").text() == "10M, 100M, 1B"
    result = dialog.accept_values()
    assert result is not None and result.milestones == (10_000_000, 100_000_000, 1_000_000_000)


def test_agent_toggles_choose_the_agents_read(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    result = dialog.accept_values()
    assert result is not None and result.enabled_agents() is None
    for agent in ("codex", "gemini-cli"):
        field(dialog, QCheckBox, f"agent-{agent}").setChecked(False)
    result = dialog.accept_values()
    assert result is not None
    assert result.enabled_agents() == frozenset(AGENTS) - {"codex", "gemini-cli"}
    field(dialog, QCheckBox, "agent-codex").setChecked(True)
    result = dialog.accept_values()
    assert result is not None and result.enabled_agents() == frozenset(AGENTS) - {"gemini-cli"}
    assert settings.load().settings.enabled_agents() == frozenset(AGENTS) - {"gemini-cli"}


def test_start_at_login_writes_and_removes_the_xdg_entry(qtbot: QtBot, xdg_config: Path) -> None:
    dialog = open_dialog(qtbot, Settings())
    login = field(dialog, QCheckBox, "start_at_login")
    login.setChecked(True)
    result = dialog.accept_values()
    assert result is not None and result.start_at_login
    text = entry(xdg_config).read_text(encoding="utf-8")
    assert "Type=Application" in text and "Exec=" in text and " gui" in text
    login.setChecked(False)
    result = dialog.accept_values()
    assert result is not None and not result.start_at_login
    assert not entry(xdg_config).exists()
    assert dialog.autostart_error() is None


def test_start_at_login_is_restored_when_its_entry_went_missing(qtbot: QtBot, xdg_config: Path) -> None:
    dialog = open_dialog(qtbot, Settings(start_at_login=True))
    assert dialog.accept_values() is not None
    assert entry(xdg_config).exists()


def test_start_at_login_failure_says_why_and_keeps_the_old_value(
    qtbot: QtBot, xdg_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = xdg_config.parent / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))  # autostart/ cannot be created under a file
    dialog = open_dialog(qtbot, Settings())
    login = field(dialog, QCheckBox, "start_at_login")
    login.setChecked(True)
    field(dialog, QCheckBox, "notify_tiers").setChecked(False)
    with qtbot.waitSignal(dialog.saved) as emitted:
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok), LEFT)

    assert dialog.isVisible()  # stays open so the message is read against the form
    message = dialog.autostart_error()
    assert message is not None and message.startswith("Could not turn on start at login:")
    boxes = [b for b in dialog.findChildren(QMessageBox) if b.isVisible()]
    assert [b.text() for b in boxes] == [message]
    assert not login.isChecked()
    assert emitted.args[0].start_at_login is False and emitted.args[0].notify_tiers is False
    assert on_disk()["start_at_login"] is False and on_disk()["notify_tiers"] is False
    boxes[0].close()


def test_a_file_that_cannot_be_written_says_why(qtbot: QtBot, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    dialog = SettingsDialog(Settings(), path=blocker / "settings.json")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok), LEFT)
    assert dialog.isVisible()
    boxes = [b for b in dialog.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1 and boxes[0].text().startswith("Could not save the settings:")
    assert dialog.current() == Settings()
    boxes[0].close()


def test_closing_drops_unsaved_edits_and_set_current_shows_new_settings(qtbot: QtBot) -> None:
    dialog = open_dialog(qtbot, Settings())
    milestones = field(dialog, QLineEdit, "milestones")
    milestones.setText("1B, 1M")
    assert dialog.accept_values() is None
    qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Cancel), LEFT)
    dialog.show()
    assert milestones.text() == "10M, 100M, 1B" and not error(dialog, "milestones").isVisible()

    elsewhere = Settings(watching=False, theme="dark")  # e.g. watching paused from the tray meanwhile
    dialog.set_current(elsewhere)
    assert field(dialog, QComboBox, "theme").currentData() == "dark"
    result = dialog.accept_values()
    assert result == elsewhere


def window_lightness(app: QApplication) -> int:
    return app.palette().color(QPalette.ColorRole.Window).lightness()


def follow_theme(saved: Settings) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, saved.theme)


def test_saved_theme_applies_dark_then_light(qtbot: QtBot, system_theme: QApplication) -> None:
    app = system_theme
    watcher = ThemeWatcher(app)
    dialog = open_dialog(qtbot, Settings())
    dialog.saved.connect(follow_theme)
    theme = field(dialog, QComboBox, "theme")

    theme.setCurrentIndex(theme.findData("dark"))
    with qtbot.waitSignal(watcher.changed) as changed:
        dialog.accept_values()
    assert changed.args == [True]
    assert is_dark(app) and window_lightness(app) < 100
    qtbot.waitUntil(lambda: dialog.palette().color(QPalette.ColorRole.Window).lightness() < 100)  # posted to widgets

    theme.setCurrentIndex(theme.findData("light"))
    with qtbot.waitSignal(watcher.changed) as changed:
        dialog.accept_values()
    assert changed.args == [False]
    assert not is_dark(app) and window_lightness(app) > 200


def test_system_theme_returns_to_the_platform_colours(qapp: QApplication, system_theme: QApplication) -> None:
    platform = qapp.palette().color(QPalette.ColorRole.Window)
    apply_theme(qapp, "dark")
    assert is_dark(qapp)
    apply_theme(qapp, "system")
    assert qapp.palette().color(QPalette.ColorRole.Window) == platform


def test_watcher_is_silent_when_nothing_changes(qtbot: QtBot, system_theme: QApplication) -> None:
    apply_theme(system_theme, "dark")
    watcher = ThemeWatcher(system_theme)
    with qtbot.assertNotEmitted(watcher.changed):
        apply_theme(system_theme, "dark")


def test_unknown_theme_is_refused(qapp: QApplication) -> None:
    with pytest.raises(ValueError, match="system, light, dark"):
        apply_theme(qapp, "sepia")
