"""The dashboard document: every number the desktop app's dashboard shows, and ``report dashboard``.

Days come from the quarter-hour sums (fast at any history length); the few per-call
figures (sessions in parallel, tokens per minute now) read ``events`` through its time index.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from app.core import reports
from app.core.devices import label
from app.core.milestones import DEFAULT_MILESTONES, tier_for, tier_label
from app.core.model import Totals
from app.core.pricing import Pricer

RANGES = ("7d", "30d", "90d", "1y", "all")
DEFAULT_RANGE = "30d"  # what the dashboard opens on, and `report dashboard` without --range
RANGE_DAYS = {"7d": 7, "30d": 30, "90d": 90, "1y": 365}
SLOT_MS = 5 * 60_000  # "in parallel" means a call within the same five minutes
NOW_WINDOW_MS = 5 * 60_000


def range_filter(name: str, tz: tzinfo, today: date, agents: frozenset[str] | None = None) -> reports.Filter:
    """The days a dashboard range covers, ending today."""
    if name not in RANGES:
        raise ValueError(f"unknown range {name!r} (one of {', '.join(RANGES)})")
    since = None if name == "all" else today - timedelta(days=RANGE_DAYS[name] - 1)
    return reports.Filter(tz=tz, since=since, until=today, agents=agents)


def build(
    conn: sqlite3.Connection,
    flt: reports.Filter,
    milestones: Sequence[int] = DEFAULT_MILESTONES,
    now_ms: int | None = None,
    overrides: Path | None = None,
) -> dict[str, Any]:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    today = datetime.fromtimestamp(now_ms / 1000, flt.tz).date()
    found = {d.date: d for d in reports.days(conn, flt)}
    first = flt.since or (min(found) if found else today)
    last = flt.until or max([today, *found])
    pricer = Pricer(conn, overrides)
    peaks = _peak_sessions(conn, flt)
    out_days = []
    grand = Totals()
    saved_total = 0.0
    day = first
    while day <= last:
        entry = found.get(day) or reports.Day(day)
        saved = _cache_saved(pricer, entry, flt.tz)
        grand.add(entry.totals)
        saved_total += saved
        out_days.append(
            {
                "date": day.isoformat(),
                **entry.totals.as_dict(),
                "tier": tier_for(entry.totals.total, milestones),
                "cache_saved_usd": round(saved, 6),
                "peak_sessions": peaks.get(day, 0),
                "by_agent": {a: t.as_dict() for a, t in sorted(entry.by_agent.items())},
                "by_model": {m: t.as_dict() for m, t in sorted(entry.by_model.items())},
                # this machine by its host name, each dedicated machine by its NAME
                "by_device": {label(d): t.as_dict() for d, t in sorted(entry.by_device.items())},
            }
        )
        day += timedelta(days=1)
    return {
        "tz": str(flt.tz),
        "since": first.isoformat(),
        "until": last.isoformat(),
        "milestones": {tier_label(m): m for m in milestones},
        "days": out_days,
        "totals": {**grand.as_dict(), "cache_saved_usd": round(saved_total, 6)},
        "today": today_doc(conn, flt.tz, milestones, flt.agents, now_ms),
        "streaks": streaks(conn, flt, milestones, today),
        "price_source": reports.price_source(conn),
        "unpriced_models": reports.unpriced_models(conn, flt),
    }


def streaks(
    conn: sqlite3.Connection, flt: reports.Filter, milestones: Sequence[int], today: date
) -> dict[str, dict[str, int]]:
    """Days in a row at or above each milestone, over the whole history.

    ``current`` ends today when today reached the milestone, else yesterday (a day is not
    lost before it is over).
    """
    totals = {d.date: d.totals.total for d in reports.days(conn, reports.Filter(tz=flt.tz, agents=flt.agents))}
    out = {}
    for m in milestones:
        best = run = 0
        prev: date | None = None
        for d in sorted(totals):
            if totals[d] >= m:
                run = run + 1 if prev is not None and d - prev == timedelta(days=1) else 1
                prev = d
                best = max(best, run)
        current = 0
        d = today if totals.get(today, 0) >= m else today - timedelta(days=1)
        while totals.get(d, 0) >= m:
            current += 1
            d -= timedelta(days=1)
        out[tier_label(m)] = {"current": current, "best": best}
    return out


def _cache_saved(pricer: Pricer, day: reports.Day, tz: tzinfo) -> float:
    """What the day's cache reads would have cost as fresh input, minus what they cost.

    Priced per model at its short-context rates in force that day (the per-request
    long-context tiers are left out of this one estimate).
    """
    noon = int(datetime.combine(day.date, datetime.min.time(), tz).timestamp() * 1000) + 12 * 3_600_000
    saved = 0.0
    for model, t in day.by_model.items():
        prices = pricer.base_prices(model, noon) if t.cr else None
        if prices is not None:
            saved += t.cr * max(prices[0] - prices[3], 0.0)
    return saved


def _peak_sessions(conn: sqlite3.Connection, flt: reports.Filter) -> dict[date, int]:
    where, args = flt.where()
    day, day_args = reports.local_day_sql(conn, flt, "slot_ts")
    rows = conn.execute(
        f"SELECT {day}, MAX(n) FROM (SELECT MIN(ts) AS slot_ts, COUNT(DISTINCT session) AS n FROM events"
        f" WHERE {where} GROUP BY ts / {SLOT_MS}) GROUP BY 1",
        [*day_args, *args],
    )
    return {date.fromordinal(reports.EPOCH_ORDINAL + number): n for number, n in rows}


def today_doc(
    conn: sqlite3.Connection,
    tz: tzinfo,
    milestones: Sequence[int] = DEFAULT_MILESTONES,
    agents: frozenset[str] | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The tray's numbers: ``reports.today`` plus tokens per minute and sessions active now."""
    return {**reports.today(conn, tz, milestones, agents), **now(conn, now_ms, agents)}


def now(conn: sqlite3.Connection, now_ms: int | None = None, agents: frozenset[str] | None = None) -> dict[str, Any]:
    """Tokens per minute over the last five minutes, and the sessions that made calls in them."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    sql = "SELECT SUM(inp + cw + cr + out), COUNT(DISTINCT session) FROM events WHERE ts > ? AND ts <= ?"
    args: list[Any] = [now_ms - NOW_WINDOW_MS, now_ms]
    if agents is not None:
        sql += f" AND agent IN ({','.join('?' * len(agents))})"
        args.extend(sorted(agents))
    tokens, active = conn.execute(sql, args).fetchone()
    return {"tokens_per_minute": round((tokens or 0) / (NOW_WINDOW_MS / 60_000), 1), "active_sessions": active}
