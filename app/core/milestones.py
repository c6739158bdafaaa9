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


def _compact(n: int) -> str:
    """Three significant figures at most: 9.78M, 225K, 950."""
    for div, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= div * 0.9995:
            value = n / div
            text = f"{value:.0f}" if value >= 99.95 else (f"{value:.1f}" if value >= 9.995 else f"{value:.2f}")
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(n)


def to_go(total: int, milestones: Sequence[int] = DEFAULT_MILESTONES) -> str:
    """What is left to the next milestone, in words that never round the gap up to the goal itself.

    225K of 10M reads "9.78M more to reach 10M" (never "10M to go to 10M"); past the top
    milestone it says so and by how much.
    """
    if not milestones:
        return "no milestones set"
    nxt = next_milestone(total, milestones)
    if nxt is None:
        top = max(milestones)
        where = f"{_compact(total - top)} past" if total > top else "at"
        return f"{where} {tier_label(top)}, the top milestone"
    goal, gap = tier_label(nxt), nxt - total
    if total <= 0:
        return f"nothing yet toward {goal}"
    left = _compact(gap)
    if left == goal:  # the gap rounds to the goal (a few thousand short of 10M): say it exactly
        left = f"{gap:,}"
    return f"{left} more to reach {goal}"
