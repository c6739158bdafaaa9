"""A host's usage into the same index: a sparse mirror of its agents' files, then the same refresh.

For each host, ``data_dir()/hosts/<NAME>/root`` mirrors every file under the host's agent
roots at its remote path. A file the sources would read holds exactly the bytes the index
will read, and no others (the file is sparse): from the index's stored offset minus the 32
bytes it compares (appended logs), or whole (whole-document formats, SQLite databases as a
consistent copy, a file replaced, shrunk or rewritten in place, one the index has not read).
Its size and mtime are the host's. Every other file under the roots is an empty placeholder,
so that each source's own ``discover`` finds the same files as on the host. Then
``Index.refresh(<the mirror>, device=NAME)`` runs the same parsers and the same
de-duplication (keys are global: a call copied between machines counts once), and what the
index consumed is punched out of the mirror again (``FALLOC_FL_PUNCH_HOLE``, the mtime put
back), so the mirror never keeps a second copy of the logs.

Crash safety: a whole file is written to a scratch name and renamed into place with its
mtime set; appended bytes are written in order from the index's offset, so a pull killed
midway leaves a prefix of the host's file, which the index may read (only complete lines
count). A host's mirror is indexed only after a pull that finished, and ``state.json``
(what each mirror file holds) is written after the bytes: a stale state only means
fetching again.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app.console import confine
from app.console.ssh import HostError, Session, Target
from app.core import paths
from app.core.env import Env
from app.core.index import forget_device, mirror_rows

TAIL = 32
BLOCK = 4096
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")  # a database copy stands alone
HOST_TIMEOUT_S = float(os.environ.get("TOKENCLUB_HOST_TIMEOUT", "600"))


def host_dir(name: str) -> Path:
    return paths.data_dir() / "hosts" / name


def mirror_root(name: str) -> Path:
    return host_dir(name) / "root"


# -- where the host's agents write ------------------------------------------------------------


class _Everything(dict):  # type: ignore[type-arg]
    def get(self, key: Any, default: Any = None) -> Any:
        return "/x"


def env_names() -> list[str]:
    """The environment variables the sources read (with none set, and with all set)."""
    from app.core.snapshot import RecordingEnv
    from app.sources import all_sources

    names: set[str] = set()
    nothing: dict[str, str] = {}
    for environ in (nothing, _Everything()):
        rec = RecordingEnv(Env(Path("/h"), environ))
        for s in all_sources():
            s.roots(rec)
        names.update(rec.read)
    return sorted(names)


def remote_env(info: dict[str, Any]) -> Env:
    return Env(Path(info["home"]), {k: v for k, v in (info.get("env") or {}).items() if v})


def mirror_env(name: str, info: dict[str, Any]) -> Env:
    """The host's env with every absolute path moved under the mirror (comma lists too)."""
    base = str(mirror_root(name))

    def move(value: str) -> str:
        return ",".join(base + p.strip() if p.strip().startswith("/") else p for p in value.split(","))

    env = remote_env(info)
    return Env(Path(move(str(env.home))), {k: move(v) for k, v in env.environ.items()})


def remote_roots(info: dict[str, Any], agents: Iterable[str] | None = None) -> dict[str, list[str]]:
    from app.sources import all_sources

    env = remote_env(info)
    wanted = set(agents) if agents is not None else None
    return {s.agent: [str(r) for r in s.roots(env)] for s in all_sources() if wanted is None or s.agent in wanted}


def roots_summary(session: Session, info: dict[str, Any]) -> dict[str, Any]:
    """Per agent: its roots on the host, files and bytes under them (for ``host check``)."""
    out: dict[str, Any] = {}
    info = confine.check_info(info, env_names())
    for agent, roots in remote_roots(info).items():
        scan = session.request({"op": "scan", "roots": confine.check_roots(roots)})
        files, errors = confine.check_scan(scan, roots)
        missing = scan.get("missing")
        missing = missing if isinstance(missing, list) else []
        out[agent] = {
            "roots": [{"path": r, "exists": r not in missing} for r in roots],
            "files": len(files),
            "bytes": sum(f[0] for f in files.values()),
            "unreadable": errors,
        }
    return out


# -- one host's pull ----------------------------------------------------------------------------


class PullReport:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ok = False
        self.error: str | None = None
        self.kind: str | None = None
        self.files_fetched = 0
        self.bytes_raw = 0  # file bytes written into the mirror
        self.bytes_wire = 0  # what came over ssh (compressed, with frame headers)
        self.bytes_data = 0  # of which the file bytes, compressed
        self.warnings: list[str] = []
        self.seconds = 0.0
        self.info: dict[str, Any] = {}
        self.punched = 0  # bytes dropped from the mirror after indexing
        self.changed = False  # the mirror changed: the index must look


def _load_state(name: str) -> dict[str, list[int]]:
    """Per remote path: [size, mtime_ns, inode] as last seen on the host, how far the mirror copy is punched,
    the mirror copy's size, and 1 once fetched (0: an empty placeholder, or a fetch that failed)."""
    try:
        data: dict[str, list[int]] = json.loads((host_dir(name) / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    # a path that is not clean (a state written before paths were checked) is dropped, never acted on
    return {p: v for p, v in data.items() if isinstance(v, list) and len(v) == 6 and confine.path_problem(p) is None}


class _Cache:
    """What a pull with nothing new needs without loading the sources: the env names, the host's roots."""

    def __init__(self, name: str) -> None:
        from app.core.memo import code_stamp

        self.path = host_dir(name) / "roots.json"
        st = os.stat(__file__)
        self.stamp = f"{code_stamp()}:{st.st_size}:{st.st_mtime_ns}"
        try:
            self.doc: dict[str, Any] = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            self.doc = {}
        if self.doc.get("stamp") != self.stamp:
            self.doc = {"stamp": self.stamp}

    def env_names(self) -> list[str]:
        names = self.doc.get("env_names")
        if not isinstance(names, list):
            names = self.doc["env_names"] = env_names()
            self._save()
        return names

    def roots(self, info: dict[str, Any], agents: list[str] | None) -> list[str]:
        key = json.dumps([info.get("home"), info.get("env"), agents], sort_keys=True)
        if self.doc.get("roots_key") != key:
            self.doc["roots"] = sorted({r for rs in remote_roots(info, agents).values() for r in rs})
            self.doc["roots_key"] = key
            self._save()
        return list(self.doc["roots"])

    def _save(self) -> None:
        paths.write_atomic(self.path, json.dumps(self.doc).encode())


def _save_state(name: str, state: dict[str, list[int]]) -> None:
    paths.write_atomic(host_dir(name) / "state.json", json.dumps(state, separators=(",", ":")).encode())


def pull(
    target: Target,
    db: Path,
    agents: Iterable[str] | None = None,
    on_start: Callable[[Any], None] | None = None,
) -> PullReport:
    """Bring ``target``'s mirror up to date with what the index will read (no indexing here)."""
    report = PullReport(target.name)
    started = time.monotonic()
    try:
        cache = _Cache(target.name)
        with Session(target, hello={"op": "info", "env": cache.env_names()}, on_start=on_start) as session:
            info = confine.check_info(session.info, cache.env_names())
            report.info = info
            _pull(session, target.name, db, info, agents, report, cache)
            report.bytes_wire = session.bytes_in
            report.bytes_data = session.data_in
        report.ok = True
    except HostError as exc:
        report.error, report.kind = str(exc), exc.kind
    except OSError as exc:  # our side: a full disk, an unwritable data folder
        report.error, report.kind = f"cannot write the mirror: {exc}", "local"
    except (KeyError, IndexError, TypeError, ValueError) as exc:  # an answer confine did not foresee
        report.error, report.kind = f"an answer that could not be used ({type(exc).__name__}: {exc})"[:300], "protocol"
    report.seconds = time.monotonic() - started
    return report


def _pull(
    session: Session,
    name: str,
    db: Path,
    info: dict[str, Any],
    agents: Iterable[str] | None,
    report: PullReport,
    cache: _Cache,
) -> None:
    agents = sorted(agents) if agents is not None else None
    roots = confine.check_roots(cache.roots(info, agents))
    scan = session.request({"op": "scan", "roots": roots})
    listed, errors = confine.check_scan(scan, roots)  # nothing below runs unless every path is clean
    for path, why in errors:
        report.warnings.append(f"host {name}: cannot read {path}: {why}")
    remote = {p: v for p, v in listed.items() if not p.endswith(SKIP_SUFFIXES)}
    state = _load_state(name)
    if remote.keys() == state.keys() and all(state[p][:3] == r[:3] for p, r in remote.items()):
        return  # nothing changed on the host since the last pull: the sources are not even loaded
    from app.sources import all_sources

    base = str(mirror_root(name))
    mirror_root(name).mkdir(parents=True, exist_ok=True)
    mirror = confine.Mirror(mirror_root(name))

    # the mirror holds every remote file (placeholders) and nothing else
    for rpath in [p for p in state if p not in remote]:
        mirror.remove(rpath)
        del state[rpath]
        report.changed = True
    for rpath, (size, mtime_ns, ino, _dev) in remote.items():
        if rpath in state:
            if not state[rpath][5]:
                state[rpath][:3] = [size, mtime_ns, ino]  # a placeholder follows the host's file
            continue
        if mirror.create_empty(rpath):
            report.changed = True
        state[rpath] = [size, mtime_ns, ino, 0, 0, 0]  # see _load_state

    # what the sources would read, found by their own discover over the mirror
    menv = mirror_env(name, info)
    wanted = set(agents) if agents is not None else None
    groups: list[tuple[str, bool, list[str]]] = []  # (main remote path, whole, companions' remote paths)
    for source in all_sources():
        if wanted is not None and source.agent not in wanted:
            continue
        for root in source.roots(menv):
            for local in source.files(root):
                if not local.startswith(base + "/") or local[len(base) :] not in remote:
                    continue
                whole = source.is_whole(local)
                extra = [
                    str(c)[len(base) :]
                    for c in source.companions(Path(local))
                    if not str(c).endswith(SKIP_SUFFIXES) and str(c)[len(base) :] in remote
                ]
                groups.append((local[len(base) :], whole, extra))

    rows = mirror_rows(db, base + "/")
    full: list[str] = []
    append: list[tuple[str, int, bytes | None]] = []
    for main, whole, extra in groups:
        size, mtime_ns, ino, _dev = remote[main]
        held = state[main]
        members = [main, *extra]
        if all(state[m][5] and state[m][:3] == remote[m][:3] for m in members):
            continue
        row = rows.get(base + main)
        if whole or extra or row is None or row[5] is not None or held[2] != ino or size < held[4] or not held[5]:
            full.extend(m for m in members if not state[m][5] or state[m][:3] != remote[m][:3] or m == main)
            continue
        try:
            mst = os.lstat(mirror.path(main))
        except FileNotFoundError:
            full.append(main)
            continue
        if mst.st_ino != row[1] or row[0] > size:
            full.append(main)
            continue
        append.append((main, row[0], row[2]))

    retry = _fetch_append(session, mirror, append, remote, state, report)
    # a database's consistent copy holds what its -wal has too
    sizes = {
        p: v[0] + (listed[p + "-wal"][0] if p.endswith(DB_SUFFIXES) and p + "-wal" in listed else 0)
        for p, v in remote.items()
    }
    _fetch_full(session, name, mirror, sorted(set(full) | set(retry)), remote, sizes, state, report)
    _save_state(name, state)


class _Serial:
    """File work done in order on a thread of its own, so that writing the mirror overlaps reading ssh.

    ``put`` queues a call (at most a few 4 MiB blocks wait); ``finish`` waits for the queue and
    raises the first error. After an error the rest of the queue is dropped.
    """

    def __init__(self) -> None:
        import queue

        self.q: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="tokenclub-mirror", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is None:
                try:
                    item[0](*item[1])
                except BaseException as exc:  # noqa: BLE001 - handed to ``finish``
                    self.error = exc

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((fn, args))

    def finish(self) -> None:
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _fetch_full(
    session: Session,
    name: str,
    mirror: confine.Mirror,
    todo: list[str],
    remote: dict[str, list[int]],
    sizes: dict[str, int],
    state: dict[str, list[int]],
    report: PullReport,
) -> None:
    """Whole files: into a scratch name, mtime set, renamed into the mirror (never seen half-written)."""
    if not todo:
        return
    scratch = host_dir(name) / "tmp"
    shutil.rmtree(scratch, ignore_errors=True)  # what a killed pull left
    scratch.mkdir(parents=True)
    dbs = [p for p in todo if p.endswith(DB_SUFFIXES)]
    plain = [p for p in todo if not p.endswith(DB_SUFFIXES)]
    current: dict[str, Any] = {}  # the file being written (used on the writer's thread only)

    def start(tmp: str) -> None:
        current["f"], current["n"] = open(tmp, "wb"), 0  # noqa: SIM115 - closed by drop or done

    def write(data: bytes) -> None:
        current["f"].write(data)
        current["n"] += len(data)

    def drop(tmp: str) -> None:
        current.pop("f").close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)

    def done(tmp: str, rpath: str) -> None:
        current.pop("f").close()
        mtime = remote[rpath][1]
        os.utime(tmp, ns=(mtime, mtime))
        mirror.put(tmp, rpath)
        state[rpath] = [remote[rpath][0], mtime, remote[rpath][2], 0, current["n"], 1]

    serial = _Serial()
    try:
        for op, batch in (("read", plain), ("backup", dbs)):
            if not batch:
                continue
            tmp = ""
            frames = session.stream({"op": op, "files": [{"path": p} for p in batch]})
            for header, data in confine.checked_reads(frames, batch, [sizes[p] for p in batch]):
                rpath = batch[header["i"]]
                if "error" in header:
                    report.warnings.append(f"host {name}: cannot read {rpath}: {header['error']}")
                    state[rpath][1] = -1  # differs from the host's: the next pull asks again
                    if tmp:
                        serial.put(drop, tmp)
                        tmp = ""
                    continue
                if not tmp:
                    tmp = str(scratch / f"f{header['i']}")
                    serial.put(start, tmp)
                if header.get("done"):
                    serial.put(done, tmp, rpath)
                    tmp = ""
                    report.files_fetched += 1
                    report.changed = True
                    continue
                serial.put(write, data)
                report.bytes_raw += len(data)
            if tmp:
                serial.put(drop, tmp)
    finally:
        serial.finish()


def _fetch_append(
    session: Session,
    mirror: confine.Mirror,
    todo: list[tuple[str, int, bytes | None]],
    remote: dict[str, list[int]],
    state: dict[str, list[int]],
    report: PullReport,
) -> list[str]:
    """New bytes of appended files, from the index's offset minus the tail it compares; files to fetch whole.

    The bytes are written in order where they belong, then the size is trimmed and the host's
    mtime set: a pull killed midway leaves a prefix of the host's file.
    """
    if not todo:
        return []
    retry: list[str] = []
    starts = [max(0, offset - TAIL) for _, offset, _ in todo]
    req = {"op": "read", "files": [{"path": p, "offset": s} for (p, _, _), s in zip(todo, starts, strict=True)]}
    current: dict[str, Any] = {}

    def start(rpath: str, pos: int) -> None:
        f = os.fdopen(mirror.open_rw(rpath), "r+b")  # closed by drop or done
        f.seek(pos)
        current["f"], current["pos"] = f, pos

    def write(data: bytes) -> None:
        current["f"].write(data)
        current["pos"] += len(data)

    def drop() -> None:
        current.pop("f").close()

    def done(rpath: str) -> None:
        f = current.pop("f")
        f.truncate(current["pos"])  # the size last (a shrink was fetched whole; this only trims a stale tail)
        f.flush()
        mtime = remote[rpath][1]
        os.utime(f.fileno(), ns=(mtime, mtime))
        f.close()
        state[rpath] = [remote[rpath][0], mtime, remote[rpath][2], state[rpath][3], current["pos"], 1]

    serial = _Serial()
    try:
        opened = checked = bad = False
        names = [p for p, _, _ in todo]
        frames = session.stream(req)
        for header, data in confine.checked_reads(
            frames, names, [remote[p][0] - s for p, s in zip(names, starts, strict=True)]
        ):
            i = header["i"]
            rpath, offset, tail = todo[i]
            if "error" in header:
                report.warnings.append(f"host {report.name}: cannot read {rpath}: {header['error']}")
                state[rpath][1] = -1  # differs from the host's: the next pull asks again
                if opened:
                    serial.put(drop)
                opened = checked = bad = False
                continue
            if header.get("done"):
                if not bad:
                    if not opened:
                        serial.put(start, rpath, starts[i])
                    serial.put(done, rpath)
                    report.files_fetched += 1
                    report.changed = True
                opened = checked = bad = False
                continue
            if bad:
                continue
            if not checked:
                checked = True
                want = offset - starts[i]
                if want and tail and data[:want] != tail[-want:]:
                    bad = True  # rewritten in place: the index reads it from the start, so fetch it whole
                    retry.append(rpath)
                    continue
            if not opened:
                serial.put(start, rpath, starts[i])
                opened = True
            serial.put(write, data)
            report.bytes_raw += len(data)
    finally:
        serial.finish()
    return retry


# -- dropping what the index consumed ---------------------------------------------------------


_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_fallocate: Any = None


def _punch(path: str, length: int) -> bool:
    """Free ``[0, length)`` of ``path`` keeping its size (Linux); the mtime is put back."""
    global _fallocate
    if length <= 0:
        return True
    if _fallocate is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.fallocate
            fn.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong)
            fn.restype = ctypes.c_int
            _fallocate = fn
        except (OSError, AttributeError):
            _fallocate = False
    if not _fallocate:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        ok = _fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, 0, length) == 0
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(fd)
    return bool(ok)


def drop_consumed(name: str, db: Path) -> int:
    """Punch what the index has read out of the mirror; returns the bytes dropped."""
    state = _load_state(name)
    base = str(mirror_root(name))
    rows = mirror_rows(db, base + "/")
    from app.sources import all_sources

    whole_of: list[Callable[[str], bool]] = [s.is_whole for s in all_sources()]
    dropped = 0
    companions: set[str] = set()
    for s in all_sources():
        for local in rows:
            for c in s.companions(Path(local)):
                companions.add(str(c))
    for local, (offset, ino, _tail, size, _mtime_ns, error) in rows.items():
        rpath = local[len(base) :]
        held = state.get(rpath)
        if held is None or error is not None or local in companions:
            continue
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            continue
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_ino != ino
            or st.st_size != held[4]
            or st.st_mtime_ns != held[1]
            or st.st_size != size
        ):
            continue  # the index has not read this version yet
        # (a whole file with companions has their sizes in its stored size: it was skipped above)
        whole = any(w(local) for w in whole_of)
        upto = st.st_size if whole else max(0, offset - TAIL) // BLOCK * BLOCK
        if upto > held[3] and _punch(local, upto):
            dropped += upto - held[3]
            held[3] = upto
    _save_state(name, state)
    return dropped


def mirror_usage(name: str) -> tuple[int, int]:
    """(apparent size, blocks on disk) of a host's mirror, in bytes."""
    apparent = disk = 0
    for top, _dirs, files in os.walk(mirror_root(name)):
        for f in files:
            st = os.lstat(os.path.join(top, f))
            apparent += st.st_size
            disk += st.st_blocks * 512
    return apparent, disk


# -- every host ---------------------------------------------------------------------------------


def pull_all(
    targets: Iterable[Target], db: Path, agents: Iterable[str] | None = None, timeout: float = HOST_TIMEOUT_S
) -> list[PullReport]:
    """Pull every host at once, each within ``timeout`` seconds (a late one is cut off and named)."""
    targets = list(targets)
    reports: dict[str, PullReport] = {}
    procs: dict[str, Any] = {}  # each host's running ssh

    def run(t: Target) -> None:
        reports[t.name] = pull(t, db, agents, on_start=lambda p: procs.__setitem__(t.name, p))

    threads = [threading.Thread(target=run, args=(t,), name=f"tokenclub-pull-{t.name}", daemon=True) for t in targets]
    for th in threads:
        th.start()
    deadline = time.monotonic() + timeout
    for t, th in zip(targets, threads, strict=True):
        th.join(max(0.0, deadline - time.monotonic()))
        if th.is_alive():
            proc = procs.get(t.name)
            if proc is not None:
                proc.kill()  # the pull ends with "connection lost"; what it wrote is a consistent mirror
            th.join(10)
            late = reports.get(t.name) or PullReport(t.name)
            late.ok, late.error, late.kind = False, f"timed out after {timeout:g} s", "timeout"
            reports[t.name] = late
    return [reports.get(t.name) or PullReport(t.name) for t in targets]


def forget_usage(conn: sqlite3.Connection, name: str) -> int:
    """Delete a host's calls, files and snapshot from the index (``host remove --forget-usage``)."""
    n = forget_device(conn, name, str(mirror_root(name)) + "/")
    shutil.rmtree(host_dir(name), ignore_errors=True)
    return n


def refresh_hosts(
    index: Any,
    targets: Iterable[Target],
    agents: Iterable[str] | None = None,
    timeout: float = HOST_TIMEOUT_S,
    progress: Any = None,
) -> list[tuple[PullReport, Any]]:
    """Pull every host in parallel, then index each mirror that pulled under its device (one writer)."""
    agents = list(agents) if agents is not None else None
    done = []
    for rep in pull_all(targets, index.path, agents, timeout):
        refreshed = None
        if rep.ok:
            refreshed = index.refresh(mirror_env(rep.name, rep.info), agents, progress=progress, device=rep.name)
            rep.warnings.extend(
                f"host {rep.name}: {w.replace(str(mirror_root(rep.name)), '')}" for w in refreshed.warnings
            )
            if rep.changed or refreshed.files_read:
                rep.punched = drop_consumed(rep.name, index.path)
        done.append((rep, refreshed))
    return done
