"""What every command shares: the common options, usage errors, the index opened and refreshed, progress.

The command modules' API: they build their parsers with :func:`formatter` and :func:`options`,
and open and refresh the index with :func:`open_index` and :func:`refresh`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.core import paths
from app.core.env import Env
from app.core.index import Index, Progress, RefreshReport
from app.core.schema import IndexBusy
from app.core.settings import Settings
from app.core.settings import load as load_settings
from app.sources import SOURCES, all_sources

WAIT_S = 10.0


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def formatter(prog: str) -> argparse.HelpFormatter:
    """A help formatter that asks ``os``, not ``shutil``, for the terminal's width.

    argparse makes one for every option added, and importing shutil (with bz2 and lzma) was a
    twentieth of a warm run.
    """
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return argparse.HelpFormatter(prog, width=max(columns - 2, 20))


def bounded(kind: Callable[[str], Any], low: float, high: float, unit: str = "") -> Callable[[str], Any]:
    """An argparse type: a number (``int`` or ``float``) from ``low`` to ``high``; anything else exits 2, named."""
    of = f" of {unit}" if unit else ""
    after = f" {unit}" if unit else ""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number{of}: {text!r}") from None
        if not low <= value <= high:  # NaN too
            raise argparse.ArgumentTypeError(f"{text}{after} is out of range ({low:g} to {high:g})")
        return value

    return parse


def options(sub: bool = False) -> argparse.ArgumentParser:
    """Options valid before or after the command; after it they must not reset what came before."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=formatter)
    common.add_argument("--db", type=Path, help="index file")
    common.add_argument(
        "--home",
        type=Path,
        metavar="DIR",
        help="read every agent's default roots under DIR, ignoring env overrides, into an index of DIR's own",
    )
    common.add_argument("--json", action="store_true", help="print JSON")
    common.add_argument("--csv", action="store_true", help="print CSV")
    common.add_argument("--progress", action="store_true", help="show indexing progress even when not on a terminal")
    common.add_argument("--quiet", "-q", action="store_true", help="no warnings on stderr")
    common.add_argument(
        "--wait",
        type=bounded(float, 0, 86_400, "seconds"),
        default=WAIT_S,
        metavar="SECONDS",
        # spelled out: after a command the default is suppressed, and %(default)s would break its --help
        help=f"how long to wait for another process's lock on the index (default: {WAIT_S:g})",
    )
    if sub:
        for action in common._actions:
            action.default = argparse.SUPPRESS
    return common


def settle(args: argparse.Namespace) -> None:
    """Refuse what the parser lets through; give ``--home DIR`` its own index unless ``--db`` names one."""
    if getattr(args, "json", False) and getattr(args, "csv", False):
        raise UsageError("--json and --csv exclude each other: choose one output")
    home: Path | None = getattr(args, "home", None)
    if home is None:
        return
    if not home.exists():
        raise UsageError(f"--home {home}: no such directory")
    if not home.is_dir():
        raise UsageError(f"--home {home}: not a directory")
    if not args.db:
        args.db = home_db(home)


def home_db(home: Path) -> Path:
    """The index of one ``--home``: what a report over it shows came from under it, not from other homes."""
    import hashlib

    where = home.resolve()
    digest = hashlib.sha256(os.fsencode(where)).hexdigest()[:16]
    return paths.data_dir() / "homes" / f"{where.name or 'root'}-{digest}" / "index.sqlite"


def settings(args: argparse.Namespace) -> Settings:
    """The app's settings: reports use its time zone, milestones and agents, as the desktop app does."""
    loaded = load_settings()
    if loaded.warning and not args.quiet:
        print(f"tokenclub: warning: {loaded.warning}", file=sys.stderr)
    return loaded.settings


def env(args: argparse.Namespace) -> Env:
    """Where the agents' logs are: under ``--home``, or this machine's (with the agents' own overrides)."""
    return Env.under(args.home) if args.home else Env.current()


def open_index(args: argparse.Namespace) -> Index:
    return Index(args.db or paths.default_db(), overrides=paths.overrides_file(), timeout=args.wait, sources=SOURCES)


def refresh(index: Index, args: argparse.Namespace, agents: Sequence[str] | None = None) -> RefreshReport | None:
    """Refresh; if another process holds the lock, warn and report from the index as it is."""
    show = args.progress or sys.stderr.isatty()
    try:
        report = index.refresh(env(args), agents, progress=ProgressBar() if show else None)
    except IndexBusy as exc:
        print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
        return None
    if show:
        sys.stderr.write("\r\033[K")
    if not args.quiet:
        for warning in report.warnings:
            print(f"tokenclub: warning: {warning}", file=sys.stderr)
    try:
        pull_hosts(index, args, report, agents)  # the dedicated machines: a failed one only warns
    except IndexBusy as exc:
        print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
    return report


def pull_hosts(index: Any, args: argparse.Namespace, report: Any, agents: Any = None) -> None:
    """After the local refresh: pull and index every host (or ``--host``), warning about the ones that fail.

    The ssh machinery loads only when a host is registered.
    """
    if getattr(args, "local_only", False) or not (paths.config_dir() / "hosts.json").exists():
        return
    from app.console import hosts, pull
    from app.console.ssh import HostError

    try:
        targets = hosts.load()
    except HostError as exc:
        print(f"tokenclub: warning: {exc}", file=sys.stderr)
        return
    chosen = getattr(args, "hosts", None)
    if chosen:
        unknown = [n for n in chosen if n not in targets]
        for n in unknown:
            print(f"tokenclub: warning: no host named {n}", file=sys.stderr)
        targets = {n: t for n, t in targets.items() if n in chosen}
    if not targets:
        return
    results = pull.refresh_hosts(index, targets.values(), agents)
    summary = []
    for rep, refreshed in results:
        entry: dict[str, Any] = {
            "host": rep.name,
            "ok": rep.ok,
            "files_fetched": rep.files_fetched,
            "bytes_fetched": rep.bytes_raw,
            "bytes_transferred": rep.bytes_wire,
            "bytes_compressed": rep.bytes_data,
            "bytes_dropped": rep.punched,
            "seconds": round(rep.seconds, 3),
        }
        if refreshed is not None:
            entry.update(files_read=refreshed.files_read, events_read=refreshed.events_read)
            if report is not None:
                report.files_seen += refreshed.files_seen
                report.files_read += refreshed.files_read
                report.bytes_read += refreshed.bytes_read
                report.events_read += refreshed.events_read
                report.rows_changed += refreshed.rows_changed
        if not rep.ok:
            entry["error"], entry["kind"] = rep.error, rep.kind
            print(f"tokenclub: warning: host {rep.name}: {rep.error}", file=sys.stderr)
        if not args.quiet:
            for w in rep.warnings:
                print(f"tokenclub: warning: {w}", file=sys.stderr)
        if report is not None:
            report.warnings.extend(rep.warnings)
        summary.append(entry)
    if report is not None:
        report.hosts = summary


class ProgressBar:
    """``files  MB  MB/s`` on one stderr line, redrawn in place."""

    def __init__(self) -> None:
        self.shown = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.shown < 0.1 and p.files_done < p.files_total:
            return
        self.shown = now
        share = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        bar = "█" * int(share * 30)
        sys.stderr.write(
            f"\r\033[Kindexing ▕{bar:<30}▏ {p.files_done}/{p.files_total} files  "
            f"{p.bytes_done / 1e6:,.1f}/{p.bytes_total / 1e6:,.1f} MB  {p.rate / 1e6:,.1f} MB/s"
        )
        sys.stderr.flush()


def parse_day(text: str | None, tz: Any) -> date | None:
    """A day given as ``YYYY-MM-DD``, ``YYYYMMDD``, ``today`` or ``Nd`` (N days ago), or None when not given."""
    if text is None:
        return None
    t = text.strip().lower()
    if t == "today":
        return datetime.now(tz).date()
    if t.endswith("d") and t[:-1].isdigit():
        return datetime.now(tz).date() - timedelta(days=int(t[:-1]))
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    raise UsageError(f"not a date: {text!r} (use YYYY-MM-DD, YYYYMMDD, 'today' or Nd)")


def chosen_agents(args: argparse.Namespace) -> frozenset[str] | None:
    """``--agent`` (repeated or comma-separated), checked against the known agents; None when not given."""
    if not args.agent:
        return None
    known = {s.agent for s in all_sources()}
    chosen = {a.strip() for item in args.agent for a in item.split(",") if a.strip()}
    unknown = chosen - known
    if unknown:
        raise UsageError(f"unknown agent {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    return frozenset(chosen)


def fail(message: str, code: int = 1) -> int:
    """Print ``tokenclub: message`` on stderr; the exit status ``code``."""
    print(f"tokenclub: {message}", file=sys.stderr)
    return code
