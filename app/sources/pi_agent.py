"""pi (badlogic/pi-mono coding agent): ``~/.pi/agent/sessions/--<cwd>--/<timestamp>_<uuid>.jsonl``.

``PI_CODING_AGENT_DIR`` replaces ``~/.pi/agent``. The first line is the ``type:"session"``
header (``id``, ``cwd``; a branched session adds ``branchedFrom``, newer builds
``parentSession``); usage sits on ``type:"message"`` lines whose assistant ``message``
carries ``usage{input, output, cacheRead, cacheWrite}`` (``input`` excludes the cache).

A branched session starts with a verbatim copy of its source's history. The copies carry
no call id, so the key is the call itself: the message's own timestamp, model and token
counts. A copy in a branched file ranks below the original, so the call stays with the
session that made it. The header is kept in ``state`` for incremental reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, iso_ms, needle, num, scan_jsonl, walk

MARKER = needle(b'"usage"', b'"session"')

ORIGINAL, BRANCH_COPY = 1, 0


class PiAgent(Source):
    agent = "pi-agent"
    title = "pi"
    descriptor = Descriptor(env=("PI_CODING_AGENT_DIR",))

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("PI_CODING_AGENT_DIR") or env.home / ".pi" / "agent")
        return [base / "sessions"]

    def discover(self, root: Path) -> Iterator[Path]:
        return walk(root, lambda name: name.endswith(".jsonl"))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        state.setdefault("session", path.stem.split("_", 1)[-1])
        state.setdefault("project", path.parent.name)
        state.setdefault("branch", False)

        def on_line(obj: dict[str, Any], at: int) -> None:
            kind = obj.get("type")
            if kind == "session":
                state["session"] = str(obj.get("id") or state["session"])
                state["project"] = str(obj.get("cwd") or state["project"])
                state["branch"] = bool(obj.get("branchedFrom") or obj.get("parentSession"))
                return
            call = pi_call(obj, result)
            if call is not None:
                model = str(call.message.get("model") or "unknown")
                prio = BRANCH_COPY if state["branch"] else ORIGINAL
                result.events.append(call.event(self.agent, "pi", model, prio, state["session"], state["project"]))

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result


class PiCall(NamedTuple):
    """One assistant message's billed call in pi's session format (pi's and OpenClaw's transcripts)."""

    message: dict[str, Any]
    ts: int
    called: int  # the message's own time, part of the key: copies carry no call id
    inp: int
    out: int
    cr: int
    cw: int

    def event(self, agent: str, prefix: str, model: str, prio: int, session: str, project: str) -> UsageEvent:
        """The call as an event keyed by itself (its time, model and counts)."""
        return UsageEvent(
            key=f"{prefix}:{self.called}:{model}:{self.inp}:{self.out}:{self.cr}:{self.cw}",
            prio=prio,
            agent=agent,
            ts=self.ts,
            model=model,
            session=session,
            project=project,
            inp=self.inp,
            cw=self.cw,
            cr=self.cr,
            out=self.out,
        )


def pi_call(obj: dict[str, Any], result: ParseResult) -> PiCall | None:
    """The call a ``type:"message"`` line's assistant ``message`` reports, or None (no usage, all zero, no time)."""
    message = obj.get("message")
    if obj.get("type") != "message" or not isinstance(message, dict) or message.get("role") != "assistant":
        return None
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return None
    inp, out = count(usage.get("input")), count(usage.get("output"))
    cr, cw = count(usage.get("cacheRead")), count(usage.get("cacheWrite"))
    if inp + out + cr + cw == 0:
        return None
    ts = iso_ms(obj.get("timestamp")) or num(message.get("timestamp"))
    if not ts:
        result.skip("usage line without timestamp")
        return None
    return PiCall(message, ts, num(message.get("timestamp")) or ts, inp, out, cr, cw)
