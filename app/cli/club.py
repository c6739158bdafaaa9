"""``tokenclub club export | merge | verify | card``.

``register`` adds one thin ``club`` parser (the command line's start-up stays as it was);
the actions and their options are built, and cryptography and keyring loaded, only when
the command runs. The share card is drawn by Qt: its handler imports ``app.gui.share_card``
lazily, as ``tokenclub gui`` imports the desktop app (the two places this face reaches the
other one; the club package itself never does).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from app.cli.common import UsageError, fail, formatter, open_index, options, parse_day, refresh, settings

_Handler = Callable[[argparse.Namespace], int]
HELP = "club leaderboard: export your signed numbers, merge members' files into a board, draw a share card"


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``club`` to ``sub``; its handler by command."""
    thin = sub.add_parser("club", parents=[common], add_help=False, help=HELP, formatter_class=formatter)
    thin.add_argument("-h", "--help", action="store_true", dest="sub_help", help=argparse.SUPPRESS)
    thin.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return {"club": cmd_club}


def parser() -> argparse.ArgumentParser:
    common = options(sub=True)
    p = argparse.ArgumentParser(prog="tokenclub club", description=HELP, parents=[common], formatter_class=formatter)
    acts = p.add_subparsers(dest="club_action", metavar="ACTION", required=True)

    ex = acts.add_parser(
        "export",
        parents=[common],
        formatter_class=formatter,
        help="your daily numbers, signed with your key (created on first use, kept in the OS keyring)",
    )
    ex.add_argument("--member", required=True, help="your name in the club (1-40 letters, digits, space . _ -)")
    ex.add_argument("--since", help="first day, YYYY-MM-DD or YYYYMMDD or Nd (default: your first day)")
    ex.add_argument("--until", help="last day, same forms (default: today)")
    ex.add_argument("--tz", help="time zone of the day boundary (default: the settings' or this machine's)")
    ex.add_argument("--no-models", action="store_true", help="leave the model names out (agents stay)")
    ex.add_argument("--no-cost", action="store_true", help="leave the cost out")
    ex.add_argument("--out", type=Path, help="write to FILE (default: stdout)")
    ex.add_argument("--no-refresh", action="store_true", help="export the index as it is")

    mg = acts.add_parser(
        "merge",
        parents=[common],
        formatter_class=formatter,
        help="verify members' exports and write the leaderboard into DIR/board",
    )
    mg.add_argument("files", nargs="+", type=Path, metavar="FILE")
    mg.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="the club folder: members.json (pinned keys) and board/ (CSV, JSON, SQLite, HTML)",
    )
    mg.add_argument("--as-of", help="the board's day (default: today, UTC)")
    mg.add_argument(
        "--kiosk",
        type=int,
        default=60,
        metavar="SECONDS",
        help="how often kiosk.html, the wall-screen page, reloads itself (default: 60)",
    )

    vf = acts.add_parser(
        "verify",
        parents=[common],
        formatter_class=formatter,
        help="check files as merge would (signature, schema, arithmetic rules), write nothing",
    )
    vf.add_argument("files", nargs="+", type=Path, metavar="FILE")

    cd = acts.add_parser(
        "card", parents=[common], formatter_class=formatter, help="a 1200x630 PNG of your day or week to share"
    )
    cd.add_argument("--day", help="the day (default: today), same forms as --since")
    cd.add_argument("--week", action="store_true", help="the 7 days ending on --day (default: today)")
    cd.add_argument("--member", help="a name to print on the card")
    cd.add_argument("--tz", help="time zone of the day boundary")
    cd.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    cd.add_argument("--no-refresh", action="store_true", help="draw from the index as it is")
    return p


def cmd_club(args: argparse.Namespace) -> int:
    rest = list(args.rest)
    if args.sub_help:
        rest.insert(0, "--help")
    args = parser().parse_args(rest, namespace=args)
    return {"export": cmd_export, "merge": cmd_merge, "verify": cmd_verify, "card": cmd_card}[args.club_action](args)


def cmd_export(args: argparse.Namespace) -> int:
    from app.club import export, signing
    from app.core.filters import Filter
    from app.core.secrets import InsecureKeyring, KeyringLockedError
    from app.core.timezones import resolve_zone

    try:
        member = export.check_member(args.member)
    except export.ExportError as exc:
        raise UsageError(str(exc)) from None
    prefs = settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    flt = Filter(tz=tz, since=parse_day(args.since, tz), until=parse_day(args.until, tz), agents=prefs.enabled_agents())
    try:
        key = signing.load_or_create(member)
    except (InsecureKeyring, KeyringLockedError, signing.SigningError) as exc:
        return fail(f"cannot sign the export: {exc}")
    if key.created and not args.quiet:
        print(f"tokenclub: created your club key {key.fingerprint} (kept in the OS keyring)", file=sys.stderr)
    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        try:
            doc = export.build(
                index.conn,
                flt,
                member,
                key,
                today=datetime.now(tz).date(),
                models=not args.no_models,
                cost=not args.no_cost,
            )
        except export.ExportError as exc:
            raise UsageError(str(exc)) from None
    finally:
        index.close()
    data = export.dumps(doc)
    if args.out:
        from app.core.paths import write_atomic

        write_atomic(args.out, data)
        if not args.quiet:
            days = len(doc["days"]["date"])
            print(f"tokenclub: wrote {args.out} ({days} days, key {key.fingerprint})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _day(text: str | None) -> date | None:
    return parse_day(text, UTC)


def cmd_merge(args: argparse.Namespace) -> int:
    from app.club import service

    as_of = _day(args.as_of) or datetime.now(UTC).date()
    if args.kiosk < 5:
        raise UsageError("--kiosk is at least 5 seconds")
    try:
        result, doc, folder = service.merge_board(list(args.files), args.out, as_of, kiosk_seconds=args.kiosk)
    except ValueError as exc:  # members.json unreadable: nothing written
        return fail(str(exc))
    for r in result.rejections:
        day = f" {r['day']}" if r["day"] else ""
        print(f"tokenclub: {r['file']}{day}: {r['action']}: {r['rule']}: {r['reason']}", file=sys.stderr)
    summary = {
        "board": str(folder),
        "members": len(result.members),
        "files_merged": result.files_merged,
        "files_rejected": doc["files"]["rejected"],
        "days_dropped": sum(1 for r in result.rejections if r["action"] == "day dropped"),
        "new_members": result.new_pins,
    }
    if args.json:
        import json

        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['members']} members from {summary['files_merged']} files "
            f"({summary['files_rejected']} rejected, {summary['days_dropped']} days dropped); "
            f"board in {folder}{'/' if not str(folder).endswith('/') else ''}index.html"
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from app.club import rules
    from app.club.schema import Rejected, read

    bad = 0
    latest = rules.latest_possible_day()
    for path in args.files:
        try:
            doc = read(path)
        except Rejected as err:
            bad += 1
            print(f"{path}: rejected: {err.rule}: {err.reason}")
            continue
        except OSError as exc:
            bad += 1
            print(f"{path}: rejected: unreadable: {exc.strerror or exc}")
            continue
        problems = list(rules.day_problems(doc, latest))
        print(f"{path}: ok: {doc['member']}, {len(doc['days']['date'])} days, key {doc['key']['fingerprint']}")
        for _, why in problems:
            print(f"{path}: day dropped: {why.rule}: {why.reason}")
    return 1 if bad else 0


def cmd_card(args: argparse.Namespace) -> int:
    from app.club import card
    from app.core.filters import Filter
    from app.core.timezones import resolve_zone

    prefs = settings(args)
    tz = resolve_zone(args.tz or prefs.tz)
    day = parse_day(args.day, tz) or datetime.now(tz).date()
    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        data = card.build(index.conn, Filter(tz=tz, agents=prefs.enabled_agents()), day, args.week, args.member)
        data["is_today"] = day == datetime.now(tz).date()
    finally:
        index.close()
    try:
        from app.gui.share_card import render_png  # the card is drawn by Qt, offscreen
    except ImportError as exc:
        return fail(f"the share card needs the desktop app's Qt ({exc})")
    render_png(data, args.out)
    if not args.quiet:
        print(f"tokenclub: wrote {args.out} (1200×630)", file=sys.stderr)
    return 0
