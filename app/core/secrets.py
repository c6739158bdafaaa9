"""Which OS keyring holds TokenClub's secrets, and whether it is one we trust.

Qt-free and shared: the key vault (``app.providers.keys``) and the club's signing key both
ask :func:`secure_keyring` before storing anything. A backend that keyring itself does not
recommend (priority below 1: the fail and null backends, ``keyrings.alt``'s plain-text and
"encrypted" files, which keep the secret next to its key) is refused with a message that
says how to get a real one; nothing is stored.
"""

from __future__ import annotations

import sys
from typing import Any

# backends that keep secrets in a file TokenClub could as well write itself, whatever priority they claim
_PLAIN_MODULES = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


class InsecureKeyring(RuntimeError):
    """No recommended keyring backend is available; the message says how to get one."""


class KeyringLockedError(RuntimeError):
    """The keyring is there but locked (or refused to unlock)."""


def how_to_get_one() -> str:
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return (
            "install and start a Secret Service provider such as GNOME Keyring (gnome-keyring) or KeePassXC "
            "(with its Secret Service integration on), inside a desktop session with D-Bus"
        )
    if sys.platform == "darwin":
        return "the macOS Keychain should be available: run TokenClub as your logged-in user"
    if sys.platform == "win32":
        return "the Windows Credential Manager should be available: run TokenClub as your logged-in user"
    return "install a keyring backend that python-keyring recommends for this system"


def _leaves(backend: Any) -> list[Any]:
    """A chainer's backends, or the backend itself."""
    inner = getattr(backend, "backends", None)
    if inner is not None and type(backend).__name__ == "ChainerBackend":
        return list(inner)
    return [backend]


def describe(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def problem(backend: Any) -> str | None:
    """Why ``backend`` must not hold a secret, or None when it is a recommended one."""
    leaves = _leaves(backend)
    for leaf in leaves:
        name = describe(leaf)
        if any(name.startswith(m) for m in _PLAIN_MODULES):
            return f"the keyring backend {name} is not a secure store"
    try:
        priority = float(backend.priority)
    except Exception:  # a backend that cannot say (its priority probes the system and failed)
        priority = 0.0
    if priority < 1 or not leaves:
        return f"the keyring backend {describe(backend)} is not one keyring recommends"
    return None


def secure_keyring() -> Any:
    """The active keyring backend, if it is a recommended one.

    Raises:
        InsecureKeyring: no backend, or only one that is not recommended.
    """
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError as exc:  # a build without keyring: log features still work
        raise InsecureKeyring(f"python-keyring is not installed: {how_to_get_one()}") from exc
    try:
        backend = keyring.get_keyring()
    except KeyringError as exc:
        raise InsecureKeyring(f"no keyring backend is available ({type(exc).__name__}); {how_to_get_one()}") from exc
    why = problem(backend)
    if why is not None:
        raise InsecureKeyring(f"{why}; nothing was stored. To keep keys safely, {how_to_get_one()}")
    return backend
