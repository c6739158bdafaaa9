"""The ``tokenclub`` command's first step: the status line at once, every other command through ``app.cli.main``.

Claude Code runs ``tokenclub statusline`` after every message. Building the whole command line
(every command's module and parser) was most of its time, so a status line whose options are
spelled plainly (``--db PATH``, ``--budget=0``) is answered here; anything else (help, an
abbreviated or bad option, ``--home`` without ``--db``) goes through the full parser, which
prints the same line or the same error as ever.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

_VALUES = ("--db", "--home", "--wait", "--budget")  # --budget is the command's own: after it only
_FLAGS = ("--json", "--csv", "--progress", "--quiet", "-q")


def entry() -> NoReturn:
    """The ``tokenclub`` command (and ``python -m app``)."""
    plain = statusline_options(sys.argv[1:])
    if plain is None:
        from app.cli.main import entry as full

        full()
    from app.cli.statusline import answer

    sys.stdout.write(answer(*plain) + "\n")
    code = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early: it read all it wanted
        pass
    except OSError:  # nowhere to write the line: nothing else to do
        code = 1
    os._exit(code)  # as ``app.cli.main.entry``: no teardown once the line is out


def statusline_options(argv: Sequence[str]) -> tuple[str | None, str | None, float] | None:
    """``--db``, ``--home`` and ``--budget`` of a plain ``statusline`` command line, or None for the full parser."""
    command = False
    values: dict[str, str] = {}
    flags: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg == "statusline" and not command:
            command = True
        elif arg in _FLAGS:
            flags.add(arg)
        elif name in _VALUES and (command or name != "--budget"):
            if not eq:
                if i + 1 == len(argv):
                    return None
                i += 1
                value = argv[i]
            if not value or value.startswith("-"):
                return None  # argparse's own reading (a negative number, a missing value) decides
            values[name] = value
        else:
            return None
        i += 1
    if not command or {"--json", "--csv"} <= flags:
        return None
    home, db = values.get("--home"), values.get("--db")
    if home is not None and (db is None or not os.path.isdir(home)):
        return None  # an index of the home's own, or its error: the full parser's
    from app.cli.statusline import STATUS_BUDGET_MAX_S, STATUS_BUDGET_S

    try:
        budget = float(values.get("--budget", str(STATUS_BUDGET_S)))
        wait = float(values.get("--wait", "0"))
    except ValueError:
        return None
    if not (0 <= wait <= 86_400 and 0 <= budget <= STATUS_BUDGET_MAX_S):
        return None  # the full parser names what is out of range
    return db, home, budget
