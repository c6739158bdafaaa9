"""The export's day data in columns: one array per field, aligned with the array of dates.

A year of days with a split by agent and by model is some 10,000 numbers per member; as
columns (``"in": [..365 numbers..]``) a file is a third of the size it is with one object per
day, and a club of a thousand members parses and checks in a fraction of the time.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.core.model import BUCKETS

FIELDS = (*BUCKETS, "total", "calls")
COST = "cost_musd"
SPLITS = ("by_agent", "by_model")


def fields(cost: bool) -> tuple[str, ...]:
    return (*FIELDS, COST) if cost else FIELDS


def to_columns(rows: list[dict[str, Any]], models: bool, cost: bool) -> dict[str, Any]:
    """``days``, ``by_agent`` (and ``by_model``) as columns, from one dict per day (sorted by date here).

    A row holds ``date``, ``tier``, ``devices``, the fields, and ``by_agent``/``by_model``
    dicts of name to fields; a name absent on a day gets zeros that day.
    """
    rows = sorted(rows, key=lambda r: r["date"])
    fs = fields(cost)
    out: dict[str, Any] = {
        "days": {
            "date": [r["date"] for r in rows],
            "tier": [r["tier"] for r in rows],
            "devices": [r["devices"] for r in rows],
            **{f: [r[f] for r in rows] for f in fs},
        }
    }
    for split in SPLITS if models else SPLITS[:1]:
        names = sorted({n for r in rows for n in r[split]})
        zero = dict.fromkeys(fs, 0)
        out[split] = {n: {f: [r[split].get(n, zero)[f] for r in rows] for f in fs} for n in names}
    return out


def dumps(doc: dict[str, Any]) -> bytes:
    """JSON with every object spread over lines and every array on one line (a column per line)."""
    parts: list[str] = []
    _write(doc, 0, parts)
    return "".join(parts).encode() + b"\n"


def _write(value: Any, depth: int, parts: list[str]) -> None:
    if not isinstance(value, dict) or not value:
        parts.append(orjson.dumps(value).decode())
        return
    pad = "  " * (depth + 1)
    parts.append("{\n")
    for i, (k, v) in enumerate(value.items()):
        parts.append(f"{pad}{orjson.dumps(k).decode()}: ")
        _write(v, depth + 1, parts)
        parts.append(",\n" if i < len(value) - 1 else "\n")
    parts.append("  " * depth + "}")
