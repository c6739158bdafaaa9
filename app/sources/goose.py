"""Goose (block/goose): ``sessions.db`` in Goose's data dir, one row of running totals per session.

The data dir is ``$XDG_DATA_HOME/goose`` (``~/.local/share/goose``) on Linux,
``~/Library/Application Support/goose`` on macOS and ``%APPDATA%\\Block\\goose\\data`` on
Windows; ``GOOSE_PATH_ROOT`` replaces it with ``<root>/data``. The database is
``sessions/sessions.db``.

``accumulated_input_tokens`` / ``accumulated_output_tokens`` / ``accumulated_total_tokens`` are
the session's running totals (the plain ``input_tokens`` … hold the latest turn's, used only
where a build has no accumulated ones). No cache split is recorded: the whole prompt counts as
input. A total above input + output is reasoning billed as output. Goose keeps no per-call
rows, so a session is one event, dated at its ``updated_at`` (its last activity), keyed by the
session id with its token total as prio: a grown total replaces the earlier one.
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
from app.sources.base import count, iso_ms
from app.sources.sqlite_ro import SessionsDb


class Goose(SessionsDb):
    agent = "goose"
    title = "Goose"
    descriptor = Descriptor(env=("XDG_DATA_HOME", "GOOSE_PATH_ROOT", "APPDATA"))

    def roots(self, env: Env) -> list[Path]:
        root = env.var("GOOSE_PATH_ROOT")
        if root:
            return [Path(root) / "data" / "sessions"]
        dirs = [env.xdg_data() / "goose", env.home / "Library" / "Application Support" / "goose"]
        appdata = env.var("APPDATA")
        if appdata:
            dirs.append(Path(appdata) / "Block" / "goose" / "data")
        return [d / "sessions" for d in dirs]

    def discover(self, root: Path) -> Iterator[Path]:
        db = root / "sessions.db"
        if db.is_file():
            yield db

    def rows(self, conn: sqlite3.Connection, have: set[str]) -> Iterator[dict[str, Any]]:
        wanted = (
            "id", "updated_at", "created_at", "working_dir", "model_config_json",
            "accumulated_input_tokens", "accumulated_output_tokens", "accumulated_total_tokens",
            "input_tokens", "output_tokens", "total_tokens",
        )  # fmt: skip
        picked = ", ".join(c if c in have else f"NULL AS {c}" for c in wanted)
        for row in conn.execute(f"SELECT {picked} FROM sessions"):
            yield dict(zip(wanted, row, strict=True))

    def add(self, result: ParseResult, row: dict[str, Any]) -> None:
        accumulated = row["accumulated_input_tokens"] is not None or row["accumulated_output_tokens"] is not None
        prefix = "accumulated_" if accumulated else ""
        inp, out = count(row[prefix + "input_tokens"]), count(row[prefix + "output_tokens"])
        rsn = max(count(row[prefix + "total_tokens"]) - inp - out, 0)
        if inp + out + rsn == 0:
            return
        ts = _moment(row["updated_at"]) or _moment(row["created_at"])
        if not ts:
            result.skip("session without timestamp")
            return
        result.events.append(
            UsageEvent(
                key=f"goose:{row['id']}",
                prio=inp + out + rsn,
                agent=self.agent,
                ts=ts,
                model=_model(row["model_config_json"]),
                session=str(row["id"]),
                project=str(row["working_dir"] or ""),
                inp=inp,
                cw=0,
                cr=0,
                out=out + rsn,
                rsn=rsn,
            )
        )


def _moment(value: Any) -> int | None:
    """SQLite's ``CURRENT_TIMESTAMP`` text (UTC), ISO-8601, or epoch seconds or ms."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e14:  # before the year 5000
        return int(value if value > 1e12 else value * 1000)
    return iso_ms(value)


def _model(config: Any) -> str:
    import orjson  # here, not at the top: a warm start never decodes JSON

    try:
        data = orjson.loads(config) if isinstance(config, str | bytes) else None
    except orjson.JSONDecodeError:
        data = None
    name = data.get("model_name") if isinstance(data, dict) else None
    return str(name) if name else "unknown"
