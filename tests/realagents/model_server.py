"""A local model server that the real agent CLIs talk to: it answers the four wire APIs they use
and records the usage it returned on every call, so a test can hold TokenClub's counts to it.

Every call gets its own distinctive numbers (call ``n`` spends ``in`` = 1000 + 17n fresh input,
``cr`` = 5000 + 31n cached, ``out`` = 40 + 3n output of which ``rsn`` = 10 + n reasoning, except
on Anthropic, which has ``cw`` = 300 + 7n cache written and no reasoning count), so a call counted
twice, dropped or put in the wrong bucket shows in the sums. The reply is a short plain answer with
no tool call, so each CLI ends its turn. ``usage`` on a recorded call is in TokenClub's buckets:
``in`` excludes the cache, ``out`` includes the reasoning.

    with ModelServer() as server:
        run_the_cli(base_url=server.url)
        server.calls  # [Call(api="anthropic", model=..., stream=True, usage={...}), ...]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from app.core.model import BUCKETS

ANSWER = "Four."
THOUGHT = "Two and two."
MAX_BODY = 32 << 20  # a request body above this is refused, never read whole


@dataclass(frozen=True)
class Call:
    """One answered model call: the wire API, the path, the model asked for, and the usage returned."""

    api: str  # "anthropic" | "responses" | "chat" | "gemini"
    path: str
    model: str
    stream: bool
    usage: dict[str, int]  # in TokenClub's buckets: in, cw, cr, out, rsn
    wire_usage: dict[str, Any]  # exactly what the response carried
    request: dict[str, Any] = field(repr=False)


def usage_for(n: int, api: str) -> dict[str, int]:
    """The distinctive usage of the ``n``-th call (1-based) on ``api``.

    Only Anthropic's usage has a cache-write count, and only Anthropic's has no reasoning count
    (its thinking is inside ``output_tokens``, unseparated)."""
    anthropic = api == "anthropic"
    return {
        "in": 1000 + 17 * n,
        "cw": 300 + 7 * n if anthropic else 0,
        "cr": 5000 + 31 * n,
        "out": 40 + 3 * n,
        "rsn": 0 if anthropic else 10 + n,
    }


class ModelServer:
    """A threaded HTTP server on 127.0.0.1 and a free port; a context manager that stops it on exit."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.requests: list[tuple[str, str]] = []  # every (method, path), usage-bearing or not
        self._lock = threading.Lock()
        self._numbered = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="model-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def take_usage(self, api: str) -> tuple[int, dict[str, int]]:
        """Reserve the next call number and its usage (calls may arrive in parallel)."""
        with self._lock:
            self._numbered += 1
            return self._numbered, usage_for(self._numbered, api)

    def totals(self, calls: list[Call] | None = None) -> dict[str, int]:
        """The calls' usage summed per bucket."""
        sums = dict.fromkeys(BUCKETS, 0)
        for call in self.calls if calls is None else calls:
            for bucket in BUCKETS:
                sums[bucket] += call.usage[bucket]
        return sums


# --- the four wire shapes -------------------------------------------------------------------


def anthropic_usage(u: dict[str, int]) -> dict[str, int]:
    # Anthropic has no reasoning count of its own: thinking is inside output_tokens
    return {
        "input_tokens": u["in"],
        "cache_creation_input_tokens": u["cw"],
        "cache_read_input_tokens": u["cr"],
        "output_tokens": u["out"],
    }


def responses_usage(u: dict[str, int]) -> dict[str, Any]:
    return {
        "input_tokens": u["in"] + u["cr"],
        "input_tokens_details": {"cached_tokens": u["cr"]},
        "output_tokens": u["out"],
        "output_tokens_details": {"reasoning_tokens": u["rsn"]},
        "total_tokens": u["in"] + u["cr"] + u["out"],
    }


def chat_usage(u: dict[str, int]) -> dict[str, Any]:
    return {
        "prompt_tokens": u["in"] + u["cr"],
        "prompt_tokens_details": {"cached_tokens": u["cr"]},
        "completion_tokens": u["out"],
        "completion_tokens_details": {"reasoning_tokens": u["rsn"]},
        "total_tokens": u["in"] + u["cr"] + u["out"],
    }


def gemini_usage(u: dict[str, int]) -> dict[str, int]:
    # Gemini counts thoughts beside the candidates, and the prompt with the cached part in it
    prompt, candidates = u["in"] + u["cr"], u["out"] - u["rsn"]
    return {
        "promptTokenCount": prompt,
        "cachedContentTokenCount": u["cr"],
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": u["rsn"],
        "totalTokenCount": prompt + candidates + u["rsn"],
    }


def _sse(events: list[tuple[str | None, Any]]) -> Iterator[bytes]:
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        body = data if isinstance(data, str) else json.dumps(data)
        yield f"{head}data: {body}\n\n".encode()


def anthropic_reply(model: str, u: dict[str, int], n: int, stream: bool) -> tuple[dict[str, Any], list[bytes] | None]:
    wire = anthropic_usage(u)
    msg_id = f"msg_local{n:04d}"
    if not stream:
        body = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": wire,
        }
        return body, None
    start_usage = {**wire, "output_tokens": 1}  # the API's own habit: output arrives in message_delta
    events: list[tuple[str | None, Any]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        ),
        # a thinking block before the text, as a reply with extended thinking has: Claude Code writes
        # one log line per content block, each with the message's id and usage
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": THOUGHT}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": ANSWER}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": wire},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return wire, list(_sse(events))


def responses_reply(model: str, u: dict[str, int], n: int, stream: bool) -> tuple[dict[str, Any], list[bytes] | None]:
    wire = responses_usage(u)
    resp_id, item_id = f"resp_local{n:04d}", f"msg_local{n:04d}"
    item = {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
    }
    done = {
        "id": resp_id,
        "object": "response",
        "created_at": 1_800_000_000 + n,
        "status": "completed",
        "model": model,
        "output": [item],
        "usage": wire,
    }
    if not stream:
        return done, None
    events: list[tuple[str | None, Any]] = [
        (
            "response.created",
            {"type": "response.created", "response": {**done, "status": "in_progress", "output": [], "usage": None}},
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": ANSWER,
            },
        ),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed", "response": done}),
    ]
    return wire, list(_sse(events))


def chat_reply(model: str, u: dict[str, int], n: int, stream: bool) -> tuple[dict[str, Any], list[bytes] | None]:
    wire = chat_usage(u)
    chat_id, created = f"chatcmpl-local{n:04d}", 1_800_000_000 + n
    if not stream:
        body = {
            "id": chat_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": wire,
        }
        return body, None

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        body = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return body

    events: list[tuple[str | None, Any]] = [
        (None, chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])),
        (None, chunk([{"index": 0, "delta": {"content": ANSWER}, "finish_reason": None}])),
        (None, chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        (None, chunk([], wire)),  # stream_options.include_usage: the usage comes in a last, choice-less chunk
        (None, "[DONE]"),
    ]
    return wire, list(_sse(events))


def shaped(schema: Any, depth: int = 0) -> Any:
    """The plainest value a JSON schema accepts: a CLI's helper call (Gemini CLI's model router)
    that asks for JSON gets an answer it can parse, not a retry loop."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    kind = str(schema.get("type", "object")).lower()
    if kind == "object":
        props = schema.get("properties")
        return {k: shaped(v, depth + 1) for k, v in (props.items() if isinstance(props, dict) else ())}
    low = schema.get("minimum", 1)  # Gemini CLI's router wants a complexity score of at least 1
    return {"string": "simple", "array": [], "boolean": False, "integer": low, "number": low}.get(kind)


def gemini_text(request: dict[str, Any]) -> str:
    config = request.get("generationConfig")
    config = config if isinstance(config, dict) else {}
    if config.get("responseMimeType") != "application/json":
        return ANSWER
    return json.dumps(shaped(config.get("responseJsonSchema") or config.get("responseSchema") or {}))


def gemini_reply(
    model: str, u: dict[str, int], n: int, stream: bool, text: str = ANSWER
) -> tuple[dict[str, Any], list[bytes] | None]:
    wire = gemini_usage(u)
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": wire,
        "modelVersion": model,
        "responseId": f"local{n:04d}",
    }
    if not stream:
        return body, None
    return wire, list(_sse([(None, body)]))


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return  # quiet: the recorded calls are the log

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            server.requests.append(("GET", path))
            if path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [], "models": []})
            else:
                self._json(404, {"error": {"message": f"no such path: {path}", "type": "not_found"}})

        def do_HEAD(self) -> None:
            server.requests.append(("HEAD", self.path))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            split = urlsplit(self.path)
            path = split.path
            server.requests.append(("POST", path))
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(413, {"error": {"message": "request too large"}})
                return
            raw = self.rfile.read(length) if length else b""
            try:
                request = json.loads(raw) if raw else {}
            except ValueError:
                request = {}
            if not isinstance(request, dict):
                request = {}
            if path.endswith(":countTokens") or path.endswith("/count_tokens"):
                self._json(200, {"totalTokens": 100, "input_tokens": 100})
                return
            if path.endswith("/messages"):
                api, reply, stream = "anthropic", anthropic_reply, bool(request.get("stream"))
                model = str(request.get("model") or "")
            elif path.endswith("/responses"):
                api, reply, stream = "responses", responses_reply, bool(request.get("stream"))
                model = str(request.get("model") or "")
            elif path.endswith("/chat/completions"):
                api, reply, stream = "chat", chat_reply, bool(request.get("stream"))
                model = str(request.get("model") or "")
            elif ":generateContent" in path or ":streamGenerateContent" in path:
                api, reply = "gemini", gemini_reply
                stream = ":streamGenerateContent" in path
                model = path.rsplit("/", 1)[-1].split(":", 1)[0]
            else:
                self._json(404, {"error": {"message": f"no such path: {path}", "type": "not_found"}})
                return
            n, usage = server.take_usage(api)
            if api == "gemini":
                wire, chunks = gemini_reply(model, usage, n, stream, gemini_text(request))
            else:
                wire, chunks = reply(model, usage, n, stream)
            if chunks is None:
                self._json(200, wire)
                wire = wire.get("usage") or wire.get("usageMetadata") or {}
            else:
                self._stream(chunks)
            server.record(Call(api, path, model, stream, usage, wire, request))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, chunks: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for piece in chunks:
                self.wfile.write(piece)
                self.wfile.flush()
            self.close_connection = True

    return Handler
