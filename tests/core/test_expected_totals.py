"""Every fixture, indexed together, gives EXPECTED.md's totals per agent, model and UTC day."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.core import reports
from app.core.index import Index
from app.sources import all_sources

# (agent) -> {(UTC day, model): (in, out, cw, cr, rsn)}, copied from EXPECTED.md
EXPECTED: dict[str, dict[tuple[str, str], tuple[int, int, int, int, int]]] = {
    "claude-code": {
        ("2026-11-19", "claude-sonnet-4-5-20250929"): (1200, 340, 0, 0, 0),
        ("2026-11-20", "claude-haiku-4-5-20251001"): (28, 210, 3000, 3000, 0),
        ("2026-11-20", "claude-sonnet-4-5-20250929"): (10, 642, 13500, 12000, 0),
        ("2026-11-21", "claude-opus-4-5-20251101"): (3, 95, 800, 13500, 0),
        ("2026-11-21", "claude-sonnet-4-5-20250929"): (5, 310, 600, 14000, 0),
    },
    "codex": {
        ("2026-11-17", "gpt-5-codex"): (2000, 200, 0, 1000, 64),
        ("2026-11-18", "gpt-5-codex"): (5000, 800, 0, 0, 512),
        ("2026-11-19", "gpt-5.1-codex"): (9000, 470, 0, 7900, 264),
        ("2026-11-20", "gpt-5.1-codex-max"): (3300, 1040, 0, 23700, 576),
        ("2026-11-21", "gpt-5.1-codex"): (1000, 150, 0, 5000, 32),
    },
    "gemini-cli": {
        ("2026-11-15", "gemini-2.5-pro"): (5000, 500, 0, 2000, 0),
        ("2026-11-20", "gemini-2.5-flash"): (7000, 1310, 0, 30000, 390),
        ("2026-11-20", "gemini-2.5-pro"): (7000, 2750, 0, 20000, 1600),
        ("2026-11-21", "gemini-2.5-flash"): (9250, 400, 0, 0, 0),
        ("2026-11-22", "gemini-2.5-pro"): (600, 300, 0, 7000, 0),
    },
    "opencode": {
        ("2026-11-20", "claude-sonnet-4-5"): (42, 1060, 15900, 15000, 0),
        ("2026-11-20", "gpt-5.1"): (2100, 900, 0, 6000, 512),
        ("2026-11-21", "claude-opus-4-5"): (8, 210, 400, 15900, 0),
    },
    "qwen-code": {
        ("2026-11-20", "qwen3-coder-plus"): (12500, 900, 0, 23000, 0),
        ("2026-11-21", "qwen3-coder-flash"): (1000, 250, 0, 7000, 0),
        ("2026-11-21", "qwen3-coder-plus"): (1000, 500, 0, 15000, 0),
    },
    "amp": {
        ("2026-11-20", "claude-sonnet-4-5-20250929"): (16, 722, 9700, 9000, 0),
        ("2026-11-21", "claude-opus-4-5-20251101"): (15, 330, 1200, 8000, 0),
    },
}
AGENT_TOTALS = {
    "claude-code": 63243,
    "codex": 60560,
    "gemini-cli": 93110,
    "opencode": 57520,
    "qwen-code": 61150,
    "amp": 28983,
}


BUILT = {s.agent for s in all_sources()}


def per_day_model(index: Index, agent: str) -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
    flt = reports.Filter(agents=frozenset({agent}))
    found = {}
    for day in reports.days(index.conn, flt):
        for model, t in day.by_model.items():
            found[(day.date.isoformat(), model)] = (t.inp, t.out, t.cw, t.cr, t.rsn)
    return found


@pytest.mark.parametrize("agent", sorted(EXPECTED))
def test_each_agent_matches_expected(fixture_home: Path, indexed: Callable[[Path], Index], agent: str) -> None:
    if agent not in BUILT:
        pytest.skip(f"no {agent} source yet")
    index = indexed(fixture_home)
    assert per_day_model(index, agent) == EXPECTED[agent]


def test_grand_totals(fixture_home: Path, indexed: Callable[[Path], Index]) -> None:
    index = indexed(fixture_home)
    doc = reports.daily(index.conn, reports.Filter())
    by_agent: dict[str, int] = {}
    for day in doc["days"]:
        for agent, t in day["by_agent"].items():
            by_agent[agent] = by_agent.get(agent, 0) + t["total"]
        assert day["total"] == day["in"] + day["cw"] + day["cr"] + day["out"]
    expected = {a: t for a, t in AGENT_TOTALS.items() if a in BUILT}
    assert by_agent == expected
    assert doc["totals"]["total"] == sum(expected.values())  # 364566 with every agent built


def test_reindexing_everything_again_changes_nothing(
    fixture_home: Path, indexed: Callable[[Path], Index], tmp_path: Path
) -> None:
    """Forgetting every file's offset and reading it all again must not double a token."""
    index = indexed(fixture_home)
    before = reports.daily(index.conn, reports.Filter())["totals"]
    index.conn.execute("DELETE FROM files")
    from app.core.env import Env

    index.refresh(Env.under(fixture_home), workers=1)
    assert reports.daily(index.conn, reports.Filter())["totals"] == before
