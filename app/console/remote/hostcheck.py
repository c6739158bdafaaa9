"""The host check: ``info`` (machine, Python, disk, the agent CLIs and their versions) and ``preflight``."""

import contextlib
import json
import os
import sys

from .frames import PROTOCOL, _send
from .processes import _agent_path
from .streams import _model_name


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
