"""Offline prices per request, from genai-prices' bundled data plus a user overrides file.

Each request is priced on its own, then summed: long-context tiers switch the rate of a
whole request once its prompt passes a threshold, so pricing a day's sum would be wrong.
Rates are resolved once per model and kept in the index (``rates`` table), so a refresh
that sees no new model never loads the price data. An unknown model stays unpriced
(cost NULL), reported as such, never silently $0.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import sqlite3
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from app.core.model import UsageEvent

# Our bucket -> genai-prices price key (per million tokens).
PRICE_KEYS = {
    "inp": "input_mtok",
    "cr": "cache_read_mtok",
    "cw": "cache_write_mtok",
    "cw1h": "cache_write_1h_mtok",
    "out": "output_mtok",
}

# A rate is a base price and optional (threshold, price) tiers on the request's whole prompt.
Rate = tuple[float, tuple[tuple[int, float], ...]]
Rates = dict[str, Rate]
# A model's price history: (valid from epoch ms, rates), latest last.
Schedule = list[tuple[int, Rates]]


class PriceError(ValueError):
    """The overrides file is unreadable or malformed."""


def _rate(value: Any) -> Rate:
    if isinstance(value, int | float):
        return (float(value), ())
    base = getattr(value, "base", None)
    if base is not None:  # genai-prices TieredPrices
        return (float(base), tuple((int(t.start), float(t.price)) for t in value.tiers))
    return (float(value), ())


def _apply(rate: Rate, count: int, prompt: int) -> float:
    price, tiers = rate
    for start, tier_price in reversed(tiers):
        if prompt > start:
            price = tier_price
            break
    return price * count


def cost_of(rates: Rates, event: UsageEvent) -> float:
    """USD for one request; 1h cache writes use their own rate when the model has one."""
    prompt = event.inp + event.cw + event.cr  # the threshold counts the whole prompt, cached or not
    usd = _apply(rates["inp"], event.inp, prompt) if "inp" in rates else 0.0
    usd += _apply(rates["out"], event.out, prompt) if "out" in rates else 0.0
    usd += _apply(rates["cr"], event.cr, prompt) if "cr" in rates else 0.0
    cw1h = event.cw1h if "cw1h" in rates else 0
    if "cw" in rates:
        usd += _apply(rates["cw"], event.cw - cw1h, prompt)
    if cw1h:
        usd += _apply(rates["cw1h"], cw1h, prompt)
    return usd / 1_000_000


@dataclass(frozen=True)
class Override:
    pattern: str
    rates: Rates


def load_overrides(path: Path | None) -> list[Override]:
    """``[models."<name or glob>"]`` tables of ``*_mtok`` prices from a TOML file."""
    if path is None or not path.exists():
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"{path}: {exc}") from exc
    models = doc.get("models", {})
    if not isinstance(models, dict):
        raise PriceError(f"{path}: [models] must be a table")
    known = {v: k for k, v in PRICE_KEYS.items()}
    found: list[Override] = []
    for pattern, table in models.items():
        if not isinstance(table, dict):
            raise PriceError(f"{path}: models.{pattern} must be a table")
        rates: Rates = {}
        for key, value in table.items():
            if key not in known:
                raise PriceError(f"{path}: models.{pattern}.{key}: unknown price (use {', '.join(known)})")
            if not isinstance(value, int | float) or value < 0:
                raise PriceError(f"{path}: models.{pattern}.{key}: not a non-negative number")
            rates[known[key]] = (float(value), ())
        found.append(Override(pattern, rates))
    return found


def price_fingerprint(overrides_path: Path | None) -> str:
    """Changes when the price data or the overrides change, so stored costs are recomputed."""
    try:
        version = metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        version = "none"
    digest = ""
    if overrides_path is not None and overrides_path.exists():
        digest = hashlib.sha256(overrides_path.read_bytes()).hexdigest()[:16]
    return f"genai-prices {version}; overrides {digest or 'none'}"


class Pricer:
    """Resolves and caches each model's price schedule; prices events.

    Schedules are cached in the index's ``rates`` table (``None`` = unpriced), so the
    price data is loaded only the first time a model is seen.
    """

    def __init__(self, conn: sqlite3.Connection, overrides_path: Path | None) -> None:
        self.conn = conn
        self.overrides_path = overrides_path
        self.overrides = load_overrides(overrides_path)
        self._schedules: dict[str, Schedule | None] = {}
        for model, blob in conn.execute("SELECT model, schedule FROM rates"):
            self._schedules[model] = _decode(blob)

    def cost(self, event: UsageEvent) -> float | None:
        schedule = self.schedule(event.model)
        if schedule is None:
            return None
        rates = schedule[0][1]
        for since, candidate in schedule:
            if event.ts >= since:
                rates = candidate
        return cost_of(rates, event)

    def schedule(self, model: str) -> Schedule | None:
        if model in self._schedules:
            return self._schedules[model]
        schedule = self._resolve(model)
        self._schedules[model] = schedule
        self.conn.execute(
            "INSERT OR REPLACE INTO rates(model, schedule) VALUES (?, ?)",
            (model, None if schedule is None else orjson.dumps(schedule)),
        )
        return schedule

    def _resolve(self, model: str) -> Schedule | None:
        for override in self.overrides:
            if fnmatch.fnmatchcase(model.lower(), override.pattern.lower()):
                return [(0, override.rates)]
        return _from_genai_prices(model)

    def source(self) -> dict[str, Any]:
        label = price_fingerprint(None).split(";")[0]
        return {
            "name": f"{label} (bundled, offline)",
            "data_date": _data_date(),
            "overrides": str(self.overrides_path) if self.overrides else None,
            "override_models": [o.pattern for o in self.overrides],
        }


def _decode(blob: bytes | str | None) -> Schedule | None:
    if blob is None:
        return None
    raw = orjson.loads(blob)
    return [
        (int(since), {k: (float(v[0]), tuple((int(a), float(b)) for a, b in v[1])) for k, v in r.items()})
        for since, r in raw
    ]


def _from_genai_prices(model: str) -> Schedule | None:
    from genai_prices import data_snapshot  # heavy: imported only for a model not seen before
    from genai_prices.types import ModelPrice, StartDateConstraint

    snapshot = data_snapshot.get_snapshot()
    bare = model.split("/", 1)[1] if "/" in model else model
    try:
        _provider, info = snapshot.find_provider_model(bare, None, None, None)
    except LookupError:
        return None
    prices = info.prices
    entries: list[tuple[int, ModelPrice]]
    if isinstance(prices, ModelPrice):
        entries = [(0, prices)]
    else:
        entries = []
        for conditional in prices:
            constraint = conditional.constraint
            if constraint is None:
                entries.append((0, conditional.prices))
            elif isinstance(constraint, StartDateConstraint):
                start = datetime.combine(constraint.start_date, datetime.min.time(), tzinfo=UTC)
                entries.append((int(start.timestamp() * 1000), conditional.prices))
            # time-of-day discounts (off-peak hours) are not modelled: the standard price is used
        entries.sort(key=lambda e: e[0])
        if not entries:
            return None
    schedule: Schedule = []
    for since, price in entries:
        rates: Rates = {}
        for bucket, key in PRICE_KEYS.items():
            value = getattr(price, key, None)
            if value is not None:
                rates[bucket] = _rate(value)
        schedule.append((since, rates))
    return schedule


def _data_date() -> str | None:
    """The newest date the bundled price data mentions: when it was last checked."""
    try:
        import genai_prices

        text = (Path(genai_prices.__file__).parent / "data.py").read_text(encoding="utf-8")
    except (ImportError, OSError):
        return None
    today = date.today().isoformat()
    dates = [d for d in re.findall(r"20\d\d-[01]\d-[0-3]\d", text) if d <= today]
    return max(dates) if dates else None


def reprice(conn: sqlite3.Connection, pricer: Pricer, batch: Iterable[tuple[Any, ...]]) -> None:
    """Recompute stored costs (after a price data or overrides change)."""
    updates = []
    for rowid, *fields in batch:
        event = UsageEvent("", 0, "", *fields)
        updates.append((pricer.cost(event), rowid))
    conn.executemany("UPDATE events SET cost = ? WHERE id = ?", updates)
