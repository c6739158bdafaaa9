"""OpenClaw: each agent's ``openclaw-agent.sqlite``, and the JSONL transcripts of older builds.

``<state>`` is ``$OPENCLAW_STATE_DIR`` (or the older ``$CLAWDBOT_STATE_DIR``), else
``~/.openclaw`` and the legacy ``~/.clawdbot``, ``~/.moldbot`` and ``~/.moltbot``;
``$OPENCLAW_HOME`` replaces the home directory (docs/formats-new-agents.md §1).

Current builds keep every transcript event in ``<state>/agents/<agentId>/agent/openclaw-agent.sqlite``,
table ``transcript_events`` (one row per event, its JSON in ``event_json`` or zstd-compressed in
``event_zstd``); older builds appended the same events to
``<state>/agents/<agentId>/sessions/<sessionId>.jsonl``. Either way an event is pi's session
format: usage sits on ``type:"message"`` events whose assistant ``message`` carries
``usage{input, output, cacheRead, cacheWrite}`` (``input`` excludes the cache). A message
without its own ``model`` takes the last ``model_change`` (``modelId``) or
``custom``/``model-snapshot`` (``data.modelId``) event before it.

Besides the live transcript, older builds keep a reset or deleted session renamed
(``<id>.jsonl.reset.<time>``, ``<id>.jsonl.deleted.<time>``) and a compaction leaves a
pre-compaction twin (``<id>.checkpoint.<uuid>.jsonl``); an upgrade imports the JSONL history
into the database. All of these repeat events already counted. The key is therefore the call
itself (its own timestamp, model and counts), as for pi, and a copy ranks below the original.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.source import ParseResult, Source
from app.sources.base import needle, scan_jsonl, scan_stream, walk
from app.sources.pi_agent import pi_call
from app.sources.sqlite_ro import columns, open_ro, wal

MARKER = needle(b'"usage"', b'"session"', b'"model_change"', b'"model-snapshot"')

STATE_DIRS = (".openclaw", ".clawdbot", ".moldbot", ".moltbot")  # new first, then the legacy names
DATABASE = "openclaw-agent.sqlite"
MAX_EVENT = 4 << 20  # OpenClaw's own bound on one stored event (its CHECK on event_utf8_bytes)
_ARCHIVE = re.compile(r"\.jsonl\.(?:reset|deleted)\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d{3})?Z(?:\.zst)?$")
_CHECKPOINT = re.compile(r"\.checkpoint\.[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\.jsonl$", re.IGNORECASE)
# Events worth decoding: the session header (its cwd), model changes and calls; compressed ones are all read.
_WANTED = (
    "event_zstd IS NOT NULL OR seq = 0 OR instr(event_json, '\"usage\"') > 0"
    " OR instr(event_json, '\"model_change\"') > 0 OR instr(event_json, '\"model-snapshot\"') > 0"
)

ORIGINAL, COPY = 1, 0


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
    descriptor = Descriptor(env=("OPENCLAW_HOME", "OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"))

    def roots(self, env: Env) -> list[Path]:
        override = env.var("OPENCLAW_STATE_DIR") or env.var("CLAWDBOT_STATE_DIR")
        if override:
            return [Path(override).expanduser() / "agents"]
        home = Path(env.var("OPENCLAW_HOME") or env.home)
        return [home / name / "agents" for name in STATE_DIRS]

    def discover(self, root: Path) -> Iterator[Path]:
        for path in walk(root, lambda name: name == DATABASE or is_transcript(name)):
            parts = path.relative_to(root).parts
            if len(parts) == 3 and parts[1] == ("agent" if parts[2] == DATABASE else "sessions"):
                yield path  # <agentId>/agent/openclaw-agent.sqlite or <agentId>/sessions/<file>

    def is_whole(self, path: str | Path) -> bool:
        return str(path).endswith((DATABASE, ".zst"))

    def companions(self, path: Path) -> tuple[Path, ...]:
        return wal(path) if path.name == DATABASE else ()

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        if path.name == DATABASE:
            return self._parse_database(path, state)
        result = ParseResult(state=state)
        name = path.name
        state.setdefault("session", session_of(name))
        state.setdefault("project", path.parent.parent.name)  # the agent id until the header names a cwd
        state.setdefault("model", "unknown")
        prio = ORIGINAL if name.endswith(".jsonl") and not _CHECKPOINT.search(name) else COPY

        def on_line(obj: dict[str, Any], at: int) -> None:
            self._event(obj, state, prio, result)

        if name.endswith(".zst"):  # an archive the database published when the session was reset or deleted
            import zstandard

            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as f:
                scan_stream(f, 0, MARKER, on_line, result)  # type: ignore[arg-type]
            result.offset = path.stat().st_size
        else:
            scan_jsonl(path, offset, MARKER, on_line, result)
        return result

    def _parse_database(self, path: Path, state: dict[str, Any]) -> ParseResult:
        """Every call in the agent's ``transcript_events``, read whole (with its WAL) on each change."""
        result = ParseResult(state=state)
        conn = open_ro(path, result)
        if conn is None:
            return result
        agent_id = path.parent.parent.name
        sessions: dict[str, dict[str, Any]] = {}
        try:
            have = columns(conn, "transcript_events")
            if not {"session_id", "seq", "event_json"} <= have:
                result.skip("no transcript_events table")
                return result
            zstd = "event_zstd" if "event_zstd" in have else "NULL"
            wanted = _WANTED if zstd != "NULL" else _WANTED.replace("event_zstd IS NOT NULL OR ", "")
            rows = conn.execute(
                f"SELECT session_id, event_json, {zstd} FROM transcript_events WHERE {wanted} ORDER BY session_id, seq"
            )
            for session, text, packed in rows:
                obj = _decode(text, packed, result)
                if obj is None:
                    continue
                own = sessions.setdefault(
                    str(session), {"session": str(session), "project": agent_id, "model": "unknown"}
                )
                result.record(self._event, obj, own, ORIGINAL, result)
        except sqlite3.Error as exc:
            result.skip(f"unreadable database: {exc}")
        finally:
            conn.close()
        return result

    def _event(self, obj: dict[str, Any], state: dict[str, Any], prio: int, result: ParseResult) -> None:
        """Follow the header and model changes in ``state``; append the call an assistant message reports."""
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
        call = pi_call(obj, result)
        if call is not None:
            model = str(call.message.get("model") or call.message.get("modelId") or state["model"])
            result.events.append(call.event(self.agent, "openclaw", model, prio, state["session"], state["project"]))


def _decode(text: Any, packed: Any, result: ParseResult) -> dict[str, Any] | None:
    """A stored event as a dict: its JSON text, or its zstd-compressed JSON (bounded), else None (counted)."""
    import orjson

    raw: Any = text
    if raw is None and isinstance(packed, bytes):
        import io

        import zstandard  # only compressed events need it

        try:  # read through a stream: a frame claiming a huge size is never allocated whole
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packed)) as reader:
                raw = reader.read(MAX_EVENT + 1)
        except zstandard.ZstdError:
            result.skip("undecodable event (zstd)")
            return None
        if len(raw) > MAX_EVENT:
            result.skip("event over 4 MiB")
            return None
    if not isinstance(raw, str | bytes):
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        result.skip("malformed JSON")
        return None
    return obj if isinstance(obj, dict) else None
