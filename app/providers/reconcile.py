"""Side by side: provider-reported tokens and cost next to the log-derived ones, per UTC day and model.

Providers bucket by UTC day, so both sides are taken in UTC. A provider's numbers are the
sum over its keys (one admin key per organisation: two keys of one organisation would
count it twice). The logs' side is every agent's calls of that model, from the index's
quarter-hour sums.

Which cells are compared: every (day, model) a provider reported, plus every day and model
the logs show whose maker's own provider was synced for that day (Claude models for
Anthropic, GPT and o-series for OpenAI, DeepSeek, Kimi for Moonshot), so usage one side
missed entirely is shown too. A cell is flagged when the token difference (or the cost
difference, when both sides have a cost) exceeds the threshold, in percent of the larger
side.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from app.core import provider_data
from app.core.model import QUARTER_MS

DAY_MS = 86_400_000
_VENDORS = (
    ("claude", "anthropic"),
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("codex", "openai"),
    ("chatgpt", "openai"),
    ("deepseek", "deepseek"),
    ("kimi", "moonshot"),
    ("moonshot", "moonshot"),
)


_DATED = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


def norm(model: str) -> str:
    """Model names as both sides spell them: lower case, without a ``vendor/`` route, ``:variant`` or date.

    ``claude-sonnet-4-5-20250929`` (Anthropic's report, Claude Code) and ``claude-sonnet-4-5``
    (OpenCode) are one model; so are ``gpt-4o-mini-2024-07-18`` and ``gpt-4o-mini``.
    """
    m = model.strip().lower().rsplit("/", 1)[-1]
    return _DATED.sub("", m.split(":", 1)[0])


def vendor(model: str) -> str | None:
    m = norm(model)
    for prefix, provider in _VENDORS:
        if m.startswith(prefix):
            return provider
    return None


def _blank() -> dict[str, Any]:
    return {"in": 0, "cw": 0, "cr": 0, "out": 0, "total": 0, "cost_usd": None}


def _add(side: dict[str, Any], inp: int, cw: int, cr: int, out: int, cost: float | None) -> None:
    side["in"] += inp
    side["cw"] += cw
    side["cr"] += cr
    side["out"] += out
    side["total"] += inp + cw + cr + out
    if cost is not None:
        side["cost_usd"] = round((side["cost_usd"] or 0.0) + cost, 6)


def _pct(a: float, b: float) -> float:
    big = max(abs(a), abs(b))
    return 0.0 if big == 0 else round((a - b) / big * 100, 2)


def report(
    conn: sqlite3.Connection, since: date | None = None, until: date | None = None, threshold_pct: float = 5.0
) -> dict[str, Any]:
    lo = since.isoformat() if since else "0000-01-01"
    hi = until.isoformat() if until else "9999-12-31"
    cells: dict[tuple[str, str], dict[str, Any]] = {}

    def cell(day: str, model: str) -> dict[str, Any]:
        key = (day, norm(model))
        c = cells.get(key)
        if c is None:
            c = cells[key] = {
                "date": day,
                "model": model,
                "providers": [],
                "provider": _blank(),
                "logs": _blank(),
                "provisional": False,
                "_has_provider": False,
            }
        return c

    for day, model, provider, inp, cw, cr, out, cost, priced, provisional in provider_data.usage_cells(conn, lo, hi):
        c = cell(day, model)
        c["model"] = model
        _add(c["provider"], inp, cw, cr, out, cost if priced else None)
        c["_has_provider"] = True
        c["provisional"] = c["provisional"] or bool(provisional)
        if provider not in c["providers"]:
            c["providers"].append(provider)

    covered: dict[str, list[tuple[str, str]]] = {}
    for provider, first, last in provider_data.coverage(conn):
        covered.setdefault(provider, []).append((first, last))

    q_lo = _ms(lo) // QUARTER_MS if since else -(2**62)
    q_hi = (_ms(hi) + DAY_MS - 1) // QUARTER_MS if until else 2**62
    for number, model, inp, cw, cr, out, cost, unpriced in provider_data.log_cells(conn, q_lo, q_hi):
        day = date.fromordinal(date(1970, 1, 1).toordinal() + number).isoformat()
        key = (day, norm(model))
        maker = vendor(model)
        in_scope = key in cells or (maker is not None and any(f <= day <= t for f, t in covered.get(maker, [])))
        if not in_scope:
            continue
        c = cell(day, model)
        _add(c["logs"], inp, cw, cr, out, None if unpriced else cost)
        c.setdefault("_log_models", set()).add(model)

    rows = []
    flagged = 0
    for key in sorted(cells):
        c = cells.pop(key)
        c.pop("_log_models", None)
        has_provider = c.pop("_has_provider")
        p, g = c["provider"], c["logs"]
        diff = {"tokens": p["total"] - g["total"], "pct": _pct(p["total"], g["total"])}
        cost_pct = None
        if p["cost_usd"] is not None and g["cost_usd"] is not None:
            diff["cost_usd"] = round(p["cost_usd"] - g["cost_usd"], 6)
            cost_pct = _pct(p["cost_usd"], g["cost_usd"])
            diff["cost_pct"] = cost_pct
        else:
            diff["cost_usd"] = None
            diff["cost_pct"] = None
        flag = abs(diff["pct"]) > threshold_pct or (cost_pct is not None and abs(cost_pct) > threshold_pct)
        c["diff"] = diff
        c["flagged"] = flag
        c["reported_by_provider"] = has_provider
        flagged += flag
        rows.append(c)
    return {
        "rows": rows,
        "threshold_pct": threshold_pct,
        "flagged": flagged,
        "days_in": "UTC",
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }


def _ms(day: str) -> int:
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def flat(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per cell, for the table and CSV."""
    out = []
    for r in doc["rows"]:
        out.append(
            {
                "date": r["date"],
                "model": r["model"],
                "providers": r["providers"],
                "provider_tokens": r["provider"]["total"],
                "log_tokens": r["logs"]["total"],
                "diff_tokens": r["diff"]["tokens"],
                "diff_pct": r["diff"]["pct"],
                "provider_cost_usd": r["provider"]["cost_usd"],
                "log_cost_usd": r["logs"]["cost_usd"],
                "diff_cost_usd": r["diff"]["cost_usd"],
                "flag": "FLAG" if r["flagged"] else "",
                "provisional": "provisional" if r["provisional"] else "",
            }
        )
    return out
