"""GitHub Copilot CLI: ``$COPILOT_HOME`` (``~/.copilot``) ``/session-state/<id>/events.jsonl``.

Older builds wrote ``session-state/<id>.jsonl``; ``history-session-state/`` holds the same
shapes. Each line is an event ``{type, timestamp, data}``. ``assistant.message`` carries only
an ``outputTokens`` estimate per message; the billed counts are in ``session.shutdown``,
written when the process exits: ``modelMetrics[<model>].usage{inputTokens, outputTokens,
cacheReadTokens, cacheWriteTokens, reasoningTokens}``. They are the totals of that process
run alone (a resumed session starts from zero and writes its own shutdown), so each shutdown
is one event per model, dated at the shutdown, and the per-message counts are never added.

``inputTokens`` includes the cache reads and writes (trackers reading real files find
``input = fresh + cacheRead + cacheWrite``); a count below the cache total is taken as fresh
already. ``reasoningTokens`` is part of ``outputTokens``. The key is the session, the
shutdown's timestamp and the model: a re-read (or the copy under ``history-session-state``)
lands on the same key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import BadCount, ParseResult, Source
from app.sources.base import count, iso_ms, needle, scan_jsonl

MARKER = needle(b'"session.shutdown"', b'"session.start"')
STATE_DIRS = ("session-state", "history-session-state")


class CopilotCli(Source):
    agent = "copilot-cli"
    title = "GitHub Copilot CLI"
    descriptor = Descriptor(env=("COPILOT_HOME",))

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("COPILOT_HOME") or env.home / ".copilot")
        return [base / name for name in STATE_DIRS]

    def discover(self, root: Path) -> Iterator[Path]:
        yield from sorted(root.glob("*.jsonl"))
        yield from sorted(root.glob("*/events.jsonl"))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        state.setdefault("session", path.parent.name if path.name == "events.jsonl" else path.stem)
        state.setdefault("project", "")

        def on_line(obj: dict[str, Any], at: int) -> None:
            data = obj.get("data")
            if not isinstance(data, dict):
                return
            kind = obj.get("type")
            if kind == "session.start":
                context = data.get("context")
                state["session"] = str(data.get("sessionId") or state["session"])
                if isinstance(context, dict):
                    state["project"] = str(context.get("cwd") or context.get("gitRoot") or state["project"])
                return
            if kind != "session.shutdown":
                return
            metrics = data.get("modelMetrics")
            if not isinstance(metrics, dict):
                return  # a run that made no model call
            ts = iso_ms(obj.get("timestamp"))
            if not ts:
                result.skip("shutdown without timestamp")
                return
            for model, entry in metrics.items():
                usage = entry.get("usage") if isinstance(entry, dict) else None
                if not isinstance(usage, dict):
                    result.skip("model metrics without usage")
                    continue
                try:  # one model's counts: a bad one skips that model's entry, not the others'
                    gross, out = count(usage.get("inputTokens")), count(usage.get("outputTokens"))
                    cr, cw = count(usage.get("cacheReadTokens")), count(usage.get("cacheWriteTokens"))
                    rsn = count(usage.get("reasoningTokens"))
                except BadCount as exc:
                    result.skip(str(exc))
                    continue
                if gross + out + cr + cw == 0:
                    continue
                result.events.append(
                    UsageEvent(
                        key=f"copilot:{state['session']}:{ts}:{model}",
                        prio=0,
                        agent=self.agent,
                        ts=ts,
                        model=str(model),
                        session=state["session"],
                        project=state["project"],
                        inp=gross - cr - cw if gross >= cr + cw else gross,
                        cw=cw,
                        cr=cr,
                        out=out,
                        rsn=min(rsn, out),
                    )
                )

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result
