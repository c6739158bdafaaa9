"""Qwen Code: ``$QWEN_RUNTIME_DIR`` (``~/.qwen``) ``/projects/<sanitized cwd>/chats/<session>.jsonl``.

Usage is the Gemini-shaped ``usageMetadata`` of ``type:"assistant"`` records, whose
``promptTokenCount`` includes the cached tokens. ``ui_telemetry`` system records repeat
the same numbers and are ignored. Whether ``thoughtsTokenCount`` is already inside
``candidatesTokenCount`` (OpenAI-compatible back ends) is read off ``totalTokenCount``.

``/branch`` copies every record verbatim into a new file, keeping its ``uuid`` and adding
``forkedFrom``. The de-duplication key is the record ``uuid``; the original (no
``forkedFrom``) outranks a branch copy, so the call stays with the session that made it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.model import UsageEvent
from app.sources.base import Env, ParseResult, Source, iso_ms, needle, num, scan_jsonl

MARKER = needle(b'"usageMetadata"')

ORIGINAL, BRANCH_COPY = 1, 0


class QwenCode(Source):
    agent = "qwen-code"
    title = "Qwen Code"

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("QWEN_RUNTIME_DIR") or env.home / ".qwen")
        return [base / "projects"]

    def discover(self, root: Path) -> Iterator[Path]:
        return iter(sorted(root.glob("*/chats/*.jsonl")))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)

        def on_line(obj: dict[str, Any], at: int) -> None:
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

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result
