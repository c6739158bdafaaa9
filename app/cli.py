"""``tokenclub``: the command line over the same core the desktop app uses.

Every report refreshes the index first (reading only what is new), then prints a table,
``--json`` or ``--csv``. With no command, the desktop app starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from app import __version__, limits_cli
from app import demo as demo_cli
from app.club import cli as club_cli
from app.console import cli as console_cli
from app.console import session_cli
from app.core import memo, paths
from app.core.env import Env
from app.core.filters import Filter
from app.core.index import Index, Progress, RefreshReport, events_by_agent, files_summary, has_files
from app.core.pricing import PriceError
from app.core.schema import IndexBusy, IndexUnavailable, explain
from app.core.settings import Settings
from app.core.settings import load as load_settings
from app.core.timezones import ZoneError, resolve_zone, rules_stamp
from app.providers import cli as providers_cli
from app.sources import SOURCES, all_sources

WAIT_S = 10.0
REFRESH_INCOMPLETE = 3
REFRESH_STATUS = (
    "exit status: 0 when everything was read (skipped lines are warnings, not failures); 1 when the index could"
    " not be opened or written, or stayed locked past --wait (nothing is printed on stdout); 2 for a usage error;"
    f" {REFRESH_INCOMPLETE} when the index was updated but a log file on this machine, or a dedicated machine,"
    " could not be read"
    " (each a warning on stderr, and listed in --json's failures)"
)
REPORTS = (
    "daily", "weekly", "monthly", "session", "models", "projects", "insights", "dashboard", "today", "reconcile",
    "blocks",
)  # fmt: skip


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def _formatter(prog: str) -> argparse.HelpFormatter:
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


def _common(sub: bool = False) -> argparse.ArgumentParser:
    """Options valid before or after the command; after it they must not reset what came before."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_formatter)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenclub", description=__doc__.splitlines()[0], parents=[_common()], formatter_class=_formatter
    )
    parser.add_argument("--version", action="version", version=f"tokenclub {__version__}")
    common = _common(sub=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    rep = sub.add_parser("report", parents=[common], help="token and cost reports", formatter_class=_formatter)
    rep.add_argument("kind", choices=REPORTS, metavar="KIND", help=f"one of: {', '.join(REPORTS)}")
    rep.add_argument("--since", help="first day, YYYY-MM-DD or YYYYMMDD or Nd (N days ago)")
    rep.add_argument("--until", help="last day, same forms as --since")
    rep.add_argument("--tz", help="time zone of the day boundary (IANA name; default: the settings' or this machine's)")
    rep.add_argument("--agent", action="append", help="only this agent (repeat, or comma-separate)")
    rep.add_argument("--no-refresh", action="store_true", help="report from the index as it is")
    rep.add_argument("--range", help="dashboard only: days ending today, 7d, 30d, 90d, 1y or all (default 30d)")

    src = sub.add_parser(
        "sources", parents=[common], help="each agent: roots searched, files, events, skips", formatter_class=_formatter
    )
    src.add_argument("--no-refresh", action="store_true", help="list the index as it is")

    sub.add_parser(
        "refresh",
        parents=[common],
        help="index whatever is new, and say what was read",
        description="Index whatever is new in the agents' logs (and the dedicated machines'), and say what was read.",
        epilog=REFRESH_STATUS,
        formatter_class=_formatter,
    )
    prices = sub.add_parser(
        "prices",
        parents=[common],
        help="the price source and date, your overrides, and the models seen with no price",
        formatter_class=_formatter,
    )
    prices.add_argument("--no-refresh", action="store_true", help="list unpriced models from the index as it is")
    sub.add_parser("gui", parents=[common], help="start the desktop app (the default)", formatter_class=_formatter)
    COMMANDS.update(providers_cli.register(sub, common))  # keys, provider; report --threshold
    COMMANDS.update(club_cli.register(sub, common))  # club export, merge, verify, card
    COMMANDS.update(console_cli.register(sub, common))  # host; refresh --host/--local-only; report --device
    COMMANDS.update(session_cli.register(sub, common))  # session launch, list, tail, kill
    COMMANDS.update(limits_cli.register(sub, common))  # limits, statusline; report blocks
    COMMANDS.update(demo_cli.register(sub, common))  # demo
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
        _settle(args)
    except UsageError as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 2
    if args.command in (None, "gui"):
        from app import display

        why = display.problem()
        if why is not None:
            sys.stderr.write(display.message(why))
            return 2
        try:
            from app.gui.app import run  # the only place the CLI reaches Qt
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


# -- shared plumbing ------------------------------------------------------------------------


def _settle(args: argparse.Namespace) -> None:
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


def _settings(args: argparse.Namespace) -> Settings:
    """The app's settings: reports use its time zone, milestones and agents, as the desktop app does."""
    loaded = load_settings()
    if loaded.warning and not args.quiet:
        print(f"tokenclub: warning: {loaded.warning}", file=sys.stderr)
    return loaded.settings


def _env(args: argparse.Namespace) -> Env:
    return Env.under(args.home) if args.home else Env.current()


def _open(args: argparse.Namespace) -> Index:
    return Index(args.db or paths.default_db(), overrides=paths.overrides_file(), timeout=args.wait, sources=SOURCES)


def _refresh(index: Index, args: argparse.Namespace, agents: Sequence[str] | None = None) -> RefreshReport | None:
    """Refresh; if another process holds the lock, warn and report from the index as it is."""
    show = args.progress or sys.stderr.isatty()
    try:
        report = index.refresh(_env(args), agents, progress=_ProgressBar() if show else None)
    except IndexBusy as exc:
        print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
        return None
    if show:
        sys.stderr.write("\r\033[K")
    if not args.quiet:
        for warning in report.warnings:
            print(f"tokenclub: warning: {warning}", file=sys.stderr)
    try:
        console_cli.pull_hosts(index, args, report, agents)  # the dedicated machines: a failed one only warns
    except IndexBusy as exc:
        print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
    return report


class _ProgressBar:
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


def _agents(args: argparse.Namespace) -> frozenset[str] | None:
    if not args.agent:
        return None
    known = {s.agent for s in all_sources()}
    chosen = {a.strip() for item in args.agent for a in item.split(",") if a.strip()}
    unknown = chosen - known
    if unknown:
        raise UsageError(f"unknown agent {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    return frozenset(chosen)


def _render(args: argparse.Namespace, doc: dict[str, Any], rows: list[dict[str, Any]], columns: list[str]) -> str:
    if args.json:
        # indented for a person at a terminal; compact for a pipe (the C encoder: indenting is pure Python)
        import json

        return json.dumps(doc, indent=2 if _indent(args) else None, ensure_ascii=False) + "\n"
    if args.csv:
        import csv

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
        return buf.getvalue()
    return render_table(rows, columns)


def _indent(args: argparse.Namespace) -> bool:
    return bool(args.json) and sys.stdout.isatty()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    return "" if value is None else value


def _cell(value: Any, column: str, row: dict[str, Any]) -> str:
    if value is None:
        return "-"
    if column.endswith("_usd"):  # an insight's extra cost, a quiet day's: often a fraction of a cent
        from app.core.money import usd

        # some of the row's tokens have no price: what is shown is the priced part
        return f"≥ {usd(value)}" if column == "cost_usd" and row.get("unpriced_tokens") else usd(value)
    if column == "cache_hit_rate":
        return f"{value * 100:.1f}%"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


HEADERS = {
    "in": "input",
    "cw": "cache write",
    "cr": "cache read",
    "out": "output",
    "rsn": "reasoning",
    "cost_usd": "cost",
    "extra_cost_usd": "extra cost",
    "cache_saved_usd": "cache saved",
    "peak_sessions": "peak sessions",
    "next_milestone": "next",
    "to_next": "to next",
    "tokens_per_minute": "tokens/min",
    "active_sessions": "active sessions",
    "cache_hit_rate": "cache hit",
}


def render_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Right-aligned numbers, left-aligned text, a rule under the header."""
    head = [HEADERS.get(c, c) for c in columns]
    body = [[_cell(r.get(c), c, r) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(head)]
    numeric = [all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows) for c in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True))

    out = [line(head), "  ".join("─" * w for w in widths)]
    out.extend(line(b) for b in body)
    return "\n".join(x.rstrip() for x in out) + "\n"


BUCKET_COLUMNS = ["in", "cw", "cr", "out", "rsn", "total", "cost_usd", "cache_hit_rate"]


# -- commands --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    if args.kind == "reconcile":
        return providers_cli.cmd_reconcile(args)
    if args.kind == "blocks":
        return limits_cli.cmd_blocks(args)
    prefs = _settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    agents = _agents(args) or prefs.enabled_agents()
    milestones = prefs.milestones
    flt = Filter(
        tz=tz,
        since=parse_day(args.since, tz),
        until=parse_day(args.until, tz),
        agents=agents,
        devices=console_cli.devices(args),
    )
    if flt.since and flt.until and flt.since > flt.until:
        raise UsageError("--since is after --until")
    if args.range is not None and args.kind != "dashboard":
        raise UsageError("--range applies to report dashboard only")
    if args.kind == "dashboard":
        flt = _dashboard_filter(args, flt)
    if args.kind == "today" and (args.since or args.until):
        raise UsageError("report today takes no --since or --until")
    index = _open(args)
    try:
        if not args.no_refresh:
            _refresh(index, args)
        conn = index.conn
        _check_devices(conn, flt)
        kind = args.kind
        today = datetime.now(flt.tz).date()  # report daily shows it, with no calls yet too
        if kind in MEMOIZED:  # a pure function of the index and the options: a re-run with nothing new is a lookup
            flags = (args.json, _indent(args), args.csv)
            agents_key = None if flt.agents is None else sorted(flt.agents)  # a set's order changes between runs
            zone = rules_stamp(flt.tz)
            devices_key = None if flt.devices is None else sorted(flt.devices)
            options: tuple[Any, ...] = (
                zone,
                flt.since,
                flt.until,
                agents_key,
                list(milestones),
                flags,
                paths.overrides_file(),
            )
            options += (devices_key,) if devices_key is not None else ()  # unchanged keys without --device
            options += (today,) if kind == "daily" else ()
            memo_key = memo.key(kind, *options)
            conn.execute("BEGIN")  # the memo is stored only if no one wrote since these reads
            try:
                text = memo.recall(conn, kind, memo_key)
                if text is None:
                    text = _report_text(args, *_build(kind, conn, flt, milestones, today))
                    memo.remember(conn, kind, memo_key, text)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            warning = memo.commit(conn)  # a memo that cannot be written costs a warning, never the report
            sys.stdout.write(text)
            if warning and not args.quiet:
                print(f"tokenclub: warning: {warning}", file=sys.stderr)
            _say_if_empty(args, conn)
            return 0
        builders: dict[str, Callable[[], Built]] = {
            "insights": lambda: _insights(index, flt, full=args.csv),
            "dashboard": lambda: _dashboard(index, flt, milestones),
            "today": lambda: _today(index, flt, milestones),
        }
        sys.stdout.write(_report_text(args, *builders[kind]()))
        _say_if_empty(args, conn)
    finally:
        index.close()
    return 0


def _check_devices(conn: sqlite3.Connection, flt: Filter) -> None:
    """``--device`` names this machine, a host added with ``host add``, or one the index has calls of."""
    if flt.devices is None:
        return
    from app.core.devices import LOCAL, label
    from app.core.reports import devices_seen

    known = {LOCAL, *devices_seen(conn), *_host_names()}
    unknown = flt.devices - known
    if unknown:
        names = ", ".join(sorted({label(d) for d in known}))
        raise UsageError(f"unknown device {', '.join(sorted(unknown))} (known: {names}, local)")


def _host_names() -> list[str]:
    """The dedicated machines added with ``host add`` (none when their file is unreadable: its commands say why)."""
    from app.console import hosts
    from app.console.ssh import HostError

    try:
        return list(hosts.load())
    except HostError:
        return []


def _say_if_empty(args: argparse.Namespace, conn: sqlite3.Connection) -> None:
    """When no agent has written a log yet, say where they were looked for (stderr beside --json/--csv)."""
    if has_files(conn):
        return
    home = str(_env(args).home)

    def shown(root: Path) -> str:
        text = str(root)
        return "~" + text[len(home) :] if text == home or text.startswith(home + os.sep) else text

    lines = ["", "No agent has written any logs here yet. Searched:"]
    for source in all_sources():
        roots = [shown(r) for r in source.roots(_env(args))]
        more = f" and {len(roots) - 2} more" if len(roots) > 3 else ""
        lines.append(f"  {source.agent}: {', '.join(roots[:2] if more else roots)}{more}")
    lines.append(
        "`tokenclub sources` lists every agent's roots and what was read; an agent's own override "
        "(CLAUDE_CONFIG_DIR, CODEX_HOME, …) or --home DIR points TokenClub elsewhere."
    )
    out = sys.stderr if args.json or args.csv else sys.stdout
    out.write("\n".join(lines) + "\n")


Built = tuple[dict[str, Any], list[dict[str, Any]], list[str]]  # the document, its table rows and their columns
MEMOIZED = frozenset({"daily", "weekly", "monthly", "session", "models", "projects"})


def _build(kind: str, conn: sqlite3.Connection, flt: Filter, milestones: Sequence[int], today: date) -> Built:
    """The reports that read nothing but the index and the date (no clock): those ``MEMOIZED``."""
    from app.core import reports  # only when the report is not remembered

    if kind == "daily":
        return _rows(reports.daily(conn, flt, milestones, today), "days", ["date", *BUCKET_COLUMNS, "tier"])
    if kind in ("weekly", "monthly"):
        return _rows(reports.periods(conn, flt, kind), "periods", ["period", *BUCKET_COLUMNS])
    if kind == "session":
        return _rows(reports.sessions(conn, flt), "sessions", ["last", "agent", "session", "project", *BUCKET_COLUMNS])
    if kind == "models":
        return _rows(reports.models(conn, flt), "models", ["model", "agent", *BUCKET_COLUMNS])
    return _rows(reports.projects(conn, flt), "projects", ["project", "sessions", *BUCKET_COLUMNS])


def _report_text(args: argparse.Namespace, doc: dict[str, Any], rows: list[dict[str, Any]], columns: list[str]) -> str:
    """What a report prints: JSON, CSV, or a table with a totals row and footers."""
    if args.json or args.csv:
        return _render(args, doc, rows, columns)
    if args.kind != "today":
        rows = [*rows, {columns[0]: "total", **doc["totals"]}]
    text = _render(args, doc, rows, columns)
    if args.kind == "dashboard":
        text += _dashboard_footer(doc)
    return text + _footer(doc)


def _dashboard_filter(args: argparse.Namespace, flt: Filter) -> Filter:
    """``--range`` (default 30 days, as the dashboard opens) or explicit ``--since``/``--until``."""
    from app.core import dashboard

    if args.since or args.until:
        if args.range is not None:
            raise UsageError("--range and --since/--until exclude each other")
        return flt
    try:
        return dashboard.range_filter(
            args.range or dashboard.DEFAULT_RANGE, flt.tz, datetime.now(flt.tz).date(), flt.agents
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


INSIGHT_COLUMNS = ["ts", "kind", "agent", "project", "session", "tokens", "extra_cost_usd", "summary"]
INSIGHT_CSV_COLUMNS = [*INSIGHT_COLUMNS[:-1], "model", "previous_model", "idle_minutes", "summary"]


def _insights(index: Index, flt: Filter, full: bool) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    from app.core import insights

    doc = insights.report(index.conn, flt, overrides=index.overrides)
    return doc, doc["insights"], INSIGHT_CSV_COLUMNS if full else INSIGHT_COLUMNS


def _dashboard(
    index: Index, flt: Filter, milestones: Sequence[int]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    from app.core import dashboard

    doc = dashboard.build(index.conn, flt, milestones, overrides=index.overrides)
    return doc, doc["days"], ["date", *BUCKET_COLUMNS, "tier", "cache_saved_usd", "peak_sessions"]


TODAY_COLUMNS = ["date", *BUCKET_COLUMNS, "tier", "next_milestone", "to_next", "tokens_per_minute", "active_sessions"]


def _today(
    index: Index, flt: Filter, milestones: Sequence[int]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    from app.core import dashboard

    doc = dashboard.today_doc(index.conn, flt.tz, milestones, flt.agents)
    return doc, [doc], TODAY_COLUMNS


def _dashboard_footer(doc: dict[str, Any]) -> str:
    now = doc["today"]
    runs = (f"{tier} {s['current']} (best {s['best']})" for tier, s in doc["streaks"].items())
    return (
        f"now: {now['tokens_per_minute']:,.1f} tokens per minute, {now['active_sessions']} active sessions\n"
        f"days in a row at or above each tier: {', '.join(runs)}\n"
    )


def _rows(doc: dict[str, Any], key: str, columns: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    return doc, doc[key], columns


def _footer(doc: dict[str, Any]) -> str:
    lines = []
    source = doc.get("price_source") or {}
    if source:
        when = f", data as of {source['data_date']}" if source.get("data_date") else ""
        extra = f"; overrides from {source['overrides']}" if source.get("overrides") else ""
        lines.append(f"prices: {source['name']}{when}{extra}\n")
    if doc.get("unpriced_models"):
        models = ", ".join(doc["unpriced_models"])
        lines.append(f"unpriced (no price known; add them to {paths.overrides_file()}): {models}\n")
    return "".join(lines)


def cmd_sources(args: argparse.Namespace) -> int:
    index = _open(args)
    try:
        if not args.no_refresh:
            _refresh(index, args)
        doc = sources_doc(index, _env(args))
        doc["hosts"] = console_cli.sources_hosts(index)
    finally:
        index.close()
    columns = ["agent", "files", "gone", "events", "MB", "skipped", "errors", "roots"]
    home = _env(args).home
    rows = [
        {
            **s,
            "roots": [_shown(r["path"], home) for r in s["roots"] if r["exists"]]
            or [f"none of {len(s['roots'])} exists (below)"],
            "skipped": sum(s["skipped"].values()),
        }
        for s in doc["sources"]
    ]
    sys.stdout.write(_render(args, doc, rows, columns))
    if not args.json and not args.csv:
        print(f"\nroots searched (~ is {home}; * exists):")
        for s in doc["sources"]:
            for n, r in enumerate(s["roots"]):
                print(f"  {s['agent'] if n == 0 else '':<14} {'*' if r['exists'] else ' '} {_shown(r['path'], home)}")
        print()
        for s in doc["sources"]:
            for why, n in sorted(s["skipped"].items()):
                print(f"{s['agent']}: skipped {n:,} × {why}")
            for err in s["error_files"]:
                print(f"{s['agent']}: {err['path']}: {err['error']}")
        for h in doc["hosts"]:
            for agent, a in sorted(h["agents"].items()):
                skipped = sum(a["skipped"].values())
                print(
                    f"host {h['host']}: {agent}: {a['files']} files, {a['gone']} gone, {a['events']} events, "
                    f"{a['MB']} MB, {skipped} skipped, {len(a['errors'])} errors"
                )
    return 0


def _shown(path: str, home: Path) -> str:
    """``path`` with the home folder written ``~``."""
    top = str(home)
    return "~" + path[len(top) :] if path == top or path.startswith(top + os.sep) else path


def sources_doc(index: Index, env: Env) -> dict[str, Any]:
    """Per agent: roots searched (and whether they exist), files, events, MB read, skips, errors."""
    per_file: dict[str, dict[str, Any]] = {}
    # the dedicated machines' files are listed per host
    for agent, f in files_summary(index.conn, console_cli.mirror_prefix(), under=False).items():
        errors = [{"path": path, "error": error} for path, error in f.pop("errors")]
        per_file[agent] = {**f, "error_files": errors}
    events = events_by_agent(index.conn)
    out = []
    for source in all_sources():
        s = per_file.get(source.agent) or _no_files()
        out.append(
            {
                "agent": source.agent,
                "title": source.title,
                "roots": [{"path": str(r), "exists": r.exists()} for r in source.roots(env)],
                **s,
                "errors": len(s["error_files"]),
                "events": events.get(source.agent, 0),
            }
        )
    return {"sources": out, "db": str(index.path)}


def _no_files() -> dict[str, Any]:
    return {"files": 0, "gone": 0, "MB": 0.0, "skipped": {}, "error_files": []}


def cmd_refresh(args: argparse.Namespace) -> int:
    index = _open(args)
    try:
        report = _refresh(index, args)
    finally:
        index.close()
    if report is None:
        return 1
    hosts = getattr(report, "hosts", None)  # set when dedicated machines were pulled
    failures = [*report.failures, *({"host": h["host"], "error": h["error"]} for h in hosts or () if not h["ok"])]
    doc: dict[str, Any] = {
        "files_seen": report.files_seen,
        "files_read": report.files_read,
        "bytes_read": report.bytes_read,
        "events_read": report.events_read,
        "rows_changed": report.rows_changed,
        "seconds": round(report.seconds, 3),
        "warnings": len(report.warnings),
        "failures": len(failures),
    }
    if args.json:
        doc["failures"] = failures
        if hosts is not None:
            doc["hosts"] = hosts
    sys.stdout.write(_render(args, doc, [doc], [c for c in doc if c != "hosts"]))
    if hosts and not args.json and not args.csv and not args.quiet:
        for h in hosts:
            state = "ok" if h["ok"] else f"failed: {h['error']}"
            print(
                f"host {h['host']}: {state}; {h['files_fetched']} files, {h['bytes_fetched']:,} bytes fetched "
                f"({h['bytes_transferred']:,} over ssh), {h.get('events_read', 0)} calls read"
            )
    return REFRESH_INCOMPLETE if failures else 0


def cmd_prices(args: argparse.Namespace) -> int:
    from app.core import price_report

    index = _open(args)
    try:
        if not args.no_refresh:
            _refresh(index, args)
        doc = price_report.build(index.conn, paths.overrides_file())
    finally:
        index.close()
    if args.csv:
        raise UsageError("prices has no CSV form; use --json")
    sys.stdout.write(_render(args, doc, [], []) if args.json else price_report.text(doc))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "prices": cmd_prices,
    "report": cmd_report,
    "sources": cmd_sources,
    "refresh": cmd_refresh,
}


if __name__ == "__main__":
    entry()
