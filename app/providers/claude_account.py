"""Claude's account usage endpoint: the plan's own 5-hour, weekly and per-model weekly utilisation.

Opt-in (the ``limits_account`` setting) and read-only: one GET of ``<base>/api/oauth/usage``
with the OAuth access token Claude Code keeps in ``$CLAUDE_CONFIG_DIR/.credentials.json``
(``~/.claude/.credentials.json``). The token is read for that one request and goes only into
its ``Authorization`` header: it is never copied to a file, the index, a log line or a
command line, and every error message is redacted of it (see ``app.providers.base.Http``).

The answer, as Claude Code's own usage view and other trackers read it::

    {"five_hour": {"utilization": 24.0, "resets_at": "2026-01-02T19:59:59.600956+00:00"},
     "seven_day": {"utilization": 36.0, "resets_at": "…"},
     "seven_day_opus": null, "seven_day_sonnet": {"utilization": 1.0, "resets_at": "…"}, …}
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.env import Env
from app.core.limits import Window, account_windows
from app.providers.base import NETWORK, Cancelled, Http, ProviderError

DEFAULT_BASE_URL = "https://api.anthropic.com"
PATH = "/api/oauth/usage"
BETA = "oauth-2025-04-20"  # the endpoint answers OAuth tokens only with this beta header
PROVIDER = "claude account"
MAX_CREDENTIALS_BYTES = 64 * 1024
TIMEOUT_S = 8.0  # one try
TOTAL_S = 20.0  # every try and wait (a 429's Retry-After, a 5xx's backoff): a plan reading is not worth more
NEEDS = "the OAuth sign-in of Claude Code (run `claude` and sign in; its token needs the user:profile scope)"


class NoCredentials(ProviderError):
    """Claude Code's credentials file is missing, unreadable or holds no access token."""


def credentials_file(env: Env) -> Path:
    base = env.var("CLAUDE_CONFIG_DIR")
    return (Path(base.split(",")[0]) if base else env.home / ".claude") / ".credentials.json"


def _token(env: Env) -> tuple[str, str]:
    """The access token and the plan's name, read fresh each call (never kept)."""
    path = credentials_file(env)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CREDENTIALS_BYTES + 1)
    except OSError as exc:
        raise NoCredentials(PROVIDER, f"no Claude Code sign-in found at {path} ({exc.strerror or exc})") from None
    if len(raw) > MAX_CREDENTIALS_BYTES:
        raise NoCredentials(PROVIDER, f"{path} is larger than a credentials file")
    try:
        oauth = json.loads(raw).get("claudeAiOauth")
    except (ValueError, AttributeError):
        raise NoCredentials(PROVIDER, f"{path} is not Claude Code's credentials JSON") from None
    token = oauth.get("accessToken") if isinstance(oauth, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > 4096 or not token.isprintable():
        raise NoCredentials(PROVIDER, f"{path} holds no OAuth access token (is Claude Code signed in with a plan?)")
    plan = oauth.get("subscriptionType") if isinstance(oauth, dict) else None
    return token.strip(), plan[:40] if isinstance(plan, str) else ""


def fetch(
    env: Env, base_url: str = DEFAULT_BASE_URL, timeout: float = TIMEOUT_S, total: float = TOTAL_S
) -> list[Window]:
    """The account's windows as the endpoint answers now, within ``total`` seconds (retries included).

    Raises:
        NoCredentials: no usable token in Claude Code's credentials file.
        ProviderError: the endpoint refused, failed, took too long or answered something else (message redacted).
    """
    token, plan = _token(env)
    headers = {"authorization": f"Bearer {token}", "anthropic-beta": BETA}
    stop = threading.Event()
    timer = threading.Timer(total, stop.set)
    timer.daemon = True
    timer.start()
    try:
        with Http(PROVIDER, base_url, headers, timeout=timeout, cancel=stop) as http:
            try:
                answer: Any = http.get_json(PATH, needs=NEEDS)
            except Cancelled:  # the time was up, in a retry's wait
                raise http.error(f"no answer within {total:g} s", kind=NETWORK) from None
            try:
                return account_windows(answer, datetime.now(UTC), plan)
            except ValueError as exc:
                raise http.error(f"not the documented answer: {exc}") from None
    finally:
        timer.cancel()
