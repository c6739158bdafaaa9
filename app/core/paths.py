"""Every file TokenClub owns hangs off one root: the platform's dirs, or ``$TOKENCLUB_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

APP = "tokenclub"


def _root(kind: str) -> Path:
    base = os.environ.get("TOKENCLUB_HOME")
    if base:
        return Path(base) / kind
    import platformdirs

    if kind == "data":
        return Path(platformdirs.user_data_dir(APP, appauthor=False))
    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP, appauthor=False))
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    return _root("data")


def config_dir() -> Path:
    return _root("config")


def cache_dir() -> Path:
    """What can be rebuilt at any time. ``$TOKENCLUB_CACHE`` moves it alone (tests share one across homes)."""
    own = os.environ.get("TOKENCLUB_CACHE")
    return Path(own) if own else _root("cache")


def default_db() -> Path:
    return data_dir() / "index.sqlite"


def overrides_file() -> Path:
    """User prices for models the bundled data lacks (TOML, ``[models."name"]``)."""
    return config_dir() / "prices.toml"


def settings_file() -> Path:
    return config_dir() / "settings.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once: a crash leaves the old file or the new, never half."""
    import contextlib
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
