"""Record each real agent CLI's headless stream and session log against the local model server.

    .venv/bin/python -m tests.console.record_streams

needs tests/realagents/node_modules (``./dev.sh test`` installs it). Each CLI runs once, fresh, in a
home of its own; what it printed, the lines of its session log that carry usage or the model, and
what the server returned on every call go to tests/fixtures/streams/recorded/, which
tests/console/test_stream_parser.py feeds to the host helper's parser.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.realagents.agents import AGENTS, VERSIONS, installed, run
from tests.realagents.model_server import ModelServer

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "streams" / "recorded"
PROMPT = "What is 2+2?"
LOGS = {  # where each CLI writes its session log under its home
    "claude": ".claude/projects/*/*.jsonl",
    "codex": ".codex/sessions/*/*/*/rollout-*.jsonl",
    "gemini": ".gemini/tmp/*/chats/session-*.jsonl",
}


def _kept(name: str, line: str) -> bool:
    """The log lines the live parser reads (the rest holds prompts and tool output)."""
    doc = json.loads(line)
    if name == "claude":
        return bool(doc.get("type") == "assistant")
    if name == "codex":
        kind = (doc.get("payload") or {}).get("type")
        return doc.get("type") == "turn_context" or kind == "token_count"
    return True


def _purpose(request: dict[str, Any]) -> str:
    """What a call was for, where a CLI makes calls it never reports (OpenCode's session title)."""
    first = (request.get("messages") or [{}])[0]
    text = str(first.get("content") or "") if isinstance(first, dict) else ""
    return "title" if text.startswith("You are a title generator") else "main"


def record(name: str) -> None:
    agent = AGENTS[name]
    with tempfile.TemporaryDirectory(prefix=f"record-{name}-") as tmp, ModelServer() as server:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        env = agent.configure(home, server.url)
        done = run(agent.argv(PROMPT, False), env, work)
        if done.returncode != 0 or done.timed_out:
            raise SystemExit(f"{name}: exit {done.returncode}: {done.stderr[-2000:]}")
        stem = f"{name}-{VERSIONS[name]}"
        (OUT / f"{stem}.stream.jsonl").write_text(done.stdout)
        logs = sorted(home.glob(LOGS[name])) if name in LOGS else []
        if logs:
            kept = [line for line in logs[0].read_text().splitlines() if line.strip() and _kept(name, line)]
            (OUT / f"{stem}.log.jsonl").write_text("\n".join(kept) + "\n")
        calls = [
            {"api": c.api, "model": c.model, "usage": c.usage, "purpose": _purpose(c.request)} for c in server.calls
        ]
        doc = {"cli": name, "version": VERSIONS[name], "log": logs[0].name if logs else None, "calls": calls}
        (OUT / f"{stem}.server.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{stem}: {len(calls)} calls, stream {len(done.stdout)} bytes, log {logs[0].name if logs else '-'}")


def main() -> int:
    if not installed():
        print("tests/realagents/node_modules is absent: run ./dev.sh test first", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(AGENTS):
        record(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
