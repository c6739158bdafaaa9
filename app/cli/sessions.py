"""``tokenclub session launch|list|tail|kill``: agent runs on the dedicated machines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from app.cli.common import formatter
from app.cli.render import print_doc, render_table
from app.console import agents

_FOLLOW_EVERY_S = 1.0


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    ses = sub.add_parser(
        "session",
        parents=[common],
        help="agent runs on a dedicated machine: launch, list, tail, kill",
        formatter_class=formatter,
    )
    ss = ses.add_subparsers(dest="session_action", metavar="ACTION", required=True)
    la = ss.add_parser("launch", parents=[common], help="start an agent on a host with a goal (its stdin)")
    la.add_argument("--host", required=True, metavar="NAME")
    la.add_argument("--agent", required=True, choices=agents.CHOICES)
    goal = la.add_mutually_exclusive_group(required=True)
    goal.add_argument("--goal", metavar="TEXT", help="the goal (visible in this machine's ps; prefer --goal-file)")
    goal.add_argument("--goal-file", metavar="FILE", help="read the goal from FILE ('-' for stdin)")
    la.add_argument("--cwd", metavar="DIR", help="work directory on the host (default: its home)")
    la.add_argument("--worktree", action="store_true", help="work in a fresh git worktree on a new branch of --cwd")
    la.add_argument("--model", metavar="M")
    la.add_argument("--until", metavar="CMD", help="loop: run the agent again until CMD passes in the work directory")
    la.add_argument("--max-iterations", type=int, metavar="N", help="the loop's cap (required with --until)")
    la.add_argument("--budget-tokens", type=int, metavar="N")
    la.add_argument("--budget-usd", type=float, metavar="X")
    la.add_argument("--budget-hours", type=float, metavar="H")
    la.add_argument(
        "--stop-at-window",
        type=float,
        metavar="PCT",
        help="Codex: end the run once its plan's 5-hour or weekly window passes PCT percent (read from its rollout)",
    )
    la.add_argument("--stall-minutes", type=float, default=10.0, metavar="M", help="no event and no CPU this long")
    la.add_argument(
        "--command", dest="template", metavar="TEMPLATE", help="--agent custom: the command ({model} filled in)"
    )
    la.add_argument("--format", choices=agents.FORMATS, help="--agent custom: how its stdout reports usage")
    ls = ss.add_parser("list", parents=[common], help="runs on every host with status, tokens, cost")
    ls.add_argument("--host", metavar="NAME")
    ta = ss.add_parser("tail", parents=[common], help="a run's output, readable")
    ta.add_argument("id")
    ta.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    ta.add_argument("--raw", action="store_true", help="the agent's events as it wrote them")
    ki = ss.add_parser("kill", parents=[common], help="stop runs and verify nothing of them is left")
    which = ki.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?")
    which.add_argument("--all", action="store_true", help="every live run on every host (or --host)")
    ki.add_argument("--host", metavar="NAME")
    return {"session": cmd_session}


def cmd_session(args: argparse.Namespace) -> int:
    from app.console.ssh import HostError

    try:
        return {"launch": _launch, "list": _list, "tail": _tail, "kill": _kill}[args.session_action](args)
    except HostError as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 1
    except agents.AgentError as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return exc.exit_code


def _read_goal(args: argparse.Namespace) -> str:
    if args.goal is not None:
        return str(args.goal)
    if args.goal_file == "-":
        return sys.stdin.read()
    try:
        with open(args.goal_file, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise agents.AgentError(f"cannot read the goal file: {exc.strerror or exc}") from None


def _launch(args: argparse.Namespace) -> int:
    from app.console import hosts, sessions

    spec = sessions.Launch(
        agent=args.agent,
        goal=_read_goal(args),
        cwd=args.cwd,
        worktree=args.worktree,
        model=args.model,
        until=args.until,
        max_iterations=args.max_iterations,
        budget_tokens=args.budget_tokens,
        budget_usd=args.budget_usd,
        budget_hours=args.budget_hours,
        stop_at_window=args.stop_at_window,
        stall_minutes=args.stall_minutes,
        command=args.template,
        format=args.format,
    )
    spec.check()  # bad numbers and missing parts are named before the host or the index is looked at
    target = hosts.named(args.host)
    with sessions.price_book(args.db, args.wait) as book:
        if args.budget_usd is not None:
            spec.rates = book.rates(args.agent, args.model)
        row = sessions.launch(target, spec, book.prices)
    if args.json:
        print_doc(args, row, "")
    else:
        first = row.get("first_event")
        seen = f"; first event: {json.dumps(first)[:160]}" if first is not None else ""
        print(f"{row['id']} on {row['host']}: {row['status']} ({row['reason']}){seen}")
        known = f"model {row['model']}" if row.get("model") else "model unknown at launch"
        print(f"  {known} ({row.get('model_source') or '?'})")
    return 1 if row["status"] in ("failed", "crashed") else 0


def _targets(host: str | None) -> list[Any]:
    from app.console import hosts

    return [hosts.named(host)] if host else list(hosts.load().values())


def _list(args: argparse.Namespace) -> int:
    from app.console import sessions

    with sessions.price_book(args.db, args.wait) as book:
        results = sessions.list_runs(_targets(args.host), book.prices)
    rows = sorted((r for h in results for r in h.rows), key=lambda r: r["started"] or "")
    for h in results:
        if h.error:
            print(f"tokenclub: warning: host {h.host}: {h.error} (its runs as last seen)", file=sys.stderr)
        for k in h.killed:
            print(f"tokenclub: a pending kill of {k['id']} on {h.host} is done: {k['status']}", file=sys.stderr)
    if args.json:
        print_doc(args, {"sessions": rows}, "")
        return 0
    if not rows:
        print("no sessions; start one with `tokenclub session launch --host NAME --agent AGENT --goal-file FILE`")
        return 0
    table = [
        {
            "id": r["id"],
            "host": r["host"],
            "agent": r["agent"],
            "status": r["status"] + (" (stale)" if r.get("stale") else ""),
            "iter": r["iterations"],
            "tokens": f"{r['tokens']['total']:,}",
            "cost": "-" if r["cost_usd"] is None else sessions.usd(r["cost_usd"]),
            "tok/min": "-" if r["tokens_per_min"] is None else f"{r['tokens_per_min']:,}",
            "reason": (r["reason"] or "")[:60],
        }
        for r in rows
    ]
    sys.stdout.write(render_table(table, list(table[0])))
    return 0


def _find(rid: str, host: str | None) -> Any:
    """The host that ran ``rid``: ``--host``, what was last seen, or by asking every host."""
    from app.console import hosts, sessions
    from app.console.ssh import HostError

    if host:
        return hosts.named(host)
    registry = hosts.load()
    name = sessions.host_of(rid, registry)
    if name is None:
        for h in sessions.list_runs(registry.values()):
            if any(r["id"] == rid for r in h.rows):
                name = h.host
                break
    if name is None:
        raise HostError(f"no session {rid} on any host")
    return registry[name]


def _tail(args: argparse.Namespace) -> int:
    from app.console import sessions

    target = _find(args.id, None)
    offset = 0
    while True:
        data, offset, size = sessions.events(target, args.id, offset)
        for line in data.splitlines():
            text = line.decode("utf-8", "replace") if args.raw else sessions.readable(line)
            if text:
                print(text, flush=True)
        if offset < size:
            continue
        if not args.follow:
            return 0
        rows = [r for h in sessions.list_runs([target]) for r in h.rows if r["id"] == args.id]
        if rows and rows[0]["status"] in sessions.FINAL and rows[0]["events_size"] <= offset:
            print(f"== {rows[0]['status']}: {rows[0]['reason']}", flush=True)
            return 0
        time.sleep(_FOLLOW_EVERY_S)


def _kill(args: argparse.Namespace) -> int:
    from app.console import sessions

    if args.all:
        done = [k for t in _targets(args.host) for k in sessions.kill(t, None)]
    else:
        done = sessions.kill(_find(args.id, args.host), [args.id])
    if args.json:
        print_doc(args, {"killed": done}, "")
    else:
        if not done:
            print("no live session to kill")
        for k in done:
            left = "?" if k["remaining"] is None else k["remaining"]
            print(f"{k['id']} on {k['host']}: {k['status']}, {left} processes left ({k.get('reason') or ''})")
    pending = any(k["status"] == "kill-pending" for k in done)
    return 1 if pending or any(k["remaining"] for k in done) else 0
