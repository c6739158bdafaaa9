"""A member's export: numbers only, per local day, signed with the member's key.

Built from the daily report (``app.core.reports.daily``): per day the five buckets, total,
calls, the club tier, the number of devices, optionally the cost, and the split by agent and
(optionally) by model, written as columns (``app.club.columns``). Nothing else of the index
leaves: no paths, prompts, projects, sessions, host or device names, and no time zone.
``docs/club-schema.md`` is the format.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from app import __version__
from app.club import SCHEMA, VERSION, columns
from app.club.canonical import canonical
from app.club.signing import MemberKey, b64
from app.core.filters import Filter
from app.core.milestones import DEFAULT_MILESTONES, tier_for
from app.core.model import BUCKETS

MEMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")


class ExportError(ValueError):
    """The export was refused (bad member name, bad range); the message says why."""


def check_member(name: str) -> str:
    name = name.strip()
    if not MEMBER_RE.match(name):
        raise ExportError(
            "a member name is 1 to 40 letters, digits, spaces or . _ - (starting with a letter or digit)"
        )
    return name


def micro_usd(cost: float | None) -> int | None:
    return None if cost is None else round(cost * 1_000_000)


def _part(entry: dict[str, Any], cost: bool) -> dict[str, Any]:
    out: dict[str, int | None] = {b: int(entry[b]) for b in BUCKETS}
    out["total"] = int(entry["total"])
    out["calls"] = int(entry["calls"])
    if cost:
        out["cost_musd"] = micro_usd(entry.get("cost_usd"))
    return out


OTHER = "other"  # where a name the reader would refuse is counted (schema.NAME_RE)


def _split(parts: dict[str, Any], cost: bool) -> dict[str, Any]:
    """``name -> fields`` for one day; a name the format does not allow is summed into ``other``."""
    from app.club.schema import NAME_RE

    out: dict[str, Any] = {}
    odd = []
    for name, entry in parts.items():
        part = _part(entry, cost)
        if NAME_RE.match(name) and name != OTHER:
            out[name] = part
        else:
            odd.append(part)
    if odd:
        out[OTHER] = _fold(odd)
    return out


def _fold(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of ``parts`` (exported fields); a cost stays null only while no part of it has a price."""
    into = dict(parts[0])
    for part in parts[1:]:
        for f, v in part.items():
            if f == "cost_musd":
                into[f] = None if into[f] is None and v is None else (into[f] or 0) + (v or 0)
            else:
                into[f] += v
    return into


def _cap(rows: list[dict[str, Any]], split: str) -> None:
    """At most ``schema.MAX_NAMES`` names in ``split`` over the file: the smallest (by total) go to ``other``."""
    from app.club.schema import MAX_NAMES

    sizes: dict[str, int] = {}
    for r in rows:
        for name, part in r[split].items():
            sizes[name] = sizes.get(name, 0) + part["total"]
    if len(sizes) <= MAX_NAMES:
        return
    kept = set(sorted((n for n in sizes if n != OTHER), key=lambda n: (-sizes[n], n))[: MAX_NAMES - 1])
    for r in rows:
        small = [part for n, part in r[split].items() if n not in kept]
        if small:
            r[split] = {n: part for n, part in r[split].items() if n in kept}
            r[split][OTHER] = _fold(small)


def from_daily(
    daily: dict[str, Any],
    member: str,
    *,
    since: date | None,
    until: date,
    models: bool = True,
    cost: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned export document for the ``report daily`` document ``daily``."""
    member = check_member(member)
    rows = []
    for d in daily["days"]:
        row = {"date": d["date"], **_part(d, cost)}
        row["tier"] = tier_for(row["total"], DEFAULT_MILESTONES)  # the clubs' tiers, whatever the settings
        row["devices"] = max(1, len(d.get("by_device") or {}))
        row["by_agent"] = _split(d["by_agent"], cost)
        row["by_model"] = _split(d["by_model"], cost) if models else {}
        rows.append(row)
    for split in ("by_agent", "by_model"):
        _cap(rows, split)
    dates = [r["date"] for r in rows]
    first = since or (date.fromisoformat(min(dates)) if dates else until)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "tokenclub": __version__,
        "member": member,
        "created": stamp.isoformat().replace("+00:00", "Z"),
        "since": first.isoformat(),
        "until": until.isoformat(),
        "milestones": list(DEFAULT_MILESTONES),
        "includes": {"cost": cost, "models": models},
        **columns.to_columns(rows, models, cost),
    }


def sign(doc: dict[str, Any], key: MemberKey) -> dict[str, Any]:
    """``doc`` with the member's public key, fingerprint and the signature over the canonical form."""
    signed = {k: v for k, v in doc.items() if k != "signature"}
    signed["key"] = {"alg": "Ed25519", "public": key.public_b64, "fingerprint": key.fingerprint}
    signed["signature"] = b64(key.sign(canonical(signed)))
    return signed


def build(
    conn: sqlite3.Connection,
    flt: Filter,
    member: str,
    key: MemberKey,
    *,
    today: date,
    models: bool = True,
    cost: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The signed export of the index behind ``conn`` for the days ``flt`` selects (``until`` defaults to today)."""
    from app.core import reports

    until = flt.until or today
    if flt.since and flt.since > until:
        raise ExportError("--since is after --until")
    daily = reports.daily(conn, flt._replace(until=until), DEFAULT_MILESTONES)
    doc = from_daily(daily, member, since=flt.since, until=until, models=models, cost=cost, now=now)
    return sign(doc, key)


def dumps(doc: dict[str, Any], pretty: bool = True) -> bytes:
    """The file's bytes: the document as JSON (layout is outside what the signature covers)."""
    import orjson

    return columns.dumps(doc) if pretty else orjson.dumps(doc) + b"\n"
