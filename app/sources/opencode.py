"""OpenCode: ``<data>/opencode.db`` (and ``opencode-<channel>.db``), legacy ``storage/message/<session>/<msg>.json``.

The data dir is ``$XDG_DATA_HOME/opencode`` (``~/.local/share/opencode``); ``OPENCODE_DB``
names the database, absolute or relative to it. Each assistant message holds its usage in
``tokens`` and is updated in place while it streams, so a database is read whole. The
``step-finish`` parts repeat a step's tokens and are never added on top; only a message whose
own tokens are all zero (per-step accounting) is counted from the sum of its ``step-finish``
parts (the ``part`` table, or ``storage/part/<message>/*.json``).

Whether ``output`` holds the reasoning depends on the version: builds that store ``tokens.total``
as input + output + reasoning + cache read + cache write (1.x) keep the reasoning out of
``output``, so it is added; older builds stored the AI SDK's output, reasoning included.

The first SQLite build migrates the JSON files into the database and leaves them behind,
sometimes as stale mid-stream snapshots. The de-duplication key is the message id; a
database row's prio (its ``time_updated`` above a floor) beats any JSON copy's (its
completion or creation time), and a later update of a row beats the earlier read of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from app.core.descriptor import Descriptor, Headless
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, num, read_json

DB_FLOOR = 1 << 50  # above any epoch ms: a database row beats a legacy JSON copy
BUSY_TIMEOUT_S = 5.0  # the agent may be writing; wait for its lock rather than fail

QUERY = (
    "SELECT m.id, m.session_id, m.time_updated, m.data, s.directory"
    " FROM message m LEFT JOIN session s ON s.id = m.session_id"
)
PARTS = "SELECT data FROM part WHERE message_id = ? ORDER BY id"
MAX_STEPS = 10_000  # step-finish parts read for one message, at most
Steps = Callable[[], list[dict[str, Any]]]


class OpenCode(Source):
    agent = "opencode"
    title = "OpenCode"
    descriptor = Descriptor(
        env=("XDG_DATA_HOME", "OPENCODE_DB"),
        colour="#b07aa1",
        headless=Headless(("opencode", "run", "--format", "json"), "opencode"),
    )
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
                steps = _json_steps(path.parent.parent.parent / "part" / msg_id, result)  # storage/part/<message>/
                result.record(self._add, result, msg_id, session, data, prio, "", steps)
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
                    steps = _db_steps(conn, str(msg_id))
                    prio = DB_FLOOR + num(updated)
                    result.record(self._add, result, str(msg_id), str(session), data, prio, directory or "", steps)
        except sqlite3.Error as exc:
            result.skip(f"unreadable database: {exc}")
        finally:
            conn.close()
        return result

    def _add(
        self,
        result: ParseResult,
        msg_id: str,
        session: str,
        data: dict[str, Any],
        prio: int,
        project: str,
        steps: Steps,
    ) -> None:
        if data.get("role") != "assistant":
            return
        tokens = data.get("tokens")
        if not isinstance(tokens, dict):
            return
        inp, cw, cr, out, rsn = _buckets(tokens)
        if inp + out + cr + cw == 0:
            # per-step accounting leaves the message's own tokens at zero; else it was aborted or
            # errored, or a snapshot taken before the usage arrived
            inp, cw, cr, out, rsn = (sum(b) for b in zip((0, 0, 0, 0, 0), *map(_buckets, steps()), strict=True))
            if inp + out + cr + cw == 0:
                return
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
                rsn=rsn,
            )
        )


def _buckets(tokens: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(in, cw, cr, out, rsn) of one ``tokens`` object, ``out`` with the reasoning in it."""
    cache = _dict(tokens.get("cache"))
    inp, out, rsn = count(tokens.get("input")), count(tokens.get("output")), count(tokens.get("reasoning"))
    cr, cw = count(cache.get("read")), count(cache.get("write"))
    if rsn and count(tokens.get("total")) == inp + out + rsn + cr + cw:
        out += rsn  # a total that adds the reasoning: output was stored without it
    return inp, cw, cr, out, rsn


def _step_tokens(parts: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``tokens`` of the ``step-finish`` parts among ``parts``."""
    return [
        part["tokens"]
        for part in parts
        if isinstance(part, dict) and part.get("type") == "step-finish" and isinstance(part.get("tokens"), dict)
    ]


def _json_steps(parts: Path, result: ParseResult) -> Steps:
    """The step-finish tokens of a legacy message's part files, read only when asked for."""
    return lambda: _step_tokens(read_json(p, result) for p in sorted(parts.glob("*.json"))[:MAX_STEPS])


def _db_steps(conn: sqlite3.Connection, msg_id: str) -> Steps:
    """The step-finish tokens of a message's part rows, read only when asked for."""

    def read() -> list[dict[str, Any]]:
        import orjson

        try:
            rows = conn.execute(PARTS, (msg_id,)).fetchmany(MAX_STEPS)
        except sqlite3.Error:
            return []  # a database without the part table has nothing to fall back on
        decoded = []
        for (raw,) in rows:
            try:
                decoded.append(orjson.loads(raw))
            except (orjson.JSONDecodeError, TypeError):
                continue
        return _step_tokens(decoded)

    return read


def _dict(value: Any) -> dict[str, Any]:
    """A nested JSON object, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}
