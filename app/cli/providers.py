"""``tokenclub keys …``, ``tokenclub provider …`` and ``tokenclub report reconcile``.

``register`` adds the commands to the main parser without importing httpx or keyring (the
command line's start-up stays as it was); the handlers load them on use. A key is read
from a hidden prompt or from stdin, never from an argument.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

from app.cli.common import UsageError, bounded, fail, formatter, open_index, options, parse_day, refresh
from app.cli.render import HEADERS, render
from app.providers import IDS, TITLES

_Handler = Callable[[argparse.Namespace], int]


HELP = {
    "keys": "API keys in the OS keyring: add, list, test, set, remove",
    "provider": "provider usage, cost and balances: sync, balances, list, config",
}


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, _Handler]:
    """Add ``keys`` and ``provider`` to ``sub`` (and ``--threshold`` to ``report``); their handlers by command.

    Each is a thin parser that keeps the rest of the line: its actions and their options are
    built only when the command runs (building them all cost every command line start 2 ms).
    """
    for name, text in HELP.items():
        thin = sub.add_parser(name, parents=[common], add_help=False, help=text, formatter_class=formatter)
        thin.add_argument("-h", "--help", action="store_true", dest="sub_help", help=argparse.SUPPRESS)
        thin.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    rep = sub.choices.get("report")
    if rep is not None:
        rep.add_argument(
            "--threshold",
            type=bounded(float, 0, 1000, "percent"),
            metavar="PERCENT",
            help="reconcile only: flag differences above this (default: the provider settings', 5)",
        )
    return {"keys": cmd_keys, "provider": cmd_provider}


def parse(args: argparse.Namespace) -> argparse.Namespace:
    """The full ``keys`` or ``provider`` command line, parsed into ``args``."""
    common = options(sub=True)  # options after the action must not reset those before it
    parser = argparse.ArgumentParser(
        prog=f"tokenclub {args.command}", description=HELP[args.command], parents=[common], formatter_class=formatter
    )
    (_keys_parser if args.command == "keys" else _provider_parser)(parser, common)
    rest = list(args.rest)
    if args.sub_help:
        rest.insert(0, "--help")
    if args.command != "keys":
        return parser.parse_args(rest, namespace=args)
    # never echo what was typed: a key given as an argument (or in the provider's place) would be printed
    args, extra = parser.parse_known_args(rest, namespace=args)
    if extra:
        parser.error(
            f"{len(extra)} unexpected argument(s), not shown: a key is never given on the command line (it would "
            "stay in the shell history and show in ps); run the command without it and paste the key at the "
            "hidden prompt, or pipe it on stdin"
        )
    if getattr(args, "provider", None) not in (None, *IDS):
        parser.error(f"unknown provider (not shown); known: {', '.join(IDS)}")
    return args


def _keys_parser(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    ks = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    add = ks.add_parser(
        "add",
        parents=[common],
        formatter_class=formatter,
        help="add a key (read from a hidden prompt, or from stdin when piped)",
    )
    add.add_argument("provider", metavar="PROVIDER", help=", ".join(IDS))
    add.add_argument("--label", default="default", help="a name for this key (default: default)")
    add.add_argument(
        "--kind",
        choices=("regular", "admin"),
        help="admin for usage/cost/management keys (default: guessed from the key's prefix)",
    )
    add.add_argument(
        "--low-balance", type=bounded(float, 0, 1e12), metavar="AMOUNT", help="warn when the balance falls below this"
    )
    ls = ks.add_parser("list", parents=[common], formatter_class=formatter, help="the keys, masked")
    ls.add_argument("provider", nargs="?", metavar="PROVIDER")
    test = ks.add_parser(
        "test",
        parents=[common],
        formatter_class=formatter,
        help="call each key's cheapest read-only endpoint",
        description="Call each key's cheapest read-only endpoint and say whether it answered. Exit status: 0 when "
        "every key tested passed, 1 when any failed (the output says why; --json adds each failure's kind).",
    )
    test.add_argument("provider", nargs="?", metavar="PROVIDER")
    test.add_argument("--label")
    rm = ks.add_parser("remove", parents=[common], formatter_class=formatter, help="remove a key")
    rm.add_argument("provider", metavar="PROVIDER")
    rm.add_argument("--label")
    st = ks.add_parser(
        "set",
        parents=[common],
        formatter_class=formatter,
        help="relabel a key, or set its kind or low-balance threshold",
    )
    st.add_argument("provider", metavar="PROVIDER")
    st.add_argument("--label", default="default")
    st.add_argument("--new-label")
    st.add_argument("--kind", choices=("regular", "admin"))
    st.add_argument("--low-balance", type=bounded(float, 0, 1e12), metavar="AMOUNT")
    st.add_argument("--no-low-balance", action="store_true", help="no low-balance warning for this key")


def _provider_parser(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    ps = parser.add_subparsers(dest="provider_action", metavar="ACTION", required=True)
    sy = ps.add_parser(
        "sync",
        parents=[common],
        formatter_class=formatter,
        help="fetch usage and balances into the index",
        description="Fetch each key's usage and balance into the index. Exit status: 0 when every fetch succeeded "
        "or was skipped (no endpoint, or the usage endpoints need an admin key), 1 when any failed (that key keeps "
        "the data it had; the output and provider list say why, --json adds the failure's kind).",
    )
    sy.add_argument("provider", nargs="?", choices=IDS, metavar="PROVIDER")
    sy.add_argument("--label")
    sy.add_argument(
        "--days",
        type=bounded(int, 1, 366, "days"),
        help="fetch this many days back (default: what is new, 30 days at first)",
    )
    bal = ps.add_parser(
        "balances",
        parents=[common],
        formatter_class=formatter,
        help="each key's balance (fetched now), flagged under its threshold",
    )
    bal.add_argument("provider", nargs="?", choices=IDS, metavar="PROVIDER")
    bal.add_argument("--no-fetch", action="store_true", help="show the last balances read, offline")
    ps.add_parser(
        "list",
        parents=[common],
        formatter_class=formatter,
        help="providers: what each offers, base URL, keys, last sync",
    )
    cfg = ps.add_parser(
        "config",
        parents=[common],
        formatter_class=formatter,
        help="base URLs, the sync schedule and the reconciliation threshold",
    )
    cfg.add_argument("--base-url", action="append", metavar="PROVIDER=URL", help="a gateway or proxy (repeatable)")
    cfg.add_argument("--reset-base-url", action="append", metavar="PROVIDER", choices=IDS)
    cfg.add_argument("--sync-every", type=int, metavar="MINUTES", help="desktop app sync schedule (0: off)")
    cfg.add_argument("--threshold", type=float, metavar="PERCENT", help="reconciliation flag threshold")


COLUMN_TITLES = {
    "provider_tokens": "provider tokens",
    "log_tokens": "log tokens",
    "diff_tokens": "difference",
    "diff_pct": "diff %",
    "provider_cost_usd": "provider cost",
    "log_cost_usd": "log cost",
    "last_used": "last used",
    "low_balance": "low balance",
    "fetched_at": "fetched",
    "last_error": "last error",
    "base_url": "base URL",
}


def _out(args: argparse.Namespace, doc: dict[str, Any], rows: list[dict[str, Any]], columns: list[str]) -> None:
    for column, title in COLUMN_TITLES.items():  # table headers only: JSON and CSV keep the field names
        HEADERS.setdefault(column, title)
    sys.stdout.write(render(args, doc, rows, columns))


def _read_key(provider: str) -> str:
    """The key from a hidden prompt at a terminal, else the first line of stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{TITLES[provider]} API key (input hidden): ")
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.strip()


def cmd_keys(args: argparse.Namespace) -> int:
    args = parse(args)
    from app.core.secrets import InsecureKeyring, KeyringLockedError
    from app.providers import keys

    try:
        return _KEYS[args.keys_action](args)
    except (InsecureKeyring, KeyringLockedError, keys.VaultError) as exc:
        return fail(str(exc))


def _keys_add(args: argparse.Namespace) -> int:
    from app.core.secrets import secure_keyring
    from app.providers import keys

    secure_keyring()  # refuse before asking for the key
    secret = _read_key(args.provider)
    info = keys.add(args.provider, secret, args.label, args.kind, args.low_balance)
    del secret
    print(f"stored {info.name} ({info.kind} key {info.mask}) in the keyring")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from app.providers import keys

    rows = [k.as_dict() for k in keys.select(args.provider)]
    columns = ["provider", "label", "kind", "mask", "last_used", "low_balance", "added"]
    if not rows and not (args.json or args.csv):
        print("no keys yet: tokenclub keys add PROVIDER [--label L]  (providers: " + ", ".join(IDS) + ")")
        return 0
    _out(args, {"keys": rows}, rows, columns)
    return 0


def _keys_test(args: argparse.Namespace) -> int:
    from app.providers import get, keys
    from app.providers.sync import fault_kind, fault_message

    chosen = keys.select(args.provider, args.label)
    if not chosen:
        return fail("no such key" if args.provider else "no keys yet: tokenclub keys add PROVIDER")
    rows = []
    for info in chosen:
        secret, kind = "", ""
        try:
            secret = keys.get_secret(info)
            message = get(info.provider).test(secret)
            ok = True
            keys.touch(info)
        except Exception as exc:
            message, kind, ok = fault_message(info, exc, secret), fault_kind(exc), False
        del secret
        rows.append(
            {
                "provider": info.provider,
                "label": info.label,
                "kind": info.kind,
                "mask": info.mask,
                "ok": ok,
                "result": message,
                "error_kind": kind,
            }
        )
    _out(args, {"keys": rows}, rows, ["provider", "label", "kind", "mask", "ok", "result"])
    return 0 if all(r["ok"] for r in rows) else 1


def _keys_remove(args: argparse.Namespace) -> int:
    from app.providers import keys

    for info in keys.remove(args.provider, args.label):
        print(f"removed {info.name} ({info.mask})")
    return 0


def _keys_set(args: argparse.Namespace) -> int:
    from app.providers import keys

    info = keys.update(args.provider, args.label, args.new_label, args.low_balance, args.no_low_balance, args.kind)
    low = "none" if info.low_balance is None else f"{info.low_balance:g}"
    print(f"{info.name}: {info.kind} key {info.mask}, low-balance threshold {low}")
    return 0


_KEYS: dict[str, _Handler] = {
    "add": _keys_add,
    "list": _keys_list,
    "test": _keys_test,
    "remove": _keys_remove,
    "set": _keys_set,
}


def _conn(args: argparse.Namespace) -> Any:
    from app.core import paths
    from app.providers import store

    return store.open_index(args.db or paths.default_db(), args.wait)


def cmd_provider(args: argparse.Namespace) -> int:
    args = parse(args)
    from app.core.schema import IndexBusy, NotAnIndex

    try:
        return _PROVIDER[args.provider_action](args)
    except (IndexBusy, NotAnIndex) as exc:
        return fail(str(exc))
    except sqlite3.OperationalError as exc:  # the index stayed locked past --wait: nothing was written
        return fail(f"the index is busy or unwritable ({exc}); nothing was changed, try again")
    except ValueError as exc:
        return fail(str(exc), 2)


def _provider_sync(args: argparse.Namespace) -> int:
    from app.providers import keys, sync

    if not keys.select(args.provider, args.label):
        return fail("no keys to sync: tokenclub keys add PROVIDER [--label L]")
    conn = _conn(args)
    try:
        results = sync.sync(conn, args.provider, args.label, args.days)
    finally:
        conn.close()
    rows = [r._asdict() | {"warnings": list(r.warnings)} for r in results]
    if not args.quiet:
        for r in results:
            for w in r.warnings:
                print(f"tokenclub: warning: {w}", file=sys.stderr)
    _out(args, {"results": rows}, rows, ["key", "what", "ok", "message"])
    return 0 if all(r.ok for r in results) else 1


def _provider_balances(args: argparse.Namespace) -> int:
    from app.providers import keys, sync

    conn = _conn(args)
    failed = False
    try:
        if not args.no_fetch:
            from app.providers import provider_class

            for info in keys.select(args.provider):
                if provider_class(info.provider).has_balance:
                    r = sync.sync_balance(conn, info)
                    if not r.ok:
                        failed = True
                        print(f"tokenclub: {r.message} (showing the last balance read)", file=sys.stderr)
        rows = [b for b in sync.balances(conn) if args.provider in (None, b["provider"])]
    finally:
        conn.close()
    if not args.quiet:
        for b in rows:
            if b["low"]:
                print(
                    f"tokenclub: low balance: {b['provider']}/{b['label']} has {b['balance']:,.2f} {b['currency']}"
                    f", under {b['low_balance']:,.2f}",
                    file=sys.stderr,
                )
    columns = ["provider", "label", "balance", "currency", "low_balance", "low", "fetched_at", "detail"]
    _out(args, {"balances": rows}, rows, columns)
    return 1 if failed else 0


def _provider_list(args: argparse.Namespace) -> int:
    from app.providers import config, provider_class, sync

    cfg = config.load()
    conn = _conn(args)
    try:
        state = {(s["provider"], s["label"]): s for s in sync.status(conn)}
    finally:
        conn.close()
    rows = []
    for pid in IDS:
        cls = provider_class(pid)
        offers = [w for w, on in (("usage+cost", cls.has_usage), ("balance", cls.has_balance)) if on]
        mine = cfg.find(pid)
        errors = [s for (p, _), s in state.items() if p == pid and s["last_error"]]
        rows.append(
            {
                "provider": pid,
                "title": cls.title,
                "offers": offers or ["no usage endpoint"],
                "base_url": cfg.base_urls.get(pid, cls.default_base_url),
                "keys": len(mine),
                "needs": cls.admin_name if cls.has_usage and cls.admin_prefixes else "",
                "last_error": errors[0]["last_error"] if errors else "",
                "last_error_kind": (errors[0]["error_kind"] or "") if errors else "",
                "note": "" if cls.has_usage or cls.has_balance else cls.no_usage_reason,
            }
        )
    _out(
        args,
        {"providers": rows, "sync_every_minutes": cfg.sync_every_minutes, "reconcile_threshold_pct": cfg.threshold_pct},
        rows,
        ["provider", "offers", "keys", "base_url", "last_error", "note"],
    )
    return 0


def _provider_config(args: argparse.Namespace) -> int:
    from app.providers import config

    cfg = config.load()
    try:
        for item in args.base_url or []:
            pid, sep, url = item.partition("=")
            if not sep or pid not in IDS:
                return fail(f"--base-url takes PROVIDER=URL with PROVIDER one of {', '.join(IDS)}", 2)
            cfg.base_urls[pid] = config.check_base_url(url)
        for pid in args.reset_base_url or []:
            cfg.base_urls.pop(pid, None)
        if args.sync_every is not None:
            if not 0 <= args.sync_every <= 7 * 24 * 60:
                return fail("--sync-every is 0 (off) to 10080 minutes", 2)
            cfg.sync_every_minutes = args.sync_every
        if args.threshold is not None:
            if not 0 <= args.threshold <= 1000:
                return fail("--threshold is a percentage, 0 to 1000", 2)
            cfg.threshold_pct = args.threshold
    except config.ConfigError as exc:
        return fail(str(exc), 2)
    config.save(cfg)
    doc = {k: v for k, v in cfg.as_dict().items() if k != "keys"}
    _out(args, doc, [doc], ["base_urls", "sync_every_minutes", "reconcile_threshold_pct"])
    return 0


_PROVIDER: dict[str, _Handler] = {
    "sync": _provider_sync,
    "balances": _provider_balances,
    "list": _provider_list,
    "config": _provider_config,
}


def cmd_reconcile(args: argparse.Namespace) -> int:
    """``report reconcile``: per UTC day and model, provider against logs, flagged above the threshold."""
    from datetime import UTC

    from app.providers import config, reconcile

    for option, given in (("--tz", args.tz), ("--agent", args.agent), ("--range", args.range)):
        if given:
            raise UsageError(f"{option} does not apply to report reconcile (UTC days, every agent, --since/--until)")
    since, until = parse_day(args.since, UTC), parse_day(args.until, UTC)
    if since and until and since > until:
        raise UsageError("--since is after --until")
    threshold = args.threshold if getattr(args, "threshold", None) is not None else config.load().threshold_pct
    index = open_index(args)
    try:
        if not args.no_refresh:
            refresh(index, args)
        doc = reconcile.report(index.conn, since, until, threshold)
    finally:
        index.close()
    rows = reconcile.flat(doc)
    columns = [
        "date",
        "model",
        "providers",
        "provider_tokens",
        "log_tokens",
        "diff_tokens",
        "diff_pct",
        "provider_cost_usd",
        "log_cost_usd",
        "flag",
        "provisional",
    ]
    if not rows and not (args.json or args.csv):
        print(
            "nothing to reconcile: add an admin key (tokenclub keys add openai|anthropic --kind admin) "
            "and run tokenclub provider sync"
        )
        return 0
    _out(args, doc, rows, columns)
    if not (args.json or args.csv):
        print(f"days in UTC (as providers bucket them); flagged above {threshold:g}%: {doc['flagged']} of {len(rows)}")
    return 0
