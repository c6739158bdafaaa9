"""genai-prices' answers for every model name its data spells out, computed once and shipped.

Loading genai-prices' data (pydantic models of every provider and model) costs ~0.15 CPU-s,
a sixth of a first index of a gigabyte of logs. ``price_table.json`` holds, for each name
the data itself writes (model ids and the literal names its match rules compare with) and
a few dated names agents write, the schedule genai-prices gives that exact name, plus the
data's version and the dates it mentions. It is a memo, not a second matcher: it is used
only while the installed ``genai_prices/data.py`` is byte for byte the one it was built
from, and any name it lacks is asked of genai-prices itself.

Rebuild after upgrading genai-prices (tests/core/test_pricing.py fails until then)::

    python -m app.core.price_table
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("price_table.json")

# Names agents write that the data only matches by prefix: Anthropic's dated API ids, as Claude Code logs them.
WRITTEN_BY_AGENTS = (
    "claude-opus-4-5-20251101",
    "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-20250514",
    "claude-haiku-4-5-20251001",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-20241022",
)


class PriceTable:
    """The shipped answers, valid for the installed price data."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.version: str = doc["version"]
        self.dates: list[str] = doc["dates"]
        self._schedules: list[Any] = doc["schedules"]
        self._models: dict[str, int] = doc["models"]

    def __contains__(self, model: str) -> bool:
        return model in self._models

    def raw_schedule(self, model: str) -> Any:
        """The schedule of a model in the table as JSON (``pricing.decode_schedule`` reads it); None: unpriced."""
        at = self._models[model]
        return None if at < 0 else self._schedules[at]

    def models(self) -> list[str]:
        return list(self._models)


def data_file() -> Path | None:
    """genai-prices' bundled data module, found without importing the package."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "data.py"


def digest(path: Path) -> str:
    from hashlib import blake2b

    return blake2b(path.read_bytes(), digest_size=16).hexdigest()


_loaded: list[PriceTable | None] = []


def load() -> PriceTable | None:
    """The table, or None when it is missing or was built from other price data (checked once)."""
    if not _loaded:
        _loaded.append(_load())
    return _loaded[0]


def _load() -> PriceTable | None:
    import orjson

    data = data_file()
    try:
        doc = orjson.loads(TABLE.read_bytes())
        if data is None or doc["digest"] != digest(data):
            return None
        return PriceTable(doc)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build() -> dict[str, Any]:
    """The table for the installed genai-prices: every name its data spells out, asked of genai-prices."""
    import re
    from importlib import metadata

    from app.core import pricing

    data = data_file()
    if data is None:
        raise SystemExit("genai-prices is not installed")
    with pricing.bare_genai_prices():
        from genai_prices.data import providers

        literals: set[str] = set()
        for provider in providers:
            for model in provider.models:
                literals.add(model.id)
                _literals(model.match, literals)
        names = literals | set(WRITTEN_BY_AGENTS)
        for literal in literals:  # the names inside cloud ids: "us.anthropic.claude-opus-4-5-20251101-v1:0"
            for part in re.split(r"[./:@]", literal):
                names.add(part)
                names.add(re.sub(r"-v\d+$", "", part))
        schedules: list[Any] = []
        index: dict[str, int] = {}
        models: dict[str, int] = {}
        for name in sorted(names | {n.lower() for n in names}):
            schedule = pricing.genai_prices_schedule(name)
            if schedule is None:  # unpriced is an answer too
                models[name] = -1
                continue
            key = pricing.encode_schedule(schedule)
            if key not in index:
                index[key] = len(schedules)
                schedules.append(schedule)
            models[name] = index[key]
    return {
        "digest": digest(data),
        "version": metadata.version("genai-prices"),
        "dates": sorted(set(pricing.data_dates())),
        "schedules": schedules,
        "models": models,
    }


def _literals(clause: Any, into: set[str]) -> None:
    """The names a match rule compares with (regexes are left to genai-prices)."""
    for attr in ("equals", "starts_with", "contains", "ends_with"):
        value = getattr(clause, attr, None)
        if isinstance(value, str):
            into.add(value)
    for attr in ("or_", "and_"):
        for inner in getattr(clause, attr, None) or ():
            _literals(inner, into)


if __name__ == "__main__":
    import orjson

    built = build()
    TABLE.write_bytes(orjson.dumps(built, option=orjson.OPT_SORT_KEYS) + b"\n")
    version = built["version"]
    print(f"{TABLE}: {len(built['models'])} names, {len(built['schedules'])} schedules, genai-prices {version}")
