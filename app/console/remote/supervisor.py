"""The supervisor: runs the agent (once, or in a loop with a check), counts its tokens, enforces budgets.

A run lives in a folder of its own under $XDG_STATE_HOME/tokenclub/runs/<id>: spec.json (what
to run), goal (the prompt, 0600; never an argument of any process), state.json (status, reason,
tokens, heartbeat: rewritten whole, atomically), events.jsonl (the agent's stdout), stderr.log,
iterations.jsonl, check.log, and ``kill`` once a stop is asked for. The supervisor is the helper
run as ``--supervise ID``; it outlives the ssh connection and is the only writer of state.json
while it lives. Every process of a run carries TOKENCLUB_RUN=<id>:<nonce> in its environment,
and the supervisor is their subreaper, so a descendant that starts its own session and clears
nothing is still found, and only processes carrying the run's own nonce are ever signalled.
"""

import json
import os

from .processes import RUN_ENV, _agent_path, _members, _reap_any, _set_subreaper, _start_time, terminate
from .streams import _Usage, plan_window

FINAL = ("finished", "failed", "crashed", "killed", "over-budget")
EVENTS_CAP = 64 << 20  # stdout kept per run; past it lines are still counted, not stored
NO_PROGRESS_LIMIT = 3  # loop iterations in a row without a new commit or a changed file
TAIL = 4096  # bytes of output kept for a reason or for the next iteration's prompt
WINDOW_EVERY_S = 10.0  # how often a --stop-at-window run's rollout is read for its plan's use
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
        self.last_active = time.monotonic()
        self.cpu_mark = 0
        self.cpu_total = 0
        self.stopping = None  # (status, reason) once a kill or a budget ends the run
        self._window_read = float("-inf")  # when the plan's window was last read (--stop-at-window)
        self.events_bytes = 0
        self.dropped = 0
        self.notes_shown = 0  # the usage notes already in the run's events
        self.agent = None
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
