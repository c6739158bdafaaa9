"""Which calls a report covers. Apart from the reports, so that the command line keys a remembered
report by it without loading them. (No ``from __future__ import annotations``: a NamedTuple would
compile each annotation string.)"""

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from app.core.model import QUARTER_MS


class Filter(NamedTuple):
    """Which calls a report covers: local dates ``since``..``until`` (inclusive) in ``tz``.

    A NamedTuple, not a dataclass: the warm command line must not pay for importing ``dataclasses``.
    """

    tz: tzinfo = UTC
    since: date | None = None
    until: date | None = None
    agents: frozenset[str] | None = None
    # devices as stored: '' is this machine, a dedicated host its name (see app.core.devices)
    devices: frozenset[str] | None = None

    def bounds_ms(self) -> tuple[int, int]:
        lo = -(2**62)
        hi = 2**62
        if self.since is not None:
            lo = int(datetime.combine(self.since, datetime.min.time(), self.tz).timestamp() * 1000)
        if self.until is not None:
            nxt = datetime.combine(self.until + timedelta(days=1), datetime.min.time(), self.tz)
            hi = int(nxt.timestamp() * 1000) - 1
        return lo, hi

    def where(self) -> tuple[str, list[Any]]:
        lo, hi = self.bounds_ms()
        sql = "ts BETWEEN ? AND ?"
        args: list[Any] = [lo, hi]
        if self.agents is not None:
            sql += f" AND agent IN ({','.join('?' * len(self.agents))})"
            args.extend(sorted(self.agents))
        if self.devices is not None:
            sql += f" AND IFNULL(device, '') IN ({','.join('?' * len(self.devices))})"
            args.extend(sorted(self.devices))
        return sql, args

    def quarter_where(self) -> tuple[str, list[Any]]:
        """``where`` for the ``quarters`` sums; local days start on a quarter hour in every zone in use."""
        lo, hi = self.bounds_ms()
        sql = "q BETWEEN ? AND ?"
        args: list[Any] = [lo // QUARTER_MS, hi // QUARTER_MS]
        if self.agents is not None:
            sql += f" AND agent IN ({','.join('?' * len(self.agents))})"
            args.extend(sorted(self.agents))
        if self.devices is not None:
            sql += f" AND device IN ({','.join('?' * len(self.devices))})"
            args.extend(sorted(self.devices))
        return sql, args
