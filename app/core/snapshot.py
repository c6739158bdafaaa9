"""What a refresh that found nothing new saw, so that the next one checks it with one stat per path.

Finding what is new walks every agent's roots (hundreds of directories for a year of logs)
and stats every file. When such a walk finds nothing to read, the index keeps what it saw:
each root that was missing, each directory's identity and mtime, each file's identity, size
and mtime, the environment variables the sources read, and the code that walked. The next
refresh stats exactly those paths. If every answer is the same, the walk would find the same
files, unchanged: a new, renamed or deleted file changes its directory's mtime, an append
changes its file's size and mtime. Then nothing is new and the walk is skipped.

A directory changed within the last two seconds is not trusted (two changes within one tick
of a coarse clock share an mtime): no snapshot is kept then.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from app.core.env import Env
from app.core.memo import code_stamp

FORMAT = "tokenclub-snapshot 1"
RACY_NS = 2_000_000_000


class RecordingEnv(Env):
    """An ``Env`` that notes every variable the sources read (the roots depend on nothing else)."""

    __slots__ = ("read",)

    def __init__(self, env: Env) -> None:
        super().__init__(env.home, env.environ)
        self.read: dict[str, str | None] = {}

    def var(self, name: str) -> str | None:
        value = super().var(name)
        self.read[name] = value
        return value


class Walk:
    """What one walk looked at: its roots and every directory under them, each stated *before* the sources
    list them (so a file created meanwhile either is found or changes what was recorded), and each file
    the walk stated (None: missing)."""

    __slots__ = ("lines", "files", "newest")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.files: dict[str, tuple[int, int, int, int] | None] = {}
        self.newest = 0  # the latest directory mtime seen

    def look(self, roots: Iterable[Path]) -> None:
        for root in sorted(set(map(str, roots))):
            try:
                st = os.stat(root)
            except OSError:
                self.lines.append(f"A\t\t{root}")
                continue
            if not os.path.isdir(root):
                self.lines.append(f"F\t{_file(st)}\t{root}")
                continue
            for path, dst in _directories(root, st):
                self.lines.append(f"D\t{dst.st_ino}:{dst.st_mtime_ns}\t{path}")
                self.newest = max(self.newest, dst.st_mtime_ns)


def build(env: RecordingEnv, scope: str, walk: Walk) -> str | None:
    """The snapshot of ``walk``, or None when it cannot be trusted."""
    lines = [FORMAT, _key(env.home, scope, code_stamp()), _variables(env.read), *walk.lines]
    if walk.newest >= time.time_ns() - RACY_NS:
        return None
    for path, stat in walk.files.items():
        lines.append(f"A\t\t{path}" if stat is None else f"F\t{stat[0]}:{stat[1]}:{stat[2]}:{stat[3]}\t{path}")
    if any("\n" in line for line in lines):
        return None  # a path with a newline in it: not worth a format that can hold one
    return "\n".join(lines)


def holds(text: str, env: Env, scope: str) -> int | None:
    """How many files ``text`` saw, if every path still answers as it did for this env and scope (else None)."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[0] != FORMAT:
        return None
    names = [item.partition("=")[0] for item in lines[2].split("\x1f") if item]
    if lines[1] != _key(env.home, scope, code_stamp()) or lines[2] != _variables({n: env.var(n) for n in names}):
        return None
    stat = os.stat
    files = 0
    for line in lines[3:]:
        parts = line.split("\t", 2)
        if len(parts) != 3:
            return None  # not what ``build`` writes: walk, and the walk keeps a sound one
        kind, want, path = parts
        try:
            st = stat(path)
        except OSError:
            if kind == "A":
                continue
            return None
        if kind == "F":
            if _file(st) != want:
                return None
            files += 1
        elif kind == "A" or f"{st.st_ino}:{st.st_mtime_ns}" != want:
            return None
    return files


def _key(home: Path, scope: str, stamp: str) -> str:
    return f"{home}\x1f{scope}\x1f{stamp}"


def _variables(read: Mapping[str, str | None]) -> str:
    return "\x1f".join(f"{name}={read[name] or ''}" for name in sorted(read))


def _file(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _directories(root: str, root_stat: os.stat_result) -> Iterator[tuple[str, os.stat_result]]:
    """``root`` and every directory under it, through links too (a source's glob follows them), each once."""
    yield root, root_stat
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [root]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        if not entry.is_dir():
                            continue
                        st = entry.stat()
                    except OSError:
                        continue
                    if (st.st_dev, st.st_ino) not in visited:
                        visited.add((st.st_dev, st.st_ino))
                        stack.append(entry.path)
                        yield entry.path, st
        except OSError:
            continue
