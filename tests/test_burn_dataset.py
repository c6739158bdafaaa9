"""The generated burn dataset is itself indexed exactly (screenshots and benchmarks rely on it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from app.core import reports
from app.core.index import Index
from app.core.milestones import DEFAULT_MILESTONES, tier_for
from tests.burn_dataset import write_burn_home


def test_every_day_and_every_tier(tmp_path: Path, indexed: Callable[[Path], Index]) -> None:
    burn = write_burn_home(tmp_path / "home", days=120, end=date(2026, 11, 20))
    doc = reports.daily(indexed(tmp_path / "home").conn, reports.Filter())
    assert {d["date"]: d["total"] for d in doc["days"]} == burn.per_day
    tiers = {tier_for(total, DEFAULT_MILESTONES) for total in burn.per_day.values()}
    assert tiers == {None, "10M", "100M", "1B"}
