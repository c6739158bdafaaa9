"""Gemini CLI: ``<root>/tmp/<project>/chats/session-*.jsonl``, sub-agents in ``chats/<parent>/<id>.jsonl``.

A ``.jsonl`` session starts with a metadata line carrying ``sessionId``; every later
change to a message appends the whole message again (tokens arriving late, tool-call
status updates), so the last line with a given message ``id`` is its current version.
Legacy builds wrote one ``session-*.json`` document, rewritten whole; resuming one
migrates it to a ``.jsonl`` beside it that repeats every message.

The de-duplication key is (``sessionId``, message ``id``). In a ``.jsonl`` the prio is the
line's byte offset above a floor, so a later line replaces an earlier one; a legacy
``.json`` copy is prioritised by its mtime, always below the floor, so the ``.jsonl`` wins.
Messages dropped by ``$rewindTo`` are still counted: the API call was made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor, Headless
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, fresh, iso_ms, needle, read_json, scan_jsonl, walk

MARKER = needle(b'"sessionId"', b'"tokens"')

JSONL_FLOOR = 1 << 50  # above any mtime in ms: a .jsonl line beats a legacy .json copy


class GeminiCli(Source):
    agent = "gemini-cli"
    title = "Gemini CLI"
    descriptor = Descriptor(
        env=("GEMINI_CLI_HOME",),
        colour="#4285f4",
        headless=Headless(("gemini", "--output-format", "stream-json", "--yolo"), "gemini"),
    )

    def roots(self, env: Env) -> list[Path]:
        home = Path(env.var("GEMINI_CLI_HOME") or env.home)
        return [home / ".gemini" / "tmp"]

    def discover(self, root: Path) -> Iterator[Path]:
        for path in walk(root, _is_session):
            if "chats" in path.relative_to(root).parts[:-1]:  # tmp/ also holds logs and checkpoints
                yield path

    def is_whole(self, path: str | Path) -> bool:
        return str(path).endswith(".json")

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        project = _project_of(path)
        state.setdefault("session", path.stem)  # until the metadata line names it

        def add(message: Any, prio: int) -> None:
            if not isinstance(message, dict) or message.get("type") != "gemini":
                return
            tokens = message.get("tokens")
            msg_id = message.get("id")
            if not isinstance(tokens, dict) or not isinstance(msg_id, str):
                return
            cached = count(tokens.get("cached"))
            thoughts = count(tokens.get("thoughts"))
            inp = fresh(count(tokens.get("input")), cached) + count(tokens.get("tool"))
            out = count(tokens.get("output")) + thoughts
            if inp + out + cached == 0:
                return
            ts = iso_ms(message.get("timestamp"))
            if ts is None:
                result.skip("usage line without timestamp")
                return
            session = state["session"]
            result.events.append(
                UsageEvent(
                    key=f"gm:{session}:{msg_id}",
                    prio=prio,
                    agent=self.agent,
                    ts=ts,
                    model=str(message.get("model") or "unknown"),
                    session=session,
                    project=project,
                    inp=inp,
                    cw=0,
                    cr=cached,
                    out=out,
                    rsn=thoughts,
                )
            )

        if path.suffix == ".json":
            doc = read_json(path, result)
            if isinstance(doc, dict):
                if isinstance(doc.get("sessionId"), str):
                    state["session"] = doc["sessionId"]
                mtime_ms = path.stat().st_mtime_ns // 1_000_000
                for message in doc.get("messages") or ():
                    result.record(add, message, mtime_ms)
            return result

        def on_line(obj: dict[str, Any], at: int) -> None:
            if "id" in obj:
                add(obj, JSONL_FLOOR + at)
            elif isinstance(obj.get("$set"), dict):
                # a checkpoint that replaces the message list: its messages are current versions too
                for message in obj["$set"].get("messages") or ():
                    result.record(add, message, JSONL_FLOOR + at)
            elif isinstance(obj.get("sessionId"), str):
                state["session"] = obj["sessionId"]

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result


def _is_session(name: str) -> bool:
    return name.endswith(".jsonl") or (name.startswith("session-") and name.endswith(".json"))


def _project_of(path: Path) -> str:
    """The owner recorded in ``tmp/<project>/.project_root``, else the project directory's name."""
    parts = path.parts
    if "chats" not in parts:
        return path.parent.name
    project_dir = Path(*parts[: len(parts) - 1 - parts[::-1].index("chats")])
    try:
        return (project_dir / ".project_root").read_text(encoding="utf-8").strip() or project_dir.name
    except OSError:
        return project_dir.name
