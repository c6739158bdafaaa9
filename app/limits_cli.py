"""``tokenclub limits``, ``tokenclub statusline`` and ``tokenclub report blocks``: plan windows on the command line.

The numbers come from ``app.core.limits`` (the app's Limits panel reads the same): Codex's
windows from its rollouts, Claude's from its account usage endpoint when opted in, and Claude
Code's 5-hour blocks from the index.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # every command line starts by registering these: their modules load when they run
    import threading

_Handler = Callable[[argparse.Namespace], int]
STDIN_LIMIT = 64 * 1024  # Claude Code sends well under 2 KiB
STDIN_WAIT_S = 0.5  # the status line never waits longer for its input
STATUS_BUDGET_S = 0.5  # the status line's longest refresh of the index; the rest is left to the app
STATUS_LOCK_S = 0.05  # the index's busy timeout for the status line (the app may be writing)
FALLBACK = "TokenClub: no status"


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``limits`` and ``statusline`` to ``sub``; their handlers by command."""
    from app.cli import _formatter

    lim = sub.add_parser(
        "limits",
        parents=[common],
        help="plan windows (5-hour, weekly, Codex primary/secondary): use, reset, and when this pace fills them",
        formatter_class=_formatter,
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
        formatter_class=_formatter,
    )
    st.add_argument(
        "--budget",
        type=float,
        default=STATUS_BUDGET_S,
        metavar="SECONDS",
        help=f"longest time spent indexing what is new (default: {STATUS_BUDGET_S:g}; 0: answer from the index)",
    )
    return {"limits": cmd_limits, "statusline": cmd_statusline}


# -- limits -----------------------------------------------------------------------------------------------


def cmd_limits(args: argparse.Namespace) -> int:
    from app import cli, limits_feed
    from app.core.timezones import resolve_zone

    if args.csv:
        raise cli.UsageError("limits has no CSV form; use --json")
    prefs = cli._settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    ask = prefs.limits_account if args.account is None else args.account
    index = cli._open(args)
    try:
        if not args.no_refresh:
            refresh_local(index, args, prefs.enabled_agents())
        now = datetime.now(UTC)
        doc = limits_feed.document(cli._env(args), index.conn, now, tz, prefs.limits_account_url if ask else None)
    finally:
        index.close()
    sys.stdout.write(cli._render(args, doc, [], []) if args.json else limits_text(doc, tz))
    return 0


def refresh_local(index: Any, args: argparse.Namespace, agents: Any, cancel: threading.Event | None = None) -> None:
    """Index what is new on this machine (the plan windows need no dedicated machine); a busy index only warns."""
    from app import cli
    from app.core.index import IndexBusy

    try:
        report = index.refresh(cli._env(args), agents, cancel=cancel)
    except IndexBusy as exc:
        if not args.quiet:
            print(f"tokenclub: warning: {exc}; reporting what is already indexed", file=sys.stderr)
        return
    if not args.quiet:
        for warning in report.warnings:
            print(f"tokenclub: warning: {warning}", file=sys.stderr)


def limits_text(doc: dict[str, Any], tz: tzinfo) -> str:
    """The ``limits`` document for a person: one paragraph per window, then Claude's block and the notes."""
    now = _parse(doc["now"])
    lines: list[str] = []
    for w in doc["windows"]:
        who = w["agent"] + (f" ({w['account']})" if w["account"] else "")
        length = "" if w["window_minutes"] is None else f" of {duration(timedelta(minutes=w['window_minutes']))}"
        reset = ""
        if w["resets_at"]:
            at = _parse(w["resets_at"])
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


def pace_text(w: dict[str, Any], tz: tzinfo, now: datetime) -> str:
    p = w["pace"]
    if p["state"] == "full-before-reset":
        full = _parse(p["full_at"])
        before = duration(timedelta(seconds=p["before_reset_seconds"]))
        return f"at this pace: full at {clock(full, tz, now)}, {before} before it resets"
    if p["state"] == "lasts":
        return f"at this pace: {p['percent_at_reset']:g}% when it resets"
    if p["state"] == "full":
        return "full until it resets"
    if p["state"] == "reset":
        return "it has reset since this reading"
    return "pace unknown (no reset time or length)"


def block_lines(b: dict[str, Any], tz: tzinfo, now: datetime) -> list[str]:
    start, end = _parse(b["startTime"]), _parse(b["endTime"])
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


def duration(d: timedelta) -> str:
    """``1 h 20 min``, ``3 d 4 h``, ``45 s``."""
    s = max(0, int(d.total_seconds()))
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    dd, h = divmod(h, 24)
    return f"{dd} d {h} h" if h else f"{dd} d"


def clock(at: datetime, tz: tzinfo, now: datetime) -> str:
    """``15:40`` today, ``Tue 15:40`` within a week, else ``2026-12-24 15:40`` (local)."""
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if abs((local.date() - today).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# -- report blocks ----------------------------------------------------------------------------------------


def cmd_blocks(args: argparse.Namespace) -> int:
    """``report blocks``: Claude Code's 5-hour blocks and the gaps between them, as ccusage's ``blocks``."""
    from app import cli
    from app.core import limits
    from app.core.timezones import resolve_zone

    prefs = cli._settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    if args.range is not None or args.agent:
        raise cli.UsageError("report blocks takes neither --range nor --agent (blocks are Claude Code's)")
    since, until = cli.parse_day(args.since, tz), cli.parse_day(args.until, tz)
    index = cli._open(args)
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
    text = cli._render(args, doc, rows, columns)
    if not args.json and not args.csv:
        active = next((b for b in doc["blocks"] if b["isActive"]), None)
        if active is not None:
            text += "\n".join(block_lines(active, tz, now)) + "\n"
    sys.stdout.write(text)
    return 0


def _block_row(b: dict[str, Any], tz: tzinfo, now: datetime) -> dict[str, Any]:
    counts = b["tokenCounts"]
    state = "gap" if b["isGap"] else "active" if b["isActive"] else ""
    return {
        "start": _parse(b["startTime"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        "end": _parse(b["endTime"]).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
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
    try:
        line = statusline(args, read_stdin())
    except Exception as exc:  # noqa: BLE001  (the status bar gets a line whatever went wrong)
        line = f"{FALLBACK} ({type(exc).__name__})"
    sys.stdout.write(line + "\n")
    return 0


def read_stdin(limit: int = STDIN_LIMIT, wait: float = STDIN_WAIT_S) -> bytes:
    """What Claude Code sent, at most ``limit`` bytes, waiting at most ``wait`` seconds (nothing from a terminal)."""
    import select

    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return b""
    if os.isatty(fd):
        return b""
    data = b""
    deadline = time.monotonic() + wait
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def parse_input(raw: bytes) -> dict[str, str]:
    """The fields of Claude Code's status input the line uses (short strings, or absent)."""
    import json

    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    model = doc.get("model")
    out = {
        "session_id": doc.get("session_id"),
        "model": (model.get("display_name") or model.get("id")) if isinstance(model, dict) else None,
    }
    return {k: _printable(v)[:80] for k, v in out.items() if isinstance(v, str) and v}


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())


def statusline(args: argparse.Namespace, raw: bytes, now: datetime | None = None) -> str:
    """``Opus 4.1 │ today 12.3M tok (tier 10M) │ block 1.2M tok $3.40, resets 15:00 (2 h 13 min) │ session …``."""
    import threading

    from app import cli
    from app.core import limits, reports
    from app.core.index import Index
    from app.core.paths import default_db, overrides_file
    from app.core.timezones import resolve_zone

    given = parse_input(raw)
    prefs = cli._settings(argparse.Namespace(**{**vars(args), "quiet": True}))
    tz = resolve_zone(prefs.tz)
    index = Index(args.db or default_db(), overrides=overrides_file(), timeout=STATUS_LOCK_S)
    try:
        conn = index.conn
        if conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None:
            return "TokenClub: nothing indexed yet (run `tokenclub refresh` once, or open the app)"
        if args.budget > 0:
            # a first, cold index of every log is the app's (or `tokenclub refresh`'s) to make, not the status line's
            cancel = threading.Event()
            timer = threading.Timer(args.budget, cancel.set)
            timer.start()
            try:
                quiet = argparse.Namespace(**{**vars(args), "quiet": True})
                refresh_local(index, quiet, prefs.enabled_agents(), cancel)
            finally:
                timer.cancel()
        now = now or datetime.now(UTC)
        today = reports.today(conn, tz, prefs.milestones, prefs.enabled_agents())
        block = limits.current_block(conn, now)
        session = None
        if "session_id" in given:
            session = conn.execute(
                "SELECT SUM(inp + cw + cr + out), SUM(cost), COUNT(*) FROM events WHERE session = ? AND agent = ?",
                (given["session_id"], limits.CLAUDE),
            ).fetchone()
    finally:
        index.close()
    parts = [given["model"]] if "model" in given else []
    tier = f" (tier {today['tier']})" if today["tier"] else ""
    parts.append(f"today {short(today['total'])} tok{tier}")
    if block is None:
        parts.append("no block")
    else:
        left = duration(block.end - now)
        parts.append(
            f"block {short(block.total)} tok ${block.cost_usd:,.2f}, resets {clock(block.end, tz, now)} ({left})"
        )
    if session is not None and session[2]:
        parts.append(f"session {short(session[0] or 0)} tok ${session[1] or 0:,.2f}")
    return " │ ".join(parts)


def short(n: float) -> str:
    """12_345_678 -> ``12.3M``."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{int(n)}"
