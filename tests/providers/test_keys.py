"""The key vault: masked listing, several keys per provider, refused backends and a locked keyring."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from app.core import secrets
from app.core.secrets import InsecureKeyring, KeyringLockedError
from app.providers import config, keys
from tests.providers.conftest import FAKE_KEYS, MemoryKeyring


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk-or-v1-0123456789abcdef0123456789abcdefwxyz", "sk-or-…wxyz"),
        ("sk-ant-admin01-abcdefghijklmnopqrstuvwxyz", "sk-ant-…wxyz"),
        ("sk-admin-abcdefghijklmnopqrstuvwxyz", "sk-admin-…wxyz"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-proj-…wxyz"),
        ("sk-0123456789abcdef0123456789abwxyz", "sk-…wxyz"),
        ("AIzaSyA-abcdefghijklmnopqrstuvwxyz", "AIza…wxyz"),
        ("0123456789abcdefwxyz", "…wxyz"),
        ("short123", "…"),
    ],
)
def test_mask(key: str, shown: str) -> None:
    assert keys.mask(key) == shown


def test_add_list_relabel_remove(memory_keyring: MemoryKeyring) -> None:
    keys.add("openrouter", FAKE_KEYS["openrouter"], "work")
    keys.add("openrouter", "sk-or-v1-second0000000000000000000000abcd", "home", low_balance=5)
    admin = keys.add("openai", FAKE_KEYS["openai"])
    assert admin.kind == "admin" and admin.mask == "sk-admin-…wxyz"
    listed = [(k.provider, k.label, k.kind, k.mask, k.low_balance) for k in keys.select()]
    assert listed == [
        ("openrouter", "work", "regular", "sk-or-…wxyz", None),
        ("openrouter", "home", "regular", "sk-or-…abcd", 5),
        ("openai", "default", "admin", "sk-admin-…wxyz", None),
    ]
    assert memory_keyring.store[("tokenclub", "openrouter/work")] == FAKE_KEYS["openrouter"]
    assert FAKE_KEYS["openrouter"] not in config.file().read_text()
    with pytest.raises(keys.VaultError, match="openrouter has 2 keys: say which with --label"):
        keys.remove("openrouter")
    keys.update("openrouter", "work", new_label="office")
    assert ("tokenclub", "openrouter/work") not in memory_keyring.store
    assert keys.get_secret(keys.select("openrouter", "office")[0]) == FAKE_KEYS["openrouter"]
    keys.remove("openrouter", "office")
    assert [k.label for k in keys.select("openrouter")] == ["home"]
    assert ("tokenclub", "openrouter/office") not in memory_keyring.store


def test_bad_input_is_refused_and_nothing_stored(memory_keyring: MemoryKeyring) -> None:
    for provider, key, label, why in [
        ("nope", FAKE_KEYS["openai"], "x", "unknown provider"),
        ("openai", "", "x", "no key was given"),
        ("openai", "sk-has space0000000000", "x", "spaces, control or non-ASCII characters"),
        ("openai", "sk-caf\u00e90000000000000000", "x", "non-ASCII"),
        ("openai", FAKE_KEYS["openai"], "../etc", "a label is"),
    ]:
        with pytest.raises(keys.VaultError, match=why):
            keys.add(provider, key, label)
    assert memory_keyring.store == {} and not config.file().exists()


class PlainText(KeyringBackend):
    """What keyrings.alt's plain-text file backend looks like to keyring: a module under keyrings.alt."""

    priority = 0.5  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("never stored")

    def delete_password(self, service: str, username: str) -> None:
        pass


PlainText.__module__ = "keyrings.alt.file"


@pytest.mark.parametrize("backend", ["fail", "plain"])
def test_non_recommended_backends_are_refused(backend: str) -> None:
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring() if backend == "fail" else PlainText())
    with pytest.raises(InsecureKeyring) as err:
        keys.add("deepseek", FAKE_KEYS["deepseek"])
    assert "nothing was stored" in str(err.value)
    assert "GNOME Keyring" in str(err.value) and "KeePassXC" in str(err.value)
    assert not config.file().exists()


def test_a_chainer_of_recommended_backends_is_accepted(memory_keyring: MemoryKeyring) -> None:
    class ChainerBackend:
        priority = 10
        backends = [memory_keyring]

    assert secrets.problem(ChainerBackend()) is None
    ChainerBackend.backends = [PlainText()]  # type: ignore[list-item]
    assert "not a secure store" in (secrets.problem(ChainerBackend()) or "")


def test_locked_keyring_stores_nothing(memory_keyring: MemoryKeyring) -> None:
    keys.add("deepseek", FAKE_KEYS["deepseek"], "old")
    before = config.file().read_bytes()
    memory_keyring.locked = True
    with pytest.raises(KeyringLockedError, match="the keyring is locked: unlock it"):
        keys.add("deepseek", "sk-another000000000000000000000000", "new")
    with pytest.raises(KeyringLockedError):
        keys.get_secret(keys.select("deepseek")[0])
    with pytest.raises(KeyringLockedError):
        keys.remove("deepseek", "old")
    assert config.file().read_bytes() == before


def test_log_reports_work_without_a_keyring(fixture_home: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    assert main(["report", "daily", "--json", "--home", str(fixture_home), "--db", str(tmp_path / "i.sqlite")]) == 0
    assert '"days"' in capsys.readouterr().out
    assert main(["keys", "list"]) == 0
    assert main(["provider", "list", "--db", str(tmp_path / "i.sqlite")]) == 0


@pytest.mark.parametrize("argv", [["keys", "add", "openai", FAKE_KEYS["openai"]], ["keys", "add", FAKE_KEYS["openai"]]])
def test_a_key_given_as_an_argument_is_refused_and_not_echoed(
    argv: list[str], memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "not shown" in err and FAKE_KEYS["openai"] not in err and "TESTKEY0" not in err
    assert memory_keyring.store == {}


def test_a_failed_save_leaves_keyring_and_list_as_they_were(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys.add("deepseek", FAKE_KEYS["deepseek"], "main")
    before = (dict(memory_keyring.store), config.file().read_bytes())

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keys, "save", full_disk)
    for label in ("main", "new"):  # replacing a key, and adding one
        with pytest.raises(OSError):
            keys.add("deepseek", "sk-replacement000000000000000000000", label)
        assert (memory_keyring.store, config.file().read_bytes()) == before
