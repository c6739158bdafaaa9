"""Start at login: the XDG entry on Linux, quoted per the Desktop Entry spec; the macOS plist."""

from __future__ import annotations

import plistlib
import shutil
import sys
from pathlib import Path

import pytest

from app.core import autostart

linux_only = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG autostart is the Linux mechanism")


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@linux_only
def test_enable_writes_the_entry_and_disable_removes_it(xdg: Path) -> None:
    assert not autostart.is_enabled()
    where = autostart.enable(["/opt/token club/bin/tokenclub", "gui"])
    assert where == xdg / "autostart" / "tokenclub.desktop"
    assert autostart.is_enabled()
    assert 'Exec="/opt/token club/bin/tokenclub" gui\n' in where.read_text(encoding="utf-8")
    autostart.disable()
    assert not where.exists() and not autostart.is_enabled()
    autostart.disable()  # already off: nothing to do, no error


@linux_only
def test_without_xdg_config_home_the_entry_goes_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.enable(["tokenclub", "gui"]) == tmp_path / ".config" / "autostart" / "tokenclub.desktop"


def test_the_default_command_starts_the_gui() -> None:
    script = shutil.which("tokenclub")
    expected = [script, "gui"] if script else [sys.executable, "-m", "app", "gui"]
    assert autostart.app_command() == expected


@pytest.mark.parametrize(
    ("arg", "quoted"),
    [
        ("/usr/bin/tokenclub", "/usr/bin/tokenclub"),
        ("/home/a b/tokenclub", '"/home/a b/tokenclub"'),
        ("50%", "50%%"),
        ('say "hi" $HOME `x` \\', '"say \\"hi\\" \\$HOME \\`x\\` \\\\"'),
    ],
)
def test_desktop_entry_quotes_exec_arguments(arg: str, quoted: str) -> None:
    entry = autostart.desktop_entry([arg])
    assert f"\nExec={quoted}\n" in entry
    assert entry.startswith("[Desktop Entry]\nType=Application\n")


def test_launch_agent_runs_the_command_at_load() -> None:
    plist = plistlib.loads(autostart.launch_agent_plist(["/Applications/TokenClub.app/tokenclub", "gui"]))
    assert plist == {
        "Label": "club.tokenclub",
        "ProgramArguments": ["/Applications/TokenClub.app/tokenclub", "gui"],
        "RunAtLoad": True,
    }
