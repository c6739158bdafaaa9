"""Sync: fetch each key's usage and balance, then write them to the index in one transaction per key.

The first sync of a key fetches the last ``days`` days; later ones start from its oldest
provisional day (the last ``PROVISIONAL_DAYS`` UTC days are not final at the provider) or
the day after the last one covered. A failure keeps the data the key had and is recorded as
its kind (refused, rate-limited, server error, network, malformed answer, keyring, …) and a
redacted, bounded message: never the provider's body, never the key. Stored messages are
redacted again when read (an index written by an older TokenClub may hold a leaked key).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from threading import Event
from typing import Any, NamedTuple

from app.core import provider_data
from app.core.redact import redact
from app.providers import IDS, config, get
from app.providers.base import MESSAGE_LIMIT, NoUsageEndpoint, ProviderError
from app.providers.config import KeyInfo
from app.providers.store import Tx

PROVISIONAL_DAYS = 2
MAX_DAYS = 366


class Result(NamedTuple):
    key: str  # provider/label
    what: str  # usage or balance
    ok: bool
    message: str
    rows: int = 0
    warnings: tuple[str, ...] = ()
    kind: str = ""  # why it failed (see fault_kind); empty when it did not


def today_utc() -> date:
    return datetime.now(UTC).date()


def _secret(info: KeyInfo) -> str:
    from app.providers import keys

    return keys.get_secret(info)


KEYRING = "keyring"
UNEXPECTED = "error"


def _vault_error(exc: BaseException) -> bool:
    from app.core.secrets import InsecureKeyring, KeyringLockedError
    from app.providers.keys import VaultError

    return isinstance(exc, InsecureKeyring | KeyringLockedError | VaultError)


def fault_message(info: KeyInfo, exc: BaseException, secret: str = "") -> str:
    """A message for ``exc`` that names the provider and holds neither ``secret`` (the key in use) nor a key's shape.

    The errors made the messages redacted already; this is the last look before they are shown or stored.
    """
    if isinstance(exc, ProviderError):
        text = str(exc)
    elif _vault_error(exc):
        text = f"{info.provider}: {exc}"
    else:
        text = f"{info.provider}: unexpected {type(exc).__name__}"  # the text of an unknown error could hold anything
    return redact(text, (secret,), MESSAGE_LIMIT, runs=False)


def fault_kind(exc: BaseException) -> str:
    """Why ``exc`` happened, as stored: a ProviderError's kind, ``keyring``, or ``error``."""
    if isinstance(exc, ProviderError):
        return exc.kind
    return KEYRING if _vault_error(exc) else UNEXPECTED


def window(conn: sqlite3.Connection, info: KeyInfo, today: date, days: int | None) -> tuple[date, date]:
    if days is not None:
        return today - timedelta(days=min(max(days, 1), MAX_DAYS) - 1), today
    covered_to, first = provider_data.sync_window(conn, info.provider, info.label)
    if not covered_to:
        return today - timedelta(days=config.DEFAULT_DAYS - 1), today
    since = date.fromisoformat(covered_to) + timedelta(days=1)
    if first:
        since = min(since, date.fromisoformat(first))
    since = min(since, today - timedelta(days=PROVISIONAL_DAYS - 1))
    return max(since, today - timedelta(days=MAX_DAYS - 1)), today


def _note(
    conn: sqlite3.Connection,
    info: KeyInfo,
    error: str | None,
    covered: tuple[str, str] | None = None,
    kind: str | None = None,
) -> None:
    now = int(time.time())
    message = error and redact(error, (), MESSAGE_LIMIT)
    provider_data.note_attempt(conn, info.provider, info.label, now, message, kind if error else None)
    if covered is not None:
        provider_data.note_covered(conn, info.provider, info.label, now, *covered)


def sync_usage(
    conn: sqlite3.Connection,
    info: KeyInfo,
    today: date | None = None,
    days: int | None = None,
    secret: Callable[[KeyInfo], str] = _secret,
    cancel: Event | None = None,
) -> Result:
    today = today or today_utc()
    since, until = window(conn, info, today, days)
    key = ""
    try:
        provider = get(info.provider, cancel=cancel)
        key = secret(info)
        fetched = provider.usage(key, since, until)
    except NoUsageEndpoint as exc:
        return Result(info.name, "usage", True, str(exc))
    except Exception as exc:  # every fault keeps what the key had
        return _failed(conn, info, "usage", exc, key)
    first_provisional = (today - timedelta(days=PROVISIONAL_DAYS - 1)).isoformat()
    now = int(time.time())
    lo, hi = since.isoformat(), until.isoformat()
    with Tx(conn):
        provider_data.replace_usage(
            conn,
            info.provider,
            info.label,
            lo,
            hi,
            [
                (
                    r.day,
                    r.model,
                    r.inp,
                    r.cw,
                    r.cr,
                    r.out,
                    r.requests,
                    r.cost,
                    int(r.day >= first_provisional),
                    now,
                )
                for r in fetched.rows
                if lo <= r.day <= hi
            ],
        )
        _note(conn, info, None, (lo, hi))
    _touch(info)
    return Result(
        info.name,
        "usage",
        True,
        f"{info.provider}: {len(fetched.rows)} day×model rows, {lo} to {hi}",
        len(fetched.rows),
        tuple(redact(w, (key,), runs=False) for w in fetched.warnings),  # they may quote what the provider sent
    )


def _failed(conn: sqlite3.Connection, info: KeyInfo, what: str, exc: BaseException, key: str) -> Result:
    """Record the fault (its kind and redacted message) and say so; the key's data stays as it was."""
    message, kind = fault_message(info, exc, key), fault_kind(exc)
    with Tx(conn):
        _note(conn, info, message, kind=kind)
    return Result(info.name, what, False, message, kind=kind)


def sync_balance(
    conn: sqlite3.Connection, info: KeyInfo, secret: Callable[[KeyInfo], str] = _secret, cancel: Event | None = None
) -> Result:
    key = ""
    try:
        provider = get(info.provider, cancel=cancel)
        key = secret(info)
        balances = provider.balance(key)
    except NoUsageEndpoint as exc:
        return Result(info.name, "balance", True, str(exc))
    except Exception as exc:
        return _failed(conn, info, "balance", exc, key)
    now = int(time.time())
    with Tx(conn):
        provider_data.replace_balances(
            conn,
            info.provider,
            info.label,
            [(b.currency, b.total, b.granted, b.topped_up, b.detail, now) for b in balances],
        )
    _touch(info)
    shown = ", ".join(f"{b.total:,.2f} {b.currency}" for b in balances) or "no balance reported"
    return Result(info.name, "balance", True, f"{info.provider}: {shown}", len(balances))


def _touch(info: KeyInfo) -> None:
    from app.providers import keys

    with contextlib.suppress(OSError):  # "last used" is a courtesy; a read-only config must not fail a sync
        keys.touch(info)


def sync(
    conn: sqlite3.Connection,
    provider: str | None = None,
    label: str | None = None,
    days: int | None = None,
    today: date | None = None,
    balances: bool = True,
    secret: Callable[[KeyInfo], str] = _secret,
    cancel: Event | None = None,
) -> list[Result]:
    """Sync every key (of ``provider``, labelled ``label``): usage where the provider has it, then balance.

    ``cancel``, once set, ends the sync before the next key and stops the running requests' retries.
    """
    from app.providers import provider_class

    if provider is not None and provider not in IDS:
        raise ValueError(f"unknown provider {provider!r} (known: {', '.join(IDS)})")
    results: list[Result] = []
    for info in config.load().keys:
        if (provider and info.provider != provider) or (label and info.label != label):
            continue
        if cancel is not None and cancel.is_set():
            break
        cls = provider_class(info.provider)
        if cls.has_usage:
            if cls.usage_needs_admin and info.kind != "admin":
                results.append(
                    Result(
                        info.name,
                        "usage",
                        True,
                        f"{info.provider}: skipped usage: the usage endpoints need {cls.admin_name}",
                    )
                )
            else:
                results.append(sync_usage(conn, info, today, days, secret, cancel))
        if balances and cls.has_balance:
            results.append(sync_balance(conn, info, secret, cancel))
        if not cls.has_usage and not cls.has_balance:
            results.append(Result(info.name, "usage", True, f"{info.provider}: {cls.no_usage_reason}"))
    return results


def balances(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The last balance of every key, with its low-balance threshold and whether it is under it."""
    cfg = config.load()
    limits = {(k.provider, k.label): k.low_balance for k in cfg.keys}
    out = []
    for provider, label, currency, total, granted, topped_up, detail, fetched in provider_data.balances(conn):
        low = limits.get((provider, label))
        out.append(
            {
                "provider": provider,
                "label": label,
                "currency": currency,
                "balance": total,
                "granted": granted,
                "topped_up": topped_up,
                "detail": detail or "",
                "fetched_at": datetime.fromtimestamp(fetched, UTC).isoformat().replace("+00:00", "Z"),
                "low_balance": low,
                "low": low is not None and total < low,
            }
        )
    return out


def status(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Each key's sync state; its last error redacted again on the way out (whoever wrote it)."""
    return [
        {
            "provider": p,
            "label": lab,
            "covered_from": f,
            "covered_to": t,
            "last_ok": ok,
            "last_attempt": at,
            "last_error": redact(err, (), MESSAGE_LIMIT) if err else err,
            "error_kind": kind if err else None,
        }
        for p, lab, f, t, ok, at, err, kind in provider_data.sync_states(conn)
    ]
