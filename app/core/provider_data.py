"""Every query on the providers' tables of the index (their schema is ``app.core.schema``'s).

``app.providers`` fetches and decides; what it keeps and reads back goes through these. The
writes run inside the caller's transaction, so one key's sync lands whole or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from app.core.model import QUARTER_MS

DAY_MS = 86_400_000


def sync_window(conn: sqlite3.Connection, provider: str, label: str) -> tuple[str | None, str | None]:
    """A key's last covered day (None: never synced) and its first provisional day held (None: none)."""
    row = conn.execute(
        "SELECT covered_to FROM provider_sync WHERE provider = ? AND label = ?", (provider, label)
    ).fetchone()
    first = conn.execute(
        "SELECT MIN(day) FROM provider_usage WHERE provider = ? AND label = ? AND provisional = 1", (provider, label)
    ).fetchone()[0]
    return (row[0] if row else None), first


def note_attempt(
    conn: sqlite3.Connection, provider: str, label: str, now: int, error: str | None, kind: str | None
) -> None:
    """A sync of the key was tried at ``now``: its error (redacted by the caller) and kind, or none."""
    conn.execute(
        "INSERT INTO provider_sync(provider, label, last_attempt, last_error, error_kind) VALUES (?,?,?,?,?)"
        " ON CONFLICT(provider, label) DO UPDATE SET last_attempt = excluded.last_attempt,"
        " last_error = excluded.last_error, error_kind = excluded.error_kind",
        (provider, label, now, error, kind),
    )


def note_covered(conn: sqlite3.Connection, provider: str, label: str, now: int, first: str, last: str) -> None:
    """The key's sync at ``now`` succeeded for the UTC days ``first``..``last``."""
    conn.execute(
        "UPDATE provider_sync SET last_ok = ?, covered_from = MIN(IFNULL(covered_from, ?), ?), covered_to = ?"
        " WHERE provider = ? AND label = ?",
        (now, first, first, last, provider, label),
    )


def replace_usage(
    conn: sqlite3.Connection, provider: str, label: str, first: str, last: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    """The key's usage for days ``first``..``last`` becomes ``rows`` (day, model, inp, cw, cr, out, requests,
    cost, provisional, fetched_at)."""
    conn.execute(
        "DELETE FROM provider_usage WHERE provider = ? AND label = ? AND day BETWEEN ? AND ?",
        (provider, label, first, last),
    )
    conn.executemany(
        "INSERT INTO provider_usage VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ((provider, label, *r) for r in rows)
    )


def replace_balances(conn: sqlite3.Connection, provider: str, label: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """The key's balances become ``rows`` (currency, total, granted, topped_up, detail, fetched_at)."""
    conn.execute("DELETE FROM provider_balances WHERE provider = ? AND label = ?", (provider, label))
    conn.executemany("INSERT INTO provider_balances VALUES (?,?,?,?,?,?,?,?)", ((provider, label, *r) for r in rows))


def balances(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every key's last balances: provider, label, currency, total, granted, topped_up, detail, fetched_at."""
    return conn.execute(
        "SELECT provider, label, currency, total, granted, topped_up, detail, fetched_at FROM provider_balances"
        " ORDER BY provider, label, currency"
    ).fetchall()


def sync_states(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every key's sync state: provider, label, covered_from, covered_to, last_ok, last_attempt, last_error,
    error_kind."""
    return conn.execute(
        "SELECT provider, label, covered_from, covered_to, last_ok, last_attempt, last_error, error_kind"
        " FROM provider_sync ORDER BY provider, label"
    ).fetchall()


def usage_cells(conn: sqlite3.Connection, first: str, last: str) -> Iterator[tuple[Any, ...]]:
    """Provider usage per UTC day, model and provider (summed over keys): day, model, provider, inp, cw, cr,
    out, cost, how many rows had a cost, whether any is provisional."""
    return iter(
        conn.execute(
            "SELECT day, model, provider, SUM(inp), SUM(cw), SUM(cr), SUM(out), SUM(cost), COUNT(cost),"
            " MAX(provisional) FROM provider_usage WHERE day BETWEEN ? AND ? GROUP BY 1, 2, 3",
            (first, last),
        )
    )


def coverage(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str]]:
    """Each synced key's provider and the UTC days its syncs covered."""
    return iter(
        conn.execute("SELECT provider, covered_from, covered_to FROM provider_sync WHERE covered_to IS NOT NULL")
    )


def log_cells(conn: sqlite3.Connection, q_lo: int, q_hi: int) -> Iterator[tuple[Any, ...]]:
    """The logs' calls per UTC day and model over quarters ``q_lo``..``q_hi``: days since 1970-01-01, model,
    inp, cw, cr, out, cost, unpriced tokens."""
    return iter(
        conn.execute(
            f"SELECT q * {QUARTER_MS} / {DAY_MS}, model, SUM(inp), SUM(cw), SUM(cr), SUM(out), SUM(cost),"
            " SUM(unpriced) FROM quarters WHERE q BETWEEN ? AND ? GROUP BY 1, 2 HAVING SUM(calls) > 0",
            (q_lo, q_hi),
        )
    )
