"""Log shapes from other trackers' test suites (``tests/fixtures/peer-cases/<case>/SOURCE.md``), indexed as a home.

Each case's ``expected.json`` names its agent and that agent's totals per UTC day; no other
agent may find anything in the case's home.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core import reports
from app.core.index import Index

CASES = Path(__file__).parents[1] / "fixtures" / "peer-cases"

BUCKETS = ("in", "cw", "cr", "out")


def per_agent_day(index: Index) -> dict[str, dict[str, dict[str, int]]]:
    """agent -> UTC day -> {in, cw, cr, out}, for the days with calls."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    for day in reports.days(index.conn, reports.Filter()):
        for agent, t in day.by_agent.items():
            sums = dict(zip(BUCKETS, (t.inp, t.cw, t.cr, t.out), strict=True))
            found.setdefault(agent, {})[day.date.isoformat()] = sums
    return found


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_peer_case(case: str, indexed: Callable[[Path], Index]) -> None:
    expected = json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))
    assert expected["tz"] == "UTC"
    assert per_agent_day(indexed(CASES / case / "home")) == {expected["agent"]: expected["days"]}
