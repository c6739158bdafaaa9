"""The key vault: API keys in the OS keyring, several per provider, each with a label.

The secret goes to the keyring only (service ``tokenclub``, user ``<provider>/<label>``);
``providers.json`` keeps what may be shown: the masked form (``sk-or-…wxyz``), the kind
(regular or admin), when it was added and last used. A backend keyring does not
recommend is refused before anything is written (``app.core.secrets``). Every write
keeps the two in step: a key is in the list only once the keyring holds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.core.secrets import KeyringLockedError, secure_keyring
from app.providers import IDS, provider_class
from app.providers.config import Config, KeyInfo, load, save

SERVICE = "tokenclub"
T = TypeVar("T")
LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,39}$")


class VaultError(ValueError):
    """A vault operation was refused: the message says why."""


def mask(key: str) -> str:
    """``sk-or-v1-…wxyz``-style: the key's well-known prefix (dash-separated words) and its last 4 characters."""
    key = key.strip()
    parts = key.split("-")
    prefix = ""
    for part in parts[:-1][:2]:
        if not (part.isalpha() and len(part) <= 6):
            break
        prefix += part + "-"
    if not prefix and key.startswith("AIza"):
        prefix = "AIza"
    tail = key[-4:] if len(key) >= 16 else ""
    return f"{prefix}…{tail}"


def _user(provider: str, label: str) -> str:
    return f"{provider}/{label}"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_key(provider: str, key: str) -> str:
    key = key.strip()
    if not key:
        raise VaultError("no key was given")
    if any(c.isspace() for c in key) or not key.isprintable() or not key.isascii():
        raise VaultError("the key has spaces, control or non-ASCII characters in it; paste it again")
    if len(key) < 8 or len(key) > 512:
        raise VaultError(f"that does not look like a {provider} key (length)")
    return key


def _call(what: str, fn: Callable[..., T], *args: Any) -> T:
    """A keyring call, its errors as messages that never hold the secret."""
    from keyring.errors import KeyringError, KeyringLocked

    try:
        return fn(*args)
    except KeyringLocked:
        raise KeyringLockedError(
            f"the keyring is locked: unlock it (log in to the desktop session) and try again; nothing was {what}"
        ) from None
    except KeyringError as exc:
        raise VaultError(f"the keyring refused ({type(exc).__name__}); nothing was {what}") from None
    except Exception as exc:  # D-Bus and backend errors (a dismissed prompt is a locked keyring)
        name = type(exc).__name__
        if "Lock" in name or "Dismiss" in name or "Prompt" in name:
            raise KeyringLockedError(
                f"the keyring is locked ({name}): unlock it and try again; nothing was {what}"
            ) from None
        raise VaultError(f"the keyring failed ({name}); nothing was {what}") from None


def add(
    provider: str, key: str, label: str = "default", kind: str | None = None, low_balance: float | None = None
) -> KeyInfo:
    """Store ``key`` for ``provider`` under ``label`` (replacing a key of that label).

    Raises:
        InsecureKeyring: no recommended backend; nothing stored.
        KeyringLockedError, VaultError: refused; nothing stored.
    """
    if provider not in IDS:
        raise VaultError(f"unknown provider {provider!r} (known: {', '.join(IDS)})")
    if not LABEL_RE.match(label):
        raise VaultError("a label is 1 to 40 letters, digits, spaces or . _ @ - (starting with a letter or digit)")
    key = _check_key(provider, key)
    if kind is None:
        kind = provider_class(provider)().kind_of(key)
    if kind not in ("regular", "admin"):
        raise VaultError("kind is regular or admin")
    backend = secure_keyring()
    cfg = load()
    user = _user(provider, label)
    replaced = _call("stored", backend.get_password, SERVICE, user) if cfg.find(provider, label) else None
    _call("stored", backend.set_password, SERVICE, user, key)
    info = KeyInfo(provider, label, kind, mask(key), _now(), None, low_balance)
    cfg.keys = [k for k in cfg.keys if not (k.provider == provider and k.label == label)] + [info]
    try:
        save(cfg)
    except BaseException:  # the list still names the old key (or none): the keyring goes back to match it
        if replaced is None:
            _forget(backend, provider, label)
        else:
            import contextlib

            with contextlib.suppress(Exception):
                backend.set_password(SERVICE, user, replaced)
        raise
    return info


def _forget(backend: Any, provider: str, label: str) -> None:
    import contextlib

    with contextlib.suppress(Exception):
        backend.delete_password(SERVICE, _user(provider, label))


def get_secret(info: KeyInfo) -> str:
    backend = secure_keyring()
    secret = _call("read", backend.get_password, SERVICE, _user(info.provider, info.label))
    if not secret:
        raise VaultError(
            f"{info.name}: the keyring has no such key any more (removed outside TokenClub?); add it again"
        )
    return str(secret)


def select(provider: str | None = None, label: str | None = None, cfg: Config | None = None) -> list[KeyInfo]:
    cfg = cfg or load()
    if provider is not None and provider not in IDS:
        raise VaultError(f"unknown provider {provider!r} (known: {', '.join(IDS)})")
    chosen = [
        k for k in cfg.keys if (provider is None or k.provider == provider) and (label is None or k.label == label)
    ]
    return chosen


def remove(provider: str, label: str | None = None) -> list[KeyInfo]:
    """Remove the key(s) from the keyring and the list; several keys need a label."""
    cfg = load()
    found = select(provider, label, cfg)
    if not found:
        raise VaultError(f"no {provider} key" + (f" labelled {label!r}" if label else ""))
    if label is None and len(found) > 1:
        raise VaultError(
            f"{provider} has {len(found)} keys: say which with --label ({', '.join(k.label for k in found)})"
        )
    backend = secure_keyring()
    from keyring.errors import PasswordDeleteError

    for info in found:
        try:
            _call("removed", backend.delete_password, SERVICE, _user(info.provider, info.label))
        except VaultError as exc:
            if not isinstance(exc.__context__, PasswordDeleteError):
                raise  # already gone from the keyring is fine; anything else keeps the entry
    cfg.keys = [k for k in cfg.keys if k not in found]
    save(cfg)
    return found


def update(
    provider: str,
    label: str,
    new_label: str | None = None,
    low_balance: float | None = None,
    clear_low_balance: bool = False,
    kind: str | None = None,
) -> KeyInfo:
    """Relabel a key (moving its secret), or set its low-balance threshold or kind."""
    cfg = load()
    found = select(provider, label, cfg)
    if not found:
        raise VaultError(f"no {provider} key labelled {label!r}")
    info = found[0]
    if kind is not None:
        if kind not in ("regular", "admin"):
            raise VaultError("kind is regular or admin")
        info.kind = kind
    if clear_low_balance:
        info.low_balance = None
    elif low_balance is not None:
        if low_balance < 0:
            raise VaultError("a low-balance threshold is zero or more")
        info.low_balance = low_balance
    if new_label is not None and new_label != label:
        if not LABEL_RE.match(new_label):
            raise VaultError("a label is 1 to 40 letters, digits, spaces or . _ @ -")
        if cfg.find(provider, new_label):
            raise VaultError(f"{provider} already has a key labelled {new_label!r}")
        backend = secure_keyring()
        secret = get_secret(info)
        _call("moved", backend.set_password, SERVICE, _user(provider, new_label), secret)
        info.label = new_label
        try:
            save(cfg)
        except BaseException:
            _forget(backend, provider, new_label)
            raise
        _forget(backend, provider, label)
        return info
    save(cfg)
    return info


def touch(info: KeyInfo) -> None:
    """Record that ``info``'s key was just used successfully."""
    cfg = load()
    for k in cfg.find(info.provider, info.label):
        k.last_used = info.last_used = _now()
    save(cfg)
