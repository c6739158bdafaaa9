"""Provider tests: a local HTTP server replaying documented responses, and keyrings (memory or real)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from keyring.backend import KeyringBackend

from tests.secret_service import secret_service, secret_service_session  # noqa: F401  (fixtures)

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


class Reply:
    """One canned answer: status, body (bytes), headers, and an optional delay before it."""

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        if raw is None:
            raw = json.dumps(body).encode() if body is not None else b""
        self.raw, self.status, self.delay = raw, status, delay
        self.headers = {"content-type": content_type, **(headers or {})}


class FakeApi:
    """Routes path -> replies (consumed in order; the last one repeats). Records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                with api.lock:
                    api.requests.append(
                        {
                            "path": parts.path,
                            "query": parse_qs(parts.query),
                            "raw": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                        }
                    )
                    queue = api.routes.get(parts.path)
                    reply = (
                        (queue.pop(0) if len(queue) > 1 else queue[0])
                        if queue
                        else Reply({"error": {"message": f"no route {parts.path}"}}, 404)
                    )
                if reply.delay:
                    threading.Event().wait(reply.delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(reply.raw)))
                self.end_headers()
                self.wfile.write(reply.raw)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.routes[path] = list(replies)

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    try:
        yield server
    finally:
        server.close()


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
