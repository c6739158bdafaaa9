"""The run verbs: ``launch`` (a run folder and its supervisor), ``runs``, ``events``, ``kill``, ``rates``."""

import json
import os
import sys

from .frames import _send
from .processes import GRACE_S, _start_time, terminate
from .supervisor import FINAL, TAIL, _last_lines, _read_json, _run_dir, _runs_root, _write_json


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
