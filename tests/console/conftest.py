"""A real OpenSSH server on 127.0.0.1, started by the tests, as the dedicated machine.

Throwaway host and user keys (ssh-keygen into a temporary folder), ``sshd -D -e`` as the
test's own user at a free high port, ``SetEnv HOME=<a fixture home>`` so that the server's
sessions see that home, and the server stopped (its whole process group) at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.console import hosts as host_registry
from app.console import ssh
from app.console.sessions import FINAL

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path


def fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


@dataclass
class Server:
    """One sshd: where it listens, its host key, the home its sessions get."""

    base: Path
    port: int
    home: Path
    host_key: Path
    user_key: Path
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_key.with_suffix(".pub"))

    def config(self) -> Path:
        cfg = self.base / "sshd_config"
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.base / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.base / 'authorized_keys'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "LogLevel ERROR",
            "MaxStartups 50",
            "MaxSessions 50",
            *self.extra,  # first: sshd keeps the first value of a keyword
            f"SetEnv HOME={self.home}",
        ]
        cfg.write_text("\n".join(lines) + "\n")
        return cfg

    def start(self) -> Server:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config())],
            stdin=subprocess.DEVNULL,
            stderr=open(self.base / "sshd.log", "ab"),  # noqa: SIM115 - the child keeps it
            start_new_session=True,
        )
        deadline = time.monotonic() + 60  # a ceiling: a loaded machine starts it late
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.base / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        # the shared connections' remote ends close when their masters exit (ControlPersist: 5 s in tests)

    def new_host_key(self) -> None:
        for p in (self.host_key, self.host_key.with_suffix(".pub")):
            p.unlink()
        _keygen(self.host_key)


def make_server(base: Path, user_key: Path, home: Path, extra: list[str] | None = None) -> Server:
    base.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(user_key.with_suffix(".pub"), base / "authorized_keys")
    host_key = _keygen(base / "host_ed25519")
    return Server(base, _free_port(), home, host_key, user_key, extra or [])


def needs_sshd() -> None:
    if not os.path.exists(SSHD) or shutil.which("ssh") is None:
        pytest.skip("OpenSSH server/client not installed (./dev.sh installs openssh-server openssh-client)")


@pytest.fixture(scope="session")
def user_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_sshd()
    return _keygen(tmp_path_factory.mktemp("userkey") / "id_ed25519")


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory, user_key: Path) -> Iterator[Server]:
    """The session's host: an empty home the tests fill and empty again."""
    base = tmp_path_factory.mktemp("sshd")
    server = make_server(base, user_key, base / "home").start()
    yield server
    server.stop()


@pytest.fixture
def close_shared_connections(tokenclub_home: Path) -> Iterator[None]:
    """No ControlMaster outlives its test (they would otherwise idle out after 5 s)."""
    yield
    try:
        targets = host_registry.load().values()
    except Exception:
        return
    for t in targets:
        ssh.stop_master(t)


@pytest.fixture
def host_home(sshd: Server) -> Iterator[Path]:
    """The host's home, emptied before and after each test."""
    for p in list(sshd.home.iterdir()):
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    yield sshd.home
    for p in list(sshd.home.iterdir()):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink()


@pytest.fixture
def workstation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home for the workstation's own agents (none of their logs)."""
    home = tmp_path / "workstation"
    home.mkdir()
    return home


def tokenclub(
    *args: str, home: Path, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line, in a child process (so kill -9 can be tested the same way)."""
    done = subprocess.run(
        [sys.executable, "-m", "app", *args, "--home", str(home)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TOKENCLUB_SSH_PERSIST": "5", **(env or {})},
    )
    if check and done.returncode != 0:
        raise AssertionError(f"tokenclub {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def add_host(
    server: Server, name: str, home: Path, *extra: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return tokenclub(
        "host",
        "add",
        name,
        "--ssh",
        "root@127.0.0.1",
        "--port",
        str(server.port),
        "--identity",
        str(server.user_key),
        "--accept-host-key",
        server.fingerprint,
        "--claude-sandbox",  # the tests' host logs in as root: Claude Code runs there with IS_SANDBOX=1
        *extra,
        home=home,
        check=check,
    )


def wait_ended(home: Path, rid: str, timeout: float = 60) -> dict[str, Any]:
    """The session list's row of run ``rid`` once it has ended (a ceiling, not a pace)."""
    deadline = time.monotonic() + timeout
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = json.loads(tokenclub("session", "list", "--json", home=home).stdout)["sessions"]
        row = next(r for r in rows if r["id"] == rid)
        if row["status"] in FINAL:
            return row
        time.sleep(0.3)
    raise AssertionError(f"timed out; last row: {row}")


def refresh_json(home: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    done = tokenclub("refresh", "--json", *extra, home=home)
    return json.loads(done.stdout)  # type: ignore[no-any-return]
