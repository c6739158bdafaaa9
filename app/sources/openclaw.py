"""OpenClaw: ``<state>/agents/<agentId>/sessions/<sessionId>.jsonl`` (docs/formats-new-agents.md §1).

``<state>`` is ``$OPENCLAW_STATE_DIR`` (or the older ``$CLAWDBOT_STATE_DIR``), else
``~/.openclaw`` and the legacy ``~/.clawdbot``, ``~/.moldbot`` and ``~/.moltbot``;
``$OPENCLAW_HOME`` replaces the home directory. A transcript is pi's session format:
usage sits on ``type:"message"`` lines whose assistant ``message`` carries
``usage{input, output, cacheRead, cacheWrite}`` (``input`` excludes the cache). A message
without its own ``model`` takes the last ``model_change`` (``modelId``) or
``custom``/``model-snapshot`` (``data.modelId``) line before it.

Besides the live transcript, a reset or deleted session is kept renamed
(``<id>.jsonl.reset.<time>``, ``<id>.jsonl.deleted.<time>``) and a compaction leaves a
pre-compaction twin (``<id>.checkpoint.<uuid>.jsonl``): copies of lines already counted.
The key is therefore the call itself (its own timestamp, model and counts), as for pi, and
a copy ranks below the live transcript.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.model import UsageEvent
from app.sources.base import Env, ParseResult, Source, count, iso_ms, needle, num, scan_jsonl, walk

MARKER = needle(b'"usage"', b'"session"', b'"model_change"', b'"model-snapshot"')

STATE_DIRS = (".openclaw", ".clawdbot", ".moldbot", ".moltbot")  # new first, then the legacy names
_ARCHIVE = re.compile(r"\.jsonl\.(?:reset|deleted)\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d{3})?Z$")
_CHECKPOINT = re.compile(r"\.checkpoint\.[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\.jsonl$", re.IGNORECASE)

LIVE, COPY = 1, 0


def is_transcript(name: str) -> bool:
    """A file OpenClaw counts usage from: live, checkpoint twin, or reset/deleted archive."""
    if name.endswith(".jsonl"):
        return not name.endswith(".trajectory.jsonl")
    return bool(_ARCHIVE.search(name))


def session_of(name: str) -> str:
    """The session id a transcript file belongs to (its archive or checkpoint suffix dropped)."""
    checkpoint = _CHECKPOINT.search(name)
    if checkpoint:
        return name[: checkpoint.start()]
    return name[: name.index(".jsonl")]


class OpenClaw(Source):
    agent = "openclaw"
    title = "OpenClaw"

    def roots(self, env: Env) -> list[Path]:
        override = env.var("OPENCLAW_STATE_DIR") or env.var("CLAWDBOT_STATE_DIR")
        if override:
            return [Path(override).expanduser() / "agents"]
        home = Path(env.var("OPENCLAW_HOME") or env.home)
        return [home / name / "agents" for name in STATE_DIRS]

    def discover(self, root: Path) -> Iterator[Path]:
        for path in walk(root, is_transcript):
            parts = path.relative_to(root).parts
            if len(parts) == 3 and parts[1] == "sessions":  # <agentId>/sessions/<file>
                yield path

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        name = path.name
        state.setdefault("session", session_of(name))
        state.setdefault("project", path.parent.parent.name)  # the agent id until the header names a cwd
        state.setdefault("model", "unknown")
        prio = LIVE if name.endswith(".jsonl") and not _CHECKPOINT.search(name) else COPY

        def on_line(obj: dict[str, Any], at: int) -> None:
            kind = obj.get("type")
            if kind == "session":
                state["project"] = str(obj.get("cwd") or state["project"])
                return
            if kind == "model_change" or (kind == "custom" and obj.get("customType") == "model-snapshot"):
                data = obj.get("data")
                if not isinstance(data, dict):
                    data = obj
                model = data.get("modelId") or data.get("model")
                if isinstance(model, str) and model:
                    state["model"] = model
                return
            message = obj.get("message")
            if kind != "message" or not isinstance(message, dict) or message.get("role") != "assistant":
                return
            usage = message.get("usage")
            if not isinstance(usage, dict):
                return
            inp, out = count(usage.get("input")), count(usage.get("output"))
            cr, cw = count(usage.get("cacheRead")), count(usage.get("cacheWrite"))
            if inp + out + cr + cw == 0:
                return
            ts = iso_ms(obj.get("timestamp")) or num(message.get("timestamp"))
            if not ts:
                result.skip("usage line without timestamp")
                return
            model = str(message.get("model") or message.get("modelId") or state["model"])
            called = num(message.get("timestamp")) or ts
            result.events.append(
                UsageEvent(
                    key=f"openclaw:{called}:{model}:{inp}:{out}:{cr}:{cw}",
                    prio=prio,
                    agent=self.agent,
                    ts=ts,
                    model=model,
                    session=state["session"],
                    project=state["project"],
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                )
            )

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result
