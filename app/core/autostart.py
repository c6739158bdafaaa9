"""Start at login: an XDG autostart entry on Linux, the HKCU Run key on Windows, a LaunchAgent on macOS."""

from __future__ import annotations

import contextlib
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

NAME = "tokenclub"
LABEL = "club.tokenclub"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def app_command() -> list[str]:
    """How to start the desktop app from a login session."""
    script = shutil.which("tokenclub")
    if script:
        return [script, "gui"]
    if getattr(sys, "frozen", False):  # an installed bundle (PyInstaller): the executable is the app itself
        return [sys.executable, "gui"]
    return [sys.executable, "-m", "app", "gui"]


def enable(command: Sequence[str] | None = None) -> Path:
    """Register ``command`` (default: this installation's app) to run at login; returns where."""
    command = list(command or app_command())
    if sys.platform == "win32":
        return _windows_set(command)
    if sys.platform == "darwin":
        path = _launch_agent()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(launch_agent_plist(command))
        return path
    path = _xdg_entry()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(desktop_entry(command), encoding="utf-8")
    return path


def disable() -> None:
    if sys.platform == "win32":
        _windows_set(None)
        return
    path = _launch_agent() if sys.platform == "darwin" else _xdg_entry()
    path.unlink(missing_ok=True)


def is_enabled() -> bool:
    if sys.platform == "win32":
        return _windows_get() is not None
    return (_launch_agent() if sys.platform == "darwin" else _xdg_entry()).exists()


def desktop_entry(command: Sequence[str]) -> str:
    """An autostart entry; ``Exec`` quoted as the Desktop Entry spec asks (and ``%`` doubled)."""
    exec_line = " ".join(_desktop_quote(arg) for arg in command)
    return (
        "[Desktop Entry]\nType=Application\nName=TokenClub\n"
        "Comment=Daily token burn of your coding agents\n"
        f"Exec={exec_line}\nIcon=tokenclub\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )


def launch_agent_plist(command: Sequence[str]) -> bytes:
    return plistlib.dumps({"Label": LABEL, "ProgramArguments": list(command), "RunAtLoad": True})


def _desktop_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def _xdg_entry() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{NAME}.desktop"


def _launch_agent() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def _windows_set(command: Sequence[str] | None) -> Path:
    if sys.platform != "win32":
        raise OSError("the Run key exists only on Windows")
    import winreg

    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if command is None:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, "TokenClub")
        else:
            winreg.SetValueEx(key, "TokenClub", 0, winreg.REG_SZ, subprocess.list2cmdline(command))
    return Path("HKCU") / RUN_KEY / "TokenClub"


def _windows_get() -> str | None:
    if sys.platform != "win32":
        raise OSError("the Run key exists only on Windows")
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, "TokenClub")[0])
    except FileNotFoundError:
        return None
