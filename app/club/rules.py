"""Plausibility rules, each with a name: what a signed file may still not claim.

A signature proves who wrote a file and that it was not changed since, not that its
numbers are true. Two kinds of rule:

* **arithmetic** (the whole file is rejected; TokenClub never writes such a file, so it
  was edited and re-signed): ``total_is_sum`` (``total = in + cw + cr + out``),
  ``parts_sum`` (a day's buckets and calls equal the sum of its agents, and of its models),
  ``tier_matches_total`` (the tier is the club tier the total reaches);
* **physical** (that day is dropped, the member is flagged, the rest merges):
  ``future_day`` (a day not yet begun anywhere on Earth), ``cache_read_per_call`` (cache
  reads per call above the largest context window of the models named that day),
  ``calls_per_day`` (more calls than one machine makes in a day, per device).
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import compress, repeat
from operator import add, gt, mul, ne
from typing import Any

from app.club.schema import Rejected
from app.core.milestones import DEFAULT_MILESTONES, tier_label
from app.core.model import BUCKETS

FILE_RULES = ("total_is_sum", "parts_sum", "tier_matches_total")
DAY_RULES = ("future_day", "cache_read_per_call", "calls_per_day")

# A call lasts a second at least and one machine runs a handful of agents at once: 100,000 calls a
# day is more than one call a second around the clock. A day of several devices gets the limit per device.
MAX_CALLS_PER_DEVICE_DAY = 100_000
MAX_DEVICES = 16

# The largest context window (tokens) of each model family, generous (1M-token betas included); a
# call cannot read more from the cache than its context holds. Unknown models get the largest.
CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("llama-4", 10_000_000),
    ("gemini", 2_097_152),
    ("grok", 2_000_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 1_050_000),
    ("claude", 1_000_000),
    ("qwen", 1_000_000),
    ("kimi", 1_000_000),
    ("glm", 1_000_000),
    ("minimax", 1_000_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("deepseek", 164_000),
    ("gpt-4o", 128_000),
)
DEFAULT_CONTEXT = 2_097_152


@functools.lru_cache(maxsize=4096)
def context_window(model: str) -> int:
    name = model.lower().rsplit("/", 1)[-1]
    for family, size in CONTEXT_WINDOWS:
        if family in name:
            return size
    return DEFAULT_CONTEXT


def latest_possible_day(now: datetime | None = None) -> date:
    """The latest local date anywhere on Earth at ``now`` (UTC+14)."""
    return ((now or datetime.now(UTC)).astimezone(UTC) + timedelta(hours=14)).date()


THRESHOLDS = sorted(DEFAULT_MILESTONES)
LABELS: list[str | None] = [None, *(tier_label(m) for m in THRESHOLDS)]


def tiers(totals: list[int]) -> list[str | None]:
    """The club tier of each total."""
    return list(map(LABELS.__getitem__, map(bisect_right, repeat(THRESHOLDS), totals)))


def _first(flags: Any) -> int:
    return next(compress(range(1 << 62), flags))


def _splits(doc: dict[str, Any]) -> list[str]:
    return ["by_agent", "by_model"] if doc["includes"]["models"] else ["by_agent"]


def check_file(doc: dict[str, Any]) -> None:
    """Raise :class:`Rejected` on the first arithmetic rule the file breaks (the day it breaks it named)."""
    days = doc["days"]
    dates = days["date"]
    parts = [("", days)] + [(f" ({name})", cols) for split in _splits(doc) for name, cols in doc[split].items()]
    for where, cols in parts:
        summed = list(map(add, map(add, map(add, cols["in"], cols["cw"]), cols["cr"]), cols["out"]))
        if summed != cols["total"]:
            d = dates[_first(map(ne, summed, cols["total"]))]
            raise Rejected("total_is_sum", f"day {d}{where}: total is not in + cw + cr + out", d)
    n = len(dates)
    for split in _splits(doc):
        what = "agents" if split == "by_agent" else "models"
        for field in (*BUCKETS, "calls"):
            summed = [0] * n
            for cols in doc[split].values():
                summed = list(map(add, summed, cols[field]))
            if summed != days[field]:
                d = dates[_first(map(ne, summed, days[field]))]
                raise Rejected("parts_sum", f"day {d}: {field} is not the sum of its {what}", d)
    want = tiers(days["total"])
    if want != days["tier"]:
        i = _first(map(ne, want, days["tier"]))
        raise Rejected(
            "tier_matches_total", f"day {dates[i]}: tier {days['tier'][i]!r} does not match its total", dates[i]
        )


def day_problems(doc: dict[str, Any], latest: date) -> Iterator[tuple[str, Rejected]]:
    """``(date, why)`` for each day a physical rule rejects (the day is dropped), at most one per day."""
    days = doc["days"]
    dates = days["date"]
    n = len(dates)
    found: dict[int, Rejected] = {}
    latest_s = latest.isoformat()
    for i in range(bisect_right(dates, latest_s), n):
        found[i] = Rejected("future_day", f"day {dates[i]} has not begun anywhere yet", dates[i])
    calls, cr = days["calls"], days["cr"]
    devices = list(map(min, days["devices"], repeat(MAX_DEVICES)))
    for i in compress(range(n), map(gt, calls, map(mul, devices, repeat(MAX_CALLS_PER_DEVICE_DAY)))):
        found.setdefault(i, Rejected(
            "calls_per_day",
            f"day {dates[i]}: {calls[i]:,} calls on {devices[i]} device(s), over {MAX_CALLS_PER_DEVICE_DAY:,} a device",
            dates[i],
        ))
    largest = [0] * n  # per day, the largest context of the models named that day
    for model, cols in (doc.get("by_model") or {}).items() if doc["includes"]["models"] else ():
        ctx = context_window(model)
        for i in compress(range(n), map(gt, cols["cr"], map(mul, cols["calls"], repeat(ctx)))):
            found.setdefault(i, Rejected(
                "cache_read_per_call",
                f"day {dates[i]}: {model} read {cols['cr'][i]:,} cached tokens in {cols['calls'][i]:,} calls, "
                f"over its context ({ctx:,})",
                dates[i],
            ))
        largest = list(map(max, largest, map(mul, map(bool, cols["total"]), repeat(ctx))))
    largest = [x or DEFAULT_CONTEXT for x in largest]
    for i in compress(range(n), map(gt, cr, map(mul, calls, largest))):
        found.setdefault(i, Rejected(
            "cache_read_per_call",
            f"day {dates[i]}: {cr[i]:,} cached tokens in {calls[i]:,} calls, over the largest context "
            f"({largest[i]:,})",
            dates[i],
        ))
    for i in sorted(found):
        yield dates[i], found[i]
