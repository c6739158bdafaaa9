"""The wire: a request is one JSON line; an answer is a JSON line and the raw bytes it announces.

TokenClub's helper on a dedicated machine is one standard-library file, Python 3.8 or newer,
joined from this package's modules (``app.console.remote.joined``).

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

import json

# shutil, subprocess and tempfile are imported by the verbs that use them: a pull with
# nothing new starts this file, answers info and scan, and ends, on every refresh


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
