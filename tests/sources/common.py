"""Helpers shared by the per-source tests: parse fixture files and sum them like EXPECTED.md."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from app.core.model import UsageEvent, dedupe
from app.core.source import Source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "agent-logs"
EXTRA = Path(__file__).parents[1] / "fixtures" / "agent-logs-extra"

Table = dict[tuple[str, str], tuple[int, int, int, int, int]]


def parse_all(source: Source, paths: Iterable[Path]) -> list[UsageEvent]:
    events: list[UsageEvent] = []
    for path in paths:
        events += source.parse(path, 0, {}).events
    return events


def per_day_model(events: Iterable[UsageEvent]) -> Table:
    """(UTC day, model) -> (in, out, cw, cr, rsn) over the de-duplicated events."""
    table: dict[tuple[str, str], list[int]] = {}
    for e in dedupe(list(events)).values():
        day = datetime.fromtimestamp(e.ts / 1000, UTC).date().isoformat()
        row = table.setdefault((day, e.model), [0, 0, 0, 0, 0])
        for i, v in enumerate((e.inp, e.out, e.cw, e.cr, e.rsn)):
            row[i] += v
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in table.items()}


def both_ways(source: Source, paths: list[Path]) -> Table:
    """The table of ``paths``, which must come out the same read forwards or backwards."""
    table = per_day_model(parse_all(source, paths))
    assert per_day_model(parse_all(source, paths[::-1])) == table
    return table


def total(table: Table) -> int:
    """In, out and both caches over the table (reasoning is inside out)."""
    return sum(sum(row[:4]) for row in table.values())


def parse_in_two_reads(source: Source, original: Path, tmp: Path, cut_line: int) -> list[UsageEvent]:
    """Write ``original`` up to line ``cut_line`` into ``tmp``, read it, append the rest, read on.

    The second read starts from the first read's offset with its state, as the index does.
    """
    data = original.read_bytes()
    cut = 0
    for _ in range(cut_line):
        cut = data.index(b"\n", cut) + 1
    tmp.write_bytes(data[:cut])
    first = source.parse(tmp, 0, {})
    assert first.offset == cut
    with open(tmp, "ab") as f:
        f.write(data[cut:])
    second = source.parse(tmp, first.offset, first.state)
    return first.events + second.events


def parse_half_line(source: Source, original: Path, tmp: Path) -> tuple[int, int]:
    """Write ``original`` plus a half-written record; return (offset reached, complete length)."""
    data = original.read_bytes()
    complete = data[: data.rindex(b"\n") + 1]
    tmp.write_bytes(complete + b'{"id":"half","type":"gemini","tokens":{"input":')
    return source.parse(tmp, 0, {}).offset, len(complete)
