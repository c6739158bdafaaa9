"""A real Secret Service for tests: a private D-Bus session bus and an unlocked GNOME Keyring on it.

Shared by every test that needs the OS keyring (the key vault, the club's signing key).
Use the ``secret_service`` fixture (import it into a conftest or test module): it starts
``dbus-daemon --session`` and ``gnome-keyring-daemon --unlock`` (password on stdin) in a
temporary home once per test session, points ``DBUS_SESSION_BUS_ADDRESS`` at it for this
process and its children, selects keyring's Secret Service backend, and stops both
daemons at the end. The user's own keyring is never touched.

CI installs ``dbus-daemon`` and ``gnome-keyring`` (dev.sh APT_PACKAGES); where they are
missing on Linux the fixture fails rather than skipping, so the keyring is never untested
by accident. Set ``TOKENCLUB_SKIP_SECRET_SERVICE=1`` to skip those tests instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORD = b"tokenclub-test-keyring"
START_TIMEOUT_S = 60.0


class SecretService:
    """A running private bus and keyring daemon."""

    def __init__(self, address: str, bus_pid: int, keyring_pid: int | None, home: Path) -> None:
        self.address = address
        self.bus_pid = bus_pid
        self.keyring_pid = keyring_pid
        self.home = home

    def env(self) -> dict[str, str]:
        """Variables a child process needs to reach this Secret Service (and nothing of the user's)."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}


def _missing() -> list[str]:
    return [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(tool) is None]


@contextlib.contextmanager
def running(base: Path | None = None) -> Iterator[SecretService]:
    """Start the bus and the unlocked keyring (their files under ``base``, else a temporary folder); stop both."""
    home = Path(tempfile.mkdtemp(prefix="tc-secret-service-", dir=base))
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    (home / "data").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    # in the foreground, and told to end with this process: a test run that aborts leaves no bus behind
    # (and the keyring daemon leaves with its bus)
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
    )
    bus_pid = bus.pid
    keyring_pid: int | None = None
    try:
        address = _first_line(bus)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
            env=env, input=PASSWORD, capture_output=True, timeout=START_TIMEOUT_S, check=True,
        )
        for line in daemon.stdout.decode(errors="replace").splitlines():
            if line.startswith("GNOME_KEYRING_PID="):
                keyring_pid = int(line.split("=", 1)[1])
        service = SecretService(address, bus_pid, keyring_pid, home)
        _wait_ready(service)
        yield service
    finally:
        if keyring_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(keyring_pid, signal.SIGTERM)
        bus.terminate()
        try:
            bus.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            bus.kill()
            bus.wait(START_TIMEOUT_S)
        if bus.stdout is not None:
            bus.stdout.close()
        shutil.rmtree(home, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it ends (Linux ``PR_SET_PDEATHSIG``)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _first_line(proc: subprocess.Popen[bytes]) -> str:
    """The bus address dbus-daemon prints first (bounded wait)."""
    import select

    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    while b"\n" not in seen and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    if b"\n" not in seen:
        raise RuntimeError("dbus-daemon printed no address")
    return seen.split(b"\n", 1)[0].decode()


def _wait_ready(service: SecretService) -> None:
    """Until the default collection answers (bounded)."""
    import secretstorage

    deadline = time.monotonic() + START_TIMEOUT_S
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = service.address
    try:
        while True:
            try:
                with contextlib.closing(secretstorage.dbus_init()) as conn:
                    if not secretstorage.get_default_collection(conn).is_locked():
                        return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved


@pytest.fixture(scope="session")
def secret_service_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    if os.environ.get("TOKENCLUB_SKIP_SECRET_SERVICE") == "1":
        pytest.skip("TOKENCLUB_SKIP_SECRET_SERVICE=1")
    if not sys.platform.startswith("linux"):
        pytest.skip("the Secret Service fixture runs on Linux (macOS and Windows have their own keyrings)")
    missing = _missing()
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: install dbus-daemon and gnome-keyring (./dev.sh does)")
    with running(tmp_path_factory.mktemp("secret-service")) as service:  # pytest keeps and prunes the folder
        yield service


@pytest.fixture
def secret_service(secret_service_session: SecretService, monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretService]:
    """This test (and its children) on the private Secret Service, through keyring's SecretService backend."""
    import keyring
    from keyring.backends import SecretService as backend

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service_session.address)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    previous: Any = keyring.get_keyring()
    keyring.set_keyring(backend.Keyring())
    try:
        yield secret_service_session
    finally:
        keyring.set_keyring(previous)
