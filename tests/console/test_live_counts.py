"""What a launch knows before it starts, and what a run counts, over the real OpenSSH server on 127.0.0.1.

The host logs in as root (the sshd fixture), as the dedicated machines often do: Claude Code refuses
to skip permissions there unless the host is marked a sandbox. The stand-in agents sit in the host's
~/.local/bin, off the non-login PATH, and answer ``--version`` as the real CLIs do.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import Server, add_host, tokenclub, wait_ended

STANDIN = Path(__file__).with_name("standin_agent.py")
NAMES = ("claude", "codex", "gemini", "opencode", "qwen")
CALL = 100 + 50 + 1000 + 20  # the stand-ins' tokens per call (in, cw, cr, out)


@pytest.fixture
def box(sshd: Server, host_home: Path, workstation: Path) -> Path:
    bin_dir = host_home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(STANDIN, bin_dir / name)
        (bin_dir / name).chmod(0o755)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    return workstation


def launch(home: Path, agent: str, goal: str, *extra: str) -> Any:
    argv = ("session", "launch", "--host", "box", "--agent", agent, "--goal", goal, "--json", *extra)
    return tokenclub(*argv, home=home, check=False)


def check(home: Path) -> dict[str, Any]:
    return json.loads(tokenclub("host", "check", "box", "--json", home=home).stdout)  # type: ignore[no-any-return]


def test_host_check_finds_the_clis_where_runs_do_and_names_their_versions(box: Path, host_home: Path) -> None:
    clis = check(box)["clis"]
    bin_dir = host_home / ".local" / "bin"
    assert clis["claude"] == {"path": str(bin_dir / "claude"), "version": "2.0.76 (Claude Code)"}
    assert clis["codex"] == {"path": str(bin_dir / "codex"), "version": "codex-cli 0.63.0"}
    assert clis["gemini"]["version"] == "0.61.0" and clis["qwen"]["version"] == "0.18.1"
    assert clis["amp"] == {"path": None, "version": None}
    text = tokenclub("host", "check", "box", home=box).stdout
    assert f"claude: 2.0.76 (Claude Code) ({bin_dir / 'claude'})" in text and "amp: not installed" in text


def test_claude_as_root_needs_the_hosts_sandbox_setting(box: Path) -> None:
    assert check(box)["claude_root"].startswith("runs as root with IS_SANDBOX=1")
    tokenclub("host", "set", "box", "--no-claude-sandbox", home=box)
    said = check(box)["claude_root"]
    assert "refuses to skip permissions" in said and "tokenclub host set box --claude-sandbox" in said
    refused = launch(box, "claude-code", "STANDIN steps=1")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "Claude Code refuses to skip permissions" in refused.stderr and "logs in as root" in refused.stderr
    assert json.loads(tokenclub("session", "list", "--json", home=box).stdout)["sessions"] == []
    launch(box, "codex", "STANDIN steps=1").check_returncode()  # the other agents are not concerned
    tokenclub("host", "set", "box", "--claude-sandbox", home=box)
    row = json.loads(launch(box, "claude-code", "STANDIN steps=2").stdout)
    done = wait_ended(box, row["id"])  # the stand-in, like Claude Code, refuses root without IS_SANDBOX=1
    assert done["status"] == "finished" and done["tokens"]["total"] == 2 * CALL, done


def test_a_dollar_budget_needs_a_model_known_at_launch(box: Path, host_home: Path) -> None:
    refused = launch(box, "codex", "STANDIN steps=1", "--budget-usd", "1")
    assert refused.returncode == 2, refused.stderr
    assert "model of this codex run is unknown at launch" in refused.stderr and "pass --model" in refused.stderr
    (host_home / ".codex").mkdir()
    (host_home / ".codex" / "config.toml").write_text('model = "gpt-5-codex"\n')
    started = launch(box, "codex", "STANDIN mode=burn delay=0.02", "--budget-usd", "0.001")
    assert started.returncode == 0, started.stderr
    row = json.loads(started.stdout)
    assert row["model"] == "gpt-5-codex" and row["model_source"] == str(host_home / ".codex" / "config.toml")
    done = wait_ended(box, row["id"])
    assert done["status"] == "over-budget", done
    assert re.fullmatch(r"spent \$0\.0\d{1,5} of a \$0\.001 budget", done["reason"]), done["reason"]
    assert done["models"] == ["gpt-5-codex"] and done["cost_usd"] is not None and done["cost_usd"] >= 0.001


def test_a_run_whose_model_is_unknown_at_launch_says_so_and_is_priced_once_named(box: Path) -> None:
    started = launch(box, "opencode", "STANDIN steps=2")
    assert started.returncode == 0, started.stderr
    row = json.loads(started.stdout)
    assert row["model"] is None and row["model_source"] == "no model in the OpenCode configs"
    text = tokenclub(
        "session", "launch", "--host", "box", "--agent", "opencode", "--goal", "STANDIN steps=1", home=box
    ).stdout
    assert "model unknown at launch (no model in the OpenCode configs)" in text
    done = wait_ended(box, row["id"])
    assert done["status"] == "finished" and done["tokens"]["total"] == 2 * CALL, done
    assert done["models"] == ["claude-sonnet-4-5"] and done["cost_usd"] is not None, done  # from its messages


PRICES = {"gemini-2.5-pro": (1e-6, 0.0, 0.0, 1e-7, 1e-5), "claude-sonnet-4-5": (3e-6, 3.75e-6, 6e-6, 3e-7, 1.5e-5)}


def settled(agent: str, model: str | None, configured: str | None, uid: int = 1000, **kw: Any) -> Any:
    from app.console.sessions import Launch

    spec = Launch(agent=agent, goal="g", model=model, **kw)
    spec.settle("box", uid, configured, "its config", PRICES.get)
    return spec


def test_a_launch_prices_the_model_the_cli_would_use() -> None:
    from app.console import agents

    spec = settled("gemini-cli", None, "auto-gemini-2.5", budget_usd=1.0)
    assert spec.resolved_model == "auto-gemini-2.5" and spec.model_source == "its config"
    assert list(spec.rates) == ["gemini-2.5-pro"]  # the routed models that have a price
    assert spec.request("r")["run"]["model"] is None  # routed per call: each call names its own
    spec = settled("opencode", "anthropic/claude-sonnet-4-5", "openai/gpt-5", budget_usd=1.0)
    assert spec.model_source == "--model" and spec.request("r")["run"]["model"] == "claude-sonnet-4-5"
    with pytest.raises(agents.Refused, match=r"unknown at launch \(its config\).*pass --model"):
        settled("codex", None, None, budget_usd=1.0)
    with pytest.raises(agents.Refused, match="gpt-9 has no price"):
        settled("codex", "gpt-9", None, budget_usd=1.0)
    assert settled("codex", None, None).resolved_model is None  # no dollar budget: it may start
    with pytest.raises(agents.Refused, match="refuses to skip permissions") as refused:
        settled("claude-code", None, None, uid=0)
    assert refused.value.exit_code == 2
    assert settled("claude-code", None, None, uid=0, claude_sandbox=True).request("r")["run"]["claude_sandbox"]


def test_money_is_written_alike_on_both_sides() -> None:
    from app.console import sessions
    from app.console.remote import supervisor

    for amount in (0.0, 0.000049, 0.001, 0.0107, 0.0123, 0.5, 1.0, 12.345, 1234.5):
        assert sessions.usd(amount) == supervisor._usd(amount)


def test_an_impossible_count_is_ignored_with_a_note_in_the_runs_events(box: Path, host_home: Path) -> None:
    odd = host_home / ".local" / "bin" / "oddagent"
    bad = {
        "type": "assistant",
        "message": {"id": "m1", "model": "m", "usage": {"input_tokens": -5, "output_tokens": 7}},
    }
    good = {
        "type": "assistant",
        "message": {"id": "m2", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 2**60}},
    }
    done = {"type": "result", "subtype": "success", "is_error": False, "result": "ok", "modelUsage": {}}
    lines = "\n".join(json.dumps(e) for e in (bad, good, done))
    odd.write_text(f"#!/bin/sh\ncat >/dev/null\ncat <<'EOF'\n{lines}\nEOF\n")
    odd.chmod(0o755)
    argv = ("--command", "oddagent", "--format", "claude")
    row = json.loads(launch(box, "custom", "go", *argv).stdout)
    row = wait_ended(box, row["id"])
    assert row["status"] == "finished", row
    assert row["tokens"] == {"in": 3, "cw": 0, "cr": 0, "out": 7, "total": 10}
    assert row["notes"] == [
        "ignored input_tokens=-5 in claude output: not a token count",
        f"ignored output_tokens={2**60} in claude output: not a token count",
    ]
    tail = tokenclub("session", "tail", row["id"], home=box).stdout
    assert "!! tokenclub: ignored input_tokens=-5 in claude output: not a token count" in tail
