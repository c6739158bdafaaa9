#!/usr/bin/env python3
"""A stand-in for five agent CLIs in their headless modes, for the console's tests and bench.

Installed (copied, mode 755) under the names ``claude``, ``codex``, ``gemini``, ``opencode`` and
``qwen``; the name it runs under picks the CLI. Like the real CLIs it reads the prompt from stdin
(all of it, first), streams that CLI's structured events on stdout, and writes each model call to
the agent's own session log under $HOME (or where that CLI's own variable moves it), with the same
ids as in the stream. As with the real CLIs, Codex's and Gemini's streams report usage only at the
end of the run (the logs have it per call). Only the standard library, Python 3.8+.

Directive lines in the prompt, ``STANDIN key=value …``, choose what it does:

* ``steps=N`` calls (default 3), ``delay=S`` seconds apart (0.05), each ``usage=IN,CW,CR,OUT``
  tokens (100,50,1000,20). Codex, Gemini and Qwen have no cache-write field: their cache writes
  are plain prompt tokens, so CW is reported there as fresh input.
* ``mode=`` normal | hang (idle after the first event) | flood (200,000 non-usage lines after the
  calls) | exit-now (exit 3 before any event) | not-logged-in | no-result (no final result) |
  burn (calls until killed) | wait-input (after the first event, block reading the pipe ``fifo=``).
* ``grandchild=1``: a detached grandchild in its own session that ignores hangup and TERM
  (``grandchild=hup``: hangup only); ``ignore-term=1``: the stand-in itself ignores TERM.
* ``touch=NAME`` appends a line to NAME in the work directory after the calls; ``commit=1`` then
  commits everything if that is a git work tree; ``exit=N`` ends with code N and a failure result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

NAME = os.path.basename(sys.argv[0])
VALUED = ("--output-format", "-o", "--format", "--model", "-m")  # options that take a value
FAIL = "the model refused"  # what a failed run says
SONNET = (3e-6, 3.75e-6, 0.3e-6, 15e-6)  # USD per token (in, cw, cr, out), for the CLIs that report a cost


def now_iso(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t))}.{int(t * 1000) % 1000:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(doc: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the CLIs write it (and whatever the host's locale)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def emit(doc: dict[str, Any]) -> None:
    sys.stdout.buffer.write(dumps(doc) + b"\n")
    sys.stdout.buffer.flush()  # a tailer must see each event as it happens


def append(path: str, doc: dict[str, Any]) -> None:
    with open(path, "ab") as f:
        f.write(dumps(doc) + b"\n")


def replace(path: str, doc: dict[str, Any]) -> None:
    """Rewrite a whole-document file so that a reader never sees half of it."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(dumps(doc))
    os.replace(tmp, path)


def uuid7() -> str:
    """Codex's thread ids are UUIDv7 (time-ordered); Python 3.8 has no uuid7()."""
    rand = uuid.uuid4().int
    version, rand_a, variant, rand_b = 0x7 << 76, ((rand >> 64) & 0xFFF) << 64, 0b10 << 62, rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=(now_ms() << 80) | version | rand_a | variant | rand_b))


def cost(inp: int, cw: int, cr: int, out: int) -> float:
    rate_in, rate_cw, rate_cr, rate_out = SONNET
    return round(inp * rate_in + cw * rate_cw + cr * rate_cr + out * rate_out, 6)


class Agent:
    """One CLI's run: ``start`` (first events), ``call`` per model call, ``finish`` (final result)."""

    model = ""
    # where the CLI keeps its data: (the variable that moves it, the folder under that, the default under ~)
    data = ("", "", "")

    def __init__(self, model: str | None, usage: list[int], prompt: str) -> None:
        self.model = model or self.model
        self.inp, self.cw, self.cr, self.out = usage
        self.prompt = prompt
        self.cwd = os.getcwd()
        env, under, default = self.data
        moved = os.environ.get(env)
        self.root = os.path.join(moved, under) if moved else os.path.join(os.path.expanduser("~"), default)
        self.calls = 0
        self.t0 = time.time()

    @property
    def prompt_tokens(self) -> int:
        """Input as the OpenAI- and Gemini-shaped formats count it: everything sent, cache reads included."""
        return self.inp + self.cw + self.cr

    def start(self) -> None:
        raise NotImplementedError

    def call(self, last: bool) -> None:
        raise NotImplementedError

    def finish(self, code: int) -> None:
        raise NotImplementedError

    def not_logged_in(self) -> int:
        raise NotImplementedError

    def filler(self, text: str) -> dict[str, Any]:
        """A usage-free event of this format carrying ``text``, for the flood."""
        raise NotImplementedError

    def folder(self, *parts: str) -> str:
        path = os.path.join(self.root, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def duration_ms(self) -> int:
        return int((time.time() - self.t0) * 1000)


class Claude(Agent):
    """``claude -p --output-format stream-json --verbose``; log: ~/.claude/projects/<slug>/<session>.jsonl."""

    model = "claude-sonnet-4-5-20250929"
    version = "2.0.76"
    data = ("CLAUDE_CONFIG_DIR", "", ".claude")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.session = str(uuid.uuid4())
        slug = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)  # Claude Code's project folder name
        self.log = os.path.join(self.folder("projects", slug), self.session + ".jsonl")
        self.parent: str | None = None

    def _record(self, kind: str, message: dict[str, Any], **extra: Any) -> str:
        line_id = str(uuid.uuid4())
        line = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": self.version,
            "gitBranch": "",
            "message": message,
            **extra,
            "type": kind,
            "uuid": line_id,
            "timestamp": now_iso(),
        }
        append(self.log, line)
        self.parent = line_id
        return line_id

    def _assistant(self, msg: dict[str, Any], **extra: Any) -> None:
        line_id = self._record("assistant", msg, **extra)
        # the stream's copy carries the usage of the message's start (output 1), its log the final one
        started = {**msg, "usage": {**msg["usage"], "output_tokens": min(1, msg["usage"]["output_tokens"])}}
        event = {"type": "assistant", "message": started, "parent_tool_use_id": None, "session_id": self.session}
        emit({**event, "uuid": line_id})

    def start(self) -> None:
        tools = ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "WebFetch", "TodoWrite"]
        emit(
            {
                "type": "system",
                "subtype": "init",
                "cwd": self.cwd,
                "session_id": self.session,
                "tools": tools,
                "mcp_servers": [],
                "model": self.model,
                "permissionMode": "bypassPermissions",
                "slash_commands": [],
                "apiKeySource": "none",
                "claude_code_version": self.version,
                "output_style": "default",
                "uuid": str(uuid.uuid4()),
            }
        )
        self._record("user", {"role": "user", "content": self.prompt})

    def _usage(self, n: int) -> dict[str, Any]:
        return {
            "input_tokens": n * self.inp,
            "cache_creation_input_tokens": n * self.cw,
            "cache_read_input_tokens": n * self.cr,
            "output_tokens": n * self.out,
        }

    def call(self, last: bool) -> None:
        self.calls += 1
        msg_id, request = "msg_01" + uuid.uuid4().hex[:24], "req_011C" + uuid.uuid4().hex[:20]
        usage = {
            **self._usage(1),
            "cache_creation": {"ephemeral_5m_input_tokens": self.cw, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
        }
        blocks = (
            {"type": "thinking", "thinking": f"planning step {self.calls}", "signature": uuid.uuid4().hex},
            {"type": "text", "text": f"step {self.calls} done"},
        )
        # one event and one log line per content block, each with the whole message's id and usage
        for block in blocks:
            msg = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [block],
                "stop_reason": "end_turn" if last else "tool_use",
                "stop_sequence": None,
                "usage": usage,
            }
            self._assistant(msg, requestId=request)

    def finish(self, code: int) -> None:
        n = self.calls
        totals = self._usage(n)
        usd = cost(n * self.inp, n * self.cw, n * self.cr, n * self.out)
        model_usage = {
            "inputTokens": totals["input_tokens"],
            "outputTokens": totals["output_tokens"],
            "cacheReadInputTokens": totals["cache_read_input_tokens"],
            "cacheCreationInputTokens": totals["cache_creation_input_tokens"],
            "webSearchRequests": 0,
            "costUSD": usd,
            "contextWindow": 200000,
        }
        # a failed API call still ends with subtype "success": is_error says it, result says why
        emit(
            {
                "type": "result",
                "subtype": "success",
                "is_error": code != 0,
                "duration_ms": self.duration_ms(),
                "duration_api_ms": self.duration_ms(),
                "num_turns": n,
                "result": f"step {n} done" if code == 0 else f"API Error: {FAIL}",
                "session_id": self.session,
                "total_cost_usd": usd,
                "usage": {**totals, "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"},
                "modelUsage": {self.model: model_usage},
                "permission_denials": [],
                "uuid": str(uuid.uuid4()),
            }
        )

    def not_logged_in(self) -> int:
        text = "Invalid API key · Please run /login"
        self.start()
        zero = self._usage(0)
        msg = {
            "id": str(uuid.uuid4()),
            "type": "message",
            "role": "assistant",
            "model": "<synthetic>",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "usage": zero,
        }
        self._assistant(msg, isApiErrorMessage=True)
        emit(
            {
                "type": "result",
                "subtype": "success",
                "is_error": True,
                "duration_ms": self.duration_ms(),
                "duration_api_ms": 0,
                "num_turns": 1,
                "result": text,
                "session_id": self.session,
                "total_cost_usd": 0,
                "usage": zero,
                "modelUsage": {},
                "permission_denials": [],
                "uuid": str(uuid.uuid4()),
            }
        )
        return 1

    def filler(self, text: str) -> dict[str, Any]:
        result = {"type": "tool_result", "tool_use_id": "toolu_01" + "0" * 22, "content": text}
        msg = {"role": "user", "content": [result]}
        return {"type": "user", "message": msg, "parent_tool_use_id": None, "session_id": self.session}


class Codex(Agent):
    """``codex exec --json``; log: ~/.codex/sessions/Y/M/D/rollout-<local time>-<thread>.jsonl.

    One ``codex exec`` is one turn: its model calls show as items, and the single
    ``turn.completed`` at the end carries the thread's cumulative usage.
    """

    model = "gpt-5-codex"
    version = "0.63.0"
    data = ("CODEX_HOME", "", ".codex")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.thread = uuid7()
        local = time.localtime(self.t0)  # Codex names its folders and files in local time
        folder = self.folder("sessions", *time.strftime("%Y %m %d", local).split())
        self.log = os.path.join(folder, f"rollout-{time.strftime('%Y-%m-%dT%H-%M-%S', local)}-{self.thread}.jsonl")
        self.items = 0

    def _record(self, kind: str, payload: dict[str, Any]) -> None:
        append(self.log, {"timestamp": now_iso(), "type": kind, "payload": payload})

    def _usage(self, n: int) -> dict[str, int]:
        inp, out = n * self.prompt_tokens, n * self.out
        return {
            "input_tokens": inp,
            "cached_input_tokens": n * self.cr,
            "output_tokens": out,
            "reasoning_output_tokens": 0,
            "total_tokens": inp + out,
        }

    def start(self) -> None:
        emit({"type": "thread.started", "thread_id": self.thread})
        emit({"type": "turn.started"})
        meta = {
            "id": self.thread,
            "timestamp": now_iso(self.t0),
            "cwd": self.cwd,
            "originator": "codex_exec",
            "cli_version": self.version,
            "instructions": None,
            "source": "exec",
            "model_provider": "openai",
        }
        self._record("session_meta", meta)
        user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": self.prompt}]}
        self._record("response_item", user)
        context = {
            "cwd": self.cwd,
            "approval_policy": "never",
            "sandbox_policy": {"type": "danger-full-access"},
            "model": self.model,
            "effort": "medium",
            "summary": "auto",
        }
        self._record("turn_context", context)
        self._record("event_msg", {"type": "user_message", "message": self.prompt, "images": []})

    def call(self, last: bool) -> None:
        self.calls += 1
        text = f"step {self.calls} done"
        emit({"type": "item.completed", "item": {"id": f"item_{self.items}", "type": "agent_message", "text": text}})
        self.items += 1
        reply = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
        self._record("response_item", reply)
        self._record("event_msg", {"type": "agent_message", "message": text})
        info = {
            "total_token_usage": self._usage(self.calls),
            "last_token_usage": self._usage(1),
            "model_context_window": 272000,
        }
        self._record("event_msg", {"type": "token_count", "info": info, "rate_limits": None})

    def finish(self, code: int) -> None:
        if code == 0:
            self._record("event_msg", {"type": "task_complete", "last_agent_message": f"step {self.calls} done"})
            usage = self._usage(self.calls)
            keep = ("input_tokens", "cached_input_tokens", "output_tokens")
            emit({"type": "turn.completed", "usage": {k: usage[k] for k in keep}})
        else:
            self._record("event_msg", {"type": "error", "message": FAIL})
            emit({"type": "error", "message": FAIL})
            emit({"type": "turn.failed", "error": {"message": FAIL}})

    def not_logged_in(self) -> int:
        sys.stderr.write("Not logged in. Run `codex login` first.\n")
        return 1

    def filler(self, text: str) -> dict[str, Any]:
        item = {
            "id": "item_0",
            "type": "command_execution",
            "command": "bash -lc 'cargo test'",
            "aggregated_output": text,
            "exit_code": None,
            "status": "in_progress",
        }
        return {"type": "item.updated", "item": item}


class Gemini(Agent):
    """``gemini --output-format stream-json``; log: ~/.gemini/tmp/<project>/chats/session-<UTC>-<id8>.jsonl.

    The stream reports usage only in the final ``result`` (the session's totals).
    """

    model = "gemini-2.5-pro"
    data = ("GEMINI_CLI_HOME", ".gemini", ".gemini")  # the variable replaces the home folder

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.session = str(uuid.uuid4())
        project = self._project_dir()
        chats = self.folder("tmp", project, "chats")
        stamp = time.strftime("%Y-%m-%dT%H-%M", time.gmtime(self.t0))
        self.log = os.path.join(chats, f"session-{stamp}-{self.session[:8]}.jsonl")

    def _project_dir(self) -> str:
        """The project's short name under tmp/, claimed with ``.project_root`` and kept in projects.json."""
        base = re.sub(r"[^a-z0-9]+", "-", os.path.basename(self.cwd).lower()).strip("-") or "project"
        tmp = self.folder("tmp")
        for n in range(100):
            slug = base if n == 0 else f"{base}-{n}"
            owner = os.path.join(tmp, slug, ".project_root")
            try:
                with open(owner) as f:
                    if f.read().strip() != self.cwd:
                        continue
            except OSError:
                os.makedirs(os.path.dirname(owner), exist_ok=True)
                with open(owner, "w") as f:
                    f.write(self.cwd)
            break
        registry = os.path.join(self.root, "projects.json")
        try:
            with open(registry) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = {}
        projects = doc.get("projects") if isinstance(doc.get("projects"), dict) else {}
        replace(registry, {**doc, "projects": {**projects, self.cwd: slug}})
        return slug

    def _tokens(self) -> dict[str, int]:
        return {
            "input": self.prompt_tokens,
            "output": self.out,
            "cached": self.cr,
            "thoughts": 0,
            "tool": 0,
            "total": self.prompt_tokens + self.out,
        }

    def start(self) -> None:
        emit({"type": "init", "timestamp": now_iso(), "session_id": self.session, "model": self.model})
        emit({"type": "message", "timestamp": now_iso(), "role": "user", "content": self.prompt})
        meta = {
            "sessionId": self.session,
            "projectHash": hashlib.sha256(self.cwd.encode()).hexdigest(),
            "startTime": now_iso(self.t0),
            "lastUpdated": now_iso(),
            "kind": "main",
        }
        append(self.log, meta)
        user = {"id": str(uuid.uuid4()), "timestamp": now_iso(), "type": "user", "content": [{"text": self.prompt}]}
        append(self.log, user)

    def call(self, last: bool) -> None:
        self.calls += 1
        text = f"step {self.calls} done"
        emit({"type": "message", "timestamp": now_iso(), "role": "assistant", "content": text, "delta": True})
        msg: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "timestamp": now_iso(),
            "type": "gemini",
            "content": text,
            "thoughts": [],
            "tokens": None,
            "model": self.model,
        }
        append(self.log, msg)  # the recorder appends a message again when its tokens arrive: the last copy wins
        append(self.log, {**msg, "tokens": self._tokens()})
        append(self.log, {"$set": {"lastUpdated": now_iso()}})

    def finish(self, code: int) -> None:
        n = self.calls
        stats = {
            "total_tokens": n * (self.prompt_tokens + self.out),
            "input_tokens": n * self.prompt_tokens,  # the prompt count, cache reads included
            "output_tokens": n * self.out,
            "cached": n * self.cr,
            "input": n * (self.inp + self.cw),
            "duration_ms": self.duration_ms(),
            "tool_calls": 0,
        }
        event: dict[str, Any] = {"type": "result", "timestamp": now_iso(), "status": "error" if code else "success"}
        if code != 0:
            event["error"] = {"type": "Error", "message": FAIL}
        emit({**event, "stats": stats})

    def not_logged_in(self) -> int:
        sys.stderr.write(
            "Please set an Auth method in your settings.json or specify one of the following environment"
            " variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA\n"
        )
        return 41  # Gemini CLI's exit code for an authentication failure

    def filler(self, text: str) -> dict[str, Any]:
        return {"type": "message", "timestamp": now_iso(), "role": "assistant", "content": text, "delta": True}


class OpenCode(Agent):
    """``opencode run --format json``; log: the JSON message files under ~/.local/share/opencode/storage/.

    A call is one assistant message with one step: ``step_start``, ``text``, ``step_finish``
    (the step's tokens), their parts naming the message by ``messageID``.
    """

    model = "anthropic/claude-sonnet-4-5"  # --model is provider/model
    version = "1.0.120"
    data = ("XDG_DATA_HOME", "opencode", os.path.join(".local", "share", "opencode"))
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.provider, _, self.model_id = self.model.partition("/")
        if not self.model_id:
            self.provider, self.model_id = "anthropic", self.provider
        self.counter = 0
        self.session = self._id("ses")
        self.storage = self.folder("storage")
        self.user_msg = self._id("msg")
        self.message = ""  # the assistant message of the step under way

    def _id(self, prefix: str) -> str:
        """OpenCode's ids: time-ordered hex, then random base62."""
        self.counter += 1
        stamp = (now_ms() * 0x1000 + self.counter) & 0xFFFFFFFFFFFF
        rand = uuid.uuid4().int
        tail = "".join(self.alphabet[(rand >> (6 * i)) % 62] for i in range(14))
        return f"{prefix}_{stamp:012x}{tail}"

    def _event(self, kind: str, part: dict[str, Any]) -> None:
        base = {"id": self._id("prt"), "sessionID": self.session, "messageID": self.message}
        emit({"type": kind, "timestamp": now_ms(), "sessionID": self.session, "part": {**base, **part}})

    def _save(self, msg: dict[str, Any]) -> None:
        folder = os.path.join(self.storage, "message", self.session)
        os.makedirs(folder, exist_ok=True)
        replace(os.path.join(folder, msg["id"] + ".json"), msg)

    def _step_start(self) -> None:
        self.message = self._id("msg")
        self._event("step_start", {"type": "step-start"})

    def start(self) -> None:
        folder = os.path.join(self.storage, "session", "global")
        os.makedirs(folder, exist_ok=True)
        info = {
            "id": self.session,
            "version": self.version,
            "projectID": "global",
            "directory": self.cwd,
            "title": self.prompt.strip().splitlines()[0][:50] if self.prompt.strip() else "",
            "time": {"created": int(self.t0 * 1000), "updated": now_ms()},
        }
        replace(os.path.join(folder, self.session + ".json"), info)
        user = {"id": self.user_msg, "sessionID": self.session, "role": "user", "time": {"created": now_ms()}}
        self._save({**user, "agent": "build", "model": {"providerID": self.provider, "modelID": self.model_id}})
        self._step_start()  # the first event is the first call's step_start

    def call(self, last: bool) -> None:
        self.calls += 1
        if not self.message:
            self._step_start()
        created = now_ms()
        text = f"step {self.calls} done"
        self._event("text", {"type": "text", "text": text, "time": {"start": created, "end": now_ms()}})
        tokens = {
            "total": self.inp + self.cw + self.cr + self.out,
            "input": self.inp,  # OpenCode's input excludes the cache
            "output": self.out,
            "reasoning": 0,
            "cache": {"read": self.cr, "write": self.cw},
        }
        usd = cost(self.inp, self.cw, self.cr, self.out)
        reason = "stop" if last else "tool-calls"
        self._event("step_finish", {"type": "step-finish", "reason": reason, "cost": usd, "tokens": tokens})
        msg = {
            "id": self.message,
            "sessionID": self.session,
            "role": "assistant",
            "time": {"created": created, "completed": now_ms()},
            "parentID": self.user_msg,
            "modelID": self.model_id,
            "providerID": self.provider,
            "mode": "build",
            "agent": "build",
            "path": {"cwd": self.cwd, "root": self.cwd},
            "cost": usd,
            "tokens": tokens,
            "finish": reason,
        }
        self._save(msg)
        self.message = ""

    def finish(self, code: int) -> None:
        if code != 0:
            emit(
                {
                    "type": "error",
                    "timestamp": now_ms(),
                    "sessionID": self.session,
                    "error": {"name": "UnknownError", "data": {"message": FAIL}},
                }
            )

    def not_logged_in(self) -> int:
        error = {
            "name": "ProviderAuthError",
            "data": {"providerID": self.provider, "message": "No API key found; run `opencode auth login`"},
        }
        emit({"type": "error", "timestamp": now_ms(), "sessionID": self.session, "error": error})
        return 1

    def filler(self, text: str) -> dict[str, Any]:
        part = {"id": "prt_0", "sessionID": self.session, "messageID": "msg_0", "type": "text", "text": text}
        return {"type": "text", "timestamp": now_ms(), "sessionID": self.session, "part": part}


class Qwen(Agent):
    """``qwen --output-format stream-json``; log: ~/.qwen/projects/<sanitized cwd>/chats/<session>.jsonl.

    Claude-shaped events, but ``input_tokens`` is the prompt count (cache reads included), there is
    no cache-write count, and each model reply is one ``assistant`` event.
    """

    model = "qwen3-coder-plus"
    version = "0.18.1"
    data = ("QWEN_RUNTIME_DIR", "", ".qwen")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.session = str(uuid.uuid4())
        project = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)  # Qwen Code's sanitizeCwd
        self.log = os.path.join(self.folder("projects", project, "chats"), self.session + ".jsonl")
        self.parent: str | None = None

    def _record(self, kind: str, record_id: str | None = None, **fields: Any) -> None:
        record_id = record_id or str(uuid.uuid4())
        head = {"uuid": record_id, "parentUuid": self.parent, "sessionId": self.session, "timestamp": now_iso()}
        append(self.log, {**head, "type": kind, "cwd": self.cwd, "version": self.version, **fields})
        self.parent = record_id

    def _usage(self, n: int) -> dict[str, int]:
        return {
            "input_tokens": n * self.prompt_tokens,
            "output_tokens": n * self.out,
            "cache_read_input_tokens": n * self.cr,
            "total_tokens": n * (self.prompt_tokens + self.out),
        }

    def start(self) -> None:
        emit(
            {
                "type": "system",
                "subtype": "init",
                "uuid": self.session,
                "session_id": self.session,
                "cwd": self.cwd,
                "tools": ["list_directory", "read_file", "grep_search", "edit", "write_file", "run_shell_command"],
                "mcp_servers": [],
                "model": self.model,
                "permission_mode": "yolo",
                "qwen_code_version": self.version,
            }
        )
        self._record("user", message={"role": "user", "parts": [{"text": self.prompt}]})

    def call(self, last: bool) -> None:
        self.calls += 1
        msg_id = str(uuid.uuid4())  # the stream's message id is the log record's uuid
        text = f"step {self.calls} done"
        msg = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": None,
            "usage": self._usage(1),
        }
        head = {"type": "assistant", "uuid": msg_id, "session_id": self.session, "parent_tool_use_id": None}
        emit({**head, "message": msg})
        prompt, total = self.prompt_tokens, self.prompt_tokens + self.out
        telemetry = {  # repeats the call's numbers; trackers must not add it
            "event.name": "qwen-code.api_response",
            "event.timestamp": now_iso(),
            "response_id": "chatcmpl-" + uuid.uuid4().hex,
            "model": self.model,
            "status_code": 200,
            "duration_ms": 100,
            "input_token_count": prompt,
            "output_token_count": self.out,
            "cached_content_token_count": self.cr,
            "thoughts_token_count": 0,
            "total_token_count": total,
        }
        self._record("system", subtype="ui_telemetry", systemPayload={"uiEvent": telemetry})
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": self.out,
            "thoughtsTokenCount": 0,
            "totalTokenCount": total,
            "cachedContentTokenCount": self.cr,
        }
        reply = {"role": "model", "parts": [{"text": text}]}
        self._record("assistant", msg_id, model=self.model, message=reply, usageMetadata=usage)

    def finish(self, code: int) -> None:
        head = {"type": "result", "uuid": str(uuid.uuid4()), "session_id": self.session, "is_error": code != 0}
        timing = {"duration_ms": self.duration_ms(), "duration_api_ms": self.duration_ms(), "num_turns": self.calls}
        if code == 0:
            result = {"subtype": "success", **timing, "result": f"step {self.calls} done"}
        else:
            result = {"subtype": "error_during_execution", **timing, "error": {"message": FAIL}}
        emit({**head, **result, "usage": self._usage(self.calls), "permission_denials": []})

    def not_logged_in(self) -> int:
        sys.stderr.write(
            "Please set an Auth method in your settings.json or specify one of the following environment"
            " variables before running: OPENAI_API_KEY\n"
        )
        return 1

    def filler(self, text: str) -> dict[str, Any]:
        result = {"type": "tool_result", "tool_use_id": "call_0", "is_error": False, "content": text}
        msg = {"role": "user", "content": [result]}
        head = {"type": "user", "uuid": str(uuid.uuid4()), "session_id": self.session, "parent_tool_use_id": None}
        return {**head, "message": msg}


AGENTS: dict[str, type[Agent]] = {
    "claude": Claude,
    "codex": Codex,
    "gemini": Gemini,
    "opencode": OpenCode,
    "qwen": Qwen,
}
VERSIONS = {
    "claude": f"{Claude.version} (Claude Code)",
    "codex": f"codex-cli {Codex.version}",
    "gemini": "0.61.0",
    "opencode": OpenCode.version,
    "qwen": Qwen.version,
}
HEADLESS = {
    "claude": "-p --output-format stream-json --verbose",
    "codex": "exec --json",
    "gemini": "--output-format stream-json",
    "opencode": "run --format json",
    "qwen": "--output-format stream-json",
}


def parse_args(args: list[str]) -> tuple[set[str], dict[str, str], list[str]]:
    """(flags, option values, positionals) of an argv; unknown flags are kept and ignored."""
    flags: set[str] = set()
    values: dict[str, str] = {}
    positionals: list[str] = []
    it = iter(args)
    for arg in it:
        key, eq, value = arg.partition("=")
        if arg.startswith("--") and eq:
            values[key] = value
        elif arg in VALUED:
            values[arg] = next(it, "")
        elif arg.startswith("-") and arg != "-":
            flags.add(arg)
        else:
            positionals.append(arg)
    return flags, values, positionals


def check_args(args: list[str]) -> str | None:
    """The model asked for; exits as the CLI would when its headless flags are missing."""
    flags, values, positionals = parse_args(args)
    fmt = values.get("--output-format") or values.get("-o")
    ok = {
        "claude": bool(flags & {"-p", "--print"}) and fmt == "stream-json",
        "codex": positionals[:1] == ["exec"] and "--json" in flags,
        "gemini": fmt == "stream-json",
        "opencode": positionals[:1] == ["run"] and values.get("--format") == "json",
        "qwen": fmt == "stream-json",
    }[NAME]
    if not ok:
        sys.stderr.write(f"{NAME}: usage: {NAME} {HEADLESS[NAME]} [--model MODEL]  (got: {' '.join(args)})\n")
        sys.exit(2)
    if NAME == "claude" and "--verbose" not in flags:
        sys.stderr.write("Error: When using --print, --output-format=stream-json requires --verbose\n")
        sys.exit(1)  # what Claude Code itself does
    skip = NAME == "claude" and "--dangerously-skip-permissions" in flags
    if skip and os.getuid() == 0 and os.environ.get("IS_SANDBOX") != "1":  # Claude Code's own check and switch
        sys.stderr.write(
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n"
        )
        sys.exit(1)
    return values.get("--model") or values.get("-m")


def directives(prompt: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for line in prompt.splitlines():
        words = line.split()
        if words[:1] == ["STANDIN"]:
            opts.update(word.partition("=")[::2] for word in words[1:])
    return opts


def spawn_grandchild(deaf_to_term: bool) -> None:
    """A daemon the console must still find and kill: its own session, deaf to hangup (and TERM)."""
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if deaf_to_term else "")
        + "if os.fork(): os._exit(0)\n"
        "os.setsid()\n"
        "while True: time.sleep(1)\n"
    )
    null = subprocess.DEVNULL
    child = subprocess.Popen([sys.executable, "-c", code], stdin=null, stdout=null, stderr=null, start_new_session=True)
    child.wait()  # the middle process exits at once; the grandchild is re-parented


def progress(name: str, commit: bool) -> None:
    """A line appended to ``name`` in the work directory, then (``commit``) a commit if that is a git work tree."""
    with open(name, "a") as f:
        f.write("step\n")
    if not commit:
        return
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True)
    if inside.stdout.strip() == "true":
        subprocess.run(["git", "add", "-A"], check=False)
        subprocess.run(["git", "commit", "-qm", "step"], check=False)


def main() -> int:
    if NAME not in AGENTS:
        sys.stderr.write(f"standin: run me as one of {', '.join(AGENTS)}, not {NAME}\n")
        return 2
    if sys.argv[1:] == ["--version"]:  # each CLI's own answer
        sys.stdout.write(VERSIONS[NAME] + "\n")
        return 0
    model = check_args(sys.argv[1:])
    prompt = sys.stdin.read()
    opts = directives(prompt)
    mode = opts.get("mode", "normal")
    if opts.get("ignore-term") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "exit-now":
        sys.stderr.write("error: something broke\n")
        return 3
    usage = [int(x) for x in opts.get("usage", "100,50,1000,20").split(",")]
    agent = AGENTS[NAME](model, usage, prompt)
    if mode == "not-logged-in":
        return agent.not_logged_in()
    if opts.get("grandchild") in ("1", "hup"):
        spawn_grandchild(deaf_to_term=opts["grandchild"] == "1")
    agent.start()
    if mode == "hang":
        while True:
            time.sleep(3600)
    if mode == "wait-input":
        fd = os.open(opts["fifo"], os.O_RDWR)  # read-write: the open never blocks, the read waits for an answer
        os.read(fd, 1)
    steps, delay = int(opts.get("steps", "3")), float(opts.get("delay", "0.05"))
    i = 0
    while mode == "burn" or i < steps:
        i += 1
        agent.call(last=mode != "burn" and i == steps)
        if mode == "burn" or i < steps:
            time.sleep(delay)
    if mode == "flood":
        bare = len(dumps(agent.filler("")))
        chunk = (dumps(agent.filler("x" * max(0, 199 - bare))) + b"\n") * 1000  # lines of about 200 bytes
        for _ in range(200):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    if "touch" in opts:
        progress(opts["touch"], opts.get("commit") == "1")
    code = int(opts.get("exit", "0"))
    if mode != "no-result":
        agent.finish(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
