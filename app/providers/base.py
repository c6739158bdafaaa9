"""What every provider client shares: the records it returns, its errors, and one careful HTTP call.

Every request goes through :meth:`Http.get_json`: a timeout, ``429`` answered by its
``Retry-After`` (or exponential backoff) and ``5xx`` retried, both a bounded number of
times; ``401``/``403`` turned into a message that names the kind of key the endpoint
needs; an HTML page, malformed or truncated JSON, or a timeout turned into a message
naming the provider and the reason. The key travels only in a request header, never in a
URL; and since providers and gateways echo what they were sent, every error's text passes
through :func:`app.core.redact.redact` with the key in use when the error is made: no
message, exception or log line carries the key or anything shaped like one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import httpx

from app.core.redact import MESSAGE_LIMIT, redact

TIMEOUT_S = 20.0
MAX_ATTEMPTS = 5  # per request: the first try and up to four retries
MAX_WAIT_S = 60.0  # the longest a single Retry-After is honoured
MAX_TOTAL_WAIT_S = 120.0  # the longest one request waits across its retries
MAX_PAGES = 200  # a paging loop that never ends is a server bug: stop and say so

# why a call failed, as stored beside its message (``provider_sync.error_kind``)
REFUSED = "refused"  # 401/403 and other 4xx, a redirect not followed, an error code in a 200 answer
RATE_LIMITED = "rate-limited"
SERVER_ERROR = "server error"
NETWORK = "network"  # unreachable, or no answer in time
MALFORMED = "malformed answer"  # HTML, bad JSON, not the documented shape, endless paging
CANCELLED = "cancelled"
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie")  # in a header's name: its value is a secret


def kind_of_status(status: int | None) -> str:
    if status == 429:
        return RATE_LIMITED
    if status is not None and status >= 500:
        return SERVER_ERROR
    return REFUSED if status is not None else MALFORMED


class ProviderError(RuntimeError):
    """A provider call failed; ``str()`` names the provider and the reason, redacted and bounded.

    Args:
        kind: why, one of the kinds above (default: from ``status``, else a malformed answer).
        secrets: the key in use (and its header values): removed from the reason with
            anything shaped like a key, whatever else the reason holds.
    """

    def __init__(
        self,
        provider: str,
        reason: str,
        status: int | None = None,
        kind: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.provider = provider
        self.reason = redact(reason, secrets, MESSAGE_LIMIT, runs=False)  # its own words went through said()
        self.status = status
        self.kind = kind or kind_of_status(status)
        super().__init__(f"{provider}: {self.reason}")


class KeyRefused(ProviderError):
    """401/403: the key is wrong, revoked, or of the wrong kind for this endpoint."""


class Cancelled(ProviderError):
    """The app is quitting: the request was abandoned (nothing of it is written)."""

    def __init__(self, provider: str) -> None:
        super().__init__(provider, "cancelled (TokenClub is quitting); nothing was written", kind=CANCELLED)


class NoUsageEndpoint(ProviderError):
    """The provider offers no usage, cost or balance endpoint for this kind of key."""


class UsageRow(NamedTuple):
    """A provider's tokens (and cost, when it reports one) for one UTC day and model."""

    day: str  # YYYY-MM-DD, UTC
    model: str
    inp: int = 0
    cw: int = 0
    cr: int = 0
    out: int = 0
    requests: int = 0
    cost: float | None = None  # USD


class Balance(NamedTuple):
    currency: str
    total: float
    granted: float | None = None
    topped_up: float | None = None
    detail: str = ""


class Fetched(NamedTuple):
    """One sync's worth of data: the rows, the warnings to show (unknown models and such)."""

    rows: list[UsageRow]
    warnings: list[str]


def day_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).date().isoformat()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def iso_day(text: str) -> str:
    """``2025-08-01T00:00:00Z`` (or a bare date) -> ``2025-08-01``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()


class Http:
    """One provider's HTTP session: base URL, auth header, timeouts and bounded retries.

    Args:
        provider: the provider's id, used in every message.
        base_url: where its API lives (a gateway or proxy may stand in).
        headers: the auth header(s); they hold the key and are never shown.
        sleep: how to wait between retries (tests pass a recorder).
        cancel: once set, no further try is made (the app is quitting).
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float = TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
        cancel: threading.Event | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.cancel = cancel
        # what must never come back in a message: each credential header's value, and a bearer's token alone
        values = [v for k, v in headers.items() if v and any(w in k.lower() for w in _CREDENTIAL_WORDS)]
        self.secrets = tuple(values + [v.split(None, 1)[1] for v in values if " " in v.strip()])
        self.client = httpx.Client(
            headers={**headers, "user-agent": "tokenclub", "accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the auth header elsewhere
            trust_env=True,
        )
        self.requests = 0  # calls made, retries included (tests count them)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get_json(self, path: str, params: Any = None, needs: str = "a valid API key") -> Any:
        """GET ``base_url + path`` and decode its JSON, retrying 429 and 5xx a bounded number of times.

        Args:
            needs: the kind of key the endpoint needs, for the 401/403 message.

        Raises:
            KeyRefused: 401 or 403.
            ProviderError: anything else that did not give a JSON document.
        """
        url = self.base_url + path
        waited = 0.0
        last, last_kind = "", NETWORK
        for attempt in range(MAX_ATTEMPTS):
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled(self.provider)
            self.requests += 1
            try:
                resp = self.client.get(url, params=params)
            except httpx.TimeoutException:
                last, last_kind = f"no answer within {self.client.timeout.read:g} s (timeout)", NETWORK
                wait = self._backoff(attempt)
            except httpx.HTTPError as exc:
                # the exception's text names the URL at most (never headers): keep only its class
                raise self.error(f"cannot reach {self.base_url} ({type(exc).__name__})", kind=NETWORK) from None
            else:
                status = resp.status_code
                if status in (401, 403):
                    detail = self.said(resp)
                    raise self.error(
                        f"the key was refused ({status}{': ' + detail if detail else ''}); "
                        f"this endpoint needs {needs}. Check that the key is not revoked and is of that kind",
                        status,
                        KeyRefused,
                    )
                if status == 429 or status >= 500:
                    last = f"HTTP {status}" + (" (rate limited)" if status == 429 else " (server error)")
                    last_kind = kind_of_status(status)
                    asked = _retry_after(resp) if status == 429 else None
                    wait = self._backoff(attempt) if asked is None else asked
                elif 300 <= status < 400:
                    raise self.error(
                        f"HTTP {status}: redirected elsewhere, not followed (the key would go along); "
                        "check the base URL",
                        status,
                    )
                elif status >= 400:
                    detail = self.said(resp)
                    raise self.error(f"HTTP {status}{': ' + detail if detail else ''}", status)
                else:
                    return _decode(self.provider, resp)
            wait = min(wait, MAX_WAIT_S)
            if attempt == MAX_ATTEMPTS - 1 or waited + wait > MAX_TOTAL_WAIT_S:
                break
            waited += wait
            if self.cancel is not None and self.cancel.wait(wait):
                raise Cancelled(self.provider)
            if self.cancel is None:
                self.sleep(wait)
        raise self.error(f"gave up after {self.requests} tries: {last}", kind=last_kind)

    def error(
        self, reason: str, status: int | None = None, cls: type[ProviderError] | None = None, kind: str | None = None
    ) -> ProviderError:
        """A ``cls`` (ProviderError) for this provider whose message holds neither this session's key nor its shape."""
        return (cls or ProviderError)(self.provider, reason, status, kind, self.secrets)

    def said(self, resp: httpx.Response) -> str:
        """The provider's own error message, redacted and short, when it sent one as JSON."""
        return redact(_error_detail(resp), self.secrets)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(2**attempt, 30))


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _looks_html(resp: httpx.Response) -> bool:
    kind = resp.headers.get("content-type", "")
    head = resp.content[:200].lstrip().lower()
    return "html" in kind or head.startswith((b"<!doctype", b"<html"))


def _decode(provider: str, resp: httpx.Response) -> Any:
    if _looks_html(resp):
        raise ProviderError(provider, f"answered with an HTML page instead of JSON (HTTP {resp.status_code})")
    try:
        return resp.json()
    except ValueError:
        size = len(resp.content)
        raise ProviderError(provider, f"answered with malformed or truncated JSON ({size} bytes)") from None


def _error_detail(resp: httpx.Response) -> str:
    """The provider's own error message, raw (:meth:`Http.said` redacts it), when it sent one as JSON."""
    if _looks_html(resp):
        return "an HTML error page"
    try:
        doc = resp.json()
    except ValueError:
        return ""
    err = doc.get("error") if isinstance(doc, dict) else None
    msg = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
    if msg is None and isinstance(doc, dict):
        msg = doc.get("message")
    return str(msg) if msg else ""


def need(provider: str, doc: Any, key: str, kind: type | tuple[type, ...] = (list,)) -> Any:
    """``doc[key]`` of the expected type, or a ProviderError saying the answer is not what is documented."""
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, kind):
        raise ProviderError(provider, f"unexpected answer: no {key!r} field of the documented shape")
    return value


def num(value: Any) -> float:
    """A number the provider sent as a number or a decimal string; missing is 0."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return value
    return float(str(value))


def wait(seconds: float) -> None:
    """How every provider waits between retries (one place for tests to replace)."""
    time.sleep(seconds)


def pages(http: Http, path: str, params: dict[str, Any], needs: str) -> Iterator[Any]:
    """Every bucket of every page (``has_more`` / ``next_page``, as OpenAI and Anthropic page), at most MAX_PAGES."""
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        doc = http.get_json(path, params, needs=needs)
        yield from need(http.provider, doc, "data")
        nxt = doc.get("next_page")
        if not doc.get("has_more") or not nxt:
            return
        if nxt in seen:
            raise ProviderError(http.provider, "the server repeated a page cursor (paging stopped)")
        seen.add(nxt)
        params = {**params, "page": nxt}
    raise ProviderError(http.provider, f"more than {MAX_PAGES} pages: stopped")


class Provider:
    """One provider: its id, where its API lives, and what it can tell about a key.

    Subclasses override what the provider offers; the rest raise NoUsageEndpoint.
    """

    id = ""
    title = ""
    default_base_url = ""
    admin_prefixes: tuple[str, ...] = ()  # keys that start so are admin keys
    admin_name = "an admin key"
    has_usage = False
    usage_needs_admin = False  # the usage endpoints refuse a regular key: skip it rather than fail
    has_balance = False
    no_usage_reason = ""
    timeout = TIMEOUT_S

    def __init__(
        self,
        base_url: str | None = None,
        sleep: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cancel = cancel
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.sleep = sleep or wait

    def kind_of(self, key: str) -> str:
        return "admin" if self.admin_prefixes and key.startswith(self.admin_prefixes) else "regular"

    def headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def http(self, key: str) -> Http:
        return Http(
            self.id, self.base_url, self.headers(key), timeout=self.timeout, sleep=self.sleep, cancel=self.cancel
        )

    def test(self, key: str) -> str:
        """Call the cheapest read-only endpoint; a short description of what answered.

        A balance-only provider's cheapest call is its balance.
        """
        if not self.has_balance:
            raise NotImplementedError
        return "key valid (" + ", ".join(f"{b.total:,.2f} {b.currency}" for b in self.balance(key)) + ")"

    def usage(self, key: str, since: date, until: date) -> Fetched:
        """Tokens and cost per UTC day and model from ``since`` to ``until`` (inclusive)."""
        raise NoUsageEndpoint(self.id, self.no_usage_reason or "has no usage endpoint")

    def balance(self, key: str) -> list[Balance]:
        raise NoUsageEndpoint(self.id, "has no balance endpoint")
