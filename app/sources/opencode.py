"""OpenCode: ``<data>/opencode.db`` (and ``opencode-<channel>.db``), legacy ``storage/message/<session>/<msg>.json``.

The data dir is ``$XDG_DATA_HOME/opencode`` (``~/.local/share/opencode``); ``OPENCODE_DB``
names the database, absolute or relative to it. Each assistant message holds its usage in
``tokens`` and is updated in place while it streams, so a database is read whole. The
``step-finish`` parts repeat a step's tokens and are never added on top.

The first SQLite build migrates the JSON files into the database and leaves them behind,
sometimes as stale mid-stream snapshots. The de-duplication key is the message id; a
database row's prio (its ``time_updated`` above a floor) beats any JSON copy's (its
completion or creation time), and a later update of a row beats the earlier read of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from app.core.model import UsageEvent
from app.sources.base import Env, ParseResult, Source, count, num, read_json

DB_FLOOR = 1 << 50  # above any epoch ms: a database row beats a legacy JSON copy
BUSY_TIMEOUT_S = 5.0  # the agent may be writing; wait for its lock rather than fail

QUERY = (
    "SELECT m.id, m.session_id, m.time_updated, m.data, s.directory"
    " FROM message m LEFT JOIN session s ON s.id = m.session_id"
)


class OpenCode(Source):
    agent = "opencode"
    title = "OpenCode"
    # what a fork of OpenCode (same schema, own data dir) overrides
    dir_name: ClassVar[str] = "opencode"
    db_env: ClassVar[str | None] = "OPENCODE_DB"
    key_prefix: ClassVar[str] = "oc"

    def roots(self, env: Env) -> list[Path]:
        data = env.xdg_data() / self.dir_name
        db = env.var(self.db_env) if self.db_env else None
        if db and db != ":memory:":
            return [data, data / db]  # an absolute path replaces the data dir in the join
        return [data]

    def discover(self, root: Path) -> Iterator[Path]:
        if root.is_file():
            yield root
            return
        yield from sorted(root.glob(f"{self.dir_name}.db"))
        yield from sorted(root.glob(f"{self.dir_name}-*.db"))
        yield from sorted(root.glob("storage/message/*/*.json"))

    def is_whole(self, path: str | Path) -> bool:
        return True

    def companions(self, path: Path) -> tuple[Path, ...]:
        if path.suffix == ".json":
            return ()
        return (path.with_name(path.name + "-wal"),)  # committed rows not yet checkpointed

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        import orjson  # here, not at the top: a warm start never decodes JSON

        result = ParseResult(state=state)
        if path.suffix == ".json":
            data = read_json(path, result)
            if isinstance(data, dict):
                times = _dict(data.get("time"))
                prio = num(times.get("completed")) or num(times.get("created"))
                msg_id = str(data.get("id") or path.stem)
                session = str(data.get("sessionID") or path.parent.name)
                result.record(self._add, result, msg_id, session, data, prio, "")
            return result
        result.offset = path.stat().st_size
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            result.skip(f"unreadable database: {exc}")
            return result
        try:
            for msg_id, session, updated, raw, directory in conn.execute(QUERY):
                try:
                    data = orjson.loads(raw)
                except (orjson.JSONDecodeError, TypeError):
                    result.skip("malformed JSON")
                    continue
                if isinstance(data, dict):
                    result.record(
                        self._add, result, str(msg_id), str(session), data, DB_FLOOR + num(updated), directory or ""
                    )
        except sqlite3.Error as exc:
            result.skip(f"unreadable database: {exc}")
        finally:
            conn.close()
        return result

    def _add(
        self, result: ParseResult, msg_id: str, session: str, data: dict[str, Any], prio: int, project: str
    ) -> None:
        if data.get("role") != "assistant":
            return
        tokens = data.get("tokens")
        if not isinstance(tokens, dict):
            return
        cache = _dict(tokens.get("cache"))
        inp, out = count(tokens.get("input")), count(tokens.get("output"))
        cr, cw = count(cache.get("read")), count(cache.get("write"))
        if inp + out + cr + cw == 0:
            return  # aborted or errored, or a snapshot taken before the usage arrived
        times = _dict(data.get("time"))
        ts = num(times.get("created"))
        if not ts:
            result.skip("usage record without timestamp")
            return
        where = _dict(data.get("path"))
        result.events.append(
            UsageEvent(
                key=f"{self.key_prefix}:{msg_id}",
                prio=prio,
                agent=self.agent,
                ts=ts,
                model=str(data.get("modelID") or "unknown"),
                session=session,
                project=project or str(where.get("root") or where.get("cwd") or ""),
                inp=inp,
                cw=cw,
                cr=cr,
                out=out,
                rsn=count(tokens.get("reasoning")),
            )
        )


def _dict(value: Any) -> dict[str, Any]:
    """A nested JSON object, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}
