"""ZCode (Z.ai): ``~/.zcode/cli/db/db.sqlite``, one ``model_usage`` row per model request.

ZCode's source is not public: the layout is other trackers' reading of real databases
(docs/formats-new-agents.md §3). ``input_tokens`` includes ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` (``computed_total_tokens`` = input + output on every row
seen), ``reasoning_tokens`` is inside ``output_tokens``, and ``started_at`` is epoch
milliseconds. The project is the ``directory`` of the row's ``session``.

The key is the row's ``id``; its prio is its token total, so a row still being written (a
request in flight) is replaced by its final numbers. A cancelled or failed request keeps the
tokens it recorded. The database is read whole, read-only, with its WAL, on each change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import BadCount, ParseResult
from app.sources.base import count, fresh, num
from app.sources.sqlite_ro import TableDb, columns

USAGE = (
    "id", "session_id", "model_id", "started_at", "completed_at", "input_tokens", "output_tokens",
    "reasoning_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
)  # fmt: skip


class ZCode(TableDb):
    agent = "zcode"
    title = "ZCode"
    table = "model_usage"
    needs = frozenset({"id", "input_tokens", "output_tokens"})

    def roots(self, env: Env) -> list[Path]:
        return [env.home / ".zcode" / "cli" / "db"]  # ZCode documents no override

    def discover(self, root: Path) -> Iterator[Path]:
        db = root / "db.sqlite"
        if db.is_file():
            yield db

    def rows(self, conn: sqlite3.Connection, have: set[str]) -> Iterator[dict[str, Any]]:
        picked = ", ".join(f"u.{c}" if c in have else f"NULL AS {c}" for c in USAGE)
        session = columns(conn, "session")
        if {"id", "directory"} <= session:
            query = f"SELECT {picked}, s.directory FROM model_usage AS u LEFT JOIN session AS s ON s.id = u.session_id"
        else:
            query = f"SELECT {picked}, NULL FROM model_usage AS u"
        for row in conn.execute(query):
            yield dict(zip((*USAGE, "directory"), row, strict=True))

    def add(self, result: ParseResult, row: dict[str, Any]) -> None:
        cr, cw = count(row["cache_read_input_tokens"]), count(row["cache_creation_input_tokens"])
        inp = fresh(count(row["input_tokens"]), cr + cw)
        out, rsn = count(row["output_tokens"]), count(row["reasoning_tokens"])
        if rsn > out:
            raise BadCount("reasoning count above output")
        total = inp + cw + cr + out
        if total == 0:
            return
        ts = num(row["started_at"]) or num(row["completed_at"])
        if not ts:
            result.skip("usage row without timestamp")
            return
        result.events.append(
            UsageEvent(
                key=f"zcode:{row['id']}",
                prio=total,
                agent=self.agent,
                ts=ts,
                model=str(row["model_id"] or "unknown"),
                session=str(row["session_id"] or ""),
                project=str(row["directory"] or ""),
                inp=inp,
                cw=cw,
                cr=cr,
                out=out,
                rsn=rsn,
            )
        )
