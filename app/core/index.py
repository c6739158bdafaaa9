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
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core import memo, snapshot
from app.core.model import QUARTER_MS
from app.core.pricing import ROW_COLUMNS, Pricer, price_fingerprint, reprice
from app.sources.env import Env

if TYPE_CHECKING:
    from threading import Event

    from app.sources.base import Source

SCHEMA_VERSION = 5
POOL_MIN_BYTES = 32 << 20  # below this, worker start-up costs more than it saves
COMMIT_EVERY_S = 0.5
BULK_KEYS_MAX = 1_000_000  # a first load follows its keys in memory (~70 B each) up to this many


class IndexBusy(RuntimeError):
    """Another process holds the index's write lock for longer than the busy timeout."""


class IndexUnavailable(RuntimeError):
    """The index cannot be opened, written or migrated; ``str()`` is one line: the path, the cause, what to do.

    ``kind`` is one of ``KINDS``; ``rebuildable`` says moving the file aside and reading the logs
    again would help (a damaged file, or one that is not this version's index).
    """

    KINDS = ("folder", "read-only", "denied", "not-index", "newer", "full", "damaged", "unopenable")

    def __init__(self, path: Path, kind: str, cause: str, advice: str) -> None:
        self.path, self.kind, self.cause, self.advice = path, kind, cause, advice
        super().__init__(f"index {path}: {cause}; {advice}")

    @property
    def rebuildable(self) -> bool:
        return self.kind in ("not-index", "newer", "damaged")


class NotAnIndex(IndexUnavailable):
    """The file at the index path is not a TokenClub index (it is left untouched)."""


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


class _Job:
    __slots__ = ("agent", "path", "offset", "state", "fresh", "stat", "size")

    def __init__(
        self,
        agent: str,
        path: str,
        offset: int,
        state: dict[str, Any],
        fresh: bool,  # read from the start: counters and skips restart
        stat: tuple[int, int, int, int],  # dev, ino, size, mtime_ns seen before reading
        size: int,  # bytes this read is expected to cover (for progress)
    ) -> None:
        self.agent, self.path, self.offset, self.state = agent, path, offset, state
        self.fresh, self.stat, self.size = fresh, stat, size


class _Done:
    __slots__ = ("job", "rows", "offset", "state", "skips", "tail", "error")

    def __init__(
        self,
        job: _Job,
        rows: list[tuple[Any, ...]],  # UsageEvents with the key hashed to 64 bits
        offset: int,
        state: dict[str, Any],
        skips: dict[str, int],
        tail: bytes,
        error: str | None,
    ) -> None:
        self.job, self.rows, self.offset, self.state = job, rows, offset, state
        self.skips, self.tail, self.error = skips, tail, error


def connect(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection to the index at ``path`` with the schema up to date.

    Raises:
        IndexBusy: another process kept the write lock past ``timeout``.
        IndexUnavailable: the file cannot be opened, written or migrated, or is not a TokenClub index.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexUnavailable(path, *_os_cause(exc, f"its folder {path.parent} cannot be created")) from exc
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: the unique-key index is written at random
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_owner(conn, path, version)
        if version != SCHEMA_VERSION:
            # a new file only (an existing one keeps its pages): 16 KiB pages make a first load's commit
            # and checkpoint a quarter of the writes of 4 KiB ones
            conn.execute("PRAGMA page_size = 16384")
            conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn, path)
    except (sqlite3.Error, IndexUnavailable) as exc:
        if conn is not None:
            conn.close()
        failure = explain(path, exc, timeout)
        if failure is None:
            raise
        raise failure from exc
    return conn


_TABLES = ("events", "files", "meta")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_LEFT_ALONE = "it was left untouched; give --db a TokenClub index, or a new file"
_ELSEWHERE = "give --db (or TOKENCLUB_HOME) a place you can write"
_REBUILD = (
    "move it aside (keep it: it holds history your agents may have deleted since) and run `tokenclub refresh`"
    " to rebuild from the logs; the desktop app offers to do this"
)


def _check_owner(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Refuse an SQLite file that another program or a newer TokenClub wrote, before changing anything in it."""
    if version > SCHEMA_VERSION:
        raise NotAnIndex(
            path,
            "newer",
            f"a newer TokenClub wrote it (schema {version}; this version knows up to {SCHEMA_VERSION})",
            "upgrade TokenClub; the file was left untouched",
        )
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if (names or version) and not set(_TABLES) <= names:
        raise NotAnIndex(
            path, "not-index", "not a TokenClub index (an SQLite file without TokenClub's tables)", _LEFT_ALONE
        )


def explain(path: Path, exc: BaseException, timeout: float | None = None) -> IndexBusy | IndexUnavailable | None:
    """What an SQLite or OS error on the index at ``path`` means for the user (None: not the index's fault)."""
    if isinstance(exc, IndexBusy | IndexUnavailable):
        return exc
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        waited = f" (waited {timeout:g} s)" if timeout is not None else ""
        return IndexBusy(f"index {path} is locked by another process{waited}; nothing was changed")
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return IndexUnavailable(path, "full", f"the disk is full ({text})", _FREE_SPACE)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return IndexUnavailable(path, "damaged", f"the file is damaged ({text})", _REBUILD)
    found = _on_disk(path)
    if found is not None:
        return IndexUnavailable(path, *found)
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return NotAnIndex(path, "not-index", "not a TokenClub index (not an SQLite file)", _LEFT_ALONE)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_IOERR", "SQLITE_AUTH")):
        return IndexUnavailable(
            path, "unopenable", f"it cannot be opened or written ({text})", f"check the disk, or {_ELSEWHERE}"
        )
    return None


_FREE_SPACE = "free some space on that disk and run again (nothing was lost; `report --no-refresh` still reads it)"


def _on_disk(path: Path) -> tuple[str, str, str] | None:
    """Why the file system refuses the index (a folder, not SQLite, read-only, denied, full), if it does."""
    if path.is_dir():
        return "folder", "it is a folder, not a file", f"give --db a file, such as {path / 'index.sqlite'}"
    try:
        with open(path, "rb") as f:
            header: bytes | None = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        header = None
    except OSError as exc:
        return _os_cause(exc, "it cannot be read")
    if header and header != _SQLITE_MAGIC:
        return "not-index", "not a TokenClub index (not an SQLite file)", _LEFT_ALONE
    if header is not None:
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError as exc:
            return _os_cause(exc, "it cannot be written")
    probe = path.parent / f".{path.name}-probe-{os.getpid()}"  # SQLite creates -wal and -shm beside the index
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        return _os_cause(exc, f"no file can be created in its folder {path.parent}")
    with contextlib.suppress(OSError):
        st = os.statvfs(path.parent)
        if st.f_bavail * st.f_frsize < 1 << 20:
            return "full", f"the disk is full (less than 1 MiB free in {path.parent})", _FREE_SPACE
    return None


def _os_cause(exc: OSError, what: str) -> tuple[str, str, str]:
    """``(kind, cause, advice)`` of an OS refusal: read-only, permission denied, disk full, or what the OS said."""
    import errno

    reason = exc.strerror or str(exc)
    if exc.errno == errno.EROFS:
        return "read-only", f"{what}: the file system is read-only", f"make it writable, or {_ELSEWHERE}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "denied", f"{what}: permission denied", f"check its owner and permissions, or {_ELSEWHERE}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "full", f"{what}: {reason}", _FREE_SPACE
    return "unopenable", f"{what}: {reason}", _ELSEWHERE


def move_aside(path: Path, now: float | None = None) -> Path:
    """Rename the index and its ``-wal``/``-shm`` to ``<name>.broken-<UTC time>``: kept, never deleted.

    The logs rebuild most of it, but calls from logs that agents deleted since are only in the old file.
    Returns the new path of the index.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while any(os.path.lexists(f"{target}{end}") for end in ("", "-wal", "-shm")):
        n += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    for end in ("-wal", "-shm", ""):  # the index last: a failure before it leaves it where it was
        if os.path.lexists(f"{path}{end}"):
            os.rename(f"{path}{end}", f"{target}{end}")
    return target


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # read under the lock: one migrates
        _check_owner(conn, path, version)
        fresh = version == 0 and conn.execute("SELECT 1 FROM sqlite_master").fetchone() is None
        if fresh and FRESH_VERSION == SCHEMA_VERSION:
            for sql in fresh_schema():
                conn.execute(sql)
        elif version < SCHEMA_VERSION:
            import sqlite_utils  # only needed when an older schema changes (it takes ~0.1 s to import)

            db = sqlite_utils.Database(conn)
            for step in MIGRATIONS[version:]:
                step(db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _v1(db: Any) -> None:
    db["meta"].create({"k": str, "v": str}, pk="k")
    db["files"].create(
        {
            "path": str,
            "agent": str,
            "dev": int,
            "ino": int,
            "size": int,
            "mtime_ns": int,
            "offset": int,
            "tail": bytes,
            "state": str,
            "lines": int,
            "events": int,
            "skips": str,
            "error": str,
            "gone": int,
        },
        pk="path",
        not_null={"agent"},
        defaults={"offset": 0, "lines": 0, "events": 0, "gone": 0},
    )
    db["events"].create(
        {
            "id": int,
            "key": int,  # 64-bit hash of the source's de-duplication key
            "prio": int,
            "agent": str,
            "ts": int,
            "model": str,
            "session": str,
            "project": str,
            "inp": int,
            "cw": int,
            "cr": int,
            "out": int,
            "rsn": int,
            "cw1h": int,
            "cost": float,
        },
        pk="id",
        not_null={"key", "agent", "ts"},
    )
    db["events"].create_index(["key"], unique=True)
    db["events"].create_index(["ts"])
    db["rates"].create({"model": str, "schedule": bytes}, pk="model")


def _v2(db: Any) -> None:
    """Line counts went: counting every newline cost a third of a cold index."""
    db["files"].transform(drop={"lines"})


_SUMS = ("inp", "cw", "cr", "out", "rsn", "cost", "unpriced", "calls")


def _quarter_values(ref: str, device: bool = True) -> list[str]:
    """SQL for what the event ``ref`` (NEW or OLD) adds to its quarter: key columns, then the sums."""
    return [
        f"{ref}.ts / {QUARTER_MS}",
        f"{ref}.agent",
        f"IFNULL({ref}.model, 'unknown')",
        *([f"IFNULL({ref}.device, '')"] if device else []),
        *(f"{ref}.{c}" for c in ("inp", "cw", "cr", "out", "rsn")),
        f"IFNULL({ref}.cost, 0)",
        f"CASE WHEN {ref}.cost IS NULL THEN {ref}.inp + {ref}.cw + {ref}.cr + {ref}.out ELSE 0 END",
        "1",
    ]


def _quarters_from_events(device: bool = True) -> str:
    """SQL that sums every call into ``quarters`` (``device``: the schema 5 key, with the device)."""
    dev, by = (", IFNULL(device, '')", ", 4") if device else ("", "")
    return (
        f"INSERT INTO quarters SELECT ts / {QUARTER_MS}, agent, IFNULL(model, 'unknown'){dev}, SUM(inp), SUM(cw),"
        " SUM(cr), SUM(out), SUM(rsn), SUM(IFNULL(cost, 0)),"
        f" SUM(CASE WHEN cost IS NULL THEN inp + cw + cr + out ELSE 0 END), COUNT(*) FROM events GROUP BY 1, 2, 3{by}"
    )


QUARTERS_FROM_EVENTS = _quarters_from_events()


def _v3(db: Any) -> None:
    """Sums per UTC quarter hour, agent and model, kept by triggers: day reports read these, not every call."""
    table, triggers = _quarters_sql(device=False)
    for sql in (table, _quarters_from_events(device=False), *triggers):
        db.execute(sql)


def _quarters_sql(device: bool = True) -> tuple[str, list[str]]:
    """The ``quarters`` table and the triggers on ``events`` that keep it (``device``: schema 5 on)."""
    columns = ", ".join(_SUMS)
    add = ", ".join(f"{c} = {c} + excluded.{c}" for c in _SUMS)
    keys = "q, agent, model, device" if device else "q, agent, model"
    n = 4 if device else 3
    insert = (
        f"INSERT INTO quarters({keys}, {columns}) VALUES ({', '.join(_quarter_values('NEW', device))})"
        f" ON CONFLICT({keys}) DO UPDATE SET {add};"
    )
    same_device = " AND device = IFNULL(OLD.device, '')" if device else ""
    subtract = (
        "UPDATE quarters SET "
        + ", ".join(f"{c} = {c} - {v}" for c, v in zip(_SUMS, _quarter_values("OLD", device)[n:], strict=True))
        + f" WHERE q = OLD.ts / {QUARTER_MS} AND agent = OLD.agent AND model = IFNULL(OLD.model, 'unknown')"
        + f"{same_device};"
    )
    device_column = " device TEXT NOT NULL," if device else ""
    table = (
        "CREATE TABLE quarters(q INTEGER NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL,"
        f"{device_column}"
        " inp INTEGER NOT NULL, cw INTEGER NOT NULL, cr INTEGER NOT NULL, out INTEGER NOT NULL,"
        " rsn INTEGER NOT NULL, cost REAL NOT NULL, unpriced INTEGER NOT NULL, calls INTEGER NOT NULL,"
        f" PRIMARY KEY ({keys})) WITHOUT ROWID"
    )
    return table, [
        f"CREATE TRIGGER events_insert AFTER INSERT ON events BEGIN {insert} END",
        f"CREATE TRIGGER events_delete AFTER DELETE ON events BEGIN {subtract} END",
        f"CREATE TRIGGER events_update AFTER UPDATE ON events BEGIN {subtract} {insert} END",
    ]


def _v4(db: Any) -> None:
    """Insights read a session's calls in order, and look up the call before a given one."""
    db["events"].create_index(["session", "ts"])


def _v5(db: Any) -> None:
    """Every call records its device: NULL is this machine, a dedicated host its name; quarters sum per device."""
    db.execute("ALTER TABLE events ADD COLUMN device TEXT")
    for name in ("events_insert", "events_delete", "events_update"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP TABLE quarters")
    table, triggers = _quarters_sql()
    for sql in (table, QUARTERS_FROM_EVENTS, *triggers):
        db.execute(sql)


MIGRATIONS: list[Callable[[Any], None]] = [_v1, _v2, _v3, _v4, _v5]

# A new index gets the schema the migrations build in one script, without importing
# sqlite-utils; tests/core/test_schema.py checks that both give the same schema. A new
# migration bumps SCHEMA_VERSION past FRESH_VERSION: new indexes then take the migrations
# until this script is brought up to date.
FRESH_VERSION = 5
_FRESH_TABLES = (
    'CREATE TABLE "meta" (\n   "k" TEXT PRIMARY KEY,\n   "v" TEXT\n)',
    'CREATE TABLE "events" (\n   "id" INTEGER PRIMARY KEY,\n   "key" INTEGER NOT NULL,\n   "prio" INTEGER,\n'
    '   "agent" TEXT NOT NULL,\n   "ts" INTEGER NOT NULL,\n   "model" TEXT,\n   "session" TEXT,\n'
    '   "project" TEXT,\n   "inp" INTEGER,\n   "cw" INTEGER,\n   "cr" INTEGER,\n   "out" INTEGER,\n'
    '   "rsn" INTEGER,\n   "cw1h" INTEGER,\n   "cost" REAL\n, device TEXT)',
    'CREATE UNIQUE INDEX "idx_events_key"\n    ON "events" ("key")',
    'CREATE INDEX "idx_events_ts"\n    ON "events" ("ts")',
    'CREATE TABLE "rates" (\n   "model" TEXT PRIMARY KEY,\n   "schedule" BLOB\n)',
    'CREATE TABLE "files" (\n   "path" TEXT PRIMARY KEY,\n   "agent" TEXT NOT NULL,\n   "dev" INTEGER,\n'
    '   "ino" INTEGER,\n   "size" INTEGER,\n   "mtime_ns" INTEGER,\n   "offset" INTEGER DEFAULT \'0\',\n'
    '   "tail" BLOB,\n   "state" TEXT,\n   "events" INTEGER DEFAULT \'0\',\n   "skips" TEXT,\n'
    '   "error" TEXT,\n   "gone" INTEGER DEFAULT \'0\'\n)',
)
_FRESH_INDEXES = ('CREATE INDEX "idx_events_session_ts"\n    ON "events" ("session", "ts")',)


def fresh_schema() -> list[str]:
    """Every statement that creates the current schema in an empty database."""
    table, triggers = _quarters_sql()
    return [*_FRESH_TABLES, table, *triggers, *_FRESH_INDEXES]


def upsert_sql(device: str | None = None) -> str:
    """The upsert of one call read on ``device`` (None: this machine; a host's name is checked to be plain)."""
    if device is not None and not is_device_name(device):
        raise ValueError(f"not a device name: {device!r}")
    columns, value = ("", "") if device is None else (", device", f", '{device}'")
    return (
        f"INSERT INTO events(key, prio, agent, ts, model, session, project, inp, cw, cr, out, rsn, cw1h, cost{columns})"
        f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?{value})"
        " ON CONFLICT(key) DO UPDATE SET prio=excluded.prio, agent=excluded.agent, ts=excluded.ts,"
        " model=excluded.model, session=excluded.session, project=excluded.project, inp=excluded.inp,"
        " cw=excluded.cw, cr=excluded.cr, out=excluded.out, rsn=excluded.rsn, cw1h=excluded.cw1h,"
        " cost=excluded.cost, device=excluded.device WHERE excluded.prio > events.prio"
    )


def is_device_name(name: str) -> bool:
    """A host's name as devices are stored: letters, digits, ``.``, ``_`` and ``-``, at most 64, not empty."""
    return 0 < len(name) <= 64 and name.replace("-", "").replace("_", "").replace(".", "").isalnum() and name.isascii()


_UPSERT = upsert_sql()


class Index:
    """The one writer of the usage index.

    Args:
        path: the SQLite file (created on first use).
        overrides: the user's prices file (TOML), if any.
        timeout: seconds to wait for another process's write lock.
    """

    def __init__(self, path: Path, overrides: Path | None = None, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self.overrides = overrides
        self.conn = connect(path, timeout)
        self._device: str | None = None  # whose calls this refresh reads (None: this machine's)
        self._upsert = _UPSERT

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
        self._device, self._upsert = device, _UPSERT if device is None else upsert_sql(device)
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
                results = _Results(jobs, workers, sum(j.size for j in jobs))
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
    ) -> Iterator[_Job]:
        """The files to read; ``walk`` gets the roots and every file stated."""
        from app.sources import all_sources

        known = {row[0]: row[1:] for row in self.conn.execute("SELECT path, dev, ino, size, mtime_ns, gone FROM files")}
        seen: set[str] = set()
        stat_of = os.stat
        observed = walk.files
        planned = [(s, s.roots(env)) for s in all_sources() if agents is None or s.agent in agents]
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
    ) -> _Job | None:
        dev, ino, size, mtime_ns = stat
        if row is None:
            return _Job(agent, path, 0, {}, True, stat, size)
        old_dev, old_ino = row[0], row[1]
        offset, tail, state = self.conn.execute(
            "SELECT offset, tail, state FROM files WHERE path = ?", (path,)
        ).fetchone()
        if whole or (dev, ino) != (old_dev, old_ino) or size < offset or not _tail_matches(path, offset, tail):
            return _Job(agent, path, 0, {}, True, stat, size)
        if size == offset:  # touched, nothing new: remember the new mtime only
            self.conn.execute("UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?", (mtime_ns, size, path))
            return None
        return _Job(agent, path, offset, _loads(state) if state else {}, False, stat, size - offset)

    # -- reading and writing --------------------------------------------------------------

    def _run(
        self,
        jobs: list[_Job],
        report: RefreshReport,
        progress: Callable[[Progress], None] | None,
        cancel: Event | None,
        workers: int | None,
        results: _Results | None = None,
    ) -> None:
        total_bytes = sum(j.size for j in jobs)
        if results is None:
            results = _Results(jobs, workers, total_bytes)
        pricer = Pricer(self.conn, self.overrides)
        state = Progress(0, len(jobs), 0, total_bytes, time.monotonic())
        before = self.conn.total_changes
        last_commit = time.monotonic()
        self.conn.execute("BEGIN IMMEDIATE")
        bulk = None
        try:
            memo.forget(self.conn)  # in the transaction that changes calls: no report outlives what it read
            bulk = _Bulk.start(self.conn, self._upsert, self._device)
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

    def _store(self, done: _Done, pricer: Pricer, report: RefreshReport, bulk: _Bulk | None = None) -> None:
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


class _Bulk:
    """A first load into an empty index: no per-row upkeep of triggers and secondary indexes.

    The quarter-sum triggers and the indexes on ``ts`` and ``(session, ts)`` cost more per
    row than the insert itself. Into an empty table they are dropped, the calls upserted on
    the unique key alone, then the quarters are written and the indexes and triggers
    recreated (indexes first), all in one transaction: a reader or a crash sees the index
    before the load or after it. The quarters are summed here as the rows arrive, by the
    upsert's own rule (a higher ``prio`` replaces, a tie keeps the first): summing them in
    SQL at the end took longer than the rest of the end, while only this process was busy.
    """

    def __init__(self, conn: sqlite3.Connection, saved: list[str], upsert: str = _UPSERT, device: str = "") -> None:
        self.conn = conn
        self.saved = saved
        self.upsert_sql = upsert
        self.device = device  # every row of one refresh comes from one device ('' : this machine)
        self.keys: set[int] | None = set()  # every key loaded so far (None: too many to follow, summed in SQL)
        self.sums: dict[tuple[int, str, str], list[Any]] = {}  # (quarter, agent, model) -> _SUMS

    @classmethod
    def start(cls, conn: sqlite3.Connection, upsert: str = _UPSERT, device: str | None = None) -> _Bulk | None:
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
        """``_UPSERT`` the rows, and add what changed to the quarter sums."""
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
                f"INSERT INTO quarters(q, agent, model, device, {', '.join(_SUMS)}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*at, self.device, *s) for at, s in self.sums.items() if s[7]],
            )
        else:
            self.conn.execute(QUARTERS_FROM_EVENTS)
        for sql in self.saved:
            self.conn.execute(sql)


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


def _tail_matches(path: str, offset: int, tail: bytes | None) -> bool:
    return offset == 0 or not tail or _tail(path, offset) == tail


def _tail(path: str | Path, offset: int) -> bytes:
    """The bytes just before ``offset``: they change when a file is rewritten in place."""
    from app.sources.base import TAIL

    try:
        with open(path, "rb") as f:
            f.seek(max(offset - TAIL, 0))
            return f.read(min(TAIL, offset))
    except OSError:
        return b""


_SOURCES: dict[str, Source] = {}


def _source(agent: str) -> Source:
    held = _SOURCES.get(agent)
    if held is None:
        from app.sources import source

        held = _SOURCES[agent] = source(agent)
    return held


def _read(job: _Job) -> _Done:
    """Parse one file (in a worker process or inline). Never raises: errors are reported."""
    path = Path(job.path)
    try:
        result = _source(job.agent).parse(path, job.offset, job.state)
    except FileNotFoundError:
        return _Done(job, [], job.offset, job.state, {}, b"", "vanished before it could be read")
    except OSError as exc:
        return _Done(job, [], job.offset, job.state, {}, b"", f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not stop the other files
        return _Done(job, [], job.offset, job.state, {}, b"", f"parser error: {type(exc).__name__}: {exc}")
    seen = result.tail
    if not result.offset:
        tail = b""
    elif seen is not None and seen[0] == job.path and seen[1] == result.offset:
        tail = seen[2]  # the scan read them: no need to open the file again
    else:
        tail = _tail(path, result.offset)
    from hashlib import blake2b  # hashlib loads OpenSSL: only readers need it

    from app.sources.base import COUNT_BITS

    # keys become signed 64-bit hashes (a small, fast unique index); the index's rule (a higher
    # prio replaces, a tie keeps the first) is applied within the file first
    kept: dict[int, tuple[Any, ...]] = {}
    one: dict[str, str] = {}  # one object per distinct model, session and project: the results pickle them once
    from_bytes, same = int.from_bytes, one.setdefault
    skips, bits = result.skips, COUNT_BITS
    for key, prio, agent, ts, model, session, project, inp, cw, cr, out, rsn, cw1h in result.events:
        try:  # what a source hands over is checked here too, so no parser's bug can stop a refresh: counts
            # in 0..MAX_COUNT (one OR and a shift), the time and the order ints that SQLite holds
            bad = (inp | cw | cr | out | rsn | cw1h) >> bits or (ts >> 63) not in _INT64 or (prio >> 63) not in _INT64
        except TypeError:  # a float, a string, None
            bad = True
        if bad:
            skips[BAD_EVENT] = skips.get(BAD_EVENT, 0) + 1
            continue
        k = from_bytes(blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
        held = kept.get(k)
        if held is None or prio > held[1]:
            kept[k] = (k, prio, agent, ts, same(model, model), same(session, session), same(project, project),
                       inp, cw, cr, out, rsn, cw1h)  # fmt: skip
    return _Done(job, list(kept.values()), result.offset, result.state, skips, tail, None)


BAD_EVENT = "event out of range"  # a count outside 0..MAX_COUNT, or a time or order SQLite cannot hold
_INT64 = (0, -1)  # ``x >> 63`` of an int SQLite can hold


def _preload_for_readers() -> None:
    """What every forked reader would import on its own (~25 ms each): loaded once here, inherited."""
    import hashlib  # noqa: F401
    import pickle  # noqa: F401

    from app.sources.base import prepare_scan

    prepare_scan()


def _die_with_parent() -> None:
    """Workers must not outlive a killed parent (Linux: PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the line above ran
        os._exit(1)


def _read_all(jobs: list[_Job]) -> list[_Done]:
    return [_read(j) for j in jobs]


def _chunks(jobs: list[_Job], n: int) -> list[list[_Job]]:
    """Jobs in groups, largest files first, each group a quarter of what is left per worker but at least
    a 64th of a worker's share: few round trips early, small groups at the end for an even finish."""
    total = sum(j.size for j in jobs)
    floor = max(total // (n * 64), 1)
    chunks: list[list[_Job]] = []
    left = total
    size = target = 0
    for job in sorted(jobs, key=lambda j: j.size, reverse=True):
        if size >= target:
            chunks.append([])
            size = 0
            target = max(left // (n * 4), floor)
        chunks[-1].append(job)
        size += job.size
        left -= job.size
    return chunks


class _Forked:
    """Readers forked from this process: no multiprocessing machinery to import, only results to pickle.

    Each reader takes chunk numbers from one shared pipe (whole 4-byte writes, so reads never
    split one), appends each chunk's pickled results to its own anonymous scratch file and
    sends the offset and length on its own pipe. A pipe holds thousands of such notes, so no
    reader ever waits for this process, however busy it is (loading the price data, say).
    Whatever a reader that died did not hand back is read here, in this process.
    """

    def __init__(self, chunks: list[list[_Job]], n: int) -> None:
        self.chunks = chunks
        self.pids: list[int] = []
        self.pipes: list[int] = []
        self.scratch: dict[int, int] = {}  # pipe -> that reader's scratch file
        tasks_r, tasks_w = os.pipe()
        for _ in range(n):
            r, w = os.pipe()
            scratch = _scratch_file()
            try:
                pid = os.fork()
            except OSError:  # no more processes: the readers started (or this one) do it all
                for fd in (r, w, scratch):
                    os.close(fd)
                break
            if pid == 0:  # the reader: it never returns into the caller's code
                try:
                    for fd in (r, tasks_w, *self.pipes, *self.scratch.values()):
                        os.close(fd)
                    _die_with_parent()
                    _serve(chunks, tasks_r, w, scratch)
                finally:
                    os._exit(0)
            os.close(w)
            self.pids.append(pid)
            self.pipes.append(r)
            self.scratch[r] = scratch
        os.close(tasks_r)
        if self.pids:
            os.write(tasks_w, b"".join(i.to_bytes(4, "little") for i in range(len(chunks))))
        os.close(tasks_w)

    def __iter__(self) -> Iterator[_Done]:
        import pickle
        import select

        received: set[int] = set()
        open_pipes = list(self.pipes)
        while open_pipes:
            ready, _, _ = select.select(open_pipes, [], [])
            for fd in ready:
                try:
                    note = _read_exact(fd, 24)
                except RuntimeError:  # a reader died mid-note: its chunk is read again below
                    note = b""
                if not note:  # that reader is done, or dead
                    open_pipes.remove(fd)
                    continue
                at, size, chunk = (int.from_bytes(note[i : i + 8], "little") for i in (0, 8, 16))
                data = os.pread(self.scratch[fd], size, at)
                _release(self.scratch[fd], at, size)
                received.add(chunk)
                yield from pickle.loads(data)
        for chunk, jobs in enumerate(self.chunks):  # what a reader that died (OOM-killed, say) left: read here
            if chunk not in received:
                yield from (_read(j) for j in jobs)

    def close(self) -> None:
        import signal

        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a no-op for one that has exited: it is reaped below
            os.waitpid(pid, 0)
        for fd in (*self.pipes, *self.scratch.values()):
            os.close(fd)
        self.pids, self.pipes, self.scratch = [], [], {}


def _scratch_file() -> int:
    """An anonymous file (gone with its last descriptor, even after kill -9)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("tokenclub-results", os.MFD_CLOEXEC)
    import tempfile

    with tempfile.TemporaryFile() as f:
        return os.dup(f.fileno())


def _release(fd: int, at: int, size: int) -> None:
    """Give back the memory of a result already read (Linux: punch a hole; elsewhere it stays till the end)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fallocate(fd, 3, ctypes.c_long(at), ctypes.c_long(size))  # PUNCH_HOLE | KEEP_SIZE


def _serve(chunks: list[list[_Job]], tasks: int, notes: int, scratch: int) -> None:
    import pickle

    at = 0
    while len(task := os.read(tasks, 4)) == 4:
        chunk = int.from_bytes(task, "little")
        data = pickle.dumps(_read_all(chunks[chunk]), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.pwrite(scratch, view, at + len(data) - len(view)) :]
        os.write(notes, b"".join(n.to_bytes(8, "little") for n in (at, len(data), chunk)))
        at += len(data)


def _read_exact(fd: int, n: int) -> bytes:
    """``n`` bytes from ``fd``, or b"" at its end (a message cut short means its writer died)."""
    parts: list[bytes] = []
    while n:
        part = os.read(fd, n)
        if not part:
            if parts:
                raise RuntimeError("a reader process died while sending its results")
            return b""
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


class _Results:
    """Parsed files as they complete: inline for small work, on every core for large."""

    def __init__(self, jobs: list[_Job], workers: int | None, total_bytes: int) -> None:
        n = workers if workers is not None else (os.cpu_count() or 1)
        self.pool: Any = None
        self.forked: _Forked | None = None
        self.futures: list[Any] = []
        if n > 1 and len(jobs) > 1 and total_bytes >= POOL_MIN_BYTES:
            chunks = _chunks(jobs, n)
            # fork is cheapest, but unsafe once other threads exist: only from the main thread, alone
            # (never imported, threading has started none; a Qt thread is not the main thread)
            threading = sys.modules.get("threading")
            alone = threading is None or (
                threading.active_count() == 1 and threading.current_thread() is threading.main_thread()
            )
            if os.name == "posix" and alone:
                _preload_for_readers()
                self.forked = _Forked(chunks, n)
                self.iterator: Iterator[_Done] = iter(self.forked)
                return
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            self.pool = ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
            )
            self.futures = [self.pool.submit(_read_all, c) for c in chunks]
            self.iterator = (d for f in as_completed(self.futures) for d in f.result())
        else:
            self.iterator = (_read(j) for j in jobs)

    def __iter__(self) -> Iterator[_Done]:
        return self.iterator

    def close(self) -> None:
        if self.forked is not None:
            self.forked.close()
            self.forked = None
        if self.pool is not None:
            for f in self.futures:
                f.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
