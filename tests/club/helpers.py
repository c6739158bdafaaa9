"""Building club exports by hand for the merge tests: consistent days, signed with throwaway keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.club import SCHEMA, VERSION, columns, export
from app.club.signing import MemberKey
from app.core.milestones import tier_for

_KEYS: dict[str, MemberKey] = {}


def key(name: str) -> MemberKey:
    """One key per name for the whole run (``key('mallory-2')`` is another key)."""
    if name not in _KEYS:
        _KEYS[name] = MemberKey.generate()
    return _KEYS[name]


def part(inp: int, cw: int, cr: int, out: int, calls: int, rsn: int = 0, cost: int | None = 1000) -> dict[str, Any]:
    return {"in": inp, "cw": cw, "cr": cr, "out": out, "rsn": rsn, "total": inp + cw + cr + out, "calls": calls,
            "cost_musd": cost}


def day(
    date: str, inp: int, cw: int = 0, cr: int = 0, out: int = 0, calls: int = 10,
    agent: str = "claude-code", model: str = "claude-sonnet-4-5", cost: int | None = 1000,
) -> dict[str, Any]:
    """A day of one agent and one model (so the splits add up)."""
    p = part(inp, cw, cr, out, calls, cost=cost)
    return {"date": date, **p, "tier": tier_for(p["total"]), "devices": 1, "by_agent": {agent: dict(p)},
            "by_model": {model: dict(p)}}


def doc(
    member: str, days: list[dict[str, Any]], since: str | None = None, until: str | None = None,
    created: str = "2026-12-01T00:00:00Z",
) -> dict[str, Any]:
    """An unsigned export of ``days`` (one dict per day, as :func:`day` makes them), in columns."""
    dates = sorted(d["date"] for d in days) or ["2026-11-01"]
    return {"schema": SCHEMA, "version": VERSION, "tokenclub": "0.1.0", "member": member, "created": created,
            "since": since or dates[0], "until": until or dates[-1], "milestones": [10**7, 10**8, 10**9],
            "includes": {"cost": True, "models": True}, **columns.to_columns(days, models=True, cost=True)}


def signed(d: dict[str, Any], signer: str | None = None) -> dict[str, Any]:
    return export.sign(d, key(signer or d["member"]))


def save(path: Path, d: dict[str, Any]) -> Path:
    path.write_bytes(export.dumps(d))
    return path
