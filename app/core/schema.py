"""The index file: opening it, its schema and the one ladder of migrations that builds it.

Every table in the file is created here, the providers' included: a file at any older
version is brought up to this one, step by step, under one write lock. A new file gets
the current schema in one script (without importing sqlite-utils). Opening explains what
the user can do when the file cannot be used (a folder, read-only, full, damaged, newer).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.model import QUARTER_MS

SCHEMA_VERSION = 6


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
    if not fresh:  # what a step overwrote (a scrubbed message) leaves the write-ahead log for the file now
        with contextlib.suppress(sqlite3.OperationalError):  # a reader holds old pages: the next checkpoint will
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


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


SUMS = ("inp", "cw", "cr", "out", "rsn", "cost", "unpriced", "calls")


def unpriced_sql(ref: str = "") -> str:
    """SQL for the tokens of a call (``ref``: NEW, OLD or none) that has no price: all of them, or 0."""
    p = f"{ref}." if ref else ""
    return f"CASE WHEN {p}cost IS NULL THEN {p}inp + {p}cw + {p}cr + {p}out ELSE 0 END"


def _quarter_values(ref: str, device: bool = True) -> list[str]:
    """SQL for what the event ``ref`` (NEW or OLD) adds to its quarter: key columns, then the sums."""
    return [
        f"{ref}.ts / {QUARTER_MS}",
        f"{ref}.agent",
        f"IFNULL({ref}.model, 'unknown')",
        *([f"IFNULL({ref}.device, '')"] if device else []),
        *(f"{ref}.{c}" for c in ("inp", "cw", "cr", "out", "rsn")),
        f"IFNULL({ref}.cost, 0)",
        unpriced_sql(ref),
        "1",
    ]


def _quarters_from_events(device: bool = True) -> str:
    """SQL that sums every call into ``quarters`` (``device``: the schema 5 key, with the device)."""
    dev, by = (", IFNULL(device, '')", ", 4") if device else ("", "")
    return (
        f"INSERT INTO quarters SELECT ts / {QUARTER_MS}, agent, IFNULL(model, 'unknown'){dev}, SUM(inp), SUM(cw),"
        " SUM(cr), SUM(out), SUM(rsn), SUM(IFNULL(cost, 0)),"
        f" SUM({unpriced_sql()}), COUNT(*) FROM events GROUP BY 1, 2, 3{by}"
    )


QUARTERS_FROM_EVENTS = _quarters_from_events()


def _v3(db: Any) -> None:
    """Sums per UTC quarter hour, agent and model, kept by triggers: day reports read these, not every call."""
    table, triggers = _quarters_sql(device=False)
    for sql in (table, _quarters_from_events(device=False), *triggers):
        db.execute(sql)


def _quarters_sql(device: bool = True) -> tuple[str, list[str]]:
    """The ``quarters`` table and the triggers on ``events`` that keep it (``device``: schema 5 on)."""
    columns = ", ".join(SUMS)
    add = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
    keys = "q, agent, model, device" if device else "q, agent, model"
    n = 4 if device else 3
    insert = (
        f"INSERT INTO quarters({keys}, {columns}) VALUES ({', '.join(_quarter_values('NEW', device))})"
        f" ON CONFLICT({keys}) DO UPDATE SET {add};"
    )
    same_device = " AND device = IFNULL(OLD.device, '')" if device else ""
    subtract = (
        "UPDATE quarters SET "
        + ", ".join(f"{c} = {c} - {v}" for c, v in zip(SUMS, _quarter_values("OLD", device)[n:], strict=True))
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


# The providers' tables (``app.providers``): usage per key, UTC day and model (``provisional``: a recent day
# the next sync fetches again); per key, the days covered, the last success and the last error (its kind
# and a redacted, bounded message); per key and currency, the last balance read.
PROVIDER_TABLES = (
    "CREATE TABLE IF NOT EXISTS provider_usage(provider TEXT NOT NULL, label TEXT NOT NULL, day TEXT NOT NULL,"
    " model TEXT NOT NULL, inp INTEGER NOT NULL DEFAULT 0, cw INTEGER NOT NULL DEFAULT 0,"
    " cr INTEGER NOT NULL DEFAULT 0, out INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,"
    " cost REAL, provisional INTEGER NOT NULL DEFAULT 0, fetched_at INTEGER NOT NULL,"
    " PRIMARY KEY (provider, label, day, model)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS provider_sync(provider TEXT NOT NULL, label TEXT NOT NULL, covered_from TEXT,"
    " covered_to TEXT, last_ok INTEGER, last_attempt INTEGER, last_error TEXT, error_kind TEXT,"
    " PRIMARY KEY (provider, label))",
    "CREATE TABLE IF NOT EXISTS provider_balances(provider TEXT NOT NULL, label TEXT NOT NULL,"
    " currency TEXT NOT NULL, total REAL NOT NULL, granted REAL, topped_up REAL, detail TEXT,"
    " fetched_at INTEGER NOT NULL, PRIMARY KEY (provider, label, currency))",
)


def _v6(db: Any) -> None:
    """The providers' tables join the ladder (an older TokenClub created them on first use, maybe some only).

    Tables from before ``error_kind`` get the column, and their stored messages are scrubbed: an older
    TokenClub stored a provider's words as they came (a key may be echoed in them).
    """
    for sql in PROVIDER_TABLES:
        db.execute(sql)
    if not any(r[1] == "error_kind" for r in db.execute("PRAGMA table_info(provider_sync)")):
        db.execute("ALTER TABLE provider_sync ADD COLUMN error_kind TEXT")
        _scrub(db.conn)


def _scrub(conn: sqlite3.Connection) -> None:
    """Redact every stored last error; ``secure_delete`` overwrites the old text in its page, not just frees it."""
    from app.core.redact import MESSAGE_LIMIT, redact

    conn.execute("PRAGMA secure_delete = ON")
    rows = conn.execute("SELECT rowid, last_error FROM provider_sync WHERE last_error IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE provider_sync SET last_error = ? WHERE rowid = ?",
        [(redact(text, (), MESSAGE_LIMIT), rowid) for rowid, text in rows],
    )


MIGRATIONS: list[Callable[[Any], None]] = [_v1, _v2, _v3, _v4, _v5, _v6]

# A new index gets the schema the migrations build in one script, without importing
# sqlite-utils; tests/core/test_schema.py checks that both give the same schema. A new
# migration bumps SCHEMA_VERSION past FRESH_VERSION: new indexes then take the migrations
# until this script is brought up to date.
FRESH_VERSION = 6
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
    return [*_FRESH_TABLES, table, *triggers, *_FRESH_INDEXES, *PROVIDER_TABLES]


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


UPSERT = upsert_sql()
