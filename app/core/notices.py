"""Which tier crossings still need announcing: once per tier per day, across restarts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from app.core import paths
from app.core.milestones import tier_label

KEEP_DAYS = 14


class TierNotices:
    """Announced tiers per local day, in ``notices.json`` beside the index."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "notices.json"
        self.done: dict[str, list[str]] = self._read()

    def due(self, today: dict[str, Any], milestones: Sequence[int]) -> list[str]:
        """Tiers today's total reached that were not announced yet.

        When several are new at once (the app starts late in a big day), only the highest
        is due; the lower ones are marked as announced so they never arrive out of order.
        """
        day, total = today["date"], today["total"]
        reached = [tier_label(m) for m in sorted(milestones) if total >= m]
        new = [t for t in reached if t not in self.done.get(day, [])]
        if len(new) > 1:
            self.mark(day, new[:-1])
            new = new[-1:]
        return new

    def mark(self, day: str, labels: Iterable[str]) -> None:
        known = self.done.setdefault(day, [])
        known.extend(label for label in labels if label not in known)
        oldest = (date.fromisoformat(day) - timedelta(days=KEEP_DAYS)).isoformat()
        self.done = {d: v for d, v in self.done.items() if d >= oldest}
        self._write()

    def _read(self) -> dict[str, list[str]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}  # a lost record means at worst one repeated notification
        if not isinstance(data, dict):
            return {}
        return {str(d): [str(x) for x in v] for d, v in data.items() if isinstance(v, list)}

    def _write(self) -> None:
        paths.write_atomic(self.path, orjson.dumps(self.done))
