"""TokenClub's helper on a dedicated machine: one standard-library file, Python 3.8 or newer.

TokenClub copies this file to the host under its content hash and runs it over ssh. It
speaks frames on stdin and stdout: a request is one JSON line; every answer is a JSON line
whose ``n`` (default 0) says how many raw bytes follow it. Paths, prompts and keys travel
only in these frames, never on a command line. One process serves requests until stdin
ends. Verbs are functions named ``op_<verb>``; the console adds its own the same way.

Verbs:
    info: machine id, OS, Python, free disk in the home, the home, the env vars asked for,
        and each agent CLI asked for on PATH with its version.
    scan: every regular file under the given roots (path, size, mtime_ns, ino, dev), the
        roots missing, and what could not be read.
    read: byte ranges of files, zlib-compressed in frames of at most 1 MiB raw.
    backup: a consistent copy of an SQLite database (the backup API), then sent as ``read``.
"""

import contextlib
import json
import os
import sys
import zlib

# shutil, subprocess and tempfile are imported by the verbs that use them: a pull with
# nothing new starts this file, answers info and scan, and ends, on every refresh

PROTOCOL = 1
CHUNK = 4 << 20


def _send(out, header, payload=b""):
    if payload:
        header["n"] = len(payload)
    out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
    if payload:
        out.write(payload)


def _machine_id():
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            continue
    return None


def op_info(req, out):
    home = os.path.expanduser("~")
    try:
        vfs = os.statvfs(home)
        free, total = vfs.f_bavail * vfs.f_frsize, vfs.f_blocks * vfs.f_frsize  # type: int | None, int | None
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        free = total = None
    env = {name: os.environ.get(name) for name in req.get("env", [])}
    clis = {}
    if req.get("clis"):
        import shutil
        import subprocess
    for name in req.get("clis", []):
        where = shutil.which(name)
        version = None
        if where:
            try:
                done = subprocess.run(
                    [where, "--version"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=float(req.get("cli_timeout", 5)),
                )
                lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
                version = lines[0][:120] if lines else None
            except (OSError, subprocess.TimeoutExpired) as exc:
                version = f"error: {type(exc).__name__}"
        clis[name] = {"path": where, "version": version}
    uname = os.uname()
    _send(
        out,
        {
            "ok": True,
            "protocol": PROTOCOL,
            "machine_id": _machine_id(),
            "hostname": uname.nodename,
            "os": f"{uname.sysname} {uname.release}",
            "python": ".".join(map(str, sys.version_info[:3])),
            "home": home,
            "disk_free": free,
            "disk_total": total,
            "env": env,
            "clis": clis,
        },
    )


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


def serve(inp, out):
    while True:
        line = inp.readline()
        if not line:
            return
        try:
            req = json.loads(line.decode("utf-8"))
            handler = globals().get("op_" + str(req.get("op")))
            if handler is None:
                _send(out, {"ok": False, "error": f"unknown verb {req.get('op')!r}"})
            else:
                handler(req, out)
        except Exception as exc:  # one bad request must not end the session
            _send(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        out.flush()


def main():
    if sys.version_info < (3, 8):  # noqa: UP036 - the host's Python, not ours
        version = ".".join(map(str, sys.version_info[:3]))
        sys.stdout.write(json.dumps({"ok": False, "error": "python " + version + " is too old (3.8+)"}))
        sys.exit(4)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
