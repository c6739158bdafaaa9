"""Claude Code: ``<root>/projects/<slug>/<session>.jsonl`` and ``<session>/subagents/agent-*.jsonl``.

One API response is written as several lines (one per content block) sharing
``message.id``; earlier lines may hold a partial ``output_tokens``. Resumed sessions
copy old lines into a new file, and ``/btw`` side questions can replay a parent message
under a new ``requestId`` with ``isSidechain: true``. All three collapse on one key, the
message id (an Anthropic ``msg_…`` id is unique per response): the non-sidechain copy
beats a sidechain one, then the copy with the largest total, then the copy in the file
that started earliest (a resumed session's copies keep their original timestamps, which
come after the original file's first call), so a call stays with the session that made it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor, Headless
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import COUNT_BITS, ParseResult, Source
from app.sources.base import count, iso_ms, needle, scan_jsonl, walk_paths

USAGE = needle(b'"usage":')

# prio = non-sidechain (1 bit) | total (29 bits) | earliness of the file (32 bits)
MAIN_COPY = 1 << 61
TOTAL_SHIFT = 32
TOTAL_CAP = (1 << 29) - 1
LATEST_S = (1 << 32) - 1


class ClaudeCode(Source):
    agent = "claude-code"
    title = "Claude Code"
    descriptor = Descriptor(
        env=("XDG_CONFIG_HOME", "CLAUDE_CONFIG_DIR"),
        colour="#d97757",
        headless=Headless(
            ("claude", "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"), "claude"
        ),
    )

    def roots(self, env: Env) -> list[Path]:
        configured = env.var("CLAUDE_CONFIG_DIR")
        if configured:
            return [Path(p.strip()) / "projects" for p in configured.split(",") if p.strip()]
        return [env.home / ".claude" / "projects", env.xdg_config() / "claude" / "projects"]

    def discover(self, root: Path) -> Iterator[Path]:
        return map(Path, self.files(root))

    def files(self, root: Path) -> Iterator[str]:
        return walk_paths(root, _is_transcript)

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        # key -> the best copy so far in this read (streamed snapshots repeat a message id):
        # keeping the first of the highest prio here is what the index's upsert would keep
        found: dict[str, tuple[Any, ...]] = {}
        first_ms = [state.get("first_s", LATEST_S) * 1000]
        fallback_session = _session_of(path)
        fallback_project = _project_of(path)

        def on_line(obj: dict[str, Any], at: int) -> None:
            # every lookup counts here (one call per usage line): orjson gives plain dicts and lists,
            # so ``type(x) is dict`` is ``isinstance``, and the common values are taken as they are
            record: Any = obj
            kind = obj.get("type")
            if kind != "assistant":
                if kind != "progress":
                    return
                data = obj.get("data")  # a sub-agent call embedded in the parent transcript
                record = data.get("message") if type(data) is dict else None
                if type(record) is not dict:
                    return
            message = record.get("message")
            if type(message) is not dict:
                return
            usage = message.get("usage")
            if type(usage) is not dict:
                return
            get = usage.get
            inp = get("input_tokens", 0)
            out = get("output_tokens", 0)
            cr = get("cache_read_input_tokens", 0)
            cw = get("cache_creation_input_tokens", 0)
            # the common case checked at once: plain ints in 0..MAX_COUNT (a negative or larger one
            # leaves bits above COUNT_BITS in the OR); anything else is counted or refused one by one
            if (
                not (type(inp) is int and type(out) is int and type(cr) is int and type(cw) is int)
                or (inp | out | cr | cw) >> COUNT_BITS
            ):
                inp, out, cr, cw = count(inp), count(out), count(cr), count(cw)
            cw1h = 0
            split = get("cache_creation")
            if type(split) is dict:
                cw5m = split.get("ephemeral_5m_input_tokens", 0)
                cw1h = split.get("ephemeral_1h_input_tokens", 0)
                if not (type(cw5m) is int and type(cw1h) is int) or (cw5m | cw1h) >> COUNT_BITS:
                    cw5m, cw1h = count(cw5m), count(cw1h)
                if cw5m + cw1h:
                    cw = cw5m + cw1h
            total = inp + out + cr + cw
            if total == 0:  # <synthetic> API-error replies and aborted calls
                return
            ts = iso_ms(record.get("timestamp") or obj.get("timestamp"))
            if ts is None:
                result.skip("usage line without timestamp")
                return
            if ts < first_ms[0]:
                first_ms[0] = ts
            msg_id = message.get("id")
            if type(msg_id) is str and msg_id:
                key = "cc:" + msg_id
            else:
                request_id = record.get("requestId")
                if isinstance(request_id, str) and request_id:
                    key = f"cc:{request_id}"
                else:
                    key = f"cc:{obj.get('uuid') or f'{path}@{at}'}"
            prio = (0 if record.get("isSidechain") or obj.get("isSidechain") else MAIN_COPY) | (
                (total if total < TOTAL_CAP else TOTAL_CAP) << TOTAL_SHIFT
            )
            held = found.get(key)
            if held is not None and held[0] >= prio:
                return
            model = message.get("model") or "unknown"
            session = obj.get("sessionId") or fallback_session
            project = obj.get("cwd") or fallback_project
            found[key] = (
                prio,
                ts,
                model if type(model) is str else str(model),
                session if type(session) is str else str(session),
                project if type(project) is str else str(project),
                inp,
                cw,
                cr,
                out,
                cw1h,
            )

        scan_jsonl(path, offset, USAGE, on_line, result)
        first_s = first_ms[0] // 1000
        state["first_s"] = first_s
        earliness = LATEST_S - first_s
        result.events = [
            UsageEvent(key, prio | earliness, "claude-code", ts, model, session, project, inp, cw, cr, out, 0, cw1h)
            for key, (prio, ts, model, session, project, inp, cw, cr, out, cw1h) in found.items()
        ]
        return result


def _is_transcript(name: str) -> bool:
    return name.endswith(".jsonl")


def _session_of(path: Path) -> str:
    """Main transcripts are named by session; sub-agent files live under ``<session>/subagents/``."""
    if path.parent.name == "subagents":
        return path.parent.parent.name
    return path.stem


def _project_of(path: Path) -> str:
    """The project slug directory directly under ``projects/``."""
    parts = path.parts
    if "projects" in parts:
        i = len(parts) - 1 - parts[::-1].index("projects")
        if i + 1 < len(parts) - 1:
            return parts[i + 1]
    return path.parent.name
