"""File pulling: the ``scan`` of roots and the ``read`` and ``backup`` of byte ranges, in frames."""

import contextlib
import json
import os
import sys
import zlib

from .frames import CHUNK, _send


def _walk(root, files, errors):
    stack = [root]
    while stack:
        top = stack.pop()
        try:
            it = os.scandir(top)
        except OSError as exc:
            errors.append([top, exc.strerror or str(exc)])
            continue
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    st = entry.stat()  # through a link: what a reader would open
                except OSError as exc:
                    errors.append([entry.path, exc.strerror or str(exc)])
                    continue
                if not os.access(entry.path, os.R_OK):
                    errors.append([entry.path, "permission denied"])
                    continue
                files.append([entry.path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev])


def op_scan(req, out):
    files, errors, missing = [], [], []  # type: list[list[object]], list[list[str]], list[str]
    for root in req["roots"]:
        try:
            st = os.stat(root)
        except OSError:
            missing.append(root)
            continue
        if os.path.isdir(root):
            _walk(root, files, errors)
        elif not os.access(root, os.R_OK):
            errors.append([root, "permission denied"])
        else:
            files.append([root, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev])
    _send(out, {"ok": True, "files": files, "errors": errors, "missing": missing})


class _Broken(BaseException):
    """A frame promised bytes the file no longer has: the session ends (the workstation pulls again)."""


_SENDFILE = hasattr(os, "sendfile") and sys.platform.startswith("linux")


def _sendfile(out, f, pos, k):
    """``k`` bytes of ``f`` from ``pos`` straight into the pipe (no copy through Python)."""
    out.flush()
    fd, src, done = out.fileno(), f.fileno(), 0
    while done < k:
        n = os.sendfile(fd, src, pos + done, k - done)
        if n == 0:
            raise _Broken("the file shrank while it was sent")
        done += n


def _stream(out, i, path, offset, length, level):
    """Frames of ``path`` from ``offset`` (``length`` bytes, or to the end when None), then its stat."""
    sent = 0
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if level == 0 and _SENDFILE:
            while length is None or sent < length:
                size = os.fstat(f.fileno()).st_size
                k = min(CHUNK, size - offset - sent, CHUNK if length is None else length - sent)
                if k <= 0:
                    break
                out.write(json.dumps({"i": i, "raw": k, "n": k}, separators=(",", ":")).encode() + b"\n")
                try:
                    _sendfile(out, f, offset + sent, k)
                except OSError as exc:  # the frame's promise cannot be kept: end the session
                    raise _Broken(f"sendfile failed: {exc}") from None
                sent += k
            _send(
                out,
                {"i": i, "done": True, "read": sent, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino},
            )
            return
        f.seek(offset)
        while length is None or sent < length:
            want = CHUNK if length is None else min(CHUNK, length - sent)
            block = f.read(want)
            if not block:
                break
            sent += len(block)
            _send(out, {"i": i, "raw": len(block)}, zlib.compress(block, level) if level else block)
    _send(out, {"i": i, "done": True, "read": sent, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino})


def op_read(req, out):
    level = int(req.get("level", 1))
    for i, item in enumerate(req["files"]):
        try:
            _stream(out, i, item["path"], int(item.get("offset", 0)), item.get("length"), level)
        except OSError as exc:
            _send(out, {"i": i, "error": exc.strerror or str(exc)})
    _send(out, {"ok": True, "z": level})


def op_backup(req, out):
    """Each database, copied consistently (SQLite's backup API) into a scratch file, then sent whole."""
    import sqlite3
    import tempfile

    level = int(req.get("level", 1))
    for i, item in enumerate(req["files"]):
        fd, tmp = tempfile.mkstemp(prefix=".tokenclub-backup-")
        os.close(fd)
        try:
            src = sqlite3.connect("file:" + item["path"] + "?mode=ro", uri=True, timeout=10)
            try:
                dst = sqlite3.connect(tmp)
                try:
                    src.backup(dst)
                    dst.execute("PRAGMA journal_mode = DELETE")  # the copy stands alone, without a -wal
                finally:
                    dst.close()
            finally:
                src.close()
            _stream(out, i, tmp, 0, None, level)
        except (OSError, sqlite3.Error) as exc:
            _send(out, {"i": i, "error": f"{type(exc).__name__}: {exc}"})
            continue
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _send(out, {"ok": True, "z": level})
