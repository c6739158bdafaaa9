"""A first load into an empty index, without the per-row upkeep of triggers and secondary indexes."""

from __future__ import annotations

import sqlite3
from typing import Any

from app.core.model import QUARTER_MS
from app.core.pricing import ROW_COLUMNS
from app.core.schema import QUARTERS_FROM_EVENTS, SUMS, UPSERT

BULK_KEYS_MAX = 1_000_000  # a first load follows its keys in memory (~70 B each) up to this many


class Bulk:
    """A first load into an empty index: no per-row upkeep of triggers and secondary indexes.

    The quarter-sum triggers and the indexes on ``ts`` and ``(session, ts)`` cost more per
    row than the insert itself. Into an empty table they are dropped, the calls upserted on
    the unique key alone, then the quarters are written and the indexes and triggers
    recreated (indexes first), all in one transaction: a reader or a crash sees the index
    before the load or after it. The quarters are summed here as the rows arrive, by the
    upsert's own rule (a higher ``prio`` replaces, a tie keeps the first): summing them in
    SQL at the end took longer than the rest of the end, while only this process was busy.
    """

    def __init__(self, conn: sqlite3.Connection, saved: list[str], upsert: str = UPSERT, device: str = "") -> None:
        self.conn = conn
        self.saved = saved
        self.upsert_sql = upsert
        self.device = device  # every row of one refresh comes from one device ('' : this machine)
        self.keys: set[int] | None = set()  # every key loaded so far (None: too many to follow, summed in SQL)
        self.sums: dict[tuple[int, str, str], list[Any]] = {}  # (quarter, agent, model) -> SUMS

    @classmethod
    def start(cls, conn: sqlite3.Connection, upsert: str = UPSERT, device: str | None = None) -> Bulk | None:
        if conn.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None:
            return None
        found = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL"
            " AND type IN ('index', 'trigger') AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY type"
        ).fetchall()
        for kind, name, _sql in found:
            conn.execute(f'DROP {kind.upper()} "{name}"')
        return cls(conn, [sql for _kind, _name, sql in found], upsert, device or "")

    def upsert(self, rows: list[tuple[Any, ...]]) -> None:
        """``UPSERT`` the rows, and add what changed to the quarter sums."""
        keys = self.keys
        if keys is None:
            self.conn.executemany(self.upsert_sql, rows)
            return
        again = [row[0] for row in rows if row[0] in keys]  # a copy of a call another file had: rare
        held: dict[int, tuple[Any, ...]] = {}
        if again:
            for i in range(0, len(again), 500):
                part = again[i : i + 500]
                held.update(
                    (r[0], r)
                    for r in self.conn.execute(
                        f"SELECT {ROW_COLUMNS}, cost FROM events WHERE key IN ({','.join('?' * len(part))})", part
                    )
                )
        self.conn.executemany(self.upsert_sql, rows)
        keys.update(row[0] for row in rows)
        if len(keys) > BULK_KEYS_MAX:
            self.keys = None  # the end sums in SQL instead
            return
        sums = self.sums
        for row in rows:  # _add(row, 1) written out: this runs for every row of a first load
            if held:
                old = held.get(row[0])
                if old is not None:
                    if row[1] <= old[1]:  # the upsert kept the row it had
                        continue
                    self._add(old, -1)
            _, _, agent, ts, model, _, _, inp, cw, cr, out, rsn, _, cost = row
            at = (ts // QUARTER_MS if ts >= 0 else -(-ts // QUARTER_MS), agent, "unknown" if model is None else model)
            s = sums.get(at)
            if s is None:
                s = sums[at] = [0, 0, 0, 0, 0, 0.0, 0, 0]
            s[0] += inp
            s[1] += cw
            s[2] += cr
            s[3] += out
            s[4] += rsn
            if cost is None:
                s[6] += inp + cw + cr + out
            else:
                s[5] += cost
            s[7] += 1

    def _add(self, row: tuple[Any, ...], sign: int) -> None:
        _, _, agent, ts, model, _, _, inp, cw, cr, out, rsn, _, cost = row
        at = (ts // QUARTER_MS if ts >= 0 else -(-ts // QUARTER_MS), agent, "unknown" if model is None else model)
        s = self.sums.get(at)
        if s is None:
            s = self.sums[at] = [0, 0, 0, 0, 0, 0.0, 0, 0]
        s[0] += sign * inp
        s[1] += sign * cw
        s[2] += sign * cr
        s[3] += sign * out
        s[4] += sign * rsn
        if cost is None:
            s[6] += sign * (inp + cw + cr + out)
        else:
            s[5] += sign * cost
        s[7] += sign

    def finish(self, exact_sums: bool = True) -> None:
        """Write the quarters (summed in SQL when ``add`` may have missed rows) and rebuild the rest."""
        self.conn.execute("DELETE FROM quarters")
        if exact_sums and self.keys is not None:
            self.conn.executemany(
                f"INSERT INTO quarters(q, agent, model, device, {', '.join(SUMS)}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*at, self.device, *s) for at, s in self.sums.items() if s[7]],
            )
        else:
            self.conn.execute(QUARTERS_FROM_EVENTS)
        for sql in self.saved:
            self.conn.execute(sql)
