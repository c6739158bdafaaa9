"""The usage index: an SQLite file that remembers every file it read, how far, and every call.

A refresh walks each source's roots, compares every file with what it remembers (identity,
size, mtime, the bytes just before the saved offset) and reads only what is new: appended
bytes from the saved offset with the parser's saved state, or the whole file when it was
rewritten, replaced or shrank. Calls are upserted by de-duplication key (a higher
``prio`` copy replaces, a tie keeps the first), so re-reading is always safe. A file's
events and its new offset are committed in one transaction: a crash at any point neither
loses nor doubles a token. Vanished files keep their history.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import memo, snapshot
from app.core.bulk import Bulk
from app.core.env import Env
from app.core.pricing import Pricer, price_fingerprint, reprice
from app.core.readers import Done, Job, Results, tail_matches
from app.core.schema import UPSERT, connect, explain, upsert_sql

if TYPE_CHECKING:
    from threading import Event

    from app.core.source import Sources

COMMIT_EVERY_S = 0.5


class Progress:
    """How far a refresh is (a plain class: the warm path does not pay for dataclass creation)."""

    def __init__(self, files_done: int, files_total: int, bytes_done: int, bytes_total: int, started: float) -> None:
        self.files_done = files_done
        self.files_total = files_total
        self.bytes_done = bytes_done
        self.bytes_total = bytes_total
        self.started = started

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        elapsed = time.monotonic() - self.started
        return self.bytes_done / elapsed if elapsed > 0 else 0.0


class RefreshReport:
    """What one refresh read, changed and warned about."""

    def __init__(self) -> None:
        self.files_seen = 0
        self.files_read = 0
        self.bytes_read = 0
        self.events_read = 0
        self.rows_changed = 0
        self.warnings: list[str] = []
        self.failures: list[dict[str, str]] = []  # files that could not be read: {"file", "error"}
        self.interrupted = False
        self.seconds = 0.0


class Index:
    """The one writer of the usage index.

    Args:
        path: the SQLite file (created on first use).
        overrides: the user's prices file (TOML), if any.
        timeout: seconds to wait for another process's write lock.
        sources: the agents' sources a refresh walks and reads (``app.sources.SOURCES``).
    """

    def __init__(self, path: Path, overrides: Path | None = None, timeout: float = 10.0, *, sources: Sources) -> None:
        self.path = path
        self.timeout = timeout
        self.overrides = overrides
        self.sources = sources
        self.conn = connect(path, timeout)
        self._device: str | None = None  # whose calls this refresh reads (None: this machine's)
        self._upsert = UPSERT

    def close(self) -> None:
        self.conn.close()

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    def refresh(
        self,
        env: Env,
        agents: Iterable[str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: Event | None = None,
        workers: int | None = None,
        device: str | None = None,
    ) -> RefreshReport:
        """Read whatever is new in every enabled agent's logs.

        ``device`` names a dedicated machine whose files ``env`` points at (a mirror of them,
        see ``app.console.pull``): its calls are recorded under that name, and its walk keeps
        a snapshot of its own. None is this machine.

        Raises:
            IndexBusy: another process kept the write lock past the timeout.
        """
        started = time.monotonic()
        report = RefreshReport()
        results = None
        self._device, self._upsert = device, UPSERT if device is None else upsert_sql(device)
        snapshot_key = "snapshot" if device is None else f"snapshot:{device}"
        # a refresh makes a million short-lived objects and next to no cycles: the collector's passes
        # (over the price data's objects, once loaded) cost ~5% of a cold index, here and in the readers
        collecting = gc.isenabled()
        gc.disable()
        try:
            wanted = set(agents) if agents is not None else None
            scope = "all" if wanted is None else ",".join(sorted(wanted))
            last = self.meta(snapshot_key)
            seen = snapshot.holds(last, env, scope) if last is not None else None
            if seen is not None:  # every path the last walk saw answers the same: the walk would find nothing
                report.files_seen = seen
                self._check_prices()
                report.seconds = time.monotonic() - started
                return report
            recording, walk = snapshot.RecordingEnv(env), snapshot.Walk()
            jobs = list(self._plan(recording, wanted, report, walk))
            if not jobs:
                self._keep_snapshot(snapshot.build(recording, scope, walk), snapshot_key)
            if jobs:  # workers parse while the prices are checked
                results = Results(jobs, self.sources, workers, sum(j.size for j in jobs))
            self._check_prices()
            if results is not None:
                self._run(jobs, report, progress, cancel, workers, results)
        except sqlite3.DatabaseError as exc:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # a full disk may have rolled it back already
                    self.conn.execute("ROLLBACK")
            failure = explain(self.path, exc, self.timeout)
            if failure is None:
                raise
            raise failure from exc
        finally:
            if results is not None:
                results.close()
            if collecting:
                gc.enable()
        report.seconds = time.monotonic() - started
        return report

    # -- planning -------------------------------------------------------------------------

    def _plan(
        self,
        env: Env,
        agents: set[str] | None,
        report: RefreshReport,
        walk: snapshot.Walk,
    ) -> Iterator[Job]:
        """The files to read; ``walk`` gets the roots and every file stated."""
        known = {row[0]: row[1:] for row in self.conn.execute("SELECT path, dev, ino, size, mtime_ns, gone FROM files")}
        seen: set[str] = set()
        stat_of = os.stat
        observed = walk.files
        planned = [(s, s.roots(env)) for s in self.sources.all(agents)]
        walk.look(root for _, roots in planned for root in roots)
        for source, roots in planned:
            for root in roots:
                for key in source.files(root):
                    if key in seen:
                        continue
                    seen.add(key)
                    try:
                        st = stat_of(key)
                    except OSError:
                        continue
                    report.files_seen += 1
                    stat = observed[key] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                    whole = source.is_whole(key)
                    if whole:  # a whole document changes with its companions (a database's write-ahead log)
                        size, mtime_ns = st.st_size, st.st_mtime_ns
                        for extra in source.companions(Path(key)):
                            try:
                                cst = stat_of(extra)
                            except OSError:
                                observed[str(extra)] = None
                                continue
                            observed[str(extra)] = (cst.st_dev, cst.st_ino, cst.st_size, cst.st_mtime_ns)
                            size, mtime_ns = size + cst.st_size, max(mtime_ns, cst.st_mtime_ns)
                        stat = (st.st_dev, st.st_ino, size, mtime_ns)
                    row = known.get(key)
                    if row is not None and stat == row[:4]:
                        continue  # unchanged: the common case, decided without another query
                    job = self._job_for(source.agent, key, stat, whole, row)
                    if job is not None:
                        yield job
        # with an agent filter, files outside it were not looked for: they are not gone
        gone = [p for p, row in known.items() if p not in seen and not row[4]] if agents is None else []
        if gone:
            still_gone = [(p,) for p in gone if not os.path.exists(p)]
            if still_gone:
                with self._tx():
                    self.conn.executemany("UPDATE files SET gone = 1 WHERE path = ?", still_gone)

    def _keep_snapshot(self, text: str | None, key: str = "snapshot") -> None:
        """Store what a walk that found nothing saw (or forget the last one), without waiting for a lock."""
        with memo.unless_busy(self.conn), self._tx():  # another writer: the next refresh walks again
            if text is None:
                self.conn.execute("DELETE FROM meta WHERE k = ?", (key,))
            else:
                self._set_meta(key, text)

    def _job_for(
        self, agent: str, path: str, stat: tuple[int, int, int, int], whole: bool, row: tuple[Any, ...] | None
    ) -> Job | None:
        dev, ino, size, mtime_ns = stat
        if row is None:
            return Job(agent, path, 0, {}, True, stat, size)
        old_dev, old_ino = row[0], row[1]
        offset, tail, state = self.conn.execute(
            "SELECT offset, tail, state FROM files WHERE path = ?", (path,)
        ).fetchone()
        if whole or (dev, ino) != (old_dev, old_ino) or size < offset or not tail_matches(path, offset, tail):
            return Job(agent, path, 0, {}, True, stat, size)
        if size == offset:  # touched, nothing new: remember the new mtime only
            self.conn.execute("UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?", (mtime_ns, size, path))
            return None
        return Job(agent, path, offset, _loads(state) if state else {}, False, stat, size - offset)

    # -- reading and writing --------------------------------------------------------------

    def _run(
        self,
        jobs: list[Job],
        report: RefreshReport,
        progress: Callable[[Progress], None] | None,
        cancel: Event | None,
        workers: int | None,
        results: Results | None = None,
    ) -> None:
        total_bytes = sum(j.size for j in jobs)
        if results is None:
            results = Results(jobs, self.sources, workers, total_bytes)
        pricer = Pricer(self.conn, self.overrides)
        state = Progress(0, len(jobs), 0, total_bytes, time.monotonic())
        before = self.conn.total_changes
        last_commit = time.monotonic()
        self.conn.execute("BEGIN IMMEDIATE")
        bulk = None
        try:
            memo.forget(self.conn)  # in the transaction that changes calls: no report outlives what it read
            bulk = Bulk.start(self.conn, self._upsert, self._device)
            for done in results:
                self._store(done, pricer, report, bulk)
                state.files_done += 1
                state.bytes_done += done.job.size
                now = time.monotonic()
                if now - last_commit >= COMMIT_EVERY_S:
                    if bulk is None:
                        self.conn.execute("COMMIT")
                        self.conn.execute("BEGIN IMMEDIATE")
                        memo.forget(self.conn)  # one stored between the two commits read half of this refresh
                    last_commit = now
                    if progress is not None:
                        progress(state)
                if cancel is not None and cancel.is_set():
                    report.interrupted = True
                    break
        except KeyboardInterrupt:
            if bulk is not None:  # keep what a first load has read so far: it is one transaction
                bulk.finish(exact_sums=False)  # the interrupt may have fallen between a file's rows and its sums
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
            raise
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            if bulk is not None:
                bulk.finish()
            self.conn.execute("COMMIT")
        finally:
            results.close()
        if progress is not None:
            progress(state)
        report.rows_changed = self.conn.total_changes - before

    def _store(self, done: Done, pricer: Pricer, report: RefreshReport, bulk: Bulk | None = None) -> None:
        job = done.job
        if done.error is not None:
            report.warnings.append(f"{job.path}: {done.error}")
            if not done.error.startswith("vanished"):  # a file deleted since the walk lost nothing
                report.failures.append({"file": job.path, "error": done.error})
            self.conn.execute(
                "INSERT INTO files(path, agent, error) VALUES (?, ?, ?)"
                " ON CONFLICT(path) DO UPDATE SET error = excluded.error",
                (job.path, job.agent, done.error),
            )
            return
        report.files_read += 1
        report.bytes_read += done.offset - job.offset
        report.events_read += len(done.rows)
        if bulk is not None:
            bulk.upsert(pricer.priced(done.rows))
        else:
            self.conn.executemany(self._upsert, pricer.priced(done.rows))
        events, skips = len(done.rows), done.skips
        if not job.fresh:
            row = self.conn.execute("SELECT events, skips FROM files WHERE path = ?", (job.path,)).fetchone()
            if row is not None:
                events += row[0] or 0
                skips = _merge(_loads(row[1]) if row[1] else {}, skips)
        if done.skips:
            summary = ", ".join(f"{n} × {why}" for why, n in sorted(done.skips.items()))
            report.warnings.append(f"{job.path}: skipped {summary}")
        dev, ino, size, mtime_ns = job.stat
        self.conn.execute(
            "INSERT OR REPLACE INTO files(path, agent, dev, ino, size, mtime_ns, offset, tail, state,"
            " events, skips, error, gone) VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,0)",
            (
                job.path,
                job.agent,
                dev,
                ino,
                size,
                mtime_ns,
                done.offset,
                done.tail,
                _dumps(done.state),
                events,
                _dumps(skips) if skips else None,
            ),
        )

    def _check_prices(self) -> None:
        """Recompute every stored cost when the price data or the overrides changed."""
        fingerprint = price_fingerprint(self.overrides)
        if self.meta("price_fingerprint") == fingerprint:
            return
        with self._tx():
            memo.forget(self.conn)
            self.conn.execute("DELETE FROM rates")
            pricer = Pricer(self.conn, self.overrides)
            reprice(self.conn, pricer)
            self._set_meta("price_fingerprint", fingerprint)
            self._set_meta("price_source", _dumps(pricer.source()))

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", (key, value))

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _loads(text: str | bytes) -> Any:
    import orjson  # only where there is work: its import (~9 ms, dataclasses and inspect) is a tenth of a warm start

    return orjson.loads(text)


def _dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    merged = dict(a)
    for k, v in b.items():
        merged[k] = merged.get(k, 0) + v
    return merged


# -- what the faces and features ask of the index's tables ------------------------------------


def has_files(conn: sqlite3.Connection) -> bool:
    """Whether any log file was ever found (none: no agent has written here yet)."""
    return conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is not None


def has_events(conn: sqlite3.Connection) -> bool:
    """Whether any call is indexed."""
    return bool(conn.execute("SELECT EXISTS(SELECT 1 FROM events)").fetchone()[0])


def files_summary(conn: sqlite3.Connection, prefix: str, under: bool) -> dict[str, dict[str, Any]]:
    """Per agent, the files whose path starts with ``prefix`` (``under``) or does not: ``files``, ``gone``,
    ``MB`` read, ``skipped`` (reason -> lines) and ``errors`` (``(path, error)`` of the files that failed)."""
    where = "path >= ? AND path < ?" if under else "path < ? OR path >= ?"
    out: dict[str, dict[str, Any]] = {}
    for agent, gone, offset, skips, error, path in conn.execute(
        f"SELECT agent, gone, offset, skips, error, path FROM files WHERE {where}", (prefix, prefix + "\uffff")
    ):
        s = out.setdefault(agent, {"files": 0, "gone": 0, "MB": 0.0, "skipped": {}, "errors": []})
        s["gone" if gone else "files"] += 1
        s["MB"] = round(s["MB"] + (offset or 0) / 1e6, 3)
        for why, n in (_loads(skips) if skips else {}).items():
            s["skipped"][why] = s["skipped"].get(why, 0) + n
        if error:
            s["errors"].append((path, error))
    return out


def events_by_agent(conn: sqlite3.Connection, device: str | None = None) -> dict[str, int]:
    """How many calls each agent has on ``device`` (None: this machine)."""
    if device is None:
        rows = conn.execute("SELECT agent, COUNT(*) FROM events WHERE device IS NULL GROUP BY agent")
    else:
        rows = conn.execute("SELECT agent, COUNT(*) FROM events WHERE device = ? GROUP BY agent", (device,))
    return dict(rows.fetchall())


def models_seen(conn: sqlite3.Connection, agent: str) -> set[str]:
    """Every model ``agent`` has called."""
    return {m for (m,) in conn.execute("SELECT DISTINCT model FROM events WHERE agent = ?", (agent,))}


def session_totals(conn: sqlite3.Connection, session: str, agent: str) -> tuple[Any, Any, int]:
    """A session's tokens (None when it has no call), cost (None when none is priced) and calls."""
    row: tuple[Any, Any, int] = conn.execute(
        "SELECT SUM(inp + cw + cr + out), SUM(cost), COUNT(*) FROM events WHERE session = ? AND agent = ?",
        (session, agent),
    ).fetchone()
    return row


MirrorRow = tuple[int, int, bytes | None, int, int, str | None]  # offset, ino, tail, size, mtime_ns, error


def mirror_rows(db: Path, prefix: str) -> dict[str, MirrorRow]:
    """The ``files`` rows under a host's mirror ``prefix``, read without writing (none when there is no index)."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT path, offset, ino, tail, size, mtime_ns, error FROM files WHERE path >= ? AND path < ?",
            (prefix, prefix + "\uffff"),
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    return {r[0]: (r[1] or 0, r[2] or 0, r[3], r[4] or 0, r[5] or 0, r[6]) for r in rows}


def forget_device(conn: sqlite3.Connection, device: str, prefix: str) -> int:
    """Delete ``device``'s calls, its files (those under ``prefix``) and its walk's snapshot; returns the calls."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        memo.forget(conn)
        n: int = conn.execute("DELETE FROM events WHERE device = ?", (device,)).rowcount
        conn.execute("DELETE FROM files WHERE path >= ? AND path < ?", (prefix, prefix + "\uffff"))
        conn.execute("DELETE FROM meta WHERE k = ?", (f"snapshot:{device}",))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n
