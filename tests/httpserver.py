"""A local HTTP server on a free loopback port, and one that replays canned answers by path."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit


class LocalServer:
    """Serves ``handler`` on 127.0.0.1 from its own thread until ``close``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Closes(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closes)


def serving(server: S) -> Iterator[S]:
    """A fixture's body: the server for the test, closed after it however the test ends."""
    try:
        yield server
    finally:
        server.close()


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


class FakeApi(LocalServer):
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

        super().__init__(Handler)

    def route(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.routes[path] = list(replies)

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]
