"""A real X display for screenshot tests and benchmarks: Xvfb plus Debian's ``trayer`` as tray host."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

START_TIMEOUT_S = 60.0


class NoDisplay(RuntimeError):
    """Xvfb or trayer is missing or did not start."""


def tools_missing() -> list[str]:
    return [tool for tool in ("Xvfb", "trayer", "xwininfo") if shutil.which(tool) is None]


@contextmanager
def virtual_display(width: int = 1600, height: int = 1000, tray: bool = True) -> Iterator[dict[str, str]]:
    """Start Xvfb (on a free display it picks itself) and, if ``tray``, a tray host on it.

    Yields the environment for clients: ``DISPLAY`` set, Qt on xcb.
    """
    missing = tools_missing()
    if missing:
        raise NoDisplay(f"not installed: {', '.join(missing)}")
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    procs = [xvfb]
    try:
        number = _read_display(read_end)
        env = {**os.environ, "DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}
        env.pop("WAYLAND_DISPLAY", None)
        if tray:
            procs.append(
                subprocess.Popen(
                    [
                        "trayer",
                        "--edge",
                        "top",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                        "--height",
                        "32",
                        "--SetDockType",
                        "true",
                        "--transparent",
                        "false",
                        "--tint",
                        "0x303030",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait_for_window(env, "panel")
        yield env
    finally:
        for proc in reversed(procs):
            stop(proc)


def stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """TERM, then KILL if it is still there after ``grace_s``; always reaped."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_display(fd: int) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            chunk = pipe.read(16)
            if not chunk:
                break
            data += chunk
    if not data.strip():
        raise NoDisplay("Xvfb did not report a display number")
    return data.decode().strip()


def _wait_for_window(env: dict[str, str], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
        if name in tree:
            return
        time.sleep(0.05)
    raise NoDisplay(f"no {name!r} window appeared (trayer did not start)")


def docked(env: dict[str, str]) -> list[str]:
    """Names of the client windows docked in the tray host's panel (each tray icon is one)."""
    lines = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout.splitlines()
    for i, line in enumerate(lines):
        if '"panel": ("panel" "trayer")' in line:
            indent = len(line) - len(line.lstrip())
            names = []
            for child in lines[i + 1 :]:
                if child.strip() and len(child) - len(child.lstrip()) <= indent:
                    break
                if '"' in child:
                    names.append(child.split('"')[1])
            return names
    return []
