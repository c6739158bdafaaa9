"""TokenClub's reports on what the real agent CLIs wrote, held to the usage the model server returned.

Each CLI runs headless in a home of its own: two fresh turns and two resumed ones, each answered
with distinctive usage. ``tokenclub report daily --json --home <that home>`` must then total
exactly the server's recorded usage in every bucket, and the index must hold the same calls one by
one, except the calls a CLI writes nowhere on disk (named below, with the evidence).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.model import BUCKETS
from tests.realagents.agents import AGENTS, HERE, NODE_MODULES, run
from tests.realagents.model_server import Call, ModelServer

pytestmark = pytest.mark.realagents

# fresh, resumed, fresh, resumed: each resume continues the session the turn before it started
TURNS = (("Say four.", False), ("Again.", True), ("Say four once more.", False), ("And again.", True))


def gemini_router(call: Call) -> bool:
    # Gemini CLI's model router asks a small model, with a JSON schema, which model should take the
    # turn (ModelRouterService.route -> ClassifierStrategy, generateContent, not streamed). The
    # session log (~/.gemini/tmp/<project>/chats/session-*.jsonl) records only the conversation's
    # own messages, with their tokens; the router's usage goes to telemetry only, which is off.
    config = call.request.get("generationConfig") or {}
    return call.api == "gemini" and not call.stream and config.get("responseMimeType") == "application/json"


def opencode_title(call: Call) -> bool:
    # OpenCode names a new session with one call to its small model ("You are a title generator");
    # it writes the title into the session row and the call's usage nowhere (no message row, no part).
    messages = call.request.get("messages") or [{}]
    return "title generator" in str(messages[0].get("content", ""))


# the calls each CLI writes nowhere, and how many of them the four turns make
UNWRITTEN: dict[str, tuple[Callable[[Call], bool], int]] = {
    "gemini": (gemini_router, 4),
    "opencode": (opencode_title, 2),
}


def _report(capsys: pytest.CaptureFixture[str], db: Path, home: Path) -> dict[str, object]:
    capsys.readouterr()
    code = main(["report", "daily", "--json", "--tz", "UTC", "--db", str(db), "--home", str(home)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _indexed_calls(db: Path, agent: str) -> list[tuple[object, ...]]:
    """Each call the index holds: its model and its five buckets."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT model, inp, cw, cr, out, rsn FROM events WHERE agent = ?", (agent,)).fetchall()
    return sorted(tuple(row) for row in rows)


@pytest.mark.parametrize("name", list(AGENTS))
def test_report_daily_equals_the_usage_the_server_returned(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = AGENTS[name]
    home = tmp_path / "home"
    project = home / "project"
    project.mkdir(parents=True)
    with ModelServer() as server:
        env = agent.configure(home, server.url)
        for prompt, resume in TURNS:
            result = run(agent.argv(prompt, resume), env, project)
            assert not result.timed_out and result.returncode == 0, (
                result.argv,
                result.stdout[-2000:],
                result.stderr[-2000:],
            )
        calls = list(server.calls)

    unwritten, how_many = UNWRITTEN.get(name, (lambda call: False, 0))
    written = [call for call in calls if not unwritten(call)]
    assert len(calls) - len(written) == how_many, [(c.api, c.path, c.stream) for c in calls]
    assert written, "the CLI made no model call"

    db = tmp_path / "index.sqlite"
    report = _report(capsys, db, home)
    totals = report["totals"]
    assert isinstance(totals, dict)
    assert {bucket: totals[bucket] for bucket in BUCKETS} == server.totals(written)
    assert totals["calls"] == len(written)
    expected = sorted((call.model, *(call.usage[bucket] for bucket in BUCKETS)) for call in written)
    assert _indexed_calls(db, agent.tokenclub) == expected


def test_the_installed_clis_are_the_pinned_versions() -> None:
    pinned = json.loads((HERE / "package.json").read_text())
    wanted = {**pinned["dependencies"], **pinned["optionalDependencies"]}
    found = {name: json.loads((NODE_MODULES / name / "package.json").read_text())["version"] for name in wanted}
    assert found == wanted
