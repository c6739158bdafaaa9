"""Codex CLI: rollouts under ``$CODEX_HOME/sessions/Y/M/D/`` and ``archived_sessions/`` (also ``.jsonl.zst``).

Usage is the ``last_token_usage`` of ``event_msg``/``token_count`` lines; the model is the
latest ``turn_context``'s. Codex re-emits unchanged counters, replays a parent's events at
the top of a forked or spawned thread, and writes ``fill_to_context_window`` events with no
real usage; newer builds also write a ``token_usage_record`` beside each ``token_count``.

The de-duplication key is the thread id plus the thread's cumulative counters after the
call: re-emits, the ``.jsonl``/``.zst`` and ``sessions``/``archived_sessions`` copies of a
thread, and the two record kinds of one response all collapse on it. An archived rollout with
the name of one still under ``sessions`` is not read at all: the active file is the truth, even
when the two differ. A file without
``session_meta`` (a branch or copy of another rollout) has only its own name for a thread id,
so its calls are keyed by the line's timestamp and counters instead, which its copied lines
share with the file they came from. A ``token_count`` with ``last_token_usage`` but no
totals is keyed the same way, by its timestamp and its own numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor, Headless
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import Marker, counts, fresh, iso_ms, scan_jsonl, scan_stream, walk_paths

FALLBACK_MODEL = "gpt-5"  # builds of Sept 2025 wrote no turn_context; Codex's default then
TOKEN_COUNT, USAGE_RECORD = 1, 0  # prio: the token_count stream wins over token_usage_record

# one pass finds every line the reader needs: token_count, turn_context, token_usage_record
# (all "type":"t…"; the few other "t" types are decoded and ignored); session_meta is looked
# for only until the first one is seen (later ones are a parent's copies, ignored anyway)
TYPE_T = b'"type":"t'
SESSION_META = b'"type":"session_meta"'


class Codex(Source):
    agent = "codex"
    title = "Codex CLI"
    descriptor = Descriptor(
        env=("CODEX_HOME",),
        colour="#10a37f",
        headless=Headless(
            ("codex", "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"),
            "codex",
            tail=("-",),
        ),
    )

    def roots(self, env: Env) -> list[Path]:
        base = Path(env.var("CODEX_HOME") or env.home / ".codex")
        return [base / "sessions", base / "archived_sessions"]

    def discover(self, root: Path) -> Iterator[Path]:
        return map(Path, self.files(root))

    def files(self, root: Path) -> Iterator[str]:
        active: set[str] | None = None  # the names under sessions/, walked once an archived file needs them
        for path in walk_paths(root, _is_rollout):
            if path.endswith(".zst") and os.path.exists(path[:-4]):
                continue  # the plain sibling is the live copy
            if root.name == "archived_sessions":
                if active is None:
                    active = {_plain(os.path.basename(p)) for p in walk_paths(root.parent / "sessions", _is_rollout)}
                if _plain(os.path.basename(path)) in active:
                    continue  # the same rollout is still active: that file is the truth
            yield path

    def is_whole(self, path: str | Path) -> bool:
        return str(path).endswith(".zst")

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        reader = _Thread(path, state, result)
        marker = Marker(TYPE_T, once=SESSION_META, wanted=lambda: not state.get("meta_seen"))
        if path.name.endswith(".zst"):
            import zstandard  # only archived rollouts need it

            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as f:
                scan_stream(f, 0, marker, reader.on_line, result)  # type: ignore[arg-type]
            result.offset = path.stat().st_size
        else:
            scan_jsonl(path, offset, marker, reader.on_line, result)
        return result


def _plain(name: str) -> str:
    """A rollout's name without the archive's ``.zst``."""
    return name[:-4] if name.endswith(".zst") else name


def _is_rollout(name: str) -> bool:
    return name.startswith("rollout-") and (name.endswith(".jsonl") or name.endswith(".jsonl.zst"))


class _Thread:
    """Per-file reading state; it lives in ``state`` so a later read resumes exactly."""

    def __init__(self, path: Path, state: dict[str, Any], result: ParseResult) -> None:
        self.path = path
        self.s = state
        self.result = result
        state.setdefault("thread", _thread_from_name(path.name))
        state.setdefault("model", None)
        state.setdefault("project", "")
        state.setdefault("prev", None)  # cumulative counters after the last counted event
        state.setdefault("prev_last", None)  # the last counted event's own numbers, when it had no totals
        state.setdefault("replay_second", None)  # a fork's replayed burst is only a baseline

    def on_line(self, obj: dict[str, Any], at: int) -> None:
        kind = obj.get("type")
        payload = obj.get("payload")
        if not isinstance(payload, dict):
            return
        if kind == "session_meta":
            self._meta(obj, payload)
        elif kind == "turn_context":
            model = payload.get("model")
            if isinstance(model, str) and model:
                self.s["model"] = model
            if isinstance(payload.get("cwd"), str) and not self.s["project"]:
                self.s["project"] = payload["cwd"]
        elif kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            if isinstance(info, dict):
                self._usage(obj, info.get("total_token_usage"), info.get("last_token_usage"), TOKEN_COUNT)
        elif kind == "token_usage_record":
            self._usage(obj, payload.get("thread_token_usage"), payload.get("usage"), USAGE_RECORD)

    def _meta(self, obj: dict[str, Any], payload: dict[str, Any]) -> None:
        if self.s.get("meta_seen"):
            return  # later session_meta lines are copies of a parent's; the first is canonical
        self.s["meta_seen"] = True
        if isinstance(payload.get("id"), str):
            self.s["thread"] = payload["id"]
        if isinstance(payload.get("cwd"), str):
            self.s["project"] = payload["cwd"]
        source = payload.get("source")
        spawned = isinstance(source, dict) and "subagent" in source
        if payload.get("forked_from_id") or spawned:
            ts = iso_ms(obj.get("timestamp"))
            self.s["replay_second"] = None if ts is None else ts // 1000

    def _usage(self, obj: dict[str, Any], total: Any, last: Any, prio: int) -> None:
        if isinstance(total, dict):
            cum: list[int] | None = counts(list(map(total.get, _FIELDS, _ZEROS)))
            if cum == self.s["prev"]:
                return  # a re-emit on a UI or rate-limit refresh
        elif isinstance(last, dict):
            cum = None  # only the call's own numbers
        else:
            return
        ts = iso_ms(obj.get("timestamp"))
        if ts is None:
            self.result.skip("usage line without timestamp")
            return
        replay = self.s["replay_second"]
        if replay is not None:
            if ts // 1000 == replay:
                if cum is not None:
                    self.s["prev"] = cum  # the parent's history, already counted in its own file
                return
            self.s["replay_second"] = None
        if cum is None:
            delta = counts(list(map(last.get, _FIELDS, _ZEROS)))
            if delta == self.s["prev_last"]:
                return  # with no totals to compare, a repeat of the previous call's numbers is the re-emit
            self.s["prev_last"] = delta
            key = f"cx:@{ts}+{':'.join(map(str, delta))}"  # the same line in every copy of the file
        else:
            prev = self.s["prev"]
            self.s["prev"] = cum
            if isinstance(last, dict):
                delta = counts(list(map(last.get, _FIELDS, _ZEROS)))
            elif prev is not None and all(c >= p for c, p in zip(cum, prev, strict=True)):
                delta = [c - p for c, p in zip(cum, prev, strict=True)]
            else:
                delta = cum  # first counter of the file, or after a reset
            counters = ":".join(map(str, cum))
            # without session_meta the thread id is the file's own name, which a copy does not share
            key = f"cx:{self.s['thread']}:{counters}" if self.s.get("meta_seen") else f"cx:@{ts}:{counters}"
        inp_all, cached, out, rsn, _total, cw = delta
        if inp_all == 0 and out == 0 and cached == 0:
            return  # context-window fill: only total_tokens is set
        thread = self.s["thread"]
        self.result.events.append(
            UsageEvent(  # key, prio, agent, ts, model, session, project, in, cw, cr, out, rsn
                key,
                prio,
                "codex",
                ts,
                self.s["model"] or FALLBACK_MODEL,
                thread,
                self.s["project"],
                max(fresh(inp_all, cached) - cw, 0),  # input includes the cache read
                cw,
                cached,
                out,
                rsn,
            )
        )


_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
    "cache_write_input_tokens",
)


def _thread_from_name(name: str) -> str:
    """``rollout-2026-11-20T09-00-00-<uuid>.jsonl`` -> ``<uuid>``; used until session_meta is seen."""
    stem = name.split(".", 1)[0]
    parts = stem.split("-")
    return "-".join(parts[-5:]) if len(parts) >= 5 else stem


_ZEROS = (0,) * len(_FIELDS)  # a missing counter is 0
