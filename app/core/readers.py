"""Reading the files a refresh planned: inline for small work, in reader processes for large.

A reader parses one file with its agent's source and hands back the calls with their keys
hashed to 64 bits (the index's rule, a higher ``prio`` replaces and a tie keeps the first,
applied within the file first). Readers are forked from the main thread when it is alone
(nothing to import, only results to pickle) and spawned otherwise; either way they get the
sources as :class:`~app.core.source.Sources`, which a process rebuilds from its module's name.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.source import COUNT_BITS, TAIL, Sources

POOL_MIN_BYTES = 32 << 20  # below this, worker start-up costs more than it saves


class Job:
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


class Done:
    __slots__ = ("job", "rows", "offset", "state", "skips", "tail", "error")

    def __init__(
        self,
        job: Job,
        rows: list[tuple[Any, ...]],  # UsageEvents with the key hashed to 64 bits
        offset: int,
        state: dict[str, Any],
        skips: dict[str, int],
        tail: bytes,
        error: str | None,
    ) -> None:
        self.job, self.rows, self.offset, self.state = job, rows, offset, state
        self.skips, self.tail, self.error = skips, tail, error


def tail_matches(path: str, offset: int, tail: bytes | None) -> bool:
    """Whether the bytes before ``offset`` are still the ones read there (no saved tail: nothing to check)."""
    return offset == 0 or not tail or _tail(path, offset) == tail


def _tail(path: str | Path, offset: int) -> bytes:
    """The bytes just before ``offset``: they change when a file is rewritten in place."""
    try:
        with open(path, "rb") as f:
            f.seek(max(offset - TAIL, 0))
            return f.read(min(TAIL, offset))
    except OSError:
        return b""


def read(job: Job, sources: Sources) -> Done:
    """Parse one file (in a worker process or inline). Never raises: errors are reported."""
    path = Path(job.path)
    try:
        result = sources.get(job.agent).parse(path, job.offset, job.state)
    except FileNotFoundError:
        return Done(job, [], job.offset, job.state, {}, b"", "vanished before it could be read")
    except OSError as exc:
        return Done(job, [], job.offset, job.state, {}, b"", f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not stop the other files
        return Done(job, [], job.offset, job.state, {}, b"", f"parser error: {type(exc).__name__}: {exc}")
    seen = result.tail
    if not result.offset:
        tail = b""
    elif seen is not None and seen[0] == job.path and seen[1] == result.offset:
        tail = seen[2]  # the scan read them: no need to open the file again
    else:
        tail = _tail(path, result.offset)
    from hashlib import blake2b  # hashlib loads OpenSSL: only readers need it

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
    return Done(job, list(kept.values()), result.offset, result.state, skips, tail, None)


BAD_EVENT = "event out of range"  # a count outside 0..MAX_COUNT, or a time or order SQLite cannot hold
_INT64 = (0, -1)  # ``x >> 63`` of an int SQLite can hold


def _preload_for_readers(sources: Sources) -> None:
    """What every forked reader would import on its own (~25 ms each): loaded once here, inherited."""
    import hashlib  # noqa: F401
    import pickle  # noqa: F401

    sources.prepare()


def _die_with_parent() -> None:
    """Workers must not outlive a killed parent (Linux: PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before the line above ran
        os._exit(1)


def read_all(jobs: list[Job], sources: Sources) -> list[Done]:
    return [read(j, sources) for j in jobs]


def _chunks(jobs: list[Job], n: int) -> list[list[Job]]:
    """Jobs in groups, largest files first, each group a quarter of what is left per worker but at least
    a 64th of a worker's share: few round trips early, small groups at the end for an even finish."""
    total = sum(j.size for j in jobs)
    floor = max(total // (n * 64), 1)
    chunks: list[list[Job]] = []
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


class Forked:
    """Readers forked from this process: no multiprocessing machinery to import, only results to pickle.

    Each reader takes chunk numbers from one shared pipe (whole 4-byte writes, so reads never
    split one), appends each chunk's pickled results to its own anonymous scratch file and
    sends the offset and length on its own pipe. A pipe holds thousands of such notes, so no
    reader ever waits for this process, however busy it is (loading the price data, say).
    Whatever a reader that died did not hand back is read here, in this process.
    """

    def __init__(self, chunks: list[list[Job]], n: int, sources: Sources) -> None:
        self.chunks = chunks
        self.sources = sources
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
                    _serve(chunks, sources, tasks_r, w, scratch)
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

    def __iter__(self) -> Iterator[Done]:
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
                yield from (read(j, self.sources) for j in jobs)

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


def _serve(chunks: list[list[Job]], sources: Sources, tasks: int, notes: int, scratch: int) -> None:
    import pickle

    at = 0
    while len(task := os.read(tasks, 4)) == 4:
        chunk = int.from_bytes(task, "little")
        data = pickle.dumps(read_all(chunks[chunk], sources), protocol=pickle.HIGHEST_PROTOCOL)
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


class Results:
    """Parsed files as they complete: inline for small work, on every core for large."""

    def __init__(self, jobs: list[Job], sources: Sources, workers: int | None, total_bytes: int) -> None:
        n = workers if workers is not None else (os.cpu_count() or 1)
        self.pool: Any = None
        self.forked: Forked | None = None
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
                _preload_for_readers(sources)
                self.forked = Forked(chunks, n, sources)
                self.iterator: Iterator[Done] = iter(self.forked)
                return
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            self.pool = ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
            )
            self.futures = [self.pool.submit(read_all, c, sources) for c in chunks]
            self.iterator = (d for f in as_completed(self.futures) for d in f.result())
        else:
            self.iterator = (read(j, sources) for j in jobs)

    def __iter__(self) -> Iterator[Done]:
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
