"""Console runs of the real agent CLIs on the real OpenSSH server, against the local model server.

The CLIs are the npm packages of tests/realagents (skipped without them). Each sits in the host's
~/.local/bin behind a two-line wrapper that gives it its config's environment (the model server's
address, a fake key); the home holds its config. A run's tokens, model and cost must equal what
the server returned, except the calls a CLI reports nowhere (OpenCode's session title). The host
logs in as root and is marked a sandbox, so Claude Code runs with IS_SANDBOX=1.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.console import sessions
from tests.console.conftest import Server, add_host, tokenclub, wait_ended

realagents = pytest.importorskip("tests.realagents.agents", reason="the realagents tier is not in this tree")
model_server = pytest.importorskip("tests.realagents.model_server")
pytestmark = pytest.mark.skipif(not realagents.installed(), reason="tests/realagents/node_modules is absent")

GOAL = "What is 2+2?"
RUN_S = 180  # a ceiling for a real CLI's run, its npm start-up and model calls included


def install(home: Path, name: str, url: str) -> str:
    """The CLI ``name`` on the host, configured for the server at ``url``; its TokenClub agent id."""
    agent = realagents.AGENTS[name]
    env = agent.configure(home, url)
    exe = agent.argv(GOAL, False)[0]
    exe = exe if "/" in exe else str(realagents.BIN / exe)
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wanted = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items() if k != "HOME")
    (bin_dir / name).write_text(f'#!/bin/sh\nexec env {wanted} {shlex.quote(exe)} "$@"\n')
    (bin_dir / name).chmod(0o755)
    return str(agent.tokenclub)


@pytest.fixture
def server() -> Iterator[Any]:
    with model_server.ModelServer() as s:
        yield s


@pytest.fixture
def box(sshd: Server, host_home: Path, workstation: Path) -> Path:
    add_host(sshd, "box", workstation, "--allow-this-machine")
    return workstation


def launch(home: Path, agent: str, *extra: str) -> dict[str, Any]:
    argv = ("session", "launch", "--host", "box", "--agent", agent, "--goal", GOAL, "--json", *extra)
    done = tokenclub(*argv, home=home, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def reported(server: Any) -> list[Any]:
    """The server's calls a CLI reports somewhere: all but OpenCode's session title."""
    return [c for c in server.calls if "title generator" not in json.dumps(c.request.get("messages") or [])[:300]]


@pytest.mark.parametrize("name", ["claude", "codex", "gemini", "qwen", "opencode"])
def test_a_real_cli_run_counts_what_the_server_returned(box: Path, host_home: Path, server: Any, name: str) -> None:
    agent = install(host_home, name, server.url)
    row = wait_ended(box, launch(box, agent)["id"], RUN_S)
    assert row["status"] == "finished", row
    calls = reported(server)
    assert calls, server.requests
    sums = server.totals(calls)
    assert row["tokens"] == {
        "in": sums["in"],
        "cw": sums["cw"],
        "cr": sums["cr"],
        "out": sums["out"],
        "total": sums["in"] + sums["cw"] + sums["cr"] + sums["out"],
    }, (row, [c.usage for c in server.calls])
    models = sorted({c.model for c in calls})
    assert row["models"] == models and row["notes"] == []
    with sessions.price_book() as book:
        prices = {m: book.prices(m) for m in models}
    if any(p is None for p in prices.values()):
        assert row["cost_usd"] is None and row["unpriced_models"] == sorted(m for m, p in prices.items() if p is None)
    else:
        want = sum(
            c.usage["in"] * p[0] + c.usage["cw"] * p[1] + c.usage["cr"] * p[3] + c.usage["out"] * p[4]
            for c in calls
            if (p := prices[c.model]) is not None
        )
        assert row["cost_usd"] == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_a_token_budget_and_a_dollar_budget_stop_a_real_run(box: Path, host_home: Path, server: Any) -> None:
    agent = install(host_home, "claude", server.url)
    row = wait_ended(box, launch(box, agent, "--budget-tokens", "100")["id"], RUN_S)
    assert row["status"] == "over-budget" and row["reason"].endswith("of a 100 token budget"), row
    model = server.calls[0].model
    with sessions.price_book() as book:
        if book.prices(model) is None:
            pytest.skip(f"{model} (Claude Code's default) has no price here: no dollar budget to hold")
    row = wait_ended(box, launch(box, agent, "--model", model, "--budget-usd", "0.0001")["id"], RUN_S)
    assert row["status"] == "over-budget" and row["reason"].endswith("of a $0.0001 budget"), row
    assert row["cost_usd"] >= 0.0001
