"""Club test fixtures: an in-memory keyring (for tests not about the keyring)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.club.memkeyring import MemoryKeyring


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    import keyring

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    previous: Any = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
