"""The share card's numbers (Qt-free): a member's day or week from the local index.

``app.gui.share_card`` draws them as a 1200×630 PNG. The card carries the same kind of
numbers an export does: totals, tier, streak, the top models, the cache hit rate.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from app.core.filters import Filter
from app.core.milestones import DEFAULT_MILESTONES, tier_for, tier_label
from app.core.model import Totals

TOP_MODELS = 3


def build(
    conn: sqlite3.Connection, flt: Filter, day: date, week: bool = False, member: str | None = None
) -> dict[str, Any]:
    """The card for ``day`` (or the 7 days ending on it) of the calls ``flt`` selects (its zone and agents)."""
    from app.core import reports

    start = day - timedelta(days=6) if week else day
    history = {d.date: d for d in reports.days(conn, flt._replace(since=None, until=day))}
    totals = Totals()
    models: dict[str, Totals] = {}
    active = 0
    for offset in range((day - start).days + 1):
        d = history.get(start + timedelta(days=offset))
        if d is None:
            continue
        active += 1
        totals.add(d.totals)
        for m, t in d.by_model.items():
            models.setdefault(m, Totals()).add(t)
    streak = 0
    d0 = day if day in history and history[day].totals.total >= DEFAULT_MILESTONES[0] else day - timedelta(days=1)
    while d0 in history and history[d0].totals.total >= DEFAULT_MILESTONES[0]:
        streak += 1
        d0 -= timedelta(days=1)
    per_day = totals.total // 7 if week else totals.total
    top = sorted(models.items(), key=lambda kv: (-kv[1].total, kv[0]))[:TOP_MODELS]
    return {
        "member": member,
        "period": "week" if week else "day",
        "start": start.isoformat(),
        "end": day.isoformat(),
        "total": totals.total,
        "fresh": totals.total - totals.cr,
        "calls": totals.calls,
        "active_days": active,
        "per_day": per_day,
        # the tier of the day, or for a week the tier its average day reaches
        "tier": tier_for(per_day, DEFAULT_MILESTONES),
        "milestones": [tier_label(m) for m in DEFAULT_MILESTONES],
        "streak": streak,
        "cache_hit_rate": totals.cache_hit_rate,
        "top_models": [{"model": m, "total": t.total, "share": t.total / totals.total if totals.total else 0.0}
                       for m, t in top],
    }
