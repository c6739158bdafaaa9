"""Offline prices per request, from genai-prices' bundled data plus a user overrides file.

Each request is priced on its own, then summed: long-context tiers switch the rate of a
whole request once its prompt passes a threshold, so pricing a day's sum would be wrong.
Rates are resolved once per model and kept in the index (``rates`` table), so a refresh
that sees no new model never loads the price data. An unknown model stays unpriced
(cost NULL), reported as such, never silently $0.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import price_table

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence

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
Compiled = list[tuple[int, "Tiers"]]


class PriceError(ValueError):
    """The overrides file (or the shipped own table) is unreadable or malformed."""


# Prices for default models genai-prices lacks, each with its provider's page and the day copied.
OWN_PRICES = Path(__file__).resolve().parents[1] / "resources" / "prices.toml"
OWN_SOURCE = "tokenclub table"


def _rate(value: Any) -> Rate:
    if isinstance(value, int | float):
        return (float(value), ())
    base = getattr(value, "base", None)
    if base is not None:  # genai-prices TieredPrices
        return (float(base), tuple((int(t.start), float(t.price)) for t in value.tiers))
    return (float(value), ())


# Per-token prices of (in, cw 5m, cw 1h, cr, out), one vector per prompt-size tier.
Vector = tuple[float, float, float, float, float]
Tiers = list[tuple[int, Vector]]  # (prompt must exceed this, prices), highest threshold first


def compile_rates(rates: Rates) -> Tiers:
    """Turn per-bucket rates into whole-request price vectors, one per tier threshold."""
    thresholds = sorted({start for rate in rates.values() for start, _ in rate[1]}, reverse=True)

    def at(bucket: str, prompt: int) -> float:
        rate = rates.get(bucket)
        if rate is None:
            return 0.0
        price = rate[0]
        for start, tier_price in reversed(rate[1]):
            if prompt > start:
                price = tier_price
                break
        return price / 1_000_000

    tiers: Tiers = []
    for threshold in [*thresholds, -1]:
        prompt = threshold + 1
        cw = at("cw", prompt)
        cw1h = at("cw1h", prompt) if "cw1h" in rates else cw
        tiers.append((threshold, (at("inp", prompt), cw, cw1h, at("cr", prompt), at("out", prompt))))
    return tiers


def cost_of(tiers: Tiers, event: Sequence[Any]) -> float:
    """USD for one request (a UsageEvent or an index row: same field positions).

    The tier threshold counts the whole prompt, cached or not, as the providers do.
    """
    inp, cw, cr, out, cw1h = event[7], event[8], event[9], event[10], event[12]
    prompt = inp + cw + cr
    for threshold, (p_in, p_cw, p_cw1h, p_cr, p_out) in tiers:
        if prompt > threshold:
            return inp * p_in + (cw - cw1h) * p_cw + cw1h * p_cw1h + cr * p_cr + out * p_out
    return 0.0


class Override:
    """User prices for the models whose name matches ``pattern`` (a glob)."""

    __slots__ = ("pattern", "rates")

    def __init__(self, pattern: str, rates: Rates) -> None:
        self.pattern = pattern
        self.rates = rates


def load_overrides(path: Path | None) -> list[Override]:
    """``[models."<name or glob>"]`` tables of ``*_mtok`` prices from a TOML file."""
    if path is None or not path.exists():
        return []
    import tomllib  # only when there is a file

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


class OwnPrice:
    """A model's price from the shipped table: its schedule, the provider's page and the day copied."""

    __slots__ = ("rates", "source", "recorded")

    def __init__(self, rates: Rates, source: str, recorded: str) -> None:
        self.rates = rates
        self.source = source
        self.recorded = recorded


def load_own_prices(path: Path) -> dict[str, OwnPrice]:
    """``[models."<name>"]`` tables of ``*_mtok`` prices, optional ``tiers`` (``above`` N prompt tokens),
    ``source`` (the provider's pricing page) and ``recorded`` (the day copied)."""
    import tomllib

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"{path}: {exc}") from exc
    known = {v: k for k, v in PRICE_KEYS.items()}
    found: dict[str, OwnPrice] = {}
    for model, table in (doc.get("models") or {}).items():
        where = f"{path}: models.{model}"
        if not isinstance(table, dict) or not isinstance(table.get("source"), str):
            raise PriceError(f"{where}: a table with a source")
        if not isinstance(table.get("recorded"), str):
            raise PriceError(f"{where}: no recorded date")
        tiers = table.get("tiers") or []
        if not isinstance(tiers, list) or not all(isinstance(t, dict) for t in tiers):
            raise PriceError(f"{where}.tiers: a list of tables")
        rates: Rates = {}
        for key, bucket in known.items():
            base = _own_price(table, key, where)
            if base is None:
                continue
            steps = []
            for tier in tiers:
                above, price = tier.get("above"), _own_price(tier, key, where)
                if not isinstance(above, int) or above <= 0 or price is None:
                    raise PriceError(f"{where}.tiers: each tier needs above > 0 and {key}")
                steps.append((above, price))
            rates[bucket] = (base, tuple(sorted(steps)))
        if "inp" not in rates or "out" not in rates:
            raise PriceError(f"{where}: input_mtok and output_mtok are needed")
        found[model.lower()] = OwnPrice(rates, table["source"], table["recorded"])
    return found


def _own_price(table: dict[str, Any], key: str, where: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceError(f"{where}.{key}: not a non-negative number")
    return float(value)


_own: list[dict[str, OwnPrice]] = []


def own_prices() -> dict[str, OwnPrice]:
    """The shipped table, read once per process (only for a model genai-prices has no price for)."""
    if not _own:
        _own.append(load_own_prices(OWN_PRICES))
    return _own[0]


def price_fingerprint(overrides_path: Path | None) -> str:
    """Changes when the price data or the overrides change, so stored costs are recomputed.

    The data file's size and mtime stand for the package version: reading package
    metadata would cost more than the rest of a refresh with nothing new.
    """
    data = price_table.data_file()
    version = "none"
    if data is not None:
        st = os.stat(data)
        version = f"{st.st_size}-{st.st_mtime_ns}"
    own = "none"
    with contextlib.suppress(OSError):
        st = os.stat(OWN_PRICES)
        own = f"{st.st_size}-{st.st_mtime_ns}"
    digest = ""
    if overrides_path is not None and overrides_path.exists():
        import hashlib  # loads OpenSSL: only when there is a file

        digest = hashlib.sha256(overrides_path.read_bytes()).hexdigest()[:16]
    return f"genai-prices {version}; own {own}; overrides {digest or 'none'}"


_NO_MODEL = object()


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
        self._compiled: dict[str, Compiled | None] = {}
        for model, blob in conn.execute("SELECT model, schedule FROM rates"):
            self._schedules[model] = _decode(blob)

    def cost(self, event: Sequence[Any]) -> float | None:
        """USD for a UsageEvent or an index row, or None when the model has no price."""
        tiers = self.tiers(event[4], event[3])
        return None if tiers is None else cost_of(tiers, event)

    def priced(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Index rows with their cost appended, as ``cost`` gives it; the tiers are looked up once per
        run of rows of one model whose price never changed (a file's calls, mostly)."""
        out = []
        model: Any = _NO_MODEL
        compiled: Compiled | None = None
        fixed: Tiers | None = None
        for row in rows:
            if row[4] != model:
                model = row[4]
                compiled = self._compiled[model] if model in self._compiled else self._compile(model)
                fixed = compiled[0][1] if compiled is not None and len(compiled) == 1 else None
            if compiled is None:
                out.append((*row, None))
                continue
            tiers = fixed if fixed is not None else self.tiers(model, row[3])
            out.append((*row, None if tiers is None else cost_of(tiers, row)))
        return out

    def _compile(self, model: str) -> Compiled | None:
        schedule = self.schedule(model)
        compiled = None if schedule is None else [(since, compile_rates(r)) for since, r in schedule]
        self._compiled[model] = compiled
        return compiled

    def tiers(self, model: str, ts: int) -> Tiers | None:
        """``model``'s price vectors in force at ``ts`` (epoch ms), or None when it has no price."""
        compiled = self._compiled[model] if model in self._compiled else self._compile(model)
        if compiled is None:
            return None
        tiers = compiled[0][1]
        for since, candidate in compiled[1:]:
            if ts >= since:
                tiers = candidate
        return tiers

    def base_prices(self, model: str, ts: int) -> Vector | None:
        """Per-token prices (in, cw 5m, cw 1h, cr, out) below any long-context tier."""
        tiers = self.tiers(model, ts)
        return None if tiers is None else tiers[-1][1]

    def schedule(self, model: str) -> Schedule | None:
        if model in self._schedules:
            return self._schedules[model]
        schedule = self._resolve(model)
        self._schedules[model] = schedule
        self.conn.execute(
            "INSERT OR REPLACE INTO rates(model, schedule) VALUES (?, ?)",
            (model, None if schedule is None else encode_schedule(schedule)),
        )
        return schedule

    def _resolve(self, model: str) -> Schedule | None:
        """The user's overrides first, then genai-prices, then the shipped table for what it lacks."""
        override = self.override_for(model)
        if override is not None:
            return [(0, override.rates)]
        schedule = _from_genai_prices(model)
        if schedule is not None:
            return schedule
        own = own_prices().get(model.lower())
        return None if own is None else [(0, own.rates)]

    def override_for(self, model: str) -> Override | None:
        import fnmatch

        for override in self.overrides:
            if fnmatch.fnmatchcase(model.lower(), override.pattern.lower()):
                return override
        return None

    def origin(self, model: str) -> dict[str, Any] | None:
        """Which source prices ``model`` (as ``_resolve`` picks it), or None when none does."""
        override = self.override_for(model)
        if override is not None:
            return {"source": "overrides", "pattern": override.pattern}
        if _from_genai_prices(model) is not None:
            return {"source": "genai-prices"}
        own = own_prices().get(model.lower())
        if own is None:
            return None
        return {"source": OWN_SOURCE, "url": own.source, "recorded": own.recorded}

    def source(self) -> dict[str, Any]:
        table = price_table.load()
        if table is not None:  # the same version and dates, without package metadata or the 1.6 MB data file
            label, dates = f"genai-prices {table.version}", table.dates
        else:
            from importlib import metadata

            try:
                label = f"genai-prices {metadata.version('genai-prices')}"
            except metadata.PackageNotFoundError:
                label = "no price data"
            dates = data_dates()
        return {
            "name": f"{label} (bundled, offline)",
            "data_date": _newest_past(dates),
            "overrides": str(self.overrides_path) if self.overrides else None,
            "override_models": [o.pattern for o in self.overrides],
        }


def _orjson() -> Any:
    import orjson  # imported where rates are read or written: a warm start needs neither

    return orjson


def encode_schedule(schedule: Schedule) -> str:
    return _orjson().dumps(schedule).decode()


def _decode(blob: bytes | str | None) -> Schedule | None:
    return None if blob is None else decode_schedule(_orjson().loads(blob))


def decode_schedule(raw: Any) -> Schedule:
    """A schedule from its JSON form (lists where it has tuples)."""
    return [
        (int(since), {k: (float(v[0]), tuple((int(a), float(b)) for a, b in v[1])) for k, v in r.items()})
        for since, r in raw
    ]


@contextlib.contextmanager
def bare_genai_prices() -> Iterator[None]:
    """genai-prices' data and types without its package ``__init__``, unless it is imported already.

    That ``__init__`` imports the price auto-updater (an HTTP client, asyncio) for nothing
    offline: two fifths of loading the data (~0.07 CPU-s of a cold index). While this is
    open the package is registered bare (its path, no ``__init__`` run), so its submodules
    load as usual; it is taken out again after, and a later ``import genai_prices`` runs the
    real ``__init__``, which finds these same submodules already loaded.
    """
    if "genai_prices" in sys.modules:
        yield
        return
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or spec.submodule_search_locations is None:
        yield  # not installed (or not a package): the imports below fail as they would anyway
        return
    bare = importlib.util.module_from_spec(spec)
    sys.modules["genai_prices"] = bare
    try:
        yield
    finally:
        if sys.modules.get("genai_prices") is bare:
            del sys.modules["genai_prices"]


def _from_genai_prices(model: str) -> Schedule | None:
    table = price_table.load()
    if table is not None and model in table:
        raw = table.raw_schedule(model)
        return None if raw is None else decode_schedule(raw)
    with bare_genai_prices():
        return genai_prices_schedule(model)


def genai_prices_schedule(model: str) -> Schedule | None:
    """What genai-prices' data says ``model`` costs (call inside ``bare_genai_prices``)."""
    from datetime import UTC, datetime

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


def data_dates() -> list[str]:
    """Every date the bundled price data mentions."""
    path = price_table.data_file()
    try:
        text = path.read_text(encoding="utf-8") if path is not None else ""
    except OSError:
        return []
    import re

    return re.findall(r"20\d\d-[01]\d-[0-3]\d", text)


def _newest_past(dates: list[str]) -> str | None:
    """The newest of ``dates`` not after today: when the price data was last checked."""
    from datetime import date

    today = date.today().isoformat()
    past = [d for d in dates if d <= today]
    return max(past) if past else None


def reprice(conn: sqlite3.Connection, pricer: Pricer) -> None:
    """Recompute every stored cost (after a price data or overrides change)."""
    rows = conn.execute(f"SELECT {ROW_COLUMNS} FROM events").fetchall()
    conn.executemany("UPDATE events SET cost = ? WHERE key = ?", [(pricer.cost(r), r[0]) for r in rows])


# The index's event columns, in UsageEvent's field order.
ROW_COLUMNS = "key, prio, agent, ts, model, session, project, inp, cw, cr, out, rsn, cw1h"
