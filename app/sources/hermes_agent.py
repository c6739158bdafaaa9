"""Hermes Agent (NousResearch/hermes-agent): ``$HERMES_HOME/state.db``, one row of totals per session.

``HERMES_HOME`` replaces the default ``~/.hermes`` (``%LOCALAPPDATA%\\hermes`` on Windows);
named profiles keep their own ``profiles/<name>/state.db`` beneath it. The ``sessions`` table
holds each session's running ``input_tokens`` (fresh: Hermes counts the prompt as input +
cache read + cache write), ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens`` and
``reasoning_tokens`` (inside the output: Hermes's total is prompt + output). There are no
per-call rows, so a session is one event keyed by its id, its token total as prio (a grown
total replaces the earlier one), dated at its last activity: the latest of
``last_activity_at``, ``ended_at`` and its messages' ``timestamp`` (epoch seconds), else
``started_at``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult
from app.sources.base import count
from app.sources.sqlite_ro import SessionsDb, columns

FIELDS = (
    "id", "model", "cwd", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "started_at", "ended_at", "last_activity_at",
)  # fmt: skip


class HermesAgent(SessionsDb):
    agent = "hermes-agent"
    title = "Hermes Agent"
    descriptor = Descriptor(env=("HERMES_HOME", "LOCALAPPDATA"))

    def roots(self, env: Env) -> list[Path]:
        home = env.var("HERMES_HOME")
        if home:
            return [Path(home)]
        local = env.var("LOCALAPPDATA")
        return [env.home / ".hermes", *([Path(local) / "hermes"] if local else [])]

    def discover(self, root: Path) -> Iterator[Path]:
        for db in (root / "state.db", *sorted(root.glob("profiles/[!.]*/state.db"))):
            if db.is_file():
                yield db

    def rows(self, conn: sqlite3.Connection, have: set[str]) -> Iterator[dict[str, Any]]:
        picked = [f"s.{c}" if c in have else f"NULL AS {c}" for c in FIELDS]
        latest = "NULL"
        if {"session_id", "timestamp"} <= columns(conn, "messages"):
            latest = "(SELECT MAX(m.timestamp) FROM messages m WHERE m.session_id = s.id)"
        for row in conn.execute(f"SELECT {', '.join(picked)}, {latest} FROM sessions s"):
            yield dict(zip((*FIELDS, "last_message"), row, strict=True))

    def add(self, result: ParseResult, row: dict[str, Any]) -> None:
        inp, out = count(row["input_tokens"]), count(row["output_tokens"])
        cr, cw = count(row["cache_read_tokens"]), count(row["cache_write_tokens"])
        if inp + out + cr + cw == 0:
            return
        last = max(_seconds(row[c]) for c in ("last_activity_at", "ended_at", "last_message"))
        ts = last or _seconds(row["started_at"])
        if not ts:
            result.skip("session without timestamp")
            return
        result.events.append(
            UsageEvent(
                key=f"hermes:{row['id']}",
                prio=inp + out + cr + cw,
                agent=self.agent,
                ts=ts,
                model=str(row["model"] or "unknown"),
                session=str(row["id"]),
                project=str(row["cwd"] or ""),
                inp=inp,
                cw=cw,
                cr=cr,
                out=out,
                rsn=min(count(row["reasoning_tokens"]), out),
            )
        )


def _seconds(value: Any) -> int:
    """Epoch seconds (a REAL) as epoch ms; anything else (NULL, text, a damaged cell) as 0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
        return int(value * 1000)
    return 0
