"""``/proc`` process control: a run's processes found by their marker or ancestry, signalled, reaped."""

import contextlib
import os

RUN_ENV = "TOKENCLUB_RUN"
GRACE_S = 5.0  # between TERM and KILL

# where agent CLIs are installed besides a non-login shell's PATH
EXTRA_BIN = ("~/.local/bin", "~/.npm-global/bin", "~/.bun/bin", "~/.claude/local", "~/.opencode/bin", "/usr/local/bin")


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
