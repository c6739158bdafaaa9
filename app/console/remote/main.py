"""The helper's entry: serve requests on stdin until it ends, or supervise one run (``--supervise ID``)."""

import json
import sys

from .files import op_backup, op_read, op_scan  # noqa: F401 - verbs: serve finds them by name
from .frames import _send
from .hostcheck import op_info, op_preflight  # noqa: F401
from .runs import op_events, op_kill, op_launch, op_rates, op_runs  # noqa: F401
from .supervisor import supervise


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
