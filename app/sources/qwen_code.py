"""Qwen Code: ``$QWEN_RUNTIME_DIR`` (``~/.qwen``) ``/projects/<sanitized cwd>/chats/<session>.jsonl``.

Usage is the Gemini-shaped ``usageMetadata`` of ``type:"assistant"`` records, whose
``promptTokenCount`` includes the cached tokens. Whether ``thoughtsTokenCount`` is already inside
``candidatesTokenCount`` (OpenAI-compatible back ends) is read off ``totalTokenCount``.

Every API response is also written as a ``system``/``ui_telemetry`` record whose ``uiEvent`` is
``qwen-code.api_response`` (``input_token_count`` with the cache in it, ``output_token_count``,
``cached_content_token_count``, ``thoughts_token_count``, ``total_token_count``). For a call of
the conversation the assistant record follows it with ``parentUuid`` = the telemetry record's
``uuid``; a background sub-agent's call (``subagent_name``, e.g. the memory extractor) has no
assistant record, so the telemetry record is its only trace. Both are keyed by the telemetry
record's ``uuid``, and the assistant record outranks it: each call counts once, from its
assistant record when there is one.

``/branch`` copies every record verbatim into a new file, keeping its ``uuid`` and adding
``forkedFrom``. The de-duplication key is the record ``uuid``; the original (no
``forkedFrom``) outranks a branch copy, so the call stays with the session that made it.

Older builds wrote ``<base>/tmp/<project hash>/chats/`` in the Gemini CLI fork's shape: one
``session-*.json`` document per session (``sessionId``, ``messages[]``), rewritten whole, or a
``.jsonl`` whose metadata line names the session, followed by the messages. A ``type:"gemini"``
message has ``tokens`` (input includes cached; thoughts on top of output unless ``total`` says
they are inside it, as above) and is keyed by (session, message ``id``): a later line of a
message replaces an earlier one, a ``.jsonl`` line a ``.json`` copy, a newer ``.json`` an older.
Records of the newer shape found there are read as above: their ``uuid`` matches the same
session's copy under ``projects``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor, Headless
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import Marker, count, fresh, iso_ms, needle, read_json, scan_jsonl

MARKER = needle(b'"usageMetadata"', b'"qwen-code.api_response"')
LEGACY_TOKENS = b'"tokens"'  # a Gemini-shaped message, only looked for under tmp/
SESSION_ID = b'"sessionId"'  # the legacy metadata line names the session: looked for until one has

# the recorder Qwen Code forked keeps Gemini's "gemini"; splitrail's first Qwen reader expected "qwen"
LEGACY_TYPES = ("gemini", "qwen")

ORIGINAL, BRANCH_COPY = 1, 0
TELEMETRY = -2  # added to the prio: a call's telemetry record yields to its assistant record
RECENT_TELEMETRY = 64  # telemetry uuids remembered for the assistant records that follow them
API_RESPONSE = "qwen-code.api_response"
JSONL_FLOOR = 1 << 50  # above any mtime in ms: a legacy .jsonl line beats a .json copy (as in Gemini CLI)


class QwenCode(Source):
    agent = "qwen-code"
    title = "Qwen Code"
    descriptor = Descriptor(
        env=("QWEN_RUNTIME_DIR",),
        colour="#7c6cf0",
        headless=Headless(("qwen", "--output-format", "stream-json", "--yolo"), "claude", input_includes_cache=True),
    )

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("QWEN_RUNTIME_DIR") or env.home / ".qwen")
        return [base / "projects", base / "tmp"]  # tmp/: older builds (before the projects/ layout)

    def discover(self, root: Path) -> Iterator[Path]:
        paths = root.glob("*/chats/*.jsonl")
        if root.name != "tmp":
            return iter(sorted(paths))
        return iter(sorted(chain(paths, root.glob("*/chats/session-*.json"))))  # legacy: whole documents too

    def is_whole(self, path: str | Path) -> bool:
        return str(path).endswith(".json")

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        legacy = path.parent.parent.parent.name == "tmp"  # <base>/tmp/<hash>/chats/<file>

        def on_line(obj: dict[str, Any], at: int) -> None:
            if legacy:
                if "session" not in state and isinstance(obj.get("sessionId"), str):
                    state["session"] = obj["sessionId"]
                if obj.get("type") in LEGACY_TYPES:
                    on_legacy(obj, JSONL_FLOOR + at)  # a later line of the message is its newer version
                    return
            uuid = obj.get("uuid")
            uuid = uuid if isinstance(uuid, str) and uuid else None
            prio = BRANCH_COPY if obj.get("forkedFrom") else ORIGINAL
            kind = obj.get("type")
            if kind == "system" and obj.get("subtype") == "ui_telemetry":
                payload = obj.get("systemPayload")
                event = payload.get("uiEvent") if isinstance(payload, dict) else None
                if not isinstance(event, dict) or event.get("event.name") != API_RESPONSE or uuid is None:
                    return
                recent = state.setdefault("telemetry", [])
                recent.append(uuid)
                del recent[:-RECENT_TELEMETRY]
                usage: Any = {
                    "promptTokenCount": event.get("input_token_count"),
                    "cachedContentTokenCount": event.get("cached_content_token_count"),
                    "candidatesTokenCount": event.get("output_token_count"),
                    "thoughtsTokenCount": event.get("thoughts_token_count"),
                    "totalTokenCount": event.get("total_token_count"),
                }
                on_usage(obj, usage, f"qw:{uuid}", prio + TELEMETRY, event.get("model"))
                return
            usage = obj.get("usageMetadata")
            if kind != "assistant" or not isinstance(usage, dict):
                return
            parent = obj.get("parentUuid")
            if isinstance(parent, str) and parent in state.get("telemetry", ()):
                key = f"qw:{parent}"  # the call's telemetry record came first: one key for both
            else:
                key = f"qw:{uuid}" if uuid else f"qw:{path}@{at}"
            on_usage(obj, usage, key, prio, obj.get("model"))

        def on_usage(obj: dict[str, Any], usage: dict[str, Any], key: str, prio: int, model: Any) -> None:
            prompt = count(usage.get("promptTokenCount"))
            cached = count(usage.get("cachedContentTokenCount"))
            candidates = count(usage.get("candidatesTokenCount"))
            thoughts = count(usage.get("thoughtsTokenCount"))
            # a total without the thoughts means they are already inside the candidates
            inside = count(usage.get("totalTokenCount")) == prompt + candidates
            out = candidates if inside else candidates + thoughts
            inp = fresh(prompt, cached)
            if inp + cached + out == 0:
                return
            ts = iso_ms(obj.get("timestamp"))
            if ts is None:
                result.skip("usage line without timestamp")
                return
            result.events.append(
                UsageEvent(
                    key=key,
                    prio=prio,
                    agent=self.agent,
                    ts=ts,
                    model=str(model or "unknown"),
                    session=str(obj.get("sessionId") or path.stem),
                    project=str(obj.get("cwd") or path.parent.parent.name),
                    inp=inp,
                    cw=0,
                    cr=cached,
                    out=out,
                    rsn=thoughts,
                )
            )

        def on_legacy(obj: Any, prio: int) -> None:
            if not isinstance(obj, dict) or obj.get("type") not in LEGACY_TYPES:
                return
            tokens, msg_id = obj.get("tokens"), obj.get("id")
            if not isinstance(tokens, dict) or not isinstance(msg_id, str):
                return
            prompt, output = count(tokens.get("input")), count(tokens.get("output"))
            cached, thoughts, tool = (
                count(tokens.get("cached")),
                count(tokens.get("thoughts")),
                count(tokens.get("tool")),
            )
            inp = fresh(prompt, cached) + tool
            # Gemini's total adds the thoughts; an OpenAI-compatible back end's has them inside the output
            out = output if count(tokens.get("total")) == prompt + output + tool else output + thoughts
            if inp + cached + out == 0:
                return
            ts = iso_ms(obj.get("timestamp"))
            if ts is None:
                result.skip("usage line without timestamp")
                return
            session = str(state.get("session") or path.stem)
            result.events.append(
                UsageEvent(
                    key=f"qw:{session}:{msg_id}",
                    prio=prio,
                    agent=self.agent,
                    ts=ts,
                    model=str(obj.get("model") or "unknown"),
                    session=session,
                    project=path.parent.parent.name,
                    inp=inp,
                    cw=0,
                    cr=cached,
                    out=out,
                    rsn=thoughts,
                )
            )

        if path.suffix == ".json":  # a legacy session document, rewritten whole: the newest file wins
            doc = read_json(path, result)
            if isinstance(doc, dict):
                if isinstance(doc.get("sessionId"), str):
                    state["session"] = doc["sessionId"]
                mtime_ms = path.stat().st_mtime_ns // 1_000_000
                messages = doc.get("messages")
                for message in messages if isinstance(messages, list) else ():
                    result.record(on_legacy, message, mtime_ms)
            return result
        if legacy:
            marker = Marker(*MARKER.literals, LEGACY_TOKENS, once=SESSION_ID, wanted=lambda: "session" not in state)
        else:
            marker = MARKER
        scan_jsonl(path, offset, marker, on_line, result)
        return result
