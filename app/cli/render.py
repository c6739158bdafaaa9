"""What the commands print: a table for a person, ``--json`` or ``--csv`` for a program."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

HEADERS = {
    "in": "input",
    "cw": "cache write",
    "cr": "cache read",
    "out": "output",
    "rsn": "reasoning",
    "cost_usd": "cost",
    "extra_cost_usd": "extra cost",
    "cache_saved_usd": "cache saved",
    "peak_sessions": "peak sessions",
    "next_milestone": "next",
    "to_next": "to next",
    "tokens_per_minute": "tokens/min",
    "active_sessions": "active sessions",
    "cache_hit_rate": "cache hit",
}


def render(args: argparse.Namespace, doc: dict[str, Any], rows: list[dict[str, Any]], columns: list[str]) -> str:
    """``doc`` as JSON, ``rows`` as CSV, or ``rows`` as a table, as the options ask."""
    if args.json:
        # indented for a person at a terminal; compact for a pipe (the C encoder: indenting is pure Python)
        import json

        return json.dumps(doc, indent=2 if indent(args) else None, ensure_ascii=False) + "\n"
    if args.csv:
        import csv

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(row.get(k)) for k in columns})
        return buf.getvalue()
    return render_table(rows, columns)


def indent(args: argparse.Namespace) -> bool:
    """Whether JSON is indented: for a person at a terminal."""
    return bool(args.json) and sys.stdout.isatty()


def csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    return "" if value is None else value


def cell(value: Any, column: str, row: dict[str, Any]) -> str:
    """One table cell: thousands separated, dollars and percentages as such, ``-`` for nothing."""
    if value is None:
        return "-"
    if column.endswith("_usd"):  # an insight's extra cost, a quiet day's: often a fraction of a cent
        from app.core.money import usd

        # some of the row's tokens have no price: what is shown is the priced part
        return f"≥ {usd(value)}" if column == "cost_usd" and row.get("unpriced_tokens") else usd(value)
    if column == "cache_hit_rate":
        return f"{value * 100:.1f}%"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def render_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Right-aligned numbers, left-aligned text, a rule under the header."""
    head = [HEADERS.get(c, c) for c in columns]
    body = [[cell(r.get(c), c, r) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(head)]
    numeric = [all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows) for c in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True))

    out = [line(head), "  ".join("─" * w for w in widths)]
    out.extend(line(b) for b in body)
    return "\n".join(x.rstrip() for x in out) + "\n"


def print_doc(args: argparse.Namespace, doc: dict[str, Any], text: str) -> None:
    """``doc`` as JSON with ``--json``, else ``text`` (the host and session commands' one-line answers)."""
    if args.json:
        import json

        sys.stdout.write(json.dumps(doc, indent=2 if sys.stdout.isatty() else None) + "\n")
    elif text:
        sys.stdout.write(text)
