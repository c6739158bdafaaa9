"""genai-prices' answers for every model name its data spells out, computed once per price data.

Loading genai-prices' data (pydantic models of every provider and model) costs ~0.15 CPU-s,
a sixth of a first index of a gigabyte of logs. The table holds, for each name the data
itself writes (model ids and the literal names its match rules compare with) and a few
dated names agents write, the schedule genai-prices gives that exact name, plus the data's
version and the dates it mentions. It is a memo, not a second matcher: it is built from
the installed genai-prices the first time prices are needed (or at install, by
``python -m app.core.price_table``), kept in the user cache directory under the digest of
``genai_prices/data.py``, and rebuilt when that digest changes, so an upgrade of
genai-prices only costs one build. Any name it lacks is asked of genai-prices itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from pathlib import Path
from typing import Any

from app.core import paths

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
        self._model_ids: int = doc["model_ids"]

    def __contains__(self, model: str) -> bool:
        return model in self._models

    def raw_schedule(self, model: str) -> Any:
        """The schedule of a model in the table as JSON (``pricing.decode_schedule`` reads it); None: unpriced."""
        at = self._models[model]
        return None if at < 0 else self._schedules[at]

    def models(self) -> list[str]:
        return list(self._models)

    def model_ids(self) -> int:
        """How many models (per provider) the price data describes."""
        return self._model_ids


def data_file() -> Path | None:
    """genai-prices' bundled data module, found without importing the package."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "data.py"


def digest(path: Path) -> str:
    from hashlib import blake2b

    return blake2b(path.read_bytes(), digest_size=16).hexdigest()


FORMAT = 1  # of the table's document: a table of another format is built again


def table_path(data_digest: str) -> Path:
    return paths.cache_dir() / f"price-table-{data_digest}.json"


_loaded: list[PriceTable | None] = []


def load() -> PriceTable | None:
    """The table for the installed price data, built on first use (checked once per process); None without data."""
    if not _loaded:
        _loaded.append(_load())
    return _loaded[0]


def _load() -> PriceTable | None:
    import orjson

    data = data_file()
    if data is None:
        return None
    want = digest(data)
    path = table_path(want)
    try:
        doc = orjson.loads(path.read_bytes())
        if doc["digest"] == want and doc["format"] == FORMAT:
            return PriceTable(doc)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, or damaged: build it again
    doc = build()
    with contextlib.suppress(OSError):  # a read-only cache: price from the table in memory, build again next time
        save(doc)
    return PriceTable(doc)


STALE_S = 600  # a half-written table older than this was left by a killed build


def save(doc: dict[str, Any]) -> Path:
    """Write ``doc`` under its digest, whole or not at all, and drop tables of other price data.

    Two processes building at once each replace the file with a complete table of the same
    data; a build killed midway leaves only its hidden temporary file, removed here later.
    """
    import orjson

    path = table_path(doc["digest"])
    paths.write_atomic(path, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n")
    now = time.time()
    for old in path.parent.glob("*price-table-*"):
        if old == path:
            continue
        try:
            if not old.name.startswith(".") or now - old.stat().st_mtime > STALE_S:
                old.unlink()
        except OSError:
            continue
    return path


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
        "format": FORMAT,
        "digest": digest(data),
        "version": metadata.version("genai-prices"),
        "model_ids": sum(len(provider.models) for provider in providers),
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
    built = build()
    where = save(built)
    print(
        f"{where}: {len(built['models'])} names, {len(built['schedules'])} schedules, genai-prices {built['version']}"
    )
