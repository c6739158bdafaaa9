"""The daily-burn clubs: 0.01B, 0.1B and 1B tokens a day."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MILESTONES: tuple[int, ...] = (10_000_000, 100_000_000, 1_000_000_000)


def tier_label(threshold: int) -> str:
    """10_000_000 -> '10M', 1_000_000_000 -> '1B'."""
    for div, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if threshold >= div:
            value = threshold / div
            return f"{value:g}{suffix}"
    return str(threshold)


def tier_for(total: int, milestones: Sequence[int] = DEFAULT_MILESTONES) -> str | None:
    """The highest milestone ``total`` reached, as a label, or None."""
    reached = [m for m in milestones if total >= m]
    return tier_label(max(reached)) if reached else None


def next_milestone(total: int, milestones: Sequence[int] = DEFAULT_MILESTONES) -> int | None:
    """The lowest milestone not yet reached, or None past the last one."""
    ahead = sorted(m for m in milestones if m > total)
    return ahead[0] if ahead else None
