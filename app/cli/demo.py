"""``tokenclub demo``: the app, or its daily report, over a generated month of sample logs.

Everything lives in one temporary folder removed on the way out: the sample home the agents'
logs are written to, and a TokenClub root of its own (``$TOKENCLUB_HOME``: index, settings,
price overrides, hosts and cache), so the user's index, settings, dedicated machines and
keyring entries are never read or written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``demo`` to ``sub``; its handler by command."""
    from app.cli.common import formatter

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="the app over a month of generated sample logs, in a temporary folder of its own",
        description=(
            "Open the desktop app over a month of generated Claude Code, Codex CLI and Gemini CLI logs"
            " (one day past 10M tokens), with an index and settings of its own in a temporary folder"
            " that is removed when the app quits. Your own index, settings and keys are not touched."
        ),
        formatter_class=formatter,
    )
    demo.add_argument(
        "--report", action="store_true", help="print the daily report of the same sample instead (no display needed)"
    )
    return {"demo": cmd_demo}


def cmd_demo(args: argparse.Namespace) -> int:
    from app.cli.common import UsageError
    from app.cli.main import main
    from app.core.demo import write_sample
    from app.core.timezones import local_zone

    if getattr(args, "db", None) or getattr(args, "home", None):
        raise UsageError("demo makes its own index and home; --db and --home do not apply")
    if (args.json or args.csv) and not args.report:
        raise UsageError("--json and --csv apply to demo --report only")
    with tempfile.TemporaryDirectory(prefix="tokenclub-demo-") as tmp:
        base = Path(tmp)
        tz = local_zone()  # the zone the sample's own (default) settings report in
        sample = write_sample(base / "home", tz, datetime.now(tz))
        given = os.environ.get("TOKENCLUB_HOME")
        os.environ["TOKENCLUB_HOME"] = str(base / "tokenclub")
        try:
            where = ["--db", str(base / "tokenclub" / "data" / "index.sqlite"), "--home", str(sample.home)]
            if args.report:
                fmt = ["--json"] if args.json else ["--csv"] if args.csv else []
                return main(["report", "daily", *where, *fmt, *(["--quiet"] if args.quiet else [])])
            print(f"tokenclub: demo: sample logs and index in {tmp}, removed when the app quits", file=sys.stderr)
            return main(["gui", *where])
        finally:
            if given is None:
                os.environ.pop("TOKENCLUB_HOME", None)
            else:
                os.environ["TOKENCLUB_HOME"] = given
