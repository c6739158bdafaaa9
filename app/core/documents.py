"""The report documents both faces show: ``tokenclub report KIND --json`` and the dashboard window read the same.

Each document is built once, here, from the index and a filter; the faces only lay it out.
The modules behind them load when a document is built (a remembered report needs none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from app.core.filters import Filter

# pure functions of the index, the options and the day: what the command line may remember
REMEMBERED = frozenset({"daily", "weekly", "monthly", "session", "models", "projects"})
WINDOW = {
    "dashboard": "dashboard",
    "models": "models",
    "projects": "projects",
    "sessions": "session",
    "insights": "insights",
}


def report(
    kind: str, conn: sqlite3.Connection, flt: Filter, milestones: Sequence[int], today: date, overrides: Path | None
) -> dict[str, Any]:
    """The ``report KIND`` document (daily, weekly, monthly, session, models, projects, insights, dashboard, today)."""
    from app.core import reports

    if kind == "daily":
        return reports.daily(conn, flt, milestones, today)
    if kind in ("weekly", "monthly"):
        return reports.periods(conn, flt, kind)
    if kind == "session":
        return reports.sessions(conn, flt)
    if kind == "models":
        return reports.models(conn, flt)
    if kind == "projects":
        return reports.projects(conn, flt)
    if kind == "insights":
        from app.core import insights

        return insights.report(conn, flt, overrides=overrides)
    from app.core import dashboard

    if kind == "dashboard":
        return dashboard.build(conn, flt, milestones, overrides=overrides)
    if kind == "today":
        return dashboard.today_doc(conn, flt.tz, milestones, flt.agents)
    raise ValueError(f"no report {kind!r}")


def window(
    conn: sqlite3.Connection, flt: Filter, milestones: Sequence[int], today: date, overrides: Path | None
) -> dict[str, Any]:
    """Every document the dashboard window shows for ``flt``'s days (its ``empty`` when nothing is indexed)."""
    from app.core.index import has_events

    docs = {name: report(kind, conn, flt, milestones, today, overrides) for name, kind in WINDOW.items()}
    return {"empty": not has_events(conn), **docs}
