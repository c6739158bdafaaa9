"""Which machine a call ran on: this one (stored as NULL, or '' in the sums) or a dedicated host by its name."""

from __future__ import annotations

import socket

LOCAL = ""  # how the quarter sums spell this machine


def local_name() -> str:
    """This machine's name as reports show it (its host name, without the domain)."""
    return socket.gethostname().split(".")[0] or "this machine"


def label(device: str | None) -> str:
    """The name a report shows for a stored device."""
    return device if device else local_name()


def stored(name: str) -> str:
    """The stored spelling of a device a user named: this machine's host name (or 'local') is ''."""
    return LOCAL if name in ("", "local", local_name(), socket.gethostname()) else name
