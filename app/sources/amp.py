"""Amp: ``$XDG_DATA_HOME/amp/threads/**/T-<uuid>.json``, one JSON document per thread, rewritten whole.

Usage is either the legacy ``usageLedger.events[]`` (input and output per event, the cache
numbers on the message the event leads to) or each assistant ``messages[].usage``; when the
ledger has events it is the record and the messages' usage is never added as well.
``totalInputTokens`` is input + cache write + cache read and is never added either.

The de-duplication key is (thread id, ledger event id or ``messageId``); a message without a
``messageId`` is keyed by its position in ``messages``, which a rewrite appends to, so the key
survives every rewrite even while the message's own usage is still growing (a key made of
its numbers would not). The prio is the file's mtime, so the newest rewrite of a thread
replaces what an older copy said.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, iso_ms, read_json, walk


class Amp(Source):
    agent = "amp"
    title = "Amp"
    descriptor = Descriptor(env=("XDG_DATA_HOME",), colour="#edc948")
    whole_file = True

    def roots(self, env: Env) -> list[Path]:
        return [env.xdg_data() / "amp" / "threads"]

    def discover(self, root: Path) -> Iterator[Path]:
        return walk(root, lambda name: name.endswith(".json"))

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        doc = read_json(path, result)
        if not isinstance(doc, dict):
            return result
        thread = str(doc.get("id") or path.stem)
        prio = path.stat().st_mtime_ns // 1_000_000
        messages = [(i, m) for i, m in enumerate(doc.get("messages") or ()) if isinstance(m, dict)]
        usage_of = {m.get("messageId"): m["usage"] for _, m in messages if isinstance(m.get("usage"), dict)}

        def add(item_id: Any, record: dict[str, Any], tokens: tuple[Any, Any], cache: dict[str, Any]) -> None:
            """``record`` has the call's time and model; ``cache`` is the message usage with its cache counts."""
            inp, out = count(tokens[0]), count(tokens[1])
            cw, cr = count(cache.get("cacheCreationInputTokens")), count(cache.get("cacheReadInputTokens"))
            if inp + out + cw + cr == 0:
                return
            ts = iso_ms(record.get("timestamp") or cache.get("timestamp"))
            if ts is None:
                result.skip("usage record without timestamp")
                return
            result.events.append(
                UsageEvent(
                    key=f"amp:{thread}:{item_id}",
                    prio=prio,
                    agent=self.agent,
                    ts=ts,
                    model=str(record.get("model") or cache.get("model") or "unknown"),
                    session=thread,
                    project="",  # threads record no working directory
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                )
            )

        ledger = doc.get("usageLedger")
        events = ledger.get("events") if isinstance(ledger, dict) else None
        if isinstance(events, list) and events:
            for i, event in enumerate(events):
                if not isinstance(event, dict):
                    continue
                counts = event.get("tokens")
                if not isinstance(counts, dict):
                    counts = {}
                cache = usage_of.get(event.get("toMessageId"), {})
                item_id = event.get("id") or f"ledger-{i}"
                result.record(add, item_id, event, (counts.get("input"), counts.get("output")), cache)
            return result
        for i, message in messages:
            usage = message.get("usage")
            if message.get("role") == "assistant" and isinstance(usage, dict):
                tokens = (usage.get("inputTokens"), usage.get("outputTokens"))
                message_id = message.get("messageId")
                result.record(add, f"msg-{i}" if message_id is None else message_id, usage, tokens, usage)
        return result
