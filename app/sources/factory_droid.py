"""Factory Droid: ``~/.factory/sessions/[<encoded cwd>/]<session>.settings.json``, one total per session.

Beside each transcript (``<session>.jsonl``) Droid keeps a settings document it rewrites as
the session spends tokens: ``model``, ``providerLock``, ``providerLockTimestamp`` and
``tokenUsage{inputTokens, outputTokens, cacheCreationTokens, cacheReadTokens, thinkingTokens,
totalTokens}``. Trackers reading real files bill ``thinkingTokens`` on top of
``outputTokens``, so it is added to ``out`` (and is ``rsn``); ``inputTokens`` excludes the
cache. Only ``totalTokens`` may be present: it is then taken as output, as those trackers do.

The document names no time of last use: the session is dated at the file's mtime (when the
totals were last written), but never before ``providerLockTimestamp`` (a copy can rewind an
mtime; usage cannot predate the session). One event per session, keyed by its id, with its
token total as prio: a grown total replaces the earlier one. No Droid-owned variable that
moves the folder is documented, so none is honoured.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, iso_ms, read_json, walk

SUFFIX = ".settings.json"


class FactoryDroid(Source):
    agent = "factory-droid"
    title = "Factory Droid"
    whole_file = True

    def roots(self, env: Env) -> list[Path]:
        return [env.home / ".factory" / "sessions"]

    def discover(self, root: Path) -> Iterator[Path]:
        return walk(root, lambda name: name.endswith(SUFFIX))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        doc = read_json(path, result)
        if doc is None:
            return result
        usage = doc.get("tokenUsage") if isinstance(doc, dict) else None
        if not isinstance(usage, dict):
            if not isinstance(doc, dict):
                result.skip("not a settings object")
            return result  # a session that has not called a model yet
        result.record(self._add, result, path, doc, usage)  # the file's one record
        return result

    def _add(self, result: ParseResult, path: Path, doc: dict[str, Any], usage: dict[str, Any]) -> None:
        inp, out = count(usage.get("inputTokens")), count(usage.get("outputTokens"))
        cw, cr = count(usage.get("cacheCreationTokens")), count(usage.get("cacheReadTokens"))
        rsn = count(usage.get("thinkingTokens"))
        if inp + out + cw + cr + rsn == 0:
            out = count(usage.get("totalTokens"))
        if inp + out + cw + cr + rsn == 0:
            return
        written = path.stat().st_mtime_ns // 1_000_000
        ts = max(written, iso_ms(doc.get("providerLockTimestamp")) or 0)
        session = path.name[: -len(SUFFIX)]
        result.events.append(
            UsageEvent(
                key=f"droid:{session}",
                prio=inp + cw + cr + out + rsn,
                agent=self.agent,
                ts=ts,
                model=str(doc.get("model") or "unknown"),
                session=session,
                project=path.parent.name if path.parent.name != "sessions" else "",  # the encoded cwd
                inp=inp,
                cw=cw,
                cr=cr,
                out=out + rsn,
                rsn=rsn,
            )
        )
