"""Index a home with one agent and read its days back: the re-read cases of the per-source tests."""

from __future__ import annotations

from pathlib import Path

from app.core import reports
from app.core.env import Env
from app.core.index import Index
from app.sources import SOURCES
from tests.sources.common import Table


def index_table(index: Index, home: Path, agent: str) -> Table:
    """Refresh ``agent`` under ``home`` into ``index``; (UTC day, model) -> (in, out, cw, cr, rsn).

    A quarter emptied by a replacement (a session total that moved to a later day) has no calls
    left and is not a day with usage.
    """
    index.refresh(Env.under(home), agents=[agent], workers=1)
    found: Table = {}
    for day in reports.days(index.conn, reports.Filter(agents=frozenset({agent}))):
        for model, t in day.by_model.items():
            if t.calls:
                found[(day.date.isoformat(), model)] = (t.inp, t.out, t.cw, t.cr, t.rsn)
    return found


def open_index(tmp: Path) -> Index:
    return Index(tmp / "index.sqlite", overrides=tmp / "no-prices.toml", sources=SOURCES)
