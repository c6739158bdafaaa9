"""Every plan reading at once, for ``tokenclub limits`` and the app's Limits panel alike.

Above the sources and the providers (it uses both), below the faces; Qt-free. Call it off the
GUI thread: it reads rollouts and may make one HTTPS request.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, tzinfo
from typing import Any

from app.core import limits
from app.core.env import Env
from app.sources import codex_limits


def collect(
    env: Env, conn: sqlite3.Connection, now: datetime, account_url: str | None
) -> tuple[list[limits.Window], limits.Block | None, list[str]]:
    """Codex's windows from its rollouts, Claude's from its account endpoint (when ``account_url`` is given: the
    user opted in), Claude Code's active 5-hour block from the index, and a note for each that is missing."""
    notes: list[str] = []
    windows: list[limits.Window] = []
    codex = codex_limits.read(env)
    if codex.snapshot is not None:
        windows.extend(codex.snapshot.windows)
    else:
        roots = ", ".join(str(r) for r in codex_limits.roots(env))
        notes.append(f"codex: no rate_limits reading in its rollouts ({roots})")
    if account_url is not None:
        from app.providers import claude_account
        from app.providers.base import ProviderError

        try:
            windows.extend(claude_account.fetch(env, account_url))
        except ProviderError as exc:  # redacted where it was made
            notes.append(f"claude: {exc}")
    else:
        notes.append("claude: the account's plan use is not asked (opt in: --account, or the limits_account setting)")
    return windows, limits.current_block(conn, now), notes


def document(env: Env, conn: sqlite3.Connection, now: datetime, tz: tzinfo, account_url: str | None) -> dict[str, Any]:
    """:func:`collect` as :func:`app.core.limits.report`'s JSON-ready document."""
    windows, block, notes = collect(env, conn, now, account_url)
    return limits.report(windows, block, now, tz, notes)
