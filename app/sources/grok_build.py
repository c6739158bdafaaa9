"""Grok Build: ``$GROK_HOME`` (``~/.grok``) ``/sessions/<encoded-cwd>/<session>/updates.jsonl``.

Each line is an envelope ``{timestamp (epoch seconds), method, params{sessionId, update}}``;
usage sits on ``update.sessionUpdate == "turn_completed"`` as ``update.usage``: the whole
prompt's bill, per model under ``modelUsage`` (docs/formats-new-agents.md §2).
``inputTokens`` is the full prompt (cache reads and writes included), ``cachedReadTokens``
and ``cacheCreationTokens`` are parts of it, and ``reasoningTokens`` is part of
``outputTokens``.

A turn's usage folds in the usage of the sub-agents it spawned, so a sub-agent's own
session (``summary.json`` ``session_kind`` ``subagent…``) is not counted again. The key is
the turn's ``prompt_id`` (a UUID) and the model, so a forked session's copy of its parent's
lines counts once; the copy (a ``summary.json`` naming a ``parent_session_id``) ranks below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import BadCount, ParseResult, Source
from app.sources.base import count, fresh, needle, num, scan_jsonl, walk

MARKER = needle(b'"turn_completed"')

SUMMARY_MAX = 1 << 20  # a session summary is a few KiB; a larger one is not trusted
ORIGINAL, FORK_COPY = 1, 0


class GrokBuild(Source):
    agent = "grok-build"
    title = "Grok Build"
    descriptor = Descriptor(env=("GROK_HOME",))

    def roots(self, env: Env) -> list[Path]:
        return [Path(env.var("GROK_HOME") or env.home / ".grok") / "sessions"]

    def discover(self, root: Path) -> Iterator[Path]:
        for path in walk(root, lambda name: name == "updates.jsonl"):
            if len(path.relative_to(root).parts) == 3:  # <encoded-cwd>/<session>/updates.jsonl
                yield path

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        summary = _summary(path.parent / "summary.json")
        kind = summary.get("session_kind")
        if isinstance(kind, str) and kind.startswith("subagent"):
            scan_jsonl(path, offset, MARKER, lambda obj, at: None, result)  # its usage is in the parent's turns
            return result
        info = summary.get("info")
        if not isinstance(info, dict):
            info = {}
        project = str(info.get("cwd") or unquote(path.parent.parent.name))
        default_model = str(summary.get("current_model_id") or "unknown")
        prio = FORK_COPY if summary.get("parent_session_id") else ORIGINAL

        def on_line(obj: dict[str, Any], at: int) -> None:
            params = obj.get("params")
            if not isinstance(params, dict):
                return
            update = params.get("update")
            if not isinstance(update, dict) or update.get("sessionUpdate") != "turn_completed":
                return
            usage = update.get("usage")
            if not isinstance(usage, dict):
                return
            seconds = num(obj.get("timestamp"))
            if not seconds:
                result.skip("usage line without timestamp")
                return
            session = str(params.get("sessionId") or path.parent.name)
            turn = update.get("prompt_id")
            turn_key = turn if isinstance(turn, str) and turn else f"{path}@{at}"
            per_model = usage.get("modelUsage")
            rows = per_model.items() if isinstance(per_model, dict) and per_model else [(default_model, usage)]
            for model, row in rows:
                if isinstance(row, dict):
                    result.record(add, turn_key, session, seconds, str(model), row)

        def add(turn: str, session: str, seconds: int, model: str, row: dict[str, Any]) -> None:
            cr, cw = count(row.get("cachedReadTokens")), count(row.get("cacheCreationTokens"))
            inp = fresh(count(row.get("inputTokens")), cr + cw)
            out, rsn = count(row.get("outputTokens")), count(row.get("reasoningTokens"))
            if rsn > out:
                raise BadCount("reasoning count above output")
            if inp + out + cr + cw == 0:
                return
            result.events.append(
                UsageEvent(
                    key=f"grok:{turn}:{model}",
                    prio=prio,
                    agent=self.agent,
                    ts=seconds * 1000,
                    model=model,
                    session=session,
                    project=project,
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                    rsn=rsn,
                )
            )

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result


def _summary(path: Path) -> dict[str, Any]:
    """The session's ``summary.json``, or an empty dict when it is missing, too large or damaged."""
    import orjson

    try:
        with open(path, "rb") as f:
            data = f.read(SUMMARY_MAX + 1)
    except OSError:
        return {}
    if len(data) > SUMMARY_MAX:
        return {}
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}
