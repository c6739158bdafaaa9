"""``tokenclub statusline``'s answer, reprinted while nothing it shows can have changed.

Claude Code runs the status line after every message and whenever its display updates, and waits
for it. Its answer is computed by ``app.cli.limits`` (index what is new, then today's total, the
5-hour block and the session from the index); this module, which imports next to nothing, keeps
the last answers in a small file and prints one again when all of these are as they were:

* the input's session, model and transcript path, and the command's options and path variables;
* the minute (the line shows times and countdowns to the minute; a new day starts on a new minute);
* this session's transcript (a new message changes it), the index and its write-ahead log (the app
  indexing another agent's calls changes them), the settings and the price overrides: each by
  identity, size and modification time;
* and the answer is at most ``FRESH_S`` old: calls in another agent's or session's logs that nothing
  has indexed yet (the app is not running) show within that.

An answer is kept only if none of those files changed while it was computed, and none changed
so recently that a later change could leave the same modification time (a clock tick, or two
seconds where times are whole seconds). Anything unexpected in the file is a miss, never an error.
"""

from __future__ import annotations

import os
import sys
import time

FORMAT = "tokenclub-statusline 1"
FRESH_S = 5.0
KEEP = 16  # answers kept (one per session and options)
FILE_LIMIT = 256 * 1024
STDIN_LIMIT = 64 * 1024  # Claude Code sends well under 2 KiB
STDIN_WAIT_S = 0.5  # the status line never waits longer for its input
PATH_LIMIT = 4096
RAW_KEPT = 4096  # a longer input is matched by its fields alone, so the file stays small
FALLBACK = "TokenClub: no status"
STATUS_BUDGET_S = 0.5  # the longest refresh of the index before answering; the rest is left to the app
STATUS_BUDGET_MAX_S = 60.0  # a status line that waits longer only holds up Claude Code's
# the variables that decide which index, settings and cache files are read
_VARIABLES = (
    *("HOME", "TOKENCLUB_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "APPDATA", "LOCALAPPDATA"),
    "TZ",
)
_TICK_NS = 20_000_000  # longer than the kernel's clock tick that file times are taken from
_COARSE_NS = 2_000_000_000  # a file system that keeps whole seconds (or two)


def answer(db: str | None, home: str | None, budget: float) -> str:
    """The status line for what Claude Code sends on stdin; any failure is a short fallback line.

    ``db`` and ``home`` are strings: pathlib alone is a third of a reprinted answer's time.
    """
    try:
        return answer_for(db, home, budget, read_stdin())
    except Exception as exc:  # noqa: BLE001  (the status bar gets a line whatever went wrong)
        return f"{FALLBACK} ({type(exc).__name__})"


def answer_for(db: str | None, home: str | None, budget: float, raw: bytes) -> str:
    """The status line for the input ``raw``: a kept answer if it still holds, else a new one (kept if it can be)."""
    now_ns = time.time_ns()
    context = "\x1f".join([FORMAT, db or "", home or "", repr(budget), *(os.environ.get(v, "") for v in _VARIABLES)])
    where = os.path.join(cache_dir(), "statusline")
    kept = load(where)
    raw_hex = raw.hex() if len(raw) <= RAW_KEPT else "-"  # never a hex string
    given: dict[str, str] | None = None
    for entry in kept:
        stamp, minute, ctx, entry_raw, session, model, transcript, deps, line = entry
        if ctx != context or minute != str(now_ns // 60_000_000_000) or not 0 <= now_ns - int(stamp) <= FRESH_S * 1e9:
            continue
        if entry_raw != raw_hex or raw_hex == "-":  # Claude Code's other fields (cost, duration) change each call
            given = parse_input(raw) if given is None else given
            if _fields(given) != [session, model, transcript]:
                continue
        paths = deps.split("\x1f")
        if all(_stat(p) == s for p, s in zip(paths[::2], paths[1::2], strict=True)):
            return line
    given = parse_input(raw) if given is None else given
    from pathlib import Path

    from app.cli import limits

    db_path, home_path = (Path(db) if db else None), (Path(home) if home else None)
    files = limits.status_files(db_path, given.get("transcript"))
    checked = time.time_ns()
    before = [_stat(p) for p in files]
    line, at = limits.status_text(db_path, home_path, budget, given)
    if [_stat(p) for p in files] == before and not _racy(before, checked):
        deps = "\x1f".join(x for pair in zip(files, before, strict=True) for x in pair)
        minute = str(int(at.timestamp()) // 60)
        entry = [str(now_ns), minute, context, raw_hex, *_fields(given), deps, line]
        same = [entry[2], *entry[4:7]]
        store(where, [entry, *(e for e in kept if [e[2], *e[4:7]] != same)][:KEEP])
    return line


def _fields(given: dict[str, str]) -> list[str]:
    return [given.get("session_id", ""), given.get("model", ""), given.get("transcript", "")]


def cache_dir() -> str:
    """Where the answers are kept: under ``$TOKENCLUB_HOME``, else the session's runtime folder, else the cache."""
    base = os.environ.get("TOKENCLUB_HOME")
    if base:
        return os.path.join(base, "cache")
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isabs(run):
        return os.path.join(run, "tokenclub")
    from app.core import paths

    return str(paths.cache_dir())


def load(where: str) -> list[list[str]]:
    """The kept answers, newest first (a missing, foreign or damaged file: none)."""
    try:
        with open(where, "rb") as f:
            data = f.read(FILE_LIMIT + 1)
        text = data.decode()
    except (OSError, UnicodeDecodeError):
        return []
    lines = text.split("\n")
    if len(data) > FILE_LIMIT or lines[0] != FORMAT:
        return []
    return [fields for fields in (line.split("\t") for line in lines[1:]) if _sound(fields)]


def _sound(fields: list[str]) -> bool:
    """An entry as ``store`` writes it: nine fields, a time and a minute, pairs of path and state."""
    numbers = fields[:2]
    return len(fields) == 9 and all(n.isascii() and n.isdigit() for n in numbers) and fields[7].count("\x1f") % 2 == 1


def store(where: str, entries: list[list[str]]) -> None:
    """Replace the file at once (a reader sees the old answers or the new); a failure only loses them."""
    if any(("\t" in f or "\n" in f) for e in entries for f in e):
        return  # a path with a tab or newline in it: not worth a format that can hold one
    tmp = f"{where}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(where), mode=0o700, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join([FORMAT, *("\t".join(e) for e in entries)]))
        os.replace(tmp, where)
    except OSError:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _stat(path: str) -> str:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return "-"
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _racy(states: list[str], at_ns: int) -> bool:
    """Whether a file changed so shortly before ``at_ns`` that a further change could keep its time."""
    for state in states:
        if state != "-":
            mtime = int(state.rpartition(":")[2])
            if at_ns - mtime < (_COARSE_NS if mtime % 1_000_000_000 == 0 else _TICK_NS):
                return True
    return False


def read_stdin(limit: int = STDIN_LIMIT, wait: float = STDIN_WAIT_S) -> bytes:
    """What Claude Code sent, at most ``limit`` bytes, waiting at most ``wait`` seconds (nothing from a terminal)."""
    import select

    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return b""
    if os.isatty(fd):
        return b""
    data = b""
    deadline = time.monotonic() + wait
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def parse_input(raw: bytes) -> dict[str, str]:
    """The fields of Claude Code's status input the line uses (short strings, or absent), and its transcript."""
    import json

    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    model = doc.get("model")
    out = {
        "session_id": doc.get("session_id"),
        "model": (model.get("display_name") or model.get("id")) if isinstance(model, dict) else None,
    }
    given = {k: _printable(v)[:80] for k, v in out.items() if isinstance(v, str) and v}
    transcript = doc.get("transcript_path")
    if isinstance(transcript, str) and 0 < len(transcript) <= PATH_LIMIT and "\x00" not in transcript:
        given["transcript"] = transcript
    return given


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())
