"""``session launch --stop-at-window PCT``: the option, its checks, and the supervisor's reading of the plan's use."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import build_parser
from app.console import agents, sessions
from app.console.remote import streams
from app.console.remote import supervisor as host_supervisor

NOW = 1_795_000_000.0  # a fixed "now" for the readings, in epoch seconds


def reading(primary: float, secondary: float | None = None, reset: float = NOW + 3600) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "primary": {"used_percent": primary, "window_minutes": 300, "resets_at": int(reset)},
        "secondary": None
        if secondary is None
        else {"used_percent": secondary, "window_minutes": 10080, "resets_at": int(NOW + 86400)},
        "plan_type": "pro",
    }
    return {"timestamp": "2026-11-21T10:00:00.000Z", "type": "event_msg", "payload": {"type": "token_count",
            "info": None, "rate_limits": limits}}  # fmt: skip


def rollout(tmp_path: Path, *docs: dict[str, Any] | bytes) -> Path:
    path = tmp_path / "rollout-2026-11-21T10-00-00-0199a0b1-c2d3-7e4f-8a9b-0c1d2e3f4a52.jsonl"
    with open(path, "wb") as f:
        for d in docs:
            f.write(d if isinstance(d, bytes) else json.dumps(d, separators=(",", ":")).encode() + b"\n")  # as Codex
    return path


def test_the_fullest_open_window_of_the_last_reading(tmp_path: Path) -> None:
    assert streams.plan_window(rollout(tmp_path, reading(40.0), reading(91.5, 20.0)), NOW) == ("primary", 91.5)
    assert streams.plan_window(rollout(tmp_path, reading(10.0, 97.0)), NOW) == ("secondary", 97.0)
    # the 5-hour window reset since the reading: only the weekly one speaks of now
    assert streams.plan_window(rollout(tmp_path, reading(99.0, 30.0, reset=NOW - 1)), NOW) == ("secondary", 30.0)


def test_a_zero_placeholder_does_not_hide_the_real_reading(tmp_path: Path) -> None:
    path = rollout(tmp_path, reading(96.0, 20.0), reading(0.0, 0.0), b"not json\n", b'{"rate_limits":{}\n')
    assert streams.plan_window(path, NOW) == ("primary", 96.0)
    assert streams.plan_window(rollout(tmp_path, reading(0.0, 0.0)), NOW) is None
    assert streams.plan_window(rollout(tmp_path, b'{"type":"session_meta"}\n'), NOW) is None
    assert streams.plan_window(tmp_path / "missing.jsonl", NOW) is None


def supervisor(spec: dict[str, Any], log: Path | None) -> Any:
    """The supervisor's budget check alone, on a run whose own rollout is ``log``."""
    sup = object.__new__(host_supervisor._Supervisor)
    sup.spec = spec
    sup.usage = streams._Usage("codex", True, "codex", "gpt-5.1-codex")
    sup.usage._log = None if log is None else ["thread", str(log), 0]
    sup.rates = {}
    sup.t0 = time.time()
    sup._window_read = float("-inf")
    return sup


def test_the_supervisor_stops_a_run_past_its_window(tmp_path: Path) -> None:
    now = time.time()
    path = rollout(tmp_path, reading(91.0, 12.0, reset=now + 3600))
    sup = supervisor({"budgets": {"window_pct": 90}}, path)
    assert sup._budget_breach() == "the Codex plan's primary window is at 91% (stop at 90%)"
    assert supervisor({"budgets": {"window_pct": 95}}, path)._budget_breach() is None
    assert supervisor({"budgets": {"window_pct": 90}}, None)._budget_breach() is None  # its rollout not found yet
    assert supervisor({"budgets": {}}, path)._budget_breach() is None
    quiet = supervisor({"budgets": {"window_pct": 95}}, path)
    assert quiet._budget_breach() is None
    rollout(tmp_path, reading(99.0, reset=now + 3600))
    assert quiet._budget_breach() is None  # read again only after WINDOW_EVERY_S
    quiet._window_read -= host_supervisor.WINDOW_EVERY_S
    assert quiet._budget_breach() == "the Codex plan's primary window is at 99% (stop at 95%)"


def test_launch_checks_and_request() -> None:
    spec = sessions.Launch(agent="codex", goal="g", stop_at_window=90)
    spec.check()
    assert spec.request("r1")["run"]["budgets"] == {"tokens": None, "usd": None, "hours": None, "window_pct": 90}
    for bad in (0, -5, 100.5):
        with pytest.raises(agents.AgentError, match="percent"):
            sessions.Launch(agent="codex", goal="g", stop_at_window=bad).check()
    with pytest.raises(agents.AgentError, match="only Codex"):
        sessions.Launch(agent="claude-code", goal="g", stop_at_window=90).check()


def test_the_option_parses() -> None:
    args = build_parser().parse_args(
        ["session", "launch", "--host", "h", "--agent", "codex", "--goal", "g", "--stop-at-window", "92.5"]
    )
    assert args.stop_at_window == 92.5
