"""``tokenclub prices``: where prices come from, what the user's overrides add, and what has no price.

A model is priced by the user's overrides first, then genai-prices, then the table shipped
with TokenClub (for default models genai-prices has no price for); ``models`` names which.
"""

from __future__ import annotations

import fnmatch
import sqlite3
from pathlib import Path
from typing import Any

from app.core import price_table, pricing


def build(conn: sqlite3.Connection, overrides_path: Path) -> dict[str, Any]:
    """The price source and its data, the overrides and the models they price, the unpriced models seen."""
    table = price_table.load()
    data = price_table.data_file()
    source = pricing.Pricer(conn, None).source()
    overrides = pricing.load_overrides(overrides_path)
    pricer = pricing.Pricer(conn, overrides_path)
    seen = [m for (m,) in conn.execute("SELECT DISTINCT model FROM events WHERE model IS NOT NULL ORDER BY model")]
    unpriced = [
        {"model": model, "agents": sorted(agents.split(",")), "calls": calls, "tokens": tokens}
        for model, agents, calls, tokens in conn.execute(
            "SELECT model, GROUP_CONCAT(DISTINCT agent), COUNT(*), SUM(inp + cw + cr + out) FROM events"
            " WHERE cost IS NULL GROUP BY model ORDER BY 4 DESC"
        )
    ]
    return {
        "source": {
            "name": source["name"],
            "version": None if table is None else table.version,
            "data_date": source["data_date"],
            "data_file": None if data is None else str(data),
            "models": None if table is None else table.model_ids(),
            "names_answered_offline": None if table is None else len(table.models()),
            "table": None if data is None else str(price_table.table_path(price_table.digest(data))),
        },
        "overrides": {
            "file": str(overrides_path),
            "exists": overrides_path.exists(),
            "models": [
                {
                    "pattern": o.pattern,
                    **{pricing.PRICE_KEYS[bucket]: rate[0] for bucket, rate in sorted(o.rates.items())},
                    "prices_seen": [m for m in seen if fnmatch.fnmatchcase(m.lower(), o.pattern.lower())],
                }
                for o in overrides
            ],
        },
        "own_table": {
            "file": str(pricing.OWN_PRICES),
            "models": [
                {
                    "model": model,
                    **{pricing.PRICE_KEYS[bucket]: rate[0] for bucket, rate in sorted(own.rates.items())},
                    "tiers_above": sorted({above for rate in own.rates.values() for above, _ in rate[1]}),
                    "source": own.source,
                    "recorded": own.recorded,
                }
                for model, own in sorted(pricing.own_prices().items())
            ],
        },
        "models": [{"model": model, "priced_by": pricer.origin(model)} for model in seen],
        "unpriced_models": unpriced,
    }


def text(doc: dict[str, Any]) -> str:
    """The document for a person."""
    src, over = doc["source"], doc["overrides"]
    lines = [f"price source: {src['name']}" + (f", data as of {src['data_date']}" if src["data_date"] else "")]
    if src["models"] is not None:
        lines.append(
            f"  {src['models']:,} models in its data; {src['names_answered_offline']:,} names answered from the table"
            f" {src['table']}"
        )
    state = "" if over["exists"] else " (none yet)"
    lines.append(f"overrides: {over['file']}{state}")
    for o in over["models"]:
        rates = ", ".join(f"{k} {v:g}" for k, v in o.items() if k.endswith("_mtok"))
        priced = ", ".join(o["prices_seen"]) or "no model seen yet"
        lines.append(f"  {o['pattern']}: {rates} (USD per million tokens); prices {priced}")
    own = [m for m in doc["models"] if (m["priced_by"] or {}).get("source") == pricing.OWN_SOURCE]
    if own:
        lines.append(f"priced from the {pricing.OWN_SOURCE} {doc['own_table']['file']} (genai-prices has no price):")
        for m in own:
            by = m["priced_by"]
            lines.append(f"  {m['model']}: {by['url']} (recorded {by['recorded']})")
    if doc["unpriced_models"]:
        lines.append("unpriced models seen (costs leave them out; add them to the overrides file):")
        for u in doc["unpriced_models"]:
            calls = f"{u['calls']:,} call" + ("" if u["calls"] == 1 else "s")
            lines.append(f"  {u['model']} ({', '.join(u['agents'])}): {u['tokens']:,} tokens in {calls}")
    else:
        lines.append("every model seen has a price")
    return "\n".join(lines) + "\n"
