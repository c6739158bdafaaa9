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
    for name in req.get("clis", [])[:20]:
        where = shutil.which(str(name), path=_agent_path())  # where a run looks for it
        version = _cli_version(where, float(req.get("cli_timeout", 5))) if where else None
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
            "uid": os.getuid(),
        },
    )


def _cli_version(path, timeout):
    """The first line of ``path --version``: at most 4 KiB read, escapes and control characters dropped,
    120 characters kept; the process group is killed at ``timeout``."""
    import re
    import select
    import signal
    import subprocess
    import time

    try:
        proc = subprocess.Popen(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PATH=_agent_path()),
            start_new_session=True,
        )
    except OSError as exc:
        return "error: " + (exc.strerror or type(exc).__name__)
    out, deadline = b"", time.monotonic() + timeout
    assert proc.stdout is not None
    try:
        while len(out) < 4096:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                break
            chunk = os.read(proc.stdout.fileno(), 4096 - len(out))
            if not chunk:
                break
            out += chunk
        if len(out) < 4096:  # it stopped writing: let it exit; a flood is cut at once
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
    finally:
        timed_out = proc.poll() is None and len(out) < 4096
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    clean = "".join(c for c in line if c.isprintable()).strip()[:120]
    return clean or (f"error: no answer in {timeout:g} s" if timed_out else None)


def _read_small(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _jsonc(text):
    """A JSON document that may carry // and /* */ comments and trailing commas (OpenCode's config)."""
    import re

    if text is None:
        return None
    strings_or_comments = r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/'
    text = re.sub(strings_or_comments, lambda m: m.group(1) or "", text, flags=re.S)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _configured_model(agent, cwd):
    """(model, where it was found) as the agent CLI would pick it with no --model, or (None, why not)."""
    import re

    home = os.path.expanduser("~")
    if agent == "codex":
        path = os.path.join(os.environ.get("CODEX_HOME") or os.path.join(home, ".codex"), "config.toml")
        text = _read_small(path) or ""
        top = re.split(r"(?m)^\s*\[", text, maxsplit=1)[0]  # the top-level keys come before any table
        found = re.search(r'(?m)^\s*model\s*=\s*"([^"\n]+)"', top)
        return (found.group(1), path) if found else (None, "no model in " + path)
    if agent == "gemini-cli":
        if os.environ.get("GEMINI_MODEL"):
            return os.environ["GEMINI_MODEL"], "GEMINI_MODEL"
        path = os.path.join(os.environ.get("GEMINI_CLI_HOME") or home, ".gemini", "settings.json")
        doc = _jsonc(_read_small(path)) or {}
        model = doc.get("model")
        name = model.get("name") if isinstance(model, dict) else model
        return (name, path) if _model_name(name) else (None, "no model.name in " + path)
    if agent == "opencode":
        config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        work = os.path.expanduser(cwd or "~")
        candidates = [os.path.join(work, "opencode.jsonc"), os.path.join(work, "opencode.json")]
        if os.environ.get("OPENCODE_CONFIG"):
            candidates.append(os.environ["OPENCODE_CONFIG"])
        names = ("opencode.jsonc", "opencode.json", "config.json")
        candidates += [os.path.join(config_home, "opencode", n) for n in names]
        for path in candidates:  # the project's config first, as OpenCode merges them
            model = (_jsonc(_read_small(path)) or {}).get("model")
            if _model_name(model):
                return model, path
        return None, "no model in the OpenCode configs"
    return None, "named by the agent once it starts"


def op_preflight(req, out):
    """What a launch must know first: the host's user id and the model the agent would use."""
    model, source = _configured_model(str(req.get("agent")), req.get("cwd"))
    model = _model_name(model)
    _send(out, {"ok": True, "uid": os.getuid(), "model": model, "model_source": source})


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


# -- agent runs: the console's supervisor and its verbs ------------------------------------------
#
# A run lives in a folder of its own under $XDG_STATE_HOME/tokenclub/runs/<id>: spec.json (what
# to run), goal (the prompt, 0600; never an argument of any process), state.json (status, reason,
# tokens, heartbeat: rewritten whole, atomically), events.jsonl (the agent's stdout), stderr.log,
# iterations.jsonl, check.log, and ``kill`` once a stop is asked for. The supervisor is this file
# run as ``--supervise ID``; it outlives the ssh connection and is the only writer of state.json
# while it lives. Every process of a run carries TOKENCLUB_RUN=<id>:<nonce> in its environment,
# and the supervisor is their subreaper, so a descendant that starts its own session and clears
# nothing is still found, and only processes carrying the run's own nonce are ever signalled.

RUN_ENV = "TOKENCLUB_RUN"
FINAL = ("finished", "failed", "crashed", "killed", "over-budget")
EVENTS_CAP = 64 << 20  # stdout kept per run; past it lines are still counted, not stored
NO_PROGRESS_LIMIT = 3  # loop iterations in a row without a new commit or a changed file
GRACE_S = 5.0  # between TERM and KILL
TAIL = 4096  # bytes of output kept for a reason or for the next iteration's prompt
WINDOW_EVERY_S = 10.0  # how often a --stop-at-window run's rollout is read for its plan's use
WINDOW_TAIL = 256 << 10  # bytes read from the rollout's end for its last rate_limits
LOGIN_HINTS = (
    "not logged in",
    "please run /login",
    "invalid api key",
    "codex login",
    "auth method",
    "api key",
    "unauthorized",
    "authentication",
)
# where agent CLIs are installed besides a non-login shell's PATH
EXTRA_BIN = ("~/.local/bin", "~/.npm-global/bin", "~/.bun/bin", "~/.claude/local", "~/.opencode/bin", "/usr/local/bin")


def _runs_root():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "tokenclub", "runs")


def _run_dir(rid):
    if not isinstance(rid, str) or not rid or "/" in rid or "\0" in rid or rid.startswith("."):
        raise ValueError(f"bad run id {rid!r}")
    return os.path.join(_runs_root(), rid)


def _write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)


def _read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def _tail_of(path, size=TAIL):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_lines(text, n=5):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(line[:300] for line in lines[-n:])


def _agent_path():
    dirs = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    for extra in EXTRA_BIN:
        d = os.path.expanduser(extra)
        if d not in dirs and os.path.isdir(d):
            dirs.append(d)
    return os.pathsep.join(dirs)


def _live_stat(pid):
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None when the process
    is gone or a zombie (which runs nothing; its parent, or the supervisor, reaps it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return None if fields[0] == b"Z" else fields


def _start_time(pid):
    """The kernel's start time of ``pid`` (guards against a reused pid), or None when it is gone."""
    fields = _live_stat(pid)
    return None if fields is None else int(fields[19])


def _procs():
    """(pid, ppid, cpu ticks, environ) of every live process this user may read."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        fields = _live_stat(pid)
        if fields is None:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        yield pid, int(fields[1]), int(fields[11]) + int(fields[12]), env


def _members(marker, root=None):
    """{pid: cpu ticks} of the run's processes: its marker in their environment, or (when ``root``,
    the supervisor, is given) descended from it."""
    needle = (f"\0{RUN_ENV}={marker}\0").encode()
    table = list(_procs())
    found = {pid: cpu for pid, _, cpu, env in table if needle in b"\0" + env}
    if root is not None:
        parent = {pid: ppid for pid, ppid, _, _ in table}
        cpu_of = {pid: cpu for pid, _, cpu, _ in table}
        for pid in parent:
            seen, p = 0, pid
            while p in parent and seen < 64:
                p, seen = parent[p], seen + 1
                if p == root:
                    found[pid] = cpu_of[pid]
                    break
    return found


def _signal_all(pids, sig):
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _reap_any():
    """Collect exited children (the supervisor is a subreaper); {pid: wait status}."""
    done = {}  # type: dict[int, int]
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done[pid] = status


def terminate(marker, root=None, grace=GRACE_S, on_reap=None):
    """TERM every process of the run, KILL what is left after ``grace``; the count still alive after."""
    import signal
    import time

    members = _members(marker, root)
    _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while members and time.monotonic() < deadline:
        time.sleep(0.05)
        reaped = _reap_any() if root is not None else {}
        if on_reap is not None:
            on_reap(reaped)
        members = _members(marker, root)
        _signal_all(members, signal.SIGTERM)  # a child forked since the last round
    deadline = time.monotonic() + 5
    while members and time.monotonic() < deadline:
        _signal_all(members, signal.SIGKILL)
        time.sleep(0.05)
        reaped = _reap_any() if root is not None else {}
        if on_reap is not None:
            on_reap(reaped)
        members = _members(marker, root)
    return len(members)


def _set_subreaper():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


MAX_COUNT = (1 << 53) - 1  # past this a count is no count (JSON's exact integers end here)
NOTES_CAP = 20


def _model_name(value):
    """A model name read from an agent's output or logs, or None (empty, not a string, a placeholder)."""
    if not isinstance(value, str) or not value.strip() or value.startswith("<"):  # Claude's "<synthetic>"
        return None
    return value.strip()[:200]


def _usd(amount):
    """Dollars with at least two significant digits: $0.0123, $0.001, $1.50 (never $0.00 for a small sum)."""
    import math

    amount = float(amount)
    if amount <= 0 or not math.isfinite(amount):
        return "$0.00"
    places = max(2, 2 - math.floor(math.log10(amount)))
    text = f"{amount:.{places}f}"
    while places > 2 and text.endswith("0"):
        text, places = text[:-1], places - 1
    return "$" + text


class _Usage:
    """Token totals of a run, one entry per model call: from the agent's stream and, where the stream
    reports late, from the agent's own session log. A call seen again replaces its entry, never adds to it."""

    def __init__(self, fmt, input_includes_cache, agent=None, model=None):
        self.fmt = fmt
        self.agent = agent
        self.includes_cache = input_includes_cache
        self.calls = {}  # call key -> (model, [in, cw, cr, out, rsn])
        self.by_model = {}  # type: dict[str, list[int]]
        self.sums = [0, 0, 0, 0, 0]
        self.model = _model_name(model)  # the launch's model until the agent names one
        self.sessions = []
        self.result = None  # {"ok": bool, "text": str} once the agent said it is done
        self.error = None
        self.events = 0
        self.kind = None
        self.notes = []  # impossible counts that were ignored, named
        self._log = None  # [session id, its log file, bytes read]
        self._messages = {}  # type: dict[str, tuple]
        self._gemini_sums = {}  # type: dict[tuple, list[int]]
        self._open = {}  # Claude Code: the calls of the process under way, until its result replaces them
        self._closed = set()  # call keys a result replaced: a late copy never counts again
        self._ended = set()  # sessions whose final totals are in: their logs are read no more
        self._results = 0

    def _session(self, sid):
        if sid and isinstance(sid, str) and sid not in self.sessions and len(self.sessions) < 1000:
            self.sessions.append(sid[:200])

    def _note(self, text):
        if text not in self.notes and len(self.notes) < NOTES_CAP:
            self.notes.append(text)

    def _count(self, d, name):
        """``d[name]`` as a token count, 0 when absent. An impossible one (negative, not a whole number,
        past 2**53-1) is ignored with a note: a count read from an agent is never trusted blindly."""
        v = d.get(name) if isinstance(d, dict) else None
        if v is None:
            return 0
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT:
            return v
        self._note(f"ignored {str(name)[:40]}={str(v)[:40]} in {self.fmt} output: not a token count")
        return 0

    def _learn_model(self, value):
        """The agent named its model: calls counted before under no model move to it."""
        model = _model_name(value)
        if model is None:
            return
        if model == self.model:
            return
        self.model = model
        if not any(self.by_model.get("unknown", ())):
            return
        for key, (was, vals) in list(self.calls.items()):
            if was == "unknown":
                self._add(was, vals, -1)
                self.calls[key] = (model, vals)
                self._add(model, vals, 1)

    def _call(self, key, model, inp, cw, cr, out, rsn=0):
        if key in self._closed:
            return
        model = _model_name(model) or self.model or "unknown"
        vals = [max(0, v) for v in (inp, cw, cr, out, rsn)]
        old = self.calls.get(key)
        if old is not None and sum(vals[:4]) < sum(old[1][:4]):
            return  # a streamed snapshot only grows
        self.calls[key] = (model, vals)
        if old is not None:
            self._add(old[0], old[1], -1)
        self._add(model, vals, 1)

    def _drop(self, key):
        """A call replaced by a total that holds it: out of the sums, and never counted again."""
        old = self.calls.pop(key, None)
        if old is not None:
            self._add(old[0], old[1], -1)
        self._closed.add(key)

    def _add(self, model, vals, sign):
        """Keep the running sums per model and in all (a replaced call is taken out first)."""
        acc = self.by_model.setdefault(model, [0, 0, 0, 0, 0])
        for i, v in enumerate(vals):
            acc[i] += sign * v
            self.sums[i] += sign * v

    def feed(self, line):
        try:
            ev = json.loads(line)
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        self.events += 1
        kind = ev.get("type")
        self.kind = str(kind)[:40]
        getattr(self, "_" + self.fmt, self._text)(ev, kind)

    def _text(self, ev, kind):
        pass

    def _claude(self, ev, kind):  # Claude Code and Qwen Code: stream-json
        self._session(ev.get("session_id"))
        if kind == "system" and ev.get("model"):
            self._learn_model(ev["model"])
        elif kind == "assistant":
            msg = ev.get("message")
            if isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
                self._learn_model(msg.get("model"))
                self._claude_usage(str(msg.get("id") or f"#{self.events}")[:200], msg.get("model"), msg["usage"])
        elif kind == "result":
            ok = ev.get("subtype") == "success" and not ev.get("is_error")
            self.result = {"ok": ok, "text": str(ev.get("result") or ev.get("subtype") or "")[:500]}
            self._claude_result(ev)

    def begin(self):
        """A new agent process: a result replaces only the messages of its own process."""
        self._open = {}

    def _claude_usage(self, key, model, u):
        """One message's usage. Claude Code streams a message with the usage of its start (its output
        still 1 token or so); its session log and the run's result have the final count."""
        cr = self._count(u, "cache_read_input_tokens")
        inp = self._count(u, "input_tokens") - (cr if self.includes_cache else 0)
        cw, out = self._count(u, "cache_creation_input_tokens"), self._count(u, "output_tokens")
        if key not in self._closed:
            self._open[key] = None
        self._call(key, model, inp, cw, cr, out)

    def _claude_result(self, ev):
        """The process's totals replace its messages counted one by one: Claude Code's per model
        (``modelUsage``, its background calls included), Qwen Code's in ``usage`` (its memory agent's
        calls included, which its stream never shows)."""
        per_model = ev.get("modelUsage")
        if "modelUsage" not in ev and isinstance(ev.get("usage"), dict):
            u = ev["usage"]
            per_model = {
                self.model or "unknown": {
                    "inputTokens": u.get("input_tokens"),
                    "outputTokens": u.get("output_tokens"),
                    "cacheReadInputTokens": u.get("cache_read_input_tokens"),
                    "cacheCreationInputTokens": u.get("cache_creation_input_tokens"),
                }
            }
        if not isinstance(per_model, dict) or not per_model:
            return
        self._results += 1
        run = self.sessions[-1] if self.sessions else str(self._results)  # a repeated result replaces itself
        for key in self._open:
            self._drop(key)
        self._open = {}
        if self.sessions:
            self._ended.add(self.sessions[-1])
        for model, u in list(per_model.items())[:50]:
            if not isinstance(u, dict):
                continue
            cr = self._count(u, "cacheReadInputTokens")
            inp = self._count(u, "inputTokens") - (cr if self.includes_cache else 0)
            cw, out = self._count(u, "cacheCreationInputTokens"), self._count(u, "outputTokens")
            self._call(f"result-{run}|{str(model)[:200]}", model, inp, cw, cr, out)

    def _codex(self, ev, kind):  # codex exec --json
        if kind == "thread.started":
            self._session(ev.get("thread_id"))
        elif kind == "turn.completed":
            self._thread_total(ev.get("usage") or {})  # the thread's cumulative usage, as its log's
            self.result = {"ok": True, "text": ""}
        elif kind == "turn.failed":
            err = ev.get("error") or {}
            self.result = {"ok": False, "text": str(err.get("message") or err)[:500]}
        elif kind == "error":
            self.error = str(ev.get("message") or "")[:500]

    def _thread_total(self, u):
        """A Codex thread's cumulative usage (input includes the cached part): one call key per thread,
        replaced as it grows, so the stream's end and its log's running totals never add up twice."""
        cached = self._count(u, "cached_input_tokens")
        key = "thread-" + (self.sessions[-1] if self.sessions else str(len(self.calls)))
        inp = self._count(u, "input_tokens") - cached
        out, rsn = self._count(u, "output_tokens"), self._count(u, "reasoning_output_tokens")
        self._call(key, None, inp, 0, cached, out, rsn)

    def live_log(self):
        """What the current session's own log has gained since last time: Codex's and Gemini CLI's streams
        report usage only at the end, Claude Code's only at each message's start; their logs have each
        call's final count. OpenCode's stream never names the model; its messages do."""
        if not self.sessions:
            return
        sid = self.sessions[-1]
        if self.fmt == "opencode":
            if self.model is None:
                self._learn_model(_opencode_model(sid))
            return
        if sid in self._ended or (self.fmt not in ("codex", "gemini") and self.agent != "claude-code"):
            return
        if self._log is None or self._log[0] != sid:
            path = self._find_log(sid)
            if path is None:
                return
            self._log = [sid, path, 0]
        try:
            with open(self._log[1], "rb") as f:
                f.seek(self._log[2])
                data = f.read(8 << 20)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._log[2] += end
        read = {"codex": self._codex_line, "gemini": self._gemini_line, "claude": self._claude_line}[self.fmt]
        for line in data[:end].splitlines():
            if b'"token_count"' in line or b'"turn_context"' in line or b'"tokens"' in line or b'"usage"' in line:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict):
                    read(doc, sid)

    def _find_log(self, sid):
        import glob
        import time

        if self.fmt == "codex":
            home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
            days = (time.strftime("%Y/%m/%d", time.localtime(time.time() - d * 86400)) for d in (0, 1))
            patterns = [os.path.join(home, "sessions", day, "rollout-*-" + glob.escape(sid) + ".jsonl") for day in days]
        elif self.fmt == "claude":
            home = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
            patterns = [os.path.join(glob.escape(home), "projects", "*", glob.escape(sid) + ".jsonl")]
        else:
            home = os.path.join(os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~"), ".gemini")
            patterns = [os.path.join(home, "tmp", "*", "chats", "session-*-" + glob.escape(sid[:8]) + ".jsonl")]
        for pattern in patterns:  # Codex names its folders by the local date the thread began
            found = glob.glob(pattern)
            if found:
                return found[0]
        return None

    def _claude_line(self, doc, sid):
        msg = doc.get("message")
        if (
            doc.get("type") == "assistant"
            and isinstance(msg, dict)
            and msg.get("id")
            and isinstance(msg.get("usage"), dict)
        ):
            self._learn_model(msg.get("model"))
            self._claude_usage(str(msg["id"])[:200], msg.get("model"), msg["usage"])

    def _codex_line(self, doc, sid):
        payload = doc.get("payload") or {}
        if not isinstance(payload, dict):
            return
        if doc.get("type") == "turn_context":
            self._learn_model(payload.get("model"))
        total = (payload.get("info") or {}).get("total_token_usage")
        if isinstance(total, dict):
            self._thread_total(total)

    def _gemini_line(self, doc, sid):
        t = doc.get("tokens")
        if not isinstance(t, dict) or not doc.get("id"):
            return
        model = _model_name(doc.get("model"))
        cached, thoughts = self._count(t, "cached"), self._count(t, "thoughts")
        new = (self._count(t, "input") - cached, cached, self._count(t, "output") + thoughts, thoughts)
        # a message is written again when its tokens arrive: the last copy wins
        key = str(doc["id"])[:200]
        old = self._messages.get(key)
        self._messages[key] = (sid, model, new)
        touched = {(sid, model)}
        if old is not None:
            self._gemini_add(old, -1)
            touched.add(old[:2])
        self._gemini_add((sid, model, new), 1)
        for session, m in touched:
            inp, cr, out, rsn = self._gemini_sums[(session, m)]
            self._call(f"session-{session}|{m or ''}", m, inp, 0, cr, out, rsn)

    def _gemini_add(self, message, sign):
        """A chat message's tokens into (or out of) its session's and model's running sums."""
        acc = self._gemini_sums.setdefault(message[:2], [0, 0, 0, 0])
        for i, v in enumerate(message[2]):
            acc[i] += sign * v

    def _gemini(self, ev, kind):  # gemini --output-format stream-json
        self._session(ev.get("session_id"))
        if kind == "init" and not str(ev.get("model") or "").startswith("auto"):  # "auto": routed per call
            self._learn_model(ev.get("model"))
        elif kind == "result":
            self._gemini_result(ev.get("stats"))
            err = ev.get("error")
            ok = ev.get("status") == "success"
            self.result = {"ok": ok, "text": "" if ok else str((err or {}).get("message") or err or "")[:500]}
        elif kind == "error":
            self.error = str(ev.get("message") or "")[:500]

    def _gemini_result(self, stats):
        """The session's totals per model (the router's calls too, which no log holds) replace its log's.
        Their output leaves the thoughts out; their total holds them."""
        if not isinstance(stats, dict):
            return
        sid = self.sessions[-1] if self.sessions else str(self.events)
        models = stats.get("models")
        rows = list(models.items())[:50] if isinstance(models, dict) and models else [(None, stats)]
        for key in [k for k in self.calls if k.startswith(f"session-{sid}|")]:
            self._drop(key)
        self._ended.add(sid)
        for model, s in rows:
            if not isinstance(s, dict):
                continue
            prompt, cached = self._count(s, "input_tokens"), self._count(s, "cached")
            out, total = self._count(s, "output_tokens"), self._count(s, "total_tokens")
            thoughts = max(0, total - prompt - out)
            key = f"result-{sid}|{str(model or '')[:200]}"
            self._call(key, model, prompt - cached, 0, cached, out + thoughts, thoughts)

    def _opencode(self, ev, kind):  # opencode run --format json
        self._session(ev.get("sessionID"))
        part = ev.get("part") or {}
        if not isinstance(part, dict):
            return
        if kind == "step_finish":
            t = part.get("tokens") or {}
            cache = (t.get("cache") if isinstance(t, dict) else None) or {}
            inp, out, rsn = self._count(t, "input"), self._count(t, "output"), self._count(t, "reasoning")
            cw, cr = self._count(cache, "write"), self._count(cache, "read")
            # newer builds count reasoning apart from output (their total says so); older ones inside it
            apart = self._count(t, "total") >= inp + out + rsn + cw + cr > inp + out + cw + cr
            model = part.get("modelID") or ev.get("modelID")
            key = str(part.get("id") or f"#{self.events}")[:200]
            self._call(key, model, inp, cw, cr, out + (rsn if apart else 0), rsn)
            self.result = {"ok": True, "text": ""}  # opencode ends a run with its last step
        elif kind == "error":
            err = ev.get("error") or {}
            self.error = str((err.get("data") or {}).get("message") or err.get("name") or err)[:500]

    def totals(self):
        return self.sums, {m: v for m, v in self.by_model.items() if any(v)}


def _opencode_model(sid):
    """The model of an OpenCode session, from its messages: the database, else the older JSON files."""
    import glob
    import sqlite3
    from urllib.parse import quote

    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    base = os.path.join(data_home, "opencode")
    docs = []  # type: list[bytes | str]
    for db in sorted(glob.glob(os.path.join(glob.escape(base), "opencode*.db")))[:4]:
        try:
            con = sqlite3.connect("file:" + quote(db) + "?mode=ro", uri=True, timeout=1)
            try:
                q = "SELECT data FROM message WHERE session_id = ? ORDER BY rowid DESC LIMIT 20"
                docs.extend(row[0] for row in con.execute(q, (sid,)))
            finally:
                con.close()
        except sqlite3.Error:
            continue
    folder = os.path.join(glob.escape(base), "storage", "message", glob.escape(sid), "*.json")
    for path in sorted(glob.glob(folder))[-20:]:
        try:
            with open(path, "rb") as f:
                docs.append(f.read(1 << 20))
        except OSError:
            continue
    for raw in docs:
        try:
            doc = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict):
            nested = doc.get("model")
            model = doc.get("modelID") or (nested.get("modelID") if isinstance(nested, dict) else None)
            if _model_name(model):
                return str(model)
    return None


def _cost(by_model, rates):
    """USD at the rates the workstation sent (in, cw, cw1h, cr, out per token); a model without one is
    priced at the dearest rate known, so a budget errs on the safe side. None without any rate."""
    if not rates:
        return None, sorted(by_model)
    dearest = [max(r[i] for r in rates.values()) for i in range(5)]
    cost, unknown = 0.0, []
    for model, (inp, cw, cr, out, _rsn) in by_model.items():
        r = rates.get(model)
        if r is None:
            r = dearest
            unknown.append(model)
        cost += inp * r[0] + cw * r[1] + cr * r[3] + out * r[4]
    return cost, unknown


def plan_window(path, now):
    """``(name, percent)`` of the fullest open window in the last ``rate_limits`` of a Codex rollout, or None.

    A window whose reset is past says nothing of now; a reading of all zeros is passed over.
    """
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - WINDOW_TAIL))
            data = f.read(WINDOW_TAIL)
    except OSError:
        return None
    at = len(data)
    for _ in range(64):
        hit = data.rfind(b'"rate_limits":{', 0, at)
        if hit < 0:
            return None
        start = data.rfind(b"\n", 0, hit) + 1
        stop = data.find(b"\n", hit)
        at = start
        try:
            doc = json.loads(data[start : stop if stop >= 0 else len(data)])
            limits = doc["payload"]["rate_limits"]
        except (ValueError, TypeError, KeyError):
            continue
        found = []
        for name in ("primary", "secondary"):
            w = limits.get(name) if isinstance(limits, dict) else None
            if not isinstance(w, dict):
                continue
            used = w.get("used_percent")
            if isinstance(used, (int, float)) and not isinstance(used, bool) and 0 <= used <= 1000:
                reset = w.get("resets_at")
                if isinstance(reset, (int, float)) and not isinstance(reset, bool) and reset <= now:
                    continue
                found.append((float(used), name))
        if found and max(found)[0] > 0:  # all zeros: Codex's placeholder after a real reading, look further back
            used, name = max(found)
            return name, used
    return None


def _fingerprint(workdir):
    """What the work directory holds: HEAD and the changed files in git, else every file's size and mtime."""
    import hashlib
    import subprocess

    h = hashlib.sha256()
    try:
        head = subprocess.run(
            ["git", "-C", workdir, "rev-parse", "HEAD"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
        status = subprocess.run(
            ["git", "-C", workdir, "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        git = head.returncode == 0 and status.returncode == 0
    except (OSError, subprocess.SubprocessError):
        git = False
    if git:
        h.update(head.stdout + b"\0" + status.stdout)
        names = [e[3:] for e in status.stdout.split(b"\0") if len(e) > 3]
        paths = [os.path.join(workdir, n.decode("utf-8", "surrogateescape")) for n in names]
    else:
        paths = []
        for top, dirs, files in os.walk(workdir):
            dirs[:] = [d for d in dirs if d != ".git"]
            paths.extend(os.path.join(top, f) for f in files)
            if len(paths) > 50000:
                break
    for p in sorted(paths):
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(p.encode("utf-8", "surrogateescape") + b"\0gone\0")
    return h.hexdigest()


class _Supervisor:
    """Runs the agent (once, or in a loop with a check), counts its tokens, enforces the budgets, and
    keeps state.json true; the only writer of the run folder while it lives."""

    def __init__(self, rid):
        import time

        self.rid = rid
        self.dir = _run_dir(rid)
        self.spec = _read_json(os.path.join(self.dir, "spec.json"))
        self.marker = rid + ":" + self.spec["nonce"]
        self.state = _read_json(os.path.join(self.dir, "state.json")) or {}
        self.usage = _Usage(
            self.spec.get("format", "text"),
            bool(self.spec.get("input_includes_cache")),
            self.spec.get("agent"),
            self.spec.get("model"),
        )
        self.rates = {}
        self._rates_mtime = None
        self.t0 = time.time()
        self.mono0 = time.monotonic()
        self.last_active = time.monotonic()
        self.cpu_mark = 0
        self.cpu_total = 0
        self.stopping = None  # (status, reason) once a kill or a budget ends the run
        self._window_read = float("-inf")  # when the plan's window was last read (--stop-at-window)
        self.events_bytes = 0
        self.dropped = 0
        self.notes_shown = 0  # the usage notes already in the run's events
        self.agent = None
        self.wait_status = None
        self._last_write = 0.0

    # -- state ----------------------------------------------------------------

    def write(self, **changes):
        import time

        self.state.update(changes)
        t, by_model = self.usage.totals()
        cost, unknown = _cost(by_model, self.rates)
        self.state.update(
            heartbeat=time.time(),
            tokens={"in": t[0], "cw": t[1], "cr": t[2], "out": t[3], "rsn": t[4], "total": sum(t[:4])},
            by_model=by_model,
            cost_usd=cost,
            priced_at_dearest=unknown if cost is not None else [],
            model=self.usage.model,
            sessions=self.usage.sessions,
            notes=self.usage.notes,
            events=self.usage.events,
            last_event_kind=self.usage.kind,
            events_dropped_bytes=self.dropped,
            cpu_s=round(self.cpu_total / float(os.sysconf("SC_CLK_TCK")), 2),
        )
        _write_json(os.path.join(self.dir, "state.json"), self.state)
        self._last_write = time.monotonic()

    def _load_rates(self):
        path = os.path.join(self.dir, "rates.json")
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return
        if mtime != self._rates_mtime:
            self._rates_mtime = mtime
            self.rates = _read_json(path, {}) or {}

    # -- watching ---------------------------------------------------------------

    def _budget_breach(self):
        import time

        b = self.spec.get("budgets") or {}
        total = sum(self.usage.sums[:4])
        if b.get("tokens") and total >= b["tokens"]:
            return f"used {total} tokens of a {b['tokens']} token budget"
        cost = _cost(self.usage.by_model, self.rates)[0] if b.get("usd") else None
        if b.get("usd") and cost is not None and cost >= b["usd"]:
            return "spent {} of a {} budget".format(_usd(cost), _usd(b["usd"]))
        if b.get("hours") and time.time() - self.t0 >= b["hours"] * 3600:
            return "ran {:.2f} h of a {:.2f} h budget".format((time.time() - self.t0) / 3600, b["hours"])
        log = self.usage._log
        if b.get("window_pct") and log and time.monotonic() - self._window_read >= WINDOW_EVERY_S:
            self._window_read = time.monotonic()
            window = plan_window(log[1], time.time())
            if window is not None and window[1] >= b["window_pct"]:
                return "the Codex plan's {} window is at {:g}% (stop at {:g}%)".format(
                    window[0], window[1], b["window_pct"]
                )
        return None

    def _waiting_input(self, members):
        """An agent process blocked reading a terminal or a named pipe: it waits for an answer."""
        import stat

        for pid in members:
            try:
                with open(f"/proc/{pid}/syscall") as f:
                    call = f.read().split()
            except OSError:
                continue
            if len(call) < 2 or call[0] not in ("0", "63"):  # read(2) on x86-64 and arm64
                continue
            fd = int(call[1], 16)
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                mode = os.stat(f"/proc/{pid}/fd/{fd}").st_mode
            except OSError:
                continue
            if target.startswith(("/dev/pts/", "/dev/tty")) or (stat.S_ISFIFO(mode) and target.startswith("/")):
                return f"blocked reading {target}"
        return None

    def _tick(self, reading_agent):
        """Once a second: CPU, stall, waiting-input, kill requests and budgets."""
        import time

        members = _members(self.marker, os.getpid())
        cpu = sum(members.values())
        if cpu - self.cpu_mark >= 5:  # 50 ms of CPU since the last mark: it works
            self.cpu_mark = cpu
            self.last_active = time.monotonic()
        self.cpu_total = max(self.cpu_total, cpu)
        self._load_rates()
        if reading_agent:
            before = self.usage.sums[:4]
            self.usage.live_log()
            if self.usage.sums[:4] != before:
                self.last_active = time.monotonic()
        if self.stopping is None:
            breach = self._budget_breach()
            if breach:
                self.stopping = ("over-budget", breach)
        if self.stopping is not None:
            return
        status, reason = self.state.get("status"), self.state.get("reason")
        if reading_agent:
            idle = time.monotonic() - self.last_active
            waiting = self._waiting_input(members) if idle >= 2 else None
            if waiting:
                status, reason = "waiting-input", waiting
            elif idle >= float(self.spec.get("stall_s", 600)):
                status, reason = "stalled", f"no event and no CPU for {idle:.0f} s"
            elif self.usage.events:
                status, reason = "running", self._running_reason()
        if status != self.state.get("status") or time.monotonic() - self._last_write >= 1:
            self.write(status=status, reason=reason)

    def _running_reason(self):
        it = self.state.get("iterations", 1)
        cap = self.spec.get("max_iterations")
        head = f"iteration {it} of {cap}, " if cap else ""
        n = self.usage.events
        return f"{head}{n} event{'s' * (n != 1)}, last: {self.usage.kind}"

    def _show_notes(self, events_file):
        """New notes on ignored counts into the run's events, between two of the agent's lines."""
        for note in self.usage.notes[self.notes_shown :]:
            line = json.dumps({"type": "tokenclub_note", "note": note}).encode() + b"\n"
            if self.events_bytes < EVENTS_CAP:
                events_file.write(line)
                self.events_bytes += len(line)
        self.notes_shown = len(self.usage.notes)

    def _watch(self, proc, out_fd, events_file, reading_agent):
        """Until ``proc`` exits (or the run is stopped): its stdout into the run's events, counted."""
        import select
        import time

        pending = b""
        next_tick = 0.0
        kill_file = os.path.join(self.dir, "kill")
        exited = 0.0
        if out_fd is not None:
            os.set_blocking(out_fd, False)
        while True:
            ready = select.select([out_fd], [], [], 0.2)[0] if out_fd is not None else []
            if out_fd is None:
                time.sleep(0.2)
            if ready:
                got = 0
                while got < (8 << 20):  # a flood is drained in slices; the loop keeps ticking
                    try:
                        chunk = os.read(out_fd, 1 << 16)
                    except BlockingIOError:
                        break
                    if not chunk:
                        out_fd = None
                        break
                    got += len(chunk)
                    if self.events_bytes < EVENTS_CAP:
                        events_file.write(chunk)
                        self.events_bytes += len(chunk)
                    else:
                        self.dropped += len(chunk)
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop()
                    before = self.usage.events
                    for line in lines:
                        if line.strip():
                            self.usage.feed(line)
                    if not pending and len(self.usage.notes) > self.notes_shown:
                        self._show_notes(events_file)
                    if self.usage.events != before:
                        self.last_active = time.monotonic()
                        breach = self._budget_breach() if reading_agent else None
                        if breach and self.stopping is None:
                            self.stopping = ("over-budget", breach)
                            break
                        if self.state.get("status") in ("starting", "stalled", "waiting-input") and reading_agent:
                            events_file.flush()
                            self.write(status="running", reason=self._running_reason())
                events_file.flush()
                if self.stopping is not None:
                    break
            for pid, status in _reap_any().items():
                if pid == proc.pid:
                    self.wait_status = status
                    proc.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            if proc.returncode is not None and out_fd is None:
                break
            if proc.returncode is not None:
                exited = exited or time.monotonic()
                if not ready or time.monotonic() - exited > 2:
                    break  # a grandchild holding the pipe open (or still writing) must not keep the run alive
            if os.path.exists(kill_file):  # asked every pass (a fifth of a second), not every tick
                self.stopping = ("killed", "killed on request")
                break
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                self._tick(reading_agent)
                if self.stopping is not None:
                    break
        if pending.strip():
            self.usage.feed(pending)
        events_file.flush()

    # -- running ----------------------------------------------------------------

    def _env(self):
        env = dict(os.environ)
        env[RUN_ENV] = self.marker
        env["PATH"] = _agent_path()
        if self.spec.get("claude_sandbox"):  # the host's own setting: Claude Code may skip permissions as root
            env["IS_SANDBOX"] = "1"
        return env

    def _spawn(self, argv, stdin_path, stdout, stderr, cwd):
        import subprocess

        with open(stdin_path, "rb") as stdin:
            return subprocess.Popen(
                argv, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=self._env(), start_new_session=True
            )

    def _run_agent(self, goal_path, workdir):
        """One agent process; (exit code or None when stopped, its stderr tail)."""
        import shutil
        import subprocess

        argv = list(self.spec["argv"])
        exe = shutil.which(argv[0], path=_agent_path())
        if exe is None:
            return None, f"{argv[0]} is not on the host's PATH (searched {_agent_path()})"
        argv[0] = exe
        err_path = os.path.join(self.dir, "stderr.log")
        with open(os.path.join(self.dir, "events.jsonl"), "ab") as events, open(err_path, "ab") as err:
            self.usage.begin()
            proc = self._spawn(argv, goal_path, subprocess.PIPE, err, workdir)
            self.agent = proc
            self.write(pid=proc.pid)
            assert proc.stdout is not None
            self._watch(proc, proc.stdout.fileno(), events, True)
            proc.stdout.close()
        self.usage.live_log()  # what the agent's log gained after the last tick (Codex's model, its last call)
        return proc.returncode, ""

    def _run_check(self, workdir):
        import subprocess

        log = os.path.join(self.dir, "check.log")
        with open(log, "wb") as out:
            with open(os.devnull, "rb") as null:
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", self.spec["until"]],
                    stdin=null,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env=self._env(),
                    start_new_session=True,
                )
            with open(os.devnull, "ab") as null_out:
                self._watch(proc, None, null_out, False)
        return proc.returncode, _tail_of(log)

    def _goal_for(self, iteration, check_code, check_tail):
        if iteration == 1:
            return os.path.join(self.dir, "goal")
        with open(os.path.join(self.dir, "goal"), "rb") as f:
            goal = f.read()
        note = (
            f"\n\n---\nIteration {iteration}. The check `{self.spec['until']}` still fails (exit {check_code})."
            f" Its last output:\n{check_tail}\n"
        )
        path = os.path.join(self.dir, f"goal-{iteration}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(goal + note.encode("utf-8", "replace"))
        return path

    def _outcome(self, code, before_result):
        """(status, reason) of one agent process that ended on its own."""
        err = _last_lines(_tail_of(os.path.join(self.dir, "stderr.log")))
        res = self.usage.result if self.usage.result is not before_result else None
        text = (res or {}).get("text", "") or self.usage.error or ""
        said = (text + "\n" + err).lower()
        if code != 0 and code is not None and code < 0:
            return "crashed", f"killed by signal {-code} without a final result" + ((": " + err) if err else "")
        if any(h in said for h in LOGIN_HINTS) and (code != 0 or (res and not res["ok"])):
            return "failed", f"not logged in: {_last_lines(text or err, 2)}"
        if code != 0:
            detail = _last_lines(text + "\n" + err)
            return "failed", f"exited with code {code}" + (": " + detail if detail else "")
        if res is None:
            return "crashed", "exited without a final result" + ((": " + err) if err else "")
        if not res["ok"]:
            return "failed", "the agent reported an error: %s" % (_last_lines(text) or "no detail")
        return "finished", "done"

    def run(self):
        import time

        _set_subreaper()
        workdir = self.spec["workdir"]
        self.write(
            status="starting",
            reason="starting {}".format(self.spec["argv"][0]),
            supervisor_pid=os.getpid(),
            supervisor_start=_start_time(os.getpid()),
            iterations=0,
        )
        loop = bool(self.spec.get("until"))
        cap = int(self.spec.get("max_iterations") or 1)
        check_code, check_tail, stale, final = None, "", 0, None
        for iteration in range(1, cap + 1):
            before = _fingerprint(workdir) if loop else None
            self.write(iterations=iteration)
            result_before = self.usage.result
            started = time.time()
            code, missing = self._run_agent(self._goal_for(iteration, check_code, check_tail), workdir)
            leftovers = terminate(self.marker, os.getpid(), on_reap=None)
            entry = {"i": iteration, "started": started, "ended": time.time(), "exit": code, "leftovers": leftovers}
            if missing:
                final = ("failed", "not found: " + missing)
            elif self.stopping is not None:
                final = self.stopping
            else:
                status, reason = self._outcome(code, result_before)
                if status != "finished" or not loop:
                    final = (status, reason if not loop else f"iteration {iteration}: {reason}")
                else:
                    check_code, check_tail = self._run_check(workdir)
                    entry.update(check=check_code, check_tail=_last_lines(check_tail, 3))
                    if self.stopping is not None:
                        final = self.stopping
                    elif check_code == 0:
                        final = (
                            "finished",
                            f"the check passed after {iteration} iteration" + "s"[: iteration > 1],
                        )
                    else:
                        progressed = _fingerprint(workdir) != before
                        entry["progress"] = progressed
                        stale = 0 if progressed else stale + 1
                        if stale >= NO_PROGRESS_LIMIT:
                            final = (
                                "failed",
                                f"no progress in {stale} iterations in a row (no new commit, no changed file)",
                            )
                        elif iteration == cap:
                            final = ("failed", f"the check still fails after {cap} iterations (--max-iterations)")
            with open(os.path.join(self.dir, "iterations.jsonl"), "a") as log:
                log.write(json.dumps(entry) + "\n")
            if final is not None:
                break
        status, reason = final or ("failed", "no iteration ran")
        remaining = terminate(self.marker, os.getpid())
        self.write(
            status=status,
            reason=reason,
            ended=time.time(),
            exit_code=self.agent and self.agent.returncode,
            remaining=remaining,
        )


def supervise(rid):
    """The supervisor's entry: never leaves the run without a final state."""
    import time
    import traceback

    sup = None
    try:
        sup = _Supervisor(rid)
        sup.run()
    except BaseException as exc:  # noqa: B036 - whatever happens, the run ends with a state
        path = os.path.join(_run_dir(rid), "state.json")
        state = _read_json(path, {}) or {}
        marker = (rid + ":" + sup.spec["nonce"]) if sup is not None else None
        remaining = terminate(marker, os.getpid()) if marker else None
        with open(os.path.join(_run_dir(rid), "supervisor.log"), "a") as f:
            f.write(traceback.format_exc())
        state.update(status="crashed", reason=f"the supervisor failed: {type(exc).__name__}: {exc}")
        state.update(ended=time.time(), remaining=remaining)
        _write_json(path, state)


def _user_manager():
    """A systemd user manager that keeps units after logout (lingering), or None."""
    import pwd
    import shutil

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if (
        not runtime
        or not shutil.which("systemd-run")
        or not os.path.exists(os.path.join(runtime, "systemd", "private"))
    ):
        return None
    user = pwd.getpwuid(os.getuid()).pw_name
    if not os.path.exists("/var/lib/systemd/linger/" + user):
        return None  # without lingering, the user manager and its units end with the last login
    return "systemd-run"


def _start_supervisor(rid, d, systemd):
    import subprocess

    argv = [sys.executable or "python3", "-E", "-S", os.path.abspath(__file__), "--supervise", rid]
    if systemd:
        argv = [
            "systemd-run",
            "--user",
            "--quiet",
            "--collect",
            "--unit",
            "tokenclub-run-" + rid,
            "-p",
            "KillMode=control-group",
            "--setenv=PATH=" + os.environ.get("PATH", ""),
            *argv,
        ]
    with open(os.path.join(d, "supervisor.log"), "ab") as log, open(os.devnull, "rb") as null:
        proc = subprocess.Popen(argv, stdin=null, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    if systemd:
        proc.wait(30)  # systemd-run returns once the unit has started


def op_launch(req, out):
    """Create the run folder, start its supervisor, wait (at most ``wait_s``) for the first event or an end."""
    import secrets
    import subprocess
    import time

    spec = dict(req["run"])
    rid = spec.pop("id")
    goal = spec.pop("goal").encode("utf-8")
    os.makedirs(_runs_root(), mode=0o700, exist_ok=True)
    d = _run_dir(rid)
    os.mkdir(d, 0o700)  # fails on a second launch of the same id
    fd = os.open(os.path.join(d, "goal"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(goal)
    now = time.time()
    state = {
        "id": rid,
        "agent": spec["agent"],
        "status": "starting",
        "reason": "launching",
        "started": now,
        "iterations": 0,
    }
    cwd = os.path.expanduser(spec.get("cwd") or "~")
    spec["workdir"] = cwd
    why = None
    if not os.path.isdir(cwd):
        why = f"the work directory {cwd} does not exist on the host"
    elif spec.get("worktree"):
        tree = os.path.join(d, "worktree")
        branch = "tokenclub/" + rid
        done = subprocess.run(
            ["git", "-C", cwd, "worktree", "add", "-q", "-b", branch, tree],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if done.returncode != 0:
            why = "git worktree add failed: " + _last_lines(done.stderr.decode("utf-8", "replace"), 2)
        else:
            spec["workdir"], state["branch"] = tree, branch
    spec["nonce"] = secrets.token_hex(16)
    _write_json(os.path.join(d, "spec.json"), spec)
    if req.get("rates"):
        _write_json(os.path.join(d, "rates.json"), req["rates"])
    state["workdir"] = spec["workdir"]
    if why:
        state.update(status="failed", reason=why, ended=now)
        _write_json(os.path.join(d, "state.json"), state)
        _send(out, {"ok": True, "state": state})
        return
    systemd = _user_manager() is not None
    state["scope"] = f"systemd:tokenclub-run-{rid}.service" if systemd else "session"
    _write_json(os.path.join(d, "state.json"), state)
    _start_supervisor(rid, d, systemd)
    deadline = time.monotonic() + float(req.get("wait_s", 30))
    events = os.path.join(d, "events.jsonl")
    while time.monotonic() < deadline:
        state = _read_json(os.path.join(d, "state.json"), state)
        if state.get("status") != "starting":  # running once the first event is in, or ended
            break
        time.sleep(0.05)
    _send(out, {"ok": True, "state": _checked(rid, state), "first_event": _first_line(events)})


def _first_line(path):
    try:
        with open(path, "rb") as f:
            line = f.readline(TAIL)
    except OSError:
        return None
    if not line.endswith(b"\n"):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return line.decode("utf-8", "replace").strip()


def _checked(rid, state):
    """A state as the supervisor left it, or ``crashed`` when its supervisor is gone without an end."""
    import time

    if state.get("status") in FINAL:
        return state
    pid, start = state.get("supervisor_pid"), state.get("supervisor_start")
    if pid is None:
        # not started yet, or it died before its first write
        if time.time() - float(state.get("started", 0)) < 30:
            return state
    elif _start_time(int(pid)) == start:
        return state
    path = os.path.join(_run_dir(rid), "state.json")
    spec = _read_json(os.path.join(_run_dir(rid), "spec.json"), {}) or {}
    remaining = terminate(rid + ":" + spec["nonce"]) if spec.get("nonce") else None
    state = _read_json(path, state) or state
    if state.get("status") in FINAL:  # it ended as we looked
        return state
    beat = state.get("heartbeat")
    ago = f" (last heartbeat {time.time() - beat:.0f} s ago)" if beat else ""
    state.update(
        status="crashed",
        reason="the supervisor is gone without a final state" + ago,
        ended=time.time(),
        remaining=remaining,
    )
    _write_json(path, state)
    return state


def op_runs(req, out):
    """Every run's state (or those named in ``ids``), with the size of its event stream."""
    root = _runs_root()
    try:
        names = sorted(os.listdir(root))
    except OSError:
        names = []
    wanted = set(req["ids"]) if req.get("ids") else None
    since = int(req.get("since_ns", 0))
    runs, ids = [], []
    for rid in names:
        if rid.startswith(".") or (wanted is not None and rid not in wanted):
            continue
        ids.append(rid)
        path = os.path.join(root, rid, "state.json")
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            continue
        state = _read_json(path)
        if state is None:
            continue
        if mtime <= since and state.get("status") in FINAL:
            continue
        state = _checked(rid, state)
        try:
            state["events_size"] = os.stat(os.path.join(root, rid, "events.jsonl")).st_size
        except OSError:
            state["events_size"] = 0
        state["mtime_ns"] = mtime
        runs.append(state)
    _send(out, {"ok": True, "runs": runs, "ids": ids})


def op_events(req, out):
    """The run's event stream from ``offset``, at most ``limit`` bytes, ending on a whole line."""
    path = os.path.join(_run_dir(req["id"]), req.get("stream", "events.jsonl"))
    offset, limit = int(req.get("offset", 0)), int(req.get("limit", 1 << 20))
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:
        size, data = 0, b""
    data = data[: data.rfind(b"\n") + 1]  # whole lines only (none yet: nothing)
    _send(out, {"ok": True, "offset": offset, "next": offset + len(data), "size": size}, data)


def op_kill(req, out):
    """Ask each run's supervisor to stop it (TERM, grace, KILL to the whole tree), all at once, or stop it
    here when its supervisor is gone; then count what is left of each."""
    import time

    grace = float(req.get("grace_s", GRACE_S))
    root = _runs_root()
    try:
        names = sorted(n for n in os.listdir(root) if not n.startswith("."))
    except OSError:
        names = []
    asked = names if req.get("all") else list(req.get("ids") or [])
    runs, results = [], []
    for rid in asked:
        try:
            d = _run_dir(rid)  # an id, never a path: "../x" or "/x" would reach outside the runs
        except (TypeError, ValueError) as exc:
            results.append({"id": str(rid)[:80], "status": "unknown", "remaining": None, "reason": str(exc)[:200]})
            continue
        spec = _read_json(os.path.join(d, "spec.json"))
        state = _read_json(os.path.join(d, "state.json"))
        if spec is None or state is None:
            if not req.get("all"):
                results.append({"id": rid, "status": "unknown", "remaining": None, "reason": "no such run"})
            continue
        if state.get("status") not in FINAL:
            with open(os.path.join(d, "kill"), "a") as f:
                f.write(f"{time.time():f}\n")
        elif req.get("all"):
            continue
        runs.append((rid, d, rid + ":" + spec["nonce"]))
    deadline = time.monotonic() + grace + 10
    states = {}
    while runs and time.monotonic() < deadline:
        states = {rid: _checked(rid, _read_json(os.path.join(d, "state.json"), {})) for rid, d, _ in runs}
        if all(st.get("status") in FINAL for st in states.values()):
            break
        time.sleep(0.05)
    for rid, d, marker in runs:
        remaining = terminate(marker, grace=grace)  # what a dead or slow supervisor left behind
        state = states.get(rid) or {}
        if state.get("status") not in FINAL:
            state.update(status="killed", reason="killed on request (the supervisor did not answer)", ended=time.time())
            _write_json(os.path.join(d, "state.json"), state)
        results.append({"id": rid, "status": state["status"], "reason": state.get("reason"), "remaining": remaining})
    _send(out, {"ok": True, "killed": results})


def op_rates(req, out):
    """More prices for a run's USD budget (models met after the launch)."""
    d = _run_dir(req["id"])
    rates = _read_json(os.path.join(d, "rates.json"), {}) or {}
    rates.update(req["rates"])
    _write_json(os.path.join(d, "rates.json"), rates)
    _send(out, {"ok": True, "models": sorted(rates)})


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
    if len(sys.argv) == 3 and sys.argv[1] == "--supervise":
        supervise(sys.argv[2])
        return
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
