"""Provider settings and key metadata: ``providers.json`` beside the settings, written atomically.

It holds no secret: per key its provider, label, kind, masked form, when it was added and
last used, and its low-balance threshold; then each provider's base URL, the sync
schedule and the reconciliation threshold. The keys themselves live in the OS keyring.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from app.core import paths

DEFAULT_SYNC_MINUTES = 0  # off until the user sets a schedule
DEFAULT_THRESHOLD_PCT = 5.0
DEFAULT_DAYS = 30  # what a first sync fetches


class ConfigError(ValueError):
    pass


class KeyInfo:
    """What TokenClub remembers about a key, apart from the key."""

    FIELDS = ("provider", "label", "kind", "mask", "added", "last_used", "low_balance")

    def __init__(
        self,
        provider: str,
        label: str,
        kind: str = "regular",
        mask: str = "",
        added: str | None = None,
        last_used: str | None = None,
        low_balance: float | None = None,
    ) -> None:
        self.provider, self.label, self.kind, self.mask = provider, label, kind, mask
        self.added, self.last_used, self.low_balance = added, last_used, low_balance

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.label}"


class Config:
    def __init__(self) -> None:
        self.keys: list[KeyInfo] = []
        self.base_urls: dict[str, str] = {}
        self.sync_every_minutes = DEFAULT_SYNC_MINUTES
        self.threshold_pct = DEFAULT_THRESHOLD_PCT
        self.extra: dict[str, Any] = {}

    def find(self, provider: str, label: str | None = None) -> list[KeyInfo]:
        return [k for k in self.keys if k.provider == provider and (label is None or k.label == label)]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "keys": [k.as_dict() for k in self.keys],
            "base_urls": dict(sorted(self.base_urls.items())),
            "sync_every_minutes": self.sync_every_minutes,
            "reconcile_threshold_pct": self.threshold_pct,
        }


def file() -> Path:
    return paths.config_dir() / "providers.json"


def load(path: Path | None = None) -> Config:
    """The saved config; a file that cannot be read is moved aside and the defaults used."""
    path = path or file()
    cfg = Config()
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for k in data.get("keys", []):
            cfg.keys.append(KeyInfo(**{f: k.get(f) for f in KeyInfo.FIELDS if f in k}))
        cfg.base_urls = {str(p): str(u) for p, u in (data.get("base_urls") or {}).items()}
        cfg.sync_every_minutes = int(data.get("sync_every_minutes", DEFAULT_SYNC_MINUTES))
        cfg.threshold_pct = float(data.get("reconcile_threshold_pct", DEFAULT_THRESHOLD_PCT))
        known = {"keys", "base_urls", "sync_every_minutes", "reconcile_threshold_pct"}
        cfg.extra = {k: v for k, v in data.items() if k not in known}
    except FileNotFoundError:
        return Config()
    except (OSError, ValueError, TypeError, AttributeError):
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".bad"))
        return Config()
    return cfg


def save(cfg: Config, path: Path | None = None) -> None:
    data = json.dumps(cfg.as_dict(), indent=2, ensure_ascii=False).encode() + b"\n"
    paths.write_atomic(path or file(), data)


def check_base_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"not an http(s) URL: {url!r}")
    if parts.username or parts.password:
        raise ConfigError("a base URL must not carry credentials")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            "plain http is allowed only to this machine (127.0.0.1, localhost): keys would travel in clear"
        )
    return url.strip().rstrip("/")
