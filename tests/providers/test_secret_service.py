"""A real Secret Service (GNOME Keyring on a private D-Bus): store, read back, remove."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from app.core.secrets import secure_keyring
from app.providers import keys
from tests.providers.conftest import FAKE_KEYS
from tests.secret_service import SecretService, _missing


def test_store_read_back_remove(secret_service: SecretService) -> None:
    backend = secure_keyring()
    assert type(backend).__module__ == "keyring.backends.SecretService"
    info = keys.add("moonshot", FAKE_KEYS["moonshot"], "ss-test")
    assert keys.get_secret(info) == FAKE_KEYS["moonshot"]
    assert keyring.get_password("tokenclub", "moonshot/ss-test") == FAKE_KEYS["moonshot"]
    keys.remove("moonshot", "ss-test")
    assert keyring.get_password("tokenclub", "moonshot/ss-test") is None


def test_cli_adds_from_stdin_into_the_secret_service(secret_service: SecretService) -> None:
    env = {**os.environ, **secret_service.env()}
    run = subprocess.run(
        [sys.executable, "-m", "app", "keys", "add", "deepseek", "--label", "ss-cli"],
        input=FAKE_KEYS["deepseek"] + "\n", capture_output=True, text=True, env=env, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "stored deepseek/ss-cli (regular key sk-…wxyz) in the keyring\n"
    assert keyring.get_password("tokenclub", "deepseek/ss-cli") == FAKE_KEYS["deepseek"]
    run = subprocess.run([sys.executable, "-m", "app", "keys", "remove", "deepseek", "--label", "ss-cli"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert keyring.get_password("tokenclub", "deepseek/ss-cli") is None


def test_a_locked_secret_service_stores_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Its own daemon (locking the shared one would need a prompt to unlock it again)."""
    import contextlib

    import secretstorage
    from keyring.backends import SecretService as backend

    from app.core.secrets import KeyringLockedError
    from app.providers import config, sync
    from app.providers.store import open_index
    from tests.secret_service import running

    if _missing():
        pytest.skip("no dbus-daemon or gnome-keyring-daemon (the shared fixture reports it)")
    with running(tmp_path) as service:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        keyring.set_keyring(backend.Keyring())
        keys.add("deepseek", FAKE_KEYS["deepseek"], "locked")
        before = config.file().read_bytes()
        with contextlib.closing(secretstorage.dbus_init()) as conn:
            secretstorage.get_default_collection(conn).lock()
        with pytest.raises(KeyringLockedError, match="^the keyring is locked: unlock it"):
            keys.add("deepseek", FAKE_KEYS["deepseek"], "another")
        with pytest.raises(KeyringLockedError):
            keys.remove("deepseek", "locked")
        assert config.file().read_bytes() == before
        db = open_index(tmp_path / "index.sqlite")
        [result] = sync.sync(db)
        db.close()
        assert not result.ok and result.message.startswith("deepseek: the keyring is locked")


def test_cli_prompt_at_a_terminal_hides_the_key(secret_service: SecretService) -> None:
    """``keys add`` at a terminal (a pty from util-linux ``script``): the prompt does not echo the key."""
    import select
    import shlex
    import shutil
    import time

    if shutil.which("script") is None:
        pytest.skip("util-linux script is not installed")
    env = {**os.environ, **secret_service.env()}
    command = shlex.join([sys.executable, "-m", "app", "keys", "add", "gemini", "--label", "tty"])
    proc = subprocess.Popen(["script", "-qec", command, "/dev/null"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 30
    try:
        while b"(input hidden): " not in seen and time.monotonic() < deadline:  # type only once echo is off
            if select.select([proc.stdout], [], [], 0.5)[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        assert b"Google Gemini API key (input hidden): " in seen
        proc.stdin.write(FAKE_KEYS["gemini"].encode() + b"\n")
        proc.stdin.flush()
        while time.monotonic() < deadline and select.select([proc.stdout], [], [], 0.5)[0]:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert proc.wait(max(1.0, deadline - time.monotonic())) == 0, seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert b"stored gemini/tty (regular key AIza\xe2\x80\xa6wxyz) in the keyring" in seen
    assert FAKE_KEYS["gemini"].encode() not in seen and b"TESTKEY0" not in seen
    assert keyring.get_password("tokenclub", "gemini/tty") == FAKE_KEYS["gemini"]
