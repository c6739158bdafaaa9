"""What a host answers, checked before it is used: paths confined to what was asked, reads bounded.

A dedicated machine runs agents on untrusted input, so whatever its helper sends is treated as
hostile. ``ssh.Session`` bounds the wire (header lines, frame lengths, decompression); this
module checks what the answers mean, in one place, before anything touches the workstation:

* ``info``: the home is an absolute normalised path; each env value asked for is a string whose
  absolute parts are normalised and whose relative parts have no ``..``; the roots built from
  them are absolute and normalised.
* ``scan``: at most ``MAX_SCAN_FILES`` entries of ``[path, size, mtime_ns, ino, dev]``, each path
  absolute, normalised (no ``..``, ``.`` or empty component), without NUL, at most
  ``MAX_PATH`` bytes, under one of the roots asked for, and no path both a file and a folder.
* ``read`` / ``backup``: frames answer the files asked for in order, each closed once; a file
  never brings more than its listed size (less the offset asked for) plus ``FILE_SLACK`` (bytes
  appended since the scan); a whole pull at most the listed sizes plus ``PULL_SLACK``, and at
  most ``frame_budget`` frames.

Anything else is a ``HostError`` of kind ``protocol`` that names the reason, raised before the
mirror is touched (for ``info`` and ``scan``) or ending the pull (for reads): the index is
only refreshed after a pull that finished.

``Mirror`` builds local paths only from checked remote paths, and refuses to write through a
symlink or a non-folder anywhere under the host's mirror (checked with the resolved real path).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from app.console.ssh import HostError, shown

MAX_PATH = 4096  # bytes of a remote path (Linux's PATH_MAX)
MAX_NAME = 255  # bytes of one component (NAME_MAX)
MAX_SCAN_FILES = 100_000  # files under an agent's roots; a scan answer line is also capped (ssh.LINE_MAX_BIG)
MAX_REASON = 200  # characters of a host's own words kept in a warning
FILE_SLACK = 8 << 20  # bytes a file may have grown between the scan and its read
PULL_SLACK = 64 << 20  # the same, for a whole pull
MIN_FRAME = 64 << 10  # frames are up to 4 MiB; only a file's last ones are smaller
_INT64 = 1 << 63


def protocol(reason: str) -> HostError:
    return HostError(reason, "protocol")


def _is_int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value < high


def path_problem(path: object) -> str | None:
    """Why ``path`` is not an absolute normalised POSIX path we may map into a mirror (None: it is)."""
    if not isinstance(path, str):
        return "not a string"
    if not path.startswith("/") or path.startswith("//"):
        return "not absolute"
    if "\0" in path:
        return "holds a NUL"
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return "not a file name (not encodable)"
    if len(raw) > MAX_PATH:
        return f"longer than {MAX_PATH} bytes"
    if path != "/" and posixpath.normpath(path) != path:
        return "not normalised (an empty, '.' or '..' component)"
    if any(len(part) > MAX_NAME for part in raw.split(b"/")):
        return f"has a component longer than {MAX_NAME} bytes"
    return None


def clean_path(path: str, what: str) -> str:
    why = path_problem(path)
    if why is not None:
        raise protocol(f"{what} {shown(path)}: {why}")
    return path


def under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r if r.endswith("/") else r + "/") for r in roots)


# -- info --------------------------------------------------------------------------------------


def check_info(info: Mapping[str, Any], asked: Iterable[str]) -> dict[str, Any]:
    """``info`` with its home checked and its env reduced to the names asked for, each value checked."""
    if not isinstance(info, Mapping):
        raise protocol("info is not an object")
    clean_path(info.get("home"), "home")  # type: ignore[arg-type]
    env = info.get("env") or {}
    if not isinstance(env, Mapping):
        raise protocol("info's env is not an object")
    kept: dict[str, str] = {}
    for name in asked:
        value = env.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > MAX_PATH * 4 or "\0" in value:
            raise protocol(f"env {name}={shown(value)} is not a path list")
        for part in (p.strip() for p in value.split(",")):
            if part.startswith("/"):
                clean_path(part, f"env {name}")
            elif ".." in part.split("/"):
                raise protocol(f"env {name}={shown(value)} climbs out with '..'")
        kept[name] = value
    return {**info, "env": kept}


def check_roots(roots: Iterable[str]) -> list[str]:
    """The roots built from a host's home and env: absolute and normalised (else nothing is asked)."""
    return [clean_path(r, "root") for r in roots]


# -- scan --------------------------------------------------------------------------------------


def check_scan(answer: Mapping[str, Any], roots: list[str]) -> tuple[dict[str, list[int]], list[tuple[str, str]]]:
    """The scan's files (path -> [size, mtime_ns, ino, dev]) and unreadable paths, or a protocol error."""
    files, errors = answer.get("files"), answer.get("errors", [])
    if not isinstance(files, list) or not isinstance(errors, list):
        raise protocol("a scan answer without its files and errors lists")
    if len(files) > MAX_SCAN_FILES or len(errors) > MAX_SCAN_FILES:
        raise protocol(f"a scan of more than {MAX_SCAN_FILES} files")
    out: dict[str, list[int]] = {}
    exact = set(roots)
    last = ""  # the folder of the last path found strictly under a root: its neighbours are too
    for k, entry in enumerate(files):
        if not (
            isinstance(entry, list)
            and len(entry) == 5
            and _is_int(entry[1], 0, _INT64)
            and _is_int(entry[2], -_INT64, _INT64)
            and _is_int(entry[3], 0, 1 << 64)
            and _is_int(entry[4], 0, 1 << 64)
        ):
            raise protocol(f"scan entry {k} is not [path, size, mtime_ns, ino, dev]: {shown(entry)}")
        path = clean_path(entry[0], "scanned path")
        if not (last and path.startswith(last)):
            if not under(path, roots):
                raise protocol(f"scanned path {shown(path)} is outside the roots asked for")
            last = "" if path in exact else posixpath.dirname(path) + "/"
        out[path] = entry[1:]
    _no_file_is_a_folder(out)
    bad: list[tuple[str, str]] = []
    for entry in errors:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise protocol(f"a scan error entry is not [path, reason]: {shown(entry)}")
        bad.append(
            (shown(entry[0]) if not isinstance(entry[0], str) else entry[0][:MAX_PATH], str(entry[1])[:MAX_REASON])
        )
    return out, bad


def _no_file_is_a_folder(files: Mapping[str, object]) -> None:
    folders: set[str] = set()
    for path in files:
        d = posixpath.dirname(path)
        while d not in folders and d != "/":
            folders.add(d)
            d = posixpath.dirname(d)
    clash = folders.intersection(files)
    if clash:
        raise protocol(f"scanned path {shown(min(clash))} is both a file and a folder")


# -- read and backup ------------------------------------------------------------------------------


def frame_budget(files: int, byte_budget: int) -> int:
    return 16 + 8 * files + byte_budget // MIN_FRAME


def checked_reads(
    frames: Iterable[tuple[dict[str, Any], bytes]], names: list[str], listed: list[int]
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The frames of a ``read``/``backup`` of ``names`` (each expected to bring ``listed`` bytes), checked.

    Each frame is one of: bytes ``{"i", "raw"}``, ``{"i", "done": true}``, ``{"i", "error": str}``;
    files are answered in order, each closed (done or error) once.
    """
    allow = [max(0, n) + FILE_SLACK for n in listed]
    left = sum(max(0, n) for n in listed) + PULL_SLACK
    frames_left = frame_budget(len(names), left)
    got, i = 0, 0
    for header, data in frames:
        frames_left -= 1
        if frames_left < 0:
            raise protocol(f"more than {frame_budget(len(names), left)} frames for {len(names)} files")
        at = header.get("i")
        if at != i or type(at) is not int:
            raise protocol(f"a frame for file {shown(at)} where file {i} of {len(names)} was due")
        if i >= len(names):
            raise protocol(f"a frame for file {i}, of {len(names)} asked for")
        if "error" in header or header.get("done") is True:
            if "error" in header:
                header = {"i": i, "error": str(header["error"])[:MAX_REASON]}
            yield header, b""
            got, i = 0, i + 1
            continue
        if "raw" not in header:
            raise protocol(f"frame {shown(header)} is neither bytes, done nor error")
        got += len(data)
        left -= len(data)
        if got > allow[i]:
            raise protocol(
                f"{names[i]}: more than the {listed[i]} bytes the scan listed (+{FILE_SLACK >> 20} MiB appended since)"
            )
        if left < 0:
            raise protocol(f"a pull past its budget (the listed sizes + {PULL_SLACK >> 20} MiB)")
        yield header, data
    if i != len(names):
        raise protocol(f"the answer ended after {i} of {len(names)} files")


# -- the mirror ---------------------------------------------------------------------------------


class Mirror:
    """A host's mirror: local paths only from checked remote paths, never through a symlink."""

    def __init__(self, root: Path) -> None:
        self.base = str(root)
        self.real = os.path.realpath(root)
        self._ok: set[str] = set()  # remote folders checked (and made) under the mirror

    def path(self, rpath: str) -> str:
        """The local path of a checked remote path: the mirror's own path joined with its components."""
        clean_path(rpath, "path")
        return os.path.join(self.base, *rpath.split("/")[1:])

    def folder(self, rpath: str, create: bool = True) -> bool:
        """Make (or find) ``rpath``'s folder in the mirror; False when it is missing and not ``create``.

        Every component is a real folder (no symlink, no file): else a ``HostError`` (kind ``local``).
        """
        d = posixpath.dirname(rpath)
        if d in self._ok:
            return True
        cur = self.base
        for part in d.split("/")[1:] if d != "/" else []:
            cur = os.path.join(cur, part)
            try:
                mode = os.lstat(cur).st_mode
            except FileNotFoundError:
                if not create:
                    return False
                os.mkdir(cur)
                continue
            if not stat.S_ISDIR(mode):
                what = "symlink" if stat.S_ISLNK(mode) else "file"
                raise HostError(f"the mirror has a {what} at {cur}: refusing to write through it", "local")
        real = os.path.realpath(cur)
        if real != (self.real if d == "/" else self.real + d):
            raise HostError(f"{cur} resolves to {real}, outside the mirror {self.real}", "local")
        self._ok.add(d)
        return True

    def create_empty(self, rpath: str) -> bool:
        """An empty placeholder unless something is there already; True when one was made."""
        self.folder(rpath)
        try:
            fd = os.open(self.path(rpath), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def remove(self, rpath: str) -> None:
        if self.folder(rpath, create=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(rpath))

    def open_rw(self, rpath: str) -> int:
        """The mirror file for writing in place (not through a symlink)."""
        self.folder(rpath)
        return os.open(self.path(rpath), os.O_RDWR | os.O_NOFOLLOW)

    def put(self, tmp: str, rpath: str) -> None:
        """Rename a finished scratch file into place (a symlink there would be replaced, never followed)."""
        self.folder(rpath)
        os.replace(tmp, self.path(rpath))
