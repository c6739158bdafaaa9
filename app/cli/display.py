"""Whether the desktop app has a screen to open on, asked before Qt starts.

Without one, Qt's xcb plugin aborts with "Could not load the Qt platform plugin… Reinstalling
the application may fix this problem", which is wrong on a headless box and says nothing
about what to do. This check answers first, in words, without importing Qt.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping

CONNECT_TIMEOUT_S = 1.0


def problem(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no display can be used, or None when one can (or the platform always has one)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # Windows and macOS draw on their own window servers
    qpa = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0]
    if qpa and qpa not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, vnc, eglfs…: the user chose a platform that needs no X or Wayland server
    wayland = env.get("WAYLAND_DISPLAY")
    if wayland and qpa != "xcb":
        runtime = env.get("XDG_RUNTIME_DIR", "")
        path = wayland if os.path.isabs(wayland) else os.path.join(runtime, wayland)
        if _connects(socket.AF_UNIX, path):
            return None
    x = env.get("DISPLAY")
    if x:
        return _x_problem(x)
    if wayland:
        return f"the Wayland display WAYLAND_DISPLAY={wayland} does not answer, and DISPLAY is not set"
    return "DISPLAY and WAYLAND_DISPLAY are not set"


def _x_problem(display: str) -> str | None:
    """None when the X server named by ``display`` (``[host]:N[.screen]``) accepts a connection."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return f"DISPLAY={display} is not of the form [host]:N"
    if host in ("", "unix") or host.startswith("/"):
        path = host if host.startswith("/") else f"/tmp/.X11-unix/X{number}"
        # Linux X servers also listen on an abstract socket of the same name
        if _connects(socket.AF_UNIX, path) or _connects(socket.AF_UNIX, "\0" + path):
            return None
        return f"no X server answers on DISPLAY={display}"
    if _connects(socket.AF_INET, (host, 6000 + int(number))):
        return None
    return f"no X server answers on DISPLAY={display} (port {6000 + int(number)} of {host})"


def _connects(family: int, address: object) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(address)  # type: ignore[arg-type]
        return True
    except (OSError, ValueError):
        return False


def message(why: str) -> str:
    """What ``tokenclub`` prints when the desktop app cannot start for want of a display."""
    return (
        f"tokenclub: no display found ({why}), so the desktop app cannot start.\n"
        "The reports work without one: tokenclub report daily (also weekly, monthly, session, models, today; "
        "see tokenclub report --help).\n"
        "To show the app: run it in a desktop session, set DISPLAY (e.g. DISPLAY=:0) or WAYLAND_DISPLAY to a "
        "running display, connect with ssh -X, or start a virtual one: xvfb-run tokenclub.\n"
    )
