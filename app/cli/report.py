"""``tokenclub report``, ``sources``, ``refresh`` and ``prices``: the index's numbers as tables, CSV or JSON."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from app.cli import hosts, limits, providers
from app.cli.common import UsageError, chosen_agents, env, formatter, open_index, parse_day, refresh, settings
from app.cli.render import indent, render
from app.core import documents, memo, paths
from app.core.filters import Filter
from app.core.index import Index, has_files
from app.core.timezones import resolve_zone, rules_stamp
from app.sources import all_sources

_Handler = Callable[[argparse.Namespace], int]
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


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``report``, ``sources``, ``refresh`` and ``prices`` to ``sub``; their handlers by command."""
    rep = sub.add_parser("report", parents=[common], help="token and cost reports", formatter_class=formatter)
    rep.add_argument("kind", choices=REPORTS, metavar="KIND", help=f"one of: {', '.join(REPORTS)}")
    rep.add_argument("--since", help="first day, YYYY-MM-DD or YYYYMMDD or Nd (N days ago)")
    rep.add_argument("--until", help="last day, same forms as --since")
    rep.add_argument("--tz", help="time zone of the day boundary (IANA name; default: the settings' or this machine's)")
    rep.add_argument("--agent", action="append", help="only this agent (repeat, or comma-separate)")
    rep.add_argument("--no-refresh", action="store_true", help="report from the index as it is")
    rep.add_argument("--range", help="dashboard only: days ending today, 7d, 30d, 90d, 1y or all (default 30d)")

    src = sub.add_parser(
        "sources", parents=[common], help="each agent: roots searched, files, events, skips", formatter_class=formatter
    )
    src.add_argument("--no-refresh", action="store_true", help="list the index as it is")

    sub.add_parser(
        "refresh",
        parents=[common],
        help="index whatever is new, and say what was read",
        description="Index whatever is new in the agents' logs (and the dedicated machines'), and say what was read.",
        epilog=REFRESH_STATUS,
        formatter_class=formatter,
    )
    prices = sub.add_parser(
        "prices",
        parents=[common],
        help="the price source and date, your overrides, and the models seen with no price",
        formatter_class=formatter,
    )
    prices.add_argument("--no-refresh", action="store_true", help="list unpriced models from the index as it is")
    return {"prices": cmd_prices, "report": cmd_report, "sources": cmd_sources, "refresh": cmd_refresh}


BUCKET_COLUMNS = ["in", "cw", "cr", "out", "rsn", "total", "cost_usd", "cache_hit_rate"]


# -- commands --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    if args.kind == "reconcile":
        return providers.cmd_reconcile(args)
    if args.kind == "blocks":
        return limits.cmd_blocks(args)
    prefs = settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    agents = chosen_agents(args) or prefs.enabled_agents()
    milestones = prefs.milestones
    flt = Filter(
        tz=tz,
        since=parse_day(args.since, tz),
        until=parse_day(args.until, tz),
        agents=agents,
        devices=hosts.devices(args),
    )
    if flt.since and flt.until and flt.since > flt.until:
        raise UsageError("--since is after --until")
    if args.range is not None and args.kind != "dashboard":
        raise UsageError("--range applies to report dashboard only")
    if args.kind == "dashboard":
        flt = _dashboard_filter(args, flt)
    if args.kind == "today" and (args.since or args.until):
        raise UsageError("report today takes no --since or --until")
    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        conn = index.conn
        _check_devices(conn, flt)
        kind = args.kind
        today = datetime.now(flt.tz).date()  # report daily shows it, with no calls yet too
        if (
            kind in documents.REMEMBERED
        ):  # a pure function of the index and the options: a re-run with nothing new is a lookup
            flags = (args.json, indent(args), args.csv)
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
            # a memo that cannot be written costs a warning, never the report
            text, warning = memo.remembered(
                conn, kind, memo_key, lambda: _report_text(args, *_build(args, index, flt, milestones, today))
            )
            sys.stdout.write(text)
            if warning and not args.quiet:
                print(f"tokenclub: warning: {warning}", file=sys.stderr)
            _say_if_empty(args, conn)
            return 0
        sys.stdout.write(_report_text(args, *_build(args, index, flt, milestones, today)))
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
    from app.console import hosts as registry
    from app.console.ssh import HostError

    try:
        return list(registry.load())
    except HostError:
        return []


def _say_if_empty(args: argparse.Namespace, conn: sqlite3.Connection) -> None:
    """When no agent has written a log yet, say where they were looked for (stderr beside --json/--csv)."""
    if has_files(conn):
        return
    home = str(env(args).home)

    def shown(root: Path) -> str:
        text = str(root)
        return "~" + text[len(home) :] if text == home or text.startswith(home + os.sep) else text

    lines = ["", "No agent has written any logs here yet. Searched:"]
    for source in all_sources():
        roots = [shown(r) for r in source.roots(env(args))]
        more = f" and {len(roots) - 2} more" if len(roots) > 3 else ""
        lines.append(f"  {source.agent}: {', '.join(roots[:2] if more else roots)}{more}")
    lines.append(
        "`tokenclub sources` lists every agent's roots and what was read; an agent's own override "
        "(CLAUDE_CONFIG_DIR, CODEX_HOME, …) or --home DIR points TokenClub elsewhere."
    )
    out = sys.stderr if args.json or args.csv else sys.stdout
    out.write("\n".join(lines) + "\n")


Built = tuple[dict[str, Any], list[dict[str, Any]], list[str]]  # the document, its table rows and their columns
INSIGHT_COLUMNS = ["ts", "kind", "agent", "project", "session", "tokens", "extra_cost_usd", "summary"]
INSIGHT_CSV_COLUMNS = [*INSIGHT_COLUMNS[:-1], "model", "previous_model", "idle_minutes", "summary"]
TODAY_COLUMNS = ["date", *BUCKET_COLUMNS, "tier", "next_milestone", "to_next", "tokens_per_minute", "active_sessions"]
# a report's table: the document's list of rows and their columns
TABLES = {
    "daily": ("days", ["date", *BUCKET_COLUMNS, "tier"]),
    "weekly": ("periods", ["period", *BUCKET_COLUMNS]),
    "monthly": ("periods", ["period", *BUCKET_COLUMNS]),
    "session": ("sessions", ["last", "agent", "session", "project", *BUCKET_COLUMNS]),
    "models": ("models", ["model", "agent", *BUCKET_COLUMNS]),
    "projects": ("projects", ["project", "sessions", *BUCKET_COLUMNS]),
    "insights": ("insights", INSIGHT_COLUMNS),
    "dashboard": ("days", ["date", *BUCKET_COLUMNS, "tier", "cache_saved_usd", "peak_sessions"]),
}


def _build(args: argparse.Namespace, index: Index, flt: Filter, milestones: Sequence[int], today: date) -> Built:
    """The report's document (built below this face, as the app builds it), its table rows and their columns."""
    doc = documents.report(args.kind, index.conn, flt, milestones, today, index.overrides)
    if args.kind == "today":
        return doc, [doc], TODAY_COLUMNS
    key, columns = TABLES[args.kind]
    if args.kind == "insights" and args.csv:
        columns = INSIGHT_CSV_COLUMNS
    return doc, doc[key], columns


def _report_text(args: argparse.Namespace, doc: dict[str, Any], rows: list[dict[str, Any]], columns: list[str]) -> str:
    """What a report prints: JSON, CSV, or a table with a totals row and footers."""
    if args.json or args.csv:
        return render(args, doc, rows, columns)
    if args.kind != "today":
        rows = [*rows, {columns[0]: "total", **doc["totals"]}]
    text = render(args, doc, rows, columns)
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


def _dashboard_footer(doc: dict[str, Any]) -> str:
    now = doc["today"]
    runs = (f"{tier} {s['current']} (best {s['best']})" for tier, s in doc["streaks"].items())
    return (
        f"now: {now['tokens_per_minute']:,.1f} tokens per minute, {now['active_sessions']} active sessions\n"
        f"days in a row at or above each tier: {', '.join(runs)}\n"
    )


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
    from app.console import status as hosts_status
    from app.sources import status as sources_status

    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        doc = sources_status.document(index, env(args), hosts_status.mirrors())
        doc["hosts"] = hosts_status.hosts_document(index.conn)
    finally:
        index.close()
    columns = ["agent", "files", "gone", "events", "MB", "skipped", "errors", "roots"]
    home = env(args).home
    rows = [
        {
            **s,
            "roots": [_shown(r["path"], home) for r in s["roots"] if r["exists"]]
            or [f"none of {len(s['roots'])} exists (below)"],
            "skipped": sum(s["skipped"].values()),
        }
        for s in doc["sources"]
    ]
    sys.stdout.write(render(args, doc, rows, columns))
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


def cmd_refresh(args: argparse.Namespace) -> int:
    index = open_index(args)
    try:
        report = refresh(index, args)
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
    sys.stdout.write(render(args, doc, [doc], [c for c in doc if c != "hosts"]))
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

    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        doc = price_report.build(index.conn, paths.overrides_file())
    finally:
        index.close()
    if args.csv:
        raise UsageError("prices has no CSV form; use --json")
    sys.stdout.write(render(args, doc, [], []) if args.json else price_report.text(doc))
    return 0
