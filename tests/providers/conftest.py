"""Provider tests: documented responses, a server echoing keys back, and keyrings (memory or real)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from keyring.backend import KeyringBackend

from tests.httpserver import serving
from tests.secret_service import secret_service, secret_service_session  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from tests.providers.test_echo import EchoApi

RESPONSES = Path(__file__).parent.parent / "fixtures" / "provider-responses"
FAKE_KEYS = {
    "openai": "sk-admin-TESTKEY0openai0AAAAAAAAAAAAAAAAAAAAAAAAwxyz",
    "anthropic": "sk-ant-admin01-TESTKEY0anthropic0BBBBBBBBBBBBBBBBBBBBwxyz",
    "openrouter": "sk-or-v1-TESTKEY0openrouter0CCCCCCCCCCCCCCCCCCCCCCCCwxyz",
    "deepseek": "sk-TESTKEY0deepseek0DDDDDDDDDDDDDDDDwxyz",
    "moonshot": "sk-TESTKEY0moonshot0EEEEEEEEEEEEEEEEEEEEwxyz",
    "siliconflow": "sk-TESTKEY0siliconflow0FFFFFFFFFFFFFFFFwxyz",
    "gemini": "AIzaTESTKEY0gemini0GGGGGGGGGGGGGGGGGGGwxyz",
}


def fixture_text(name: str) -> str:
    return (RESPONSES / name).read_text()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_text(name))


@pytest.fixture
def echo() -> Iterator[EchoApi]:
    from tests.providers.test_echo import EchoApi  # the server lives with the test it was written for

    yield from serving(EchoApi())


class MemoryKeyring(KeyringBackend):
    """A recommended in-memory backend for tests that exercise the vault's logic, not the OS keyring."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}
        self.locked = False

    def _check(self) -> None:
        if self.locked:
            from keyring.errors import KeyringLocked

            raise KeyringLocked("Failed to unlock the collection!")

    def get_password(self, service: str, user: str) -> str | None:
        self._check()
        return self.store.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self._check()
        self.store[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        self._check()
        from keyring.errors import PasswordDeleteError

        if (service, user) not in self.store:
            raise PasswordDeleteError("not found")
        del self.store[(service, user)]


@pytest.fixture(autouse=True)
def no_user_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches the user's own keyring: the fail backend unless a test picks another."""
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    import keyring

    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries do not really wait in these tests: every wait asked for is recorded instead."""
    from app.providers import base

    asked: list[float] = []
    monkeypatch.setattr(base, "wait", asked.append)
    return asked
