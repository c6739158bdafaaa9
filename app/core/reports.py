"""Reports: pure reads of the index, returned as plain JSON-ready dicts.

Days are local days in the report's time zone. SQLite groups calls by local day with the
zone's UTC offsets written into the query as a step function (see ``local_day_sql``), so a
zone with DST is exact without touching every row in Python.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from app.core.filters import Filter
from app.core.milestones import DEFAULT_MILESTONES, next_milestone, tier_for, tier_label
from app.core.model import QUARTER_MS, Totals
from app.core.schema import unpriced_sql

QUARTER_SUMS = "SUM(inp), SUM(cw), SUM(cr), SUM(out), SUM(rsn), SUM(cost), SUM(unpriced), SUM(calls)"
DAY_MS = 86_400_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SUMS = f"SUM(inp), SUM(cw), SUM(cr), SUM(out), SUM(rsn), SUM(COALESCE(cost, 0)), SUM({unpriced_sql()}), COUNT(*)"


def _totals(row: Sequence[Any]) -> Totals:
    inp, cw, cr, out, rsn, cost, unpriced, calls = row
    return Totals(inp or 0, cw or 0, cr or 0, out or 0, rsn or 0, cost or 0.0, unpriced or 0, calls or 0)


def price_source(conn: sqlite3.Connection) -> Any:
    row = conn.execute("SELECT v FROM meta WHERE k = 'price_source'").fetchone()
    return json.loads(row[0]) if row else None


def unpriced_models(conn: sqlite3.Connection, flt: Filter) -> list[str]:
    where, args = flt.quarter_where()
    rows = conn.execute(f"SELECT DISTINCT model FROM quarters WHERE {where} AND unpriced > 0 ORDER BY model", args)
    return [r[0] for r in rows]


class Day:
    """One local day's totals, split by agent, by model and by device ('' is this machine)."""

    __slots__ = ("date", "totals", "by_agent", "by_model", "by_device")

    def __init__(self, day: date) -> None:
        self.date = day
        self.totals = Totals()
        self.by_agent: dict[str, Totals] = {}
        self.by_model: dict[str, Totals] = {}
        self.by_device: dict[str, Totals] = {}


def days(conn: sqlite3.Connection, flt: Filter) -> list[Day]:
    """Every local day with usage, oldest first, with per-agent and per-model splits."""
    where, args = flt.quarter_where()
    day, day_args = local_day_sql(conn, flt, f"q * {QUARTER_MS}")
    rows = conn.execute(
        # a call replaced by a copy in another quarter leaves its old quarter at zero calls: not a day of use
        f"SELECT {day}, agent, model, device, {QUARTER_SUMS} FROM quarters WHERE {where}"
        " GROUP BY 1, 2, 3, 4 HAVING SUM(calls) > 0",
        [*day_args, *args],
    )
    by_number: dict[int, Day] = {}
    for number, agent, model, device, *sums in rows:
        entry = by_number.get(number)
        if entry is None:
            entry = by_number[number] = Day(date.fromordinal(EPOCH_ORDINAL + number))
        part = _totals(sums)
        entry.totals.add(part)
        entry.by_agent.setdefault(agent, Totals()).add(part)
        entry.by_model.setdefault(model, Totals()).add(part)
        entry.by_device.setdefault(device, Totals()).add(part)
    return [by_number[n] for n in sorted(by_number)]


def local_day_sql(conn: sqlite3.Connection, flt: Filter, ts: str = "ts") -> tuple[str, list[int]]:
    """SQL (and its arguments) for the local day of the epoch-ms expression ``ts``, as days since 1970-01-01.

    The zone's UTC offset is a step function of time: one CASE arm per offset change in
    the span of the filtered calls (two a year with DST) keeps the grouping in SQLite.
    """
    where, args = flt.where()
    # two subqueries: each takes one step down the ts index, where MIN and MAX together scan the range
    lo, hi = conn.execute(
        f"SELECT (SELECT MIN(ts) FROM events WHERE {where}), (SELECT MAX(ts) FROM events WHERE {where})",
        [*args, *args],
    ).fetchone()
    steps = utc_offsets(flt.tz, lo or 0, hi or 0)
    if len(steps) == 1:
        return f"({ts} + ?) / {DAY_MS}", [steps[0][1]]
    sql = f"({ts} + CASE" + f" WHEN {ts} < ? THEN ?" * (len(steps) - 1) + f" ELSE ? END) / {DAY_MS}"
    sql_args: list[int] = []
    for (_, offset), (until, _) in zip(steps, steps[1:], strict=False):
        sql_args += [until, offset]
    sql_args.append(steps[-1][1])
    return sql, sql_args


def utc_offsets(tz: tzinfo, lo_ms: int, hi_ms: int) -> list[tuple[int, int]]:
    """``(from_ms, offset_ms)`` steps of ``tz`` covering ``lo_ms``..``hi_ms``, exact to the second."""

    def offset(ms: int) -> int:
        delta = datetime.fromtimestamp(ms / 1000, tz).utcoffset()
        return int(delta.total_seconds() * 1000) if delta is not None else 0

    steps = [(lo_ms, offset(lo_ms))]
    t = lo_ms
    while t < hi_ms:
        nxt = min(t + DAY_MS, hi_ms)
        if offset(nxt) != steps[-1][1]:
            a, b = t // 1000, nxt // 1000  # the change lies in (a, b] seconds
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid * 1000) == steps[-1][1]:
                    a = mid
                else:
                    b = mid
            steps.append((b * 1000, offset(b * 1000)))
        t = nxt
    return steps


def _bucket_dict(t: Totals, *, with_rate: bool = True) -> dict[str, Any]:
    d = t.as_dict()
    if not with_rate:
        d.pop("cache_hit_rate")
    return d


def daily(
    conn: sqlite3.Connection, flt: Filter, milestones: Sequence[int] = DEFAULT_MILESTONES, today: date | None = None
) -> dict[str, Any]:
    """The ``report daily`` document: days, each with tier and splits, and the totals.

    ``today``, when given and inside the filter's dates, is listed even before its first call.
    """
    from app.core.devices import label

    out_days = []
    grand = Totals()
    grand_devices: dict[str, Totals] = {}
    for day in days(conn, flt):
        grand.add(day.totals)
        for device, t in day.by_device.items():
            grand_devices.setdefault(label(device), Totals()).add(t)
        entry = {"date": day.date.isoformat(), **_bucket_dict(day.totals)}
        entry["tier"] = tier_for(day.totals.total, milestones)
        entry["by_agent"] = {a: _bucket_dict(t) for a, t in sorted(day.by_agent.items())}
        entry["by_model"] = {m: _bucket_dict(t) for m, t in sorted(day.by_model.items())}
        entry["by_device"] = {label(d): _bucket_dict(t) for d, t in sorted(day.by_device.items())}
        out_days.append(entry)
    if today is not None and _covers(flt, today) and all(d["date"] != today.isoformat() for d in out_days):
        none = {"date": today.isoformat(), **_bucket_dict(Totals()), "tier": tier_for(0, milestones)}
        out_days.append({**none, "by_agent": {}, "by_model": {}, "by_device": {}})
        out_days.sort(key=lambda d: d["date"])
    return {
        "days": out_days,
        "totals": {**_bucket_dict(grand), "by_device": {d: _bucket_dict(t) for d, t in sorted(grand_devices.items())}},
        "milestones": {tier_label(m): m for m in milestones},
        "tz": str(flt.tz),
        "price_source": price_source(conn),
        "unpriced_models": unpriced_models(conn, flt),
    }


def _covers(flt: Filter, day: date) -> bool:
    return (flt.since is None or flt.since <= day) and (flt.until is None or day <= flt.until)


def devices_seen(conn: sqlite3.Connection) -> list[str]:
    """Every device the index holds calls of, as stored ('' is this machine)."""
    return [d for (d,) in conn.execute("SELECT DISTINCT device FROM quarters WHERE calls > 0")]


def periods(conn: sqlite3.Connection, flt: Filter, period: str) -> dict[str, Any]:
    """``weekly`` (ISO weeks, starting Monday) or ``monthly`` sums of the local days."""
    groups: dict[str, tuple[date, Totals, dict[str, Totals], dict[str, Totals]]] = {}
    for day in days(conn, flt):
        if period == "weekly":
            start = day.date - timedelta(days=day.date.weekday())
            label = f"{start.isocalendar().year}-W{start.isocalendar().week:02d}"
        else:
            start = day.date.replace(day=1)
            label = start.strftime("%Y-%m")
        group = groups.setdefault(label, (start, Totals(), {}, {}))
        group[1].add(day.totals)
        for agent, t in day.by_agent.items():
            group[2].setdefault(agent, Totals()).add(t)
        for model, t in day.by_model.items():
            group[3].setdefault(model, Totals()).add(t)
    rows = []
    grand = Totals()
    for label, (start, t, agents, models) in sorted(groups.items(), key=lambda kv: kv[1][0]):
        grand.add(t)
        rows.append(
            {
                "period": label,
                "start": start.isoformat(),
                **_bucket_dict(t),
                "by_agent": {a: _bucket_dict(x) for a, x in sorted(agents.items())},
                "by_model": {m: _bucket_dict(x) for m, x in sorted(models.items())},
            }
        )
    return {
        "periods": rows,
        "period": period,
        "totals": _bucket_dict(grand),
        "tz": str(flt.tz),
        "price_source": price_source(conn),
        "unpriced_models": unpriced_models(conn, flt),
    }


def _grouped(conn: sqlite3.Connection, flt: Filter, columns: str, extra: str = "") -> list[tuple[Any, ...]]:
    where, args = flt.where()
    sql = f"SELECT {columns}, {SUMS}{extra} FROM events WHERE {where} GROUP BY {columns}"
    return conn.execute(sql, args).fetchall()


def models(conn: sqlite3.Connection, flt: Filter) -> dict[str, Any]:
    rows = []
    grand = Totals()
    for agent, model, *sums in _grouped(conn, flt, "agent, model"):
        t = _totals(sums)
        grand.add(t)
        rows.append({"model": model, "agent": agent, **_bucket_dict(t)})
    rows.sort(key=lambda r: -r["total"])
    return {
        "models": rows,
        "totals": _bucket_dict(grand),
        "price_source": price_source(conn),
        "unpriced_models": unpriced_models(conn, flt),
    }


def projects(conn: sqlite3.Connection, flt: Filter) -> dict[str, Any]:
    rows = []
    grand = Totals()
    for project, *rest in _grouped(conn, flt, "project", ", COUNT(DISTINCT session), GROUP_CONCAT(DISTINCT agent)"):
        sums, sessions, agents = rest[:8], rest[8], rest[9]
        t = _totals(sums)
        grand.add(t)
        rows.append(
            {
                "project": project or "",
                "sessions": sessions,
                "agents": sorted((agents or "").split(",")),
                **_bucket_dict(t),
            }
        )
    rows.sort(key=lambda r: -r["total"])
    return {
        "projects": rows,
        "totals": _bucket_dict(grand),
        "price_source": price_source(conn),
        "unpriced_models": unpriced_models(conn, flt),
    }


def sessions(conn: sqlite3.Connection, flt: Filter) -> dict[str, Any]:
    rows = []
    grand = Totals()
    extra = ", MIN(ts), MAX(ts), GROUP_CONCAT(DISTINCT model), MAX(project)"
    for agent, session, *rest in _grouped(conn, flt, "agent, session", extra):
        sums, first, last, model_list, project = rest[:8], rest[8], rest[9], rest[10], rest[11]
        t = _totals(sums)
        grand.add(t)
        rows.append(
            {
                "session": session,
                "agent": agent,
                "project": project or "",
                "first": _iso(first),
                "last": _iso(last),
                "minutes": round((last - first) / 60000, 1),
                "models": sorted((model_list or "").split(",")),
                **_bucket_dict(t),
            }
        )
    rows.sort(key=lambda r: r["last"], reverse=True)
    return {
        "sessions": rows,
        "totals": _bucket_dict(grand),
        "price_source": price_source(conn),
        "unpriced_models": unpriced_models(conn, flt),
    }


def today(
    conn: sqlite3.Connection,
    tz: tzinfo,
    milestones: Sequence[int] = DEFAULT_MILESTONES,
    agents: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Today's burn for the tray: total, cost, tier and the distance to the next milestone."""
    now = datetime.now(tz).date()
    found = days(conn, Filter(tz=tz, since=now, until=now, agents=agents))
    t = found[0].totals if found else Totals()
    nxt = next_milestone(t.total, milestones)
    return {
        "date": now.isoformat(),
        **_bucket_dict(t),
        "tier": tier_for(t.total, milestones),
        "next_milestone": nxt,
        "to_next": None if nxt is None else nxt - t.total,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
