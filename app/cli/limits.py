"""``tokenclub limits``, ``tokenclub statusline`` and ``tokenclub report blocks``: plan windows on the command line.

The numbers come from ``app.core.limits`` (the app's Limits panel reads the same): Codex's
windows from its rollouts, Claude's from its account usage endpoint when opted in, and Claude
Code's 5-hour blocks from the index.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from app.cli.statusline import STATUS_BUDGET_MAX_S, STATUS_BUDGET_S, parse_input

if TYPE_CHECKING:  # every command line starts by registering these: their modules load when they run
    import argparse
    import threading
    from collections.abc import Callable
    from pathlib import Path

    _Handler = Callable[[argparse.Namespace], int]

STATUS_LOCK_S = 0.05  # the index's busy timeout for the status line (the app may be writing)


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``limits`` and ``statusline`` to ``sub``; their handlers by command."""
    import argparse

    from app.cli.common import bounded, formatter

    lim = sub.add_parser(
        "limits",
        parents=[common],
        help="plan windows (5-hour, weekly, Codex primary/secondary): use, reset, and when this pace fills them",
        formatter_class=formatter,
    )
    lim.add_argument("--tz", help="time zone of the times shown (default: the settings' or this machine's)")
    lim.add_argument(
        "--account",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask Claude's account usage endpoint with Claude Code's sign-in (default: the limits_account setting)",
    )
    lim.add_argument("--no-refresh", action="store_true", help="Claude's block from the index as it is")
    st = sub.add_parser(
        "statusline",
        parents=[common],
        help="one line for Claude Code's statusLine setting (reads its JSON on stdin)",
        formatter_class=formatter,
    )
    st.add_argument(
        "--budget",
        type=bounded(float, 0, STATUS_BUDGET_MAX_S, "seconds"),
        default=STATUS_BUDGET_S,
        metavar="SECONDS",
        help=f"longest time spent indexing what is new (default: {STATUS_BUDGET_S:g}; 0: answer from the index)",
    )
    return {"limits": cmd_limits, "statusline": cmd_statusline}


# -- limits -----------------------------------------------------------------------------------------------


def cmd_limits(args: argparse.Namespace) -> int:
    from app.cli import common, render
    from app.core.timezones import resolve_zone
    from app.providers import limits_feed

    if args.csv:
        raise common.UsageError("limits has no CSV form; use --json")
    prefs = common.settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    ask = prefs.limits_account if args.account is None else args.account
    index = common.open_index(args)
    try:
        if not args.no_refresh:
            refresh_local(index, args, prefs.enabled_agents())
        now = datetime.now(UTC)
        doc = limits_feed.document(common.env(args), index.conn, now, tz, prefs.limits_account_url if ask else None)
    finally:
        index.close()
    sys.stdout.write(render.render(args, doc, [], []) if args.json else limits_text(doc, tz))
    return 0


def refresh_local(index: Any, args: argparse.Namespace, agents: Any, cancel: threading.Event | None = None) -> None:
    """Index what is new on this machine (the plan windows need no dedicated machine); a busy index only warns."""
    from app.cli import common
    from app.core.schema import IndexBusy

    try:
        report = index.refresh(common.env(args), agents, cancel=cancel)
    except IndexBusy as exc:
        if not args.quiet:
            print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
        return
    if not args.quiet:
        for warning in report.warnings:
            print(f"tokenclub: warning: {warning}", file=sys.stderr)


def limits_text(doc: dict[str, Any], tz: tzinfo) -> str:
    """The ``limits`` document for a person: one paragraph per window, then Claude's block and the notes."""
    from app.core.limits import clock, duration, pace_text, parse_stamp

    now = parse_stamp(doc["now"])
    lines: list[str] = []
    for w in doc["windows"]:
        who = w["agent"] + (f" ({w['account']})" if w["account"] else "")
        length = "" if w["window_minutes"] is None else f" of {duration(timedelta(minutes=w['window_minutes']))}"
        reset = ""
        if w["resets_at"]:
            at = parse_stamp(w["resets_at"])
            when = f"in {duration(at - now)}" if at > now else f"{duration(now - at)} ago"
            reset = f", resets {clock(at, tz, now)} ({at.strftime('%H:%M')} UTC, {when})"
        lines.append(f"{who} {w['name']}: {w['used_percent']:g}% used{length}{reset}")
        lines.append(
            f"  {w['source']}, read {duration(timedelta(seconds=w['age_seconds']))} ago; {pace_text(w, tz, now)}"
        )
    b = doc["claude_block"]
    if b is None:
        lines.append("claude-code: no 5-hour block active (from the logs)")
    else:
        lines.extend(block_lines(b, tz, now))
    lines.extend(f"note: {n}" for n in doc["notes"])
    return "\n".join(lines) + "\n"


def block_lines(b: dict[str, Any], tz: tzinfo, now: datetime) -> list[str]:
    from app.core.limits import clock, duration, parse_stamp

    start, end = parse_stamp(b["startTime"]), parse_stamp(b["endTime"])
    cost = f"${b['costUSD']:,.2f}" + (" (some unpriced)" if b["unpriced_tokens"] else "")
    out = [
        f"claude-code 5-hour block (from the logs): {clock(start, tz, now)}-{clock(end, tz, now)},"
        f" {duration(end - now)} left; {b['totalTokens']:,} tokens, {cost}, {b['entries']} calls"
    ]
    rate, proj = b["burnRate"], b["projection"]
    if rate is not None:
        out.append(f"  burn rate: {rate['tokensPerMinute']:,.0f} tokens/min, ${rate['costPerHour']:,.2f}/h")
    if proj is not None:
        out.append(f"  at this pace by its end: {proj['totalTokens']:,} tokens, ${proj['totalCost']:,.2f}")
    return out


# -- report blocks ----------------------------------------------------------------------------------------


def cmd_blocks(args: argparse.Namespace) -> int:
    """``report blocks``: Claude Code's 5-hour blocks and the gaps between them, as ccusage's ``blocks``."""
    from app.cli import common, render
    from app.core import limits
    from app.core.timezones import resolve_zone

    prefs = common.settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    if args.range is not None or args.agent:
        raise common.UsageError("report blocks takes neither --range nor --agent (blocks are Claude Code's)")
    since, until = common.parse_day(args.since, tz), common.parse_day(args.until, tz)
    index = common.open_index(args)
    try:
        if not args.no_refresh:
            refresh_local(index, args, prefs.enabled_agents())
        now = datetime.now(UTC)
        found = limits.claude_blocks(index.conn, now)
    finally:
        index.close()
    lo = None if since is None else datetime.combine(since, datetime.min.time(), tz)
    hi = None if until is None else datetime.combine(until + timedelta(days=1), datetime.min.time(), tz)
    chosen = [b for b in found if (lo is None or b.start >= lo) and (hi is None or b.start < hi)]
    doc = {"blocks": [limits.block_dict(b) for b in chosen]}
    rows = [_block_row(b, tz, now) for b in doc["blocks"]]
    columns = ["start", "end", "state", "entries", "in", "cw", "cr", "out", "total", "cost_usd", "models"]
    text = render.render(args, doc, rows, columns)
    if not args.json and not args.csv:
        active = next((b for b in doc["blocks"] if b["isActive"]), None)
        if active is not None:
            text += "\n".join(block_lines(active, tz, now)) + "\n"
    sys.stdout.write(text)
    return 0


def _block_row(b: dict[str, Any], tz: tzinfo, now: datetime) -> dict[str, Any]:
    from app.core.limits import parse_stamp

    counts = b["tokenCounts"]
    state = "gap" if b["isGap"] else "active" if b["isActive"] else ""
    return {
        "start": parse_stamp(b["startTime"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "end": parse_stamp(b["endTime"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "state": state,
        "entries": b["entries"],
        "in": counts["inputTokens"],
        "cw": counts["cacheCreationInputTokens"],
        "cr": counts["cacheReadInputTokens"],
        "out": counts["outputTokens"],
        "total": b["totalTokens"],
        "cost_usd": b["costUSD"],
        "unpriced_tokens": b["unpriced_tokens"],
        "models": b["models"],
    }


# -- statusline -------------------------------------------------------------------------------------------


def cmd_statusline(args: argparse.Namespace) -> int:
    """One line for Claude Code's status bar; any failure prints a short fallback line, never a traceback."""
    from app.cli import statusline

    db, home = (None if p is None else str(p) for p in (args.db, args.home))
    sys.stdout.write(statusline.answer(db, home, args.budget) + "\n")
    return 0


def statusline(args: argparse.Namespace, raw: bytes, now: datetime | None = None) -> str:
    """``Opus 4.1 │ today 12.3M tok (tier 10M) │ block 1.2M tok $3.40, resets 15:00 (2 h 13 min) │ session …``."""
    return status_text(args.db, args.home, args.budget, parse_input(raw), now)[0]


def status_files(db: Path | None, transcript: str | None) -> list[str]:
    """The files the status line's answer depends on besides the logs: the transcript, index, settings, prices."""
    from app.core.paths import default_db, overrides_file, settings_file

    index = str(db or default_db())
    return [transcript or "", index, index + "-wal", str(settings_file()), str(overrides_file())]


def status_text(
    db: Path | None, home: Path | None, budget: float, given: dict[str, str], now: datetime | None = None
) -> tuple[str, datetime]:
    """The status line for Claude Code's input fields ``given``, and the time it was computed for."""
    import threading

    from app.core import limits, reports
    from app.core.env import Env
    from app.core.index import Index, has_files, session_totals
    from app.core.paths import default_db, overrides_file
    from app.core.schema import IndexBusy
    from app.core.settings import load as load_settings
    from app.core.timezones import resolve_zone

    prefs = load_settings().settings  # a warning is the other commands' to print
    tz = resolve_zone(prefs.tz)
    from app.sources import SOURCES

    index = Index(db or default_db(), overrides=overrides_file(), timeout=STATUS_LOCK_S, sources=SOURCES)
    try:
        conn = index.conn
        if not has_files(conn):
            return "TokenClub: nothing indexed yet (run `tokenclub refresh` once, or open the app)", datetime.now(UTC)
        if budget > 0:
            # a first, cold index of every log is the app's (or `tokenclub refresh`'s) to make, not the status line's
            cancel = threading.Event()
            timer = threading.Timer(budget, cancel.set)
            timer.start()
            try:
                index.refresh(Env.under(home) if home else Env.current(), prefs.enabled_agents(), cancel=cancel)
            except IndexBusy:
                pass  # the app is writing: answer from what is indexed
            finally:
                timer.cancel()
        now = now or datetime.now(UTC)
        today = reports.today(conn, tz, prefs.milestones, prefs.enabled_agents())
        block = limits.current_block(conn, now)
        session = None
        if "session_id" in given:
            session = session_totals(conn, given["session_id"], limits.CLAUDE)
    finally:
        index.close()
    parts = [given["model"]] if "model" in given else []
    tier = f" (tier {today['tier']})" if today["tier"] else ""
    parts.append(f"today {short(today['total'])} tok{tier}")
    if block is None:
        parts.append("no block")
    else:
        left = limits.duration(block.end - now)
        parts.append(
            f"block {short(block.total)} tok ${block.cost_usd:,.2f}, resets {limits.clock(block.end, tz, now)} ({left})"
        )
    if session is not None and session[2]:
        parts.append(f"session {short(session[0] or 0)} tok ${session[1] or 0:,.2f}")
    return " │ ".join(parts), now


def short(n: float) -> str:
    """12_345_678 -> ``12.3M``."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{int(n)}"
