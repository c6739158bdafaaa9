"""Text from outside (a provider's error body, a stored message) made safe to print, show or store.

Providers and the gateways in front of them echo what they were sent: an ``Authorization``
header in a 401 body, the request in a 400. :func:`redact` takes such text and the secrets
in use and returns one bounded line with neither: the secrets (whole, any run of 8 or more of
their characters, their URL-encoded and base64 forms) and anything shaped like a key or a
bearer token are replaced by ``[redacted]``; control and formatting characters (a terminal
escape, a bidi override) become spaces. Qt-free, no dependencies: every layer may use it.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

MARK = "[redacted]"
LIMIT = 300  # characters of provider text kept in one message
MESSAGE_LIMIT = 600  # characters in one error message (the provider's own words get at most LIMIT of them)
MAX_INPUT = 8192  # characters looked at: the rest of a body is never shown anyway
MIN_RUN = 8  # a run of this many characters of a secret is the secret

_SHAPES = re.compile(
    "|".join(
        (
            # a header or field that carries a credential, with whatever value follows it
            r"""(?i:["']?\b(?P<name>authorization|proxy-authorization|x-api-key|x-goog-api-key|api[-_]?key"""
            r"""|access[-_]?token|secret|password|cookie)["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token)\s+)?"""
            r"""[^\s"',;}&]+["']?)""",
            r"(?i:\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,})",
            r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic (sk-ant-…), OpenRouter (sk-or-…), DeepSeek, …
            r"\bAIza[0-9A-Za-z_-]{20,}",  # Google API keys
            r"\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}",  # a JWT (its header is base64 of '{"')
            r"\b[0-9A-Fa-f]{24,}\b",  # hex runs: tokens, digests
            # base64 / base64url runs that mix cases and digits (a path or a model name does not)
            r"(?<![A-Za-z0-9+/_=-])(?=[A-Za-z0-9+/_=-]*[0-9])(?=[A-Za-z0-9+/_=-]*[a-z])(?=[A-Za-z0-9+/_=-]*[A-Z])"
            r"[A-Za-z0-9+/_-]{24,}={0,2}",
        )
    )
)


def _forms(secret: str) -> list[str]:
    """The ways a secret shows up in an echo: as is, URL-encoded, and base64 at any alignment (``user:secret``)."""
    forms = {secret, quote(secret, safe=""), quote(secret)}
    raw = secret.encode()
    for shift in range(3):  # the bytes before it decide how its base64 lines up
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).decode()
            forms.add(text[4 if shift else 0 : -4])  # the edges depend on what is around it: only the middle
    return [f for f in forms if len(f) >= MIN_RUN]


def _private(secret: str) -> str:
    """The secret without its public prefix (``sk-ant-admin01-``, ``sk-or-v1-``): messages name those."""
    cut = max(secret.rfind("-", 0, 16), secret.rfind("_", 0, 16)) + 1
    return secret[cut:] if len(secret) - cut >= MIN_RUN else secret


def _cover(text: str, secrets: Iterable[str], runs: bool) -> list[bool]:
    """Which characters of ``text`` belong to a secret's form, or with ``runs`` to any ``MIN_RUN`` of its characters."""
    covered = [False] * len(text)
    folded = text.casefold()
    for secret in secrets:
        for form in _forms(_private(secret)):
            form = form.casefold()
            size = MIN_RUN if runs else len(form)
            for part in {form[i : i + size] for i in range(len(form) - size + 1)}:
                start = folded.find(part)
                while start != -1:
                    for j in range(start, start + size):
                        covered[j] = True
                    start = folded.find(part, start + 1)
    return covered


def _strip_controls(text: str) -> str:
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)


def _mark(match: re.Match[str]) -> str:
    name = match.group("name")
    return f"{name}: {MARK}" if name else MARK


def redact(text: object, secrets: Iterable[str] = (), limit: int = LIMIT, *, runs: bool = True) -> str:
    """``text`` as one line of at most ``limit`` characters, without ``secrets`` or anything key-shaped.

    Args:
        secrets: the keys in use (and their header values); shorter than ``MIN_RUN`` are ignored.
        runs: also remove any run of ``MIN_RUN`` or more of a secret's characters. Right for what a
            provider sent; a message TokenClub wrote itself around it (naming the provider, which a
            test key may spell out) is checked for the secrets' whole forms only.
    """
    line = _SHAPES.sub(_mark, _strip_controls(str(text)[:MAX_INPUT]))  # a whole base64 blob before its parts
    usable = [s for s in secrets if s and len(s) >= MIN_RUN]
    if usable:
        covered = _cover(line, usable, runs)
        out: list[str] = []
        for i, c in enumerate(line):
            if not covered[i]:
                out.append(c)
            elif i == 0 or not covered[i - 1]:
                out.append(MARK)
        line = "".join(out)
    line = " ".join(line.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line
