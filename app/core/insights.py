"""Insights: calls that re-paid a session's cached prefix at the uncached price, and what that cost.

Two causes are named, each call compared with the session's previous *main* call:

- ``model-switch``: the model changed while the old model's cache was still alive. Caches
  are per model, so the new model reads the whole conversation uncached.
- ``cache-expired``: the session sat idle longer than the cache lifetime, and the next call
  re-wrote the prefix it could have read.

A call *re-paid* its prefix when it paid more of its prompt uncached than it read
(``cr < inp + cw``) and read less than half of what the previous main call left in cache
(``cr < COLLAPSE_SHARE × (prev.cr + prev.cw)``); the re-paid tokens are what it paid
uncached out of that prefix, ``min(inp + cw, prev.cr + prev.cw − cr)``, reported from
``MIN_TOKENS`` up. A drop without either cause (a compacted conversation, a changed system
prompt) is no insight.

Side calls are skipped: a call to another model whose context (``inp + cw + cr``) is under
``SIDE_SHARE`` of the previous main call's. Agents make them beside the conversation (Claude
Code's haiku titles and summaries, small sub-agents) and never carry it, while a real switch
re-sends the whole conversation, so its context is at least about the previous one. A side
call neither counts as a switch nor becomes the call the next one is compared with.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from app.core import reports
from app.core.money import usd
from app.core.pricing import Pricer, Tiers

TTL_MS = 5 * 60_000
TTL_1H_MS = 60 * 60_000
COLLAPSE_SHARE = 0.5
SIDE_SHARE = 0.5
MIN_TOKENS = 1024  # the smallest prefix Anthropic and OpenAI cache: below it nothing was cacheable

_COLUMNS = "agent, session, ts, model, project, inp, cw, cr, cw1h"


class Call(NamedTuple):
    agent: str
    session: str
    ts: int
    model: str
    project: str | None
    inp: int
    cw: int
    cr: int
    cw1h: int

    @property
    def context(self) -> int:
        return self.inp + self.cw + self.cr

    @property
    def cached(self) -> int:
        """What this call leaves in the cache for the next one: the prefix it read plus what it wrote."""
        return self.cr + self.cw


@dataclass(frozen=True)
class Insight:
    kind: str  # "model-switch" | "cache-expired"
    call: Call
    previous: Call
    tokens: int  # prefix tokens re-paid uncached
    ttl_ms: int


def find(calls: Iterable[Call]) -> Iterator[Insight]:
    """Insights in ``calls``, which must come grouped by (agent, session) and ordered by time."""
    prev: Call | None = None
    ttl = TTL_MS
    for call in calls:
        if prev is None or (call.agent, call.session) != (prev.agent, prev.session):
            prev, ttl = call, _ttl(call, TTL_MS)
            continue
        switched = call.model != prev.model
        if switched and call.context < SIDE_SHARE * prev.context:
            continue
        cached = prev.cached
        tokens = min(call.inp + call.cw, cached - call.cr)
        if call.cr < call.inp + call.cw and call.cr < COLLAPSE_SHARE * cached and tokens >= MIN_TOKENS:
            # past the lifetime the cache was gone whatever the model: the switch cost nothing extra
            if call.ts - prev.ts > ttl:
                yield Insight("cache-expired", call, prev, tokens, ttl)
            elif switched:
                yield Insight("model-switch", call, prev, tokens, ttl)
        prev, ttl = call, _ttl(call, ttl)


def _ttl(call: Call, current: int) -> int:
    """The cache lifetime after ``call``: set by its writes, else kept (a read refreshes the entry it read)."""
    if not call.cw:
        return current
    return TTL_1H_MS if call.cw1h else TTL_MS


def extra_cost(tiers: Tiers, call: Call, tokens: int) -> float:
    """USD the re-paid ``tokens`` cost beyond reading them from cache, at the call's own rates.

    Moving tokens from fresh input or cache write to cache read leaves the prompt size (so
    the long-context tier) unchanged; re-paid tokens are taken from the cache write first
    (the prefix is what gets written), split between its 5-minute and 1-hour parts pro rata.
    """
    p_in, p_cw, p_cw1h, p_cr, _ = next(v for threshold, v in tiers if call.context > threshold)
    from_cw = min(call.cw, tokens)
    share_1h = call.cw1h / call.cw if call.cw else 0.0
    paid = from_cw * ((1 - share_1h) * p_cw + share_1h * p_cw1h) + (tokens - from_cw) * p_in
    return paid - tokens * p_cr


def calls(conn: sqlite3.Connection, flt: reports.Filter) -> Iterator[Call]:
    """The calls of every session that may hold an insight in ``flt``, grouped by session, oldest first.

    Only sessions with a call in range that could be one are read, whole up to ``flt.until``
    (the first call in range is compared with the one before it). A possible insight paid
    ``MIN_TOKENS`` or more uncached, more than it read, and has a call before it: one pass
    over ``events`` finds these, the ``(session, ts)`` index answers "before it".
    """
    where, args = flt.where()
    if flt.since is None:  # all history: a table scan beats walking the ts index over every row
        where = "+" + where
    agents = ""
    if flt.agents is not None:
        agents = f" AND agent IN ({','.join('?' * len(flt.agents))})"
    candidates = (
        f"SELECT e.session FROM events e WHERE {where}"
        f" AND e.inp + e.cw >= {MIN_TOKENS} AND e.cr < e.inp + e.cw"
        " AND EXISTS (SELECT 1 FROM events p WHERE p.session = e.session AND p.ts <= e.ts AND p.id <> e.id)"
    )
    sql = (
        f"SELECT {_COLUMNS} FROM events WHERE ts <= ?{agents} AND session IN ({candidates})"
        " ORDER BY agent, session, ts, id"
    )
    for row in conn.execute(sql, [flt.bounds_ms()[1], *sorted(flt.agents or ()), *args]):
        yield Call._make(row)


def report(conn: sqlite3.Connection, flt: reports.Filter, overrides: Path | None = None) -> dict[str, Any]:
    """The ``report insights`` document, newest first."""
    lo, hi = flt.bounds_ms()
    pricer = Pricer(conn, overrides)
    rows: list[dict[str, Any]] = []
    for found in find(calls(conn, flt)):
        call = found.call
        if not lo <= call.ts <= hi:
            continue
        tiers = pricer.tiers(call.model, call.ts)
        cost = None if tiers is None else round(extra_cost(tiers, call, found.tokens), 6)
        switch = found.kind == "model-switch"
        idle = round((call.ts - found.previous.ts) / 60_000, 1)
        rows.append(
            {
                "kind": found.kind,
                "agent": call.agent,
                "session": call.session,
                "project": call.project or "",
                "ts": _iso(call.ts),
                "model": call.model,
                "previous_model": found.previous.model if switch else None,
                "idle_minutes": None if switch else idle,
                "tokens": found.tokens,
                "extra_cost_usd": cost,
                "summary": _summary(found, idle, cost),
            }
        )
    rows.sort(key=lambda r: (r["ts"], r["agent"], r["session"]), reverse=True)
    return {
        "insights": rows,
        "totals": {
            "count": len(rows),
            "tokens": sum(r["tokens"] for r in rows),
            "extra_cost_usd": round(sum((r["extra_cost_usd"] or 0.0 for r in rows), 0.0), 6),
        },
        "price_source": reports.price_source(conn),
        "tz": str(flt.tz),
    }


def _summary(found: Insight, idle: float, cost: float | None) -> str:
    paid = f"re-paid {_tokens(found.tokens)} cached tokens uncached ({'unpriced' if cost is None else '+' + usd(cost)})"
    if found.kind == "model-switch":
        return f"Switched {_short(found.previous.model)} → {_short(found.call.model)} and {paid}"
    lifetime = "1-hour" if found.ttl_ms == TTL_1H_MS else "5-minute"
    return f"Idle {idle:g} min, past the {lifetime} cache lifetime of {_short(found.previous.model)}, then {paid}"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _short(model: str) -> str:
    """A model name without its release-date suffix (claude-opus-4-5-20251101 → claude-opus-4-5)."""
    return re.sub(r"-\d{8}$", "", model)


def _tokens(n: int) -> str:
    if n >= 999_500:  # what would print as 1000K
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)
