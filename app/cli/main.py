"""``tokenclub``: the command line over the same core the desktop app uses.

Every report refreshes the index first (reading only what is new), then prints a table,
``--json`` or ``--csv``. With no command, the desktop app starts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from app import __version__
from app.cli import club, demo, hosts, limits, providers, report, sessions
from app.cli.common import UsageError, formatter, options, settle
from app.core import paths
from app.core.pricing import PriceError
from app.core.schema import IndexBusy, IndexUnavailable, explain
from app.core.timezones import ZoneError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenclub", description=__doc__.splitlines()[0], parents=[options()], formatter_class=formatter
    )
    parser.add_argument("--version", action="version", version=f"tokenclub {__version__}")
    common = options(sub=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    COMMANDS.update(report.register(sub, common))  # report, sources, refresh, prices
    sub.add_parser("gui", parents=[common], help="start the desktop app (the default)", formatter_class=formatter)
    COMMANDS.update(providers.register(sub, common))  # keys, provider; report --threshold
    COMMANDS.update(club.register(sub, common))  # club export, merge, verify, card
    COMMANDS.update(hosts.register(sub, common))  # host; refresh --host/--local-only; report --device
    COMMANDS.update(sessions.register(sub, common))  # session launch, list, tail, kill
    COMMANDS.update(limits.register(sub, common))  # limits, statusline; report blocks
    COMMANDS.update(demo.register(sub, common))  # demo
    return parser


def entry() -> NoReturn:
    """The ``tokenclub`` command (and ``python -m app``): ``main``, then out without the interpreter's teardown.

    Freeing every module and object on the way out took a seventh of a warm report. Once the
    output is flushed nothing is left to do: the index is closed, readers are reaped, and no
    exit handler of ours is pending. The desktop app exits the usual way, letting Qt clean up.
    """
    code = main()
    if "PySide6" in sys.modules:
        sys.exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (``| head``): it read all it wanted
        pass
    except OSError as exc:  # a full disk under ``> file``: the output is not all there
        print(f"tokenclub: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        code = code or 1
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settle(args)
    except UsageError as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 2
    if args.command in (None, "gui"):
        from app.cli import display

        why = display.problem()
        if why is not None:
            sys.stderr.write(display.message(why))
            return 2
        try:
            from app.gui.app import run  # the desktop app: one of the two places this face reaches the other
        except ImportError:  # a build without the desktop app: show the daily report
            given = list(sys.argv[1:] if argv is None else argv)
            args = build_parser().parse_args([*(a for a in given if a != "gui"), "report", "daily"])
        else:
            return run(args.db, args.home)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ZoneError) as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 2
    except (IndexBusy, IndexUnavailable, PriceError, OSError) as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # met while reading (a damaged page) or writing (a full disk)
        failure = explain(getattr(args, "db", None) or paths.default_db(), exc)
        if failure is None:
            raise
        print(f"tokenclub: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ntokenclub: interrupted; what was indexed so far is kept, run again to continue",
            file=sys.stderr,
        )
        return 130
