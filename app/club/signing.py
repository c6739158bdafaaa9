"""The member's Ed25519 signing key: created on first export, kept in the OS keyring.

The private key lives only in the keyring (service ``tokenclub``, user ``club/<member>``,
the raw 32-byte seed in base64). A backend keyring does not recommend is refused before
anything is created or stored (``app.core.secrets``, the key vault's rule). The public key
and its fingerprint travel inside every export; the merge pins them per member.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from app.core.secrets import KeyringLockedError, secure_keyring

SERVICE = "tokenclub"
T = TypeVar("T")


class SigningError(RuntimeError):
    """The key could not be read or stored; the message says why (never the key)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def fingerprint(public_raw: bytes) -> str:
    """``SHA256:`` and the unpadded base64 of the raw public key's SHA-256 (as ssh-keygen shows keys)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_raw).digest()).decode("ascii").rstrip("=")


def _user(member: str) -> str:
    return f"club/{member}"


def _call(what: str, fn: Callable[..., T], *args: Any) -> T:
    from keyring.errors import KeyringError, KeyringLocked

    try:
        return fn(*args)
    except KeyringLocked:
        raise KeyringLockedError(f"the keyring is locked: unlock it and try again; nothing was {what}") from None
    except KeyringError as exc:
        raise SigningError(f"the keyring refused ({type(exc).__name__}); nothing was {what}") from None
    except Exception as exc:  # D-Bus and backend errors
        name = type(exc).__name__
        if "Lock" in name or "Dismiss" in name or "Prompt" in name:
            raise KeyringLockedError(f"the keyring is locked ({name}); nothing was {what}") from None
        raise SigningError(f"the keyring failed ({name}); nothing was {what}") from None


class MemberKey:
    """A member's key pair (the private half only in memory, loaded from the keyring)."""

    def __init__(self, private: Any, created: bool = False) -> None:
        from cryptography.hazmat.primitives import serialization

        self._private = private
        self.created = created
        self.public_raw: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_b64(self) -> str:
        return b64(self.public_raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        return bytes(self._private.sign(data))

    @classmethod
    def generate(cls) -> MemberKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate(), created=True)

    @classmethod
    def from_seed(cls, seed: bytes) -> MemberKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return bytes(
            self._private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        )


def load_or_create(member: str) -> MemberKey:
    """The member's key from the keyring, created and stored there on first use.

    Raises:
        InsecureKeyring: no recommended keyring; nothing created or stored.
        KeyringLockedError, SigningError: the keyring refused; nothing stored.
    """
    backend = secure_keyring()
    stored = _call("read", backend.get_password, SERVICE, _user(member))
    if stored:
        try:
            return MemberKey.from_seed(unb64(stored))
        except Exception:
            raise SigningError(
                f"the club key stored for {member!r} in the keyring is damaged; remove the keyring entry "
                f"{SERVICE} / {_user(member)} to create a new one (members will see a new key)"
            ) from None
    key = MemberKey.generate()
    _call("stored", backend.set_password, SERVICE, _user(member), b64(key.seed()))
    return key


def verify(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``public_raw``'s Ed25519 signature of ``data``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
