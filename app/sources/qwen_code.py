"""Qwen Code: ``$QWEN_RUNTIME_DIR`` (``~/.qwen``) ``/projects/<sanitized cwd>/chats/<session>.jsonl``.

Usage is the Gemini-shaped ``usageMetadata`` of ``type:"assistant"`` records, whose
``promptTokenCount`` includes the cached tokens. ``ui_telemetry`` system records repeat
the same numbers and are ignored. Whether ``thoughtsTokenCount`` is already inside
``candidatesTokenCount`` (OpenAI-compatible back ends) is read off ``totalTokenCount``.

``/branch`` copies every record verbatim into a new file, keeping its ``uuid`` and adding
``forkedFrom``. The de-duplication key is the record ``uuid``; the original (no
``forkedFrom``) outranks a branch copy, so the call stays with the session that made it.

Qwen Code 0.17 and earlier wrote ``<base>/tmp/<project hash>/chats/*.jsonl`` in the Gemini CLI
fork's shape: a metadata line with ``sessionId``, then ``type:"gemini"`` messages with
``tokens`` (input includes cached, thoughts come on top of output), keyed by (session, message
``id``), a later line of a message replacing an earlier one. Records of the newer shape found
there are read as above: their ``uuid`` matches the same session's copy under ``projects``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.model import UsageEvent
from app.sources.base import Env, Marker, ParseResult, Source, iso_ms, needle, num, scan_jsonl

MARKER = needle(b'"usageMetadata"')
LEGACY_TOKENS = b'"tokens"'  # a Gemini-shaped message, only looked for under tmp/
SESSION_ID = b'"sessionId"'  # the legacy metadata line names the session: looked for until one has

ORIGINAL, BRANCH_COPY = 1, 0


class QwenCode(Source):
    agent = "qwen-code"
    title = "Qwen Code"

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("QWEN_RUNTIME_DIR") or env.home / ".qwen")
        return [base / "projects", base / "tmp"]  # tmp/: Qwen Code 0.17 and earlier

    def discover(self, root: Path) -> Iterator[Path]:
        return iter(sorted(root.glob("*/chats/*.jsonl")))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        legacy = path.parent.parent.parent.name == "tmp"  # <base>/tmp/<hash>/chats/<file>

        def on_line(obj: dict[str, Any], at: int) -> None:
            if legacy:
                if "session" not in state and isinstance(obj.get("sessionId"), str):
                    state["session"] = obj["sessionId"]
                if obj.get("type") == "gemini":
                    on_legacy(obj, at)
                    return
            usage = obj.get("usageMetadata")
            if obj.get("type") != "assistant" or not isinstance(usage, dict):
                return
            prompt = num(usage.get("promptTokenCount"))
            cached = num(usage.get("cachedContentTokenCount"))
            candidates = num(usage.get("candidatesTokenCount"))
            thoughts = num(usage.get("thoughtsTokenCount"))
            # a total without the thoughts means they are already inside the candidates
            inside = num(usage.get("totalTokenCount")) == prompt + candidates
            out = candidates if inside else candidates + thoughts
            inp = max(prompt - cached, 0)
            if inp + cached + out == 0:
                return
            ts = iso_ms(obj.get("timestamp"))
            if ts is None:
                result.skip("usage line without timestamp")
                return
            uuid = obj.get("uuid")
            result.events.append(
                UsageEvent(
                    key=f"qw:{uuid}" if isinstance(uuid, str) and uuid else f"qw:{path}@{at}",
                    prio=BRANCH_COPY if obj.get("forkedFrom") else ORIGINAL,
                    agent=self.agent,
                    ts=ts,
                    model=str(obj.get("model") or "unknown"),
                    session=str(obj.get("sessionId") or path.stem),
                    project=str(obj.get("cwd") or path.parent.parent.name),
                    inp=inp,
                    cw=0,
                    cr=cached,
                    out=out,
                    rsn=thoughts,
                )
            )

        def on_legacy(obj: dict[str, Any], at: int) -> None:
            tokens, msg_id = obj.get("tokens"), obj.get("id")
            if not isinstance(tokens, dict) or not isinstance(msg_id, str):
                return
            cached, thoughts = num(tokens.get("cached")), num(tokens.get("thoughts"))
            inp = max(num(tokens.get("input")) - cached, 0) + num(tokens.get("tool"))
            out = num(tokens.get("output")) + thoughts
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
                    prio=at,  # a later line of the message is its newer version
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

        if legacy:
            marker = Marker(*MARKER.literals, LEGACY_TOKENS, once=SESSION_ID, wanted=lambda: "session" not in state)
        else:
            marker = MARKER
        scan_jsonl(path, offset, marker, on_line, result)
        return result
