"""``tokenclub host …``, and the options of ``refresh``, ``report`` and ``sources`` that choose hosts and devices.

``register`` adds the commands without importing the ssh machinery; it loads on use. The hosts'
part of a refresh is ``common.pull_hosts`` (with no host registered, one ``stat`` of ``hosts.json``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from app.cli.common import bounded, formatter, open_index
from app.cli.render import print_doc, render_table

_Handler = Callable[[argparse.Namespace], int]


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``host`` to ``sub``, ``--host``/``--local-only`` to the commands that refresh, ``--device`` to report."""
    host = sub.add_parser(
        "host",
        parents=[common],
        help="dedicated machines over ssh: add, list, check, set, rekey, remove",
        formatter_class=formatter,
    )
    hs = host.add_subparsers(dest="host_action", metavar="ACTION", required=True)
    add = hs.add_parser("add", parents=[common], help="pair a host (pins its key, compares machine ids)")
    add.add_argument("name", help="the host's device name in reports")
    add.add_argument("--ssh", required=True, metavar="[USER@]HOST", help="where ssh reaches it")
    add.add_argument("--port", type=bounded(int, 1, 65_535), default=22)
    add.add_argument("--identity", metavar="FILE", help="a private key file (default: your ssh-agent and config)")
    add.add_argument("--accept-host-key", metavar="SHA256:…", help="the host key's fingerprint (ssh-keygen -lf)")
    add.add_argument("--allow-this-machine", action="store_true", help="pair the machine you sit at, on purpose")
    sandbox_help = "a sandbox you may trash: Claude Code runs with IS_SANDBOX=1 (to skip permissions as root)"
    add.add_argument("--claude-sandbox", action="store_true", help=sandbox_help)
    st = hs.add_parser("set", parents=[common], help="change a host's settings")
    st.add_argument("name")
    st.add_argument("--claude-sandbox", action=argparse.BooleanOptionalAction, required=True, help=sandbox_help)
    ls = hs.add_parser("list", parents=[common], help="the hosts, where they are and their pinned key")
    del ls
    chk = hs.add_parser("check", parents=[common], help="reachable, OS, Python, disk, agent CLIs, log roots")
    chk.add_argument("name")
    rk = hs.add_parser("rekey", parents=[common], help="trust the host's new key after a change you expect")
    rk.add_argument("name")
    rk.add_argument("--accept-host-key", required=True, metavar="SHA256:…")
    rm = hs.add_parser("remove", parents=[common], help="forget a host (its counted usage stays unless asked)")
    rm.add_argument("name")
    rm.add_argument("--forget-usage", action="store_true", help="also delete its calls from the index")
    for name in ("refresh", "report", "sources", "prices"):
        p = sub.choices.get(name)
        if p is None:
            continue
        p.add_argument("--host", action="append", dest="hosts", metavar="NAME", help="pull only this host (repeat)")
        p.add_argument("--local-only", action="store_true", help="do not pull the dedicated machines")
    rep = sub.choices.get("report")
    if rep is not None:
        rep.add_argument("--device", action="append", metavar="NAME", help="only this machine or host (repeat)")
    return {"host": cmd_host}


# -- hooks the main command line calls ----------------------------------------------------------------


def devices(args: argparse.Namespace) -> frozenset[str] | None:
    """``--device`` as stored: this machine's name (or 'local') is ''."""
    given = getattr(args, "device", None)
    if not given:
        return None
    from app.core.devices import stored

    return frozenset(stored(part.strip()) for d in given for part in d.split(",") if part.strip())


# -- host … -------------------------------------------------------------------------------------------


def cmd_host(args: argparse.Namespace) -> int:
    from app.console.ssh import HostError

    try:
        return {
            "add": _add,
            "list": _list,
            "check": _check,
            "set": _set,
            "rekey": _rekey,
            "remove": _remove,
        }[args.host_action](args)
    except HostError as exc:
        print(f"tokenclub: {exc}", file=sys.stderr)
        return 1


def _add(args: argparse.Namespace) -> int:
    from app.console import hosts
    from app.console.ssh import HostError, Target, is_fingerprint, keyscan

    hosts.check_name(args.name)
    if args.accept_host_key and not is_fingerprint(args.accept_host_key):
        raise HostError(f"{args.accept_host_key!r} is not a SHA256 fingerprint (SHA256: and 43 characters)")
    target = Target(args.name, args.ssh, args.port, str(paths_abs(args.identity)) if args.identity else None)
    keys = keyscan(target)
    shown = "\n".join(f"  {k.fingerprint} ({k.kind})" for k in keys)
    if args.accept_host_key:
        key = hosts.matching(keys, args.accept_host_key)
        if key is None:
            raise HostError(
                f"{target.address}:{target.port} offers no key with fingerprint {args.accept_host_key}; it offers:\n"
                f"{shown}"
            )
    elif sys.stdin.isatty() and sys.stderr.isatty():
        preferred = next((k for k in keys if k.kind == "ED25519"), keys[0])
        print(f"{target.address}:{target.port} offers these host keys:\n{shown}", file=sys.stderr)
        answer = input(
            f"Trust {preferred.fingerprint} for host {args.name}? Compare it with the host's own "
            "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("tokenclub: nothing was added", file=sys.stderr)
            return 1
        key = preferred
    else:
        raise HostError(
            f"{target.address}:{target.port} offers these host keys; check one on the host "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass it with --accept-host-key:\n{shown}"
        )
    info = hosts.add(target, key, args.allow_this_machine, args.claude_sandbox)
    doc = {
        "host": args.name,
        "ssh": args.ssh,
        "port": args.port,
        "host_key": key.fingerprint,
        "os": info.get("os"),
        "python": info.get("python"),
        "home": info.get("home"),
    }
    print_doc(
        args,
        doc,
        f"added {args.name} ({args.ssh}, {info.get('os')}, Python {info.get('python')}), "
        f"key {key.fingerprint}; `tokenclub refresh` pulls its usage\n",
    )
    return 0


def paths_abs(p: str) -> str:
    import os

    return os.path.abspath(os.path.expanduser(p))


def _list(args: argparse.Namespace) -> int:
    from app.console import status

    rows = status.hosts_list()
    if args.json:
        print_doc(args, {"hosts": rows}, "")
        return 0
    if not rows:
        print("no hosts; add one with `tokenclub host add NAME --ssh [USER@]HOST`")
        return 0
    table = [
        {"host": r["host"], "ssh": f"{r['ssh']}:{r['port']}", "host key": r["host_key"] or "(no key pinned)"}
        for r in rows
    ]
    sys.stdout.write(render_table(table, list(table[0])))
    return 0


def _check(args: argparse.Namespace) -> int:
    from app.console import hosts

    target = hosts.named(args.name)
    doc = hosts.check(target)
    if args.json:
        print_doc(args, doc, "")
        return 0 if doc["reachable"] else 1
    if not doc["reachable"]:
        print(f"{args.name}: unreachable: {doc['why']}")
        return 1
    free = doc.get("disk_free_bytes")
    print(f"{args.name}: reachable, round trip {doc['rtt_ms']} ms (connect {doc['connect_s']} s)")
    print(
        f"  {doc['os']}, Python {doc['python']}, home {doc['home']}, "
        f"{'?' if free is None else f'{free / 1e9:.1f} GB'} free"
    )
    for cli, c in sorted((doc.get("clis") or {}).items()):
        print(f"  {cli}: {c['version'] or '?'} ({c['path']})" if c["path"] else f"  {cli}: not installed")
    if doc.get("claude_root"):
        print(f"  claude as root: {doc['claude_root']}")
    for agent, a in doc["agents"].items():
        roots = [r["path"] for r in a["roots"] if r["exists"]]
        if roots or a["unreadable"]:
            print(f"  {agent}: {a['files']} files, {a['bytes'] / 1e6:.1f} MB in {', '.join(roots) or '-'}")
        for path, why in a["unreadable"]:
            print(f"    cannot read {path}: {why}")
    return 0


def _set(args: argparse.Namespace) -> int:
    from app.console import hosts

    hosts.set_claude_sandbox(args.name, args.claude_sandbox)
    state = "on: Claude Code runs get IS_SANDBOX=1" if args.claude_sandbox else "off"
    print_doc(
        args, {"host": args.name, "claude_sandbox": args.claude_sandbox}, f"{args.name}: claude sandbox {state}\n"
    )
    return 0


def _rekey(args: argparse.Namespace) -> int:
    from app.console import hosts
    from app.console.ssh import HostError, is_fingerprint, pinned

    target = hosts.named(args.name)
    if not is_fingerprint(args.accept_host_key):
        raise HostError(f"{args.accept_host_key!r} is not a SHA256 fingerprint")
    old = ", ".join(k.fingerprint for k in pinned(target)) or "none"
    key = hosts.rekey(target, args.accept_host_key)
    print_doc(
        args,
        {"host": args.name, "old": old, "new": key.fingerprint},
        f"{args.name}: now trusting {key.fingerprint} (was {old})\n",
    )
    return 0


def _remove(args: argparse.Namespace) -> int:
    from app.console import hosts, pull

    target = hosts.remove(args.name)
    forgotten = 0
    if args.forget_usage:
        index = open_index(args)
        try:
            forgotten = pull.forget_usage(index.conn, target.name)
        finally:
            index.close()
    print_doc(
        args,
        {"host": args.name, "removed": True, "calls_forgotten": forgotten},
        f"removed {args.name}"
        + (
            f"; {forgotten} calls forgotten\n"
            if args.forget_usage
            else "; its counted usage stays (--forget-usage deletes it)\n"
        ),
    )
    return 0
