"""The day boundary's time zone: an IANA name, or this machine's own zone."""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from pathlib import Path


class ZoneError(ValueError):
    """Not a time zone this machine knows."""


def resolve_zone(name: str | None) -> tzinfo:
    """``name`` as a zone; None means the machine's zone (``$TZ``, then /etc/localtime)."""
    if name == "UTC":
        return UTC  # the same days as ZoneInfo("UTC"), without loading the zone database (~3 ms)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ZoneError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris or UTC)") from exc
    return local_zone()


def local_zone() -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    link = Path("/etc/localtime")
    try:
        target = str(link.resolve())
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    from datetime import datetime

    fixed = datetime.now().astimezone().tzinfo
    return fixed if fixed is not None else ZoneInfo("UTC")


def rules_stamp(tz: tzinfo) -> str:
    """The zone and the rules file it was read from: a tzdata update can move the days of a named zone."""
    key = getattr(tz, "key", None)
    if not isinstance(key, str):
        return str(tz)  # UTC or a fixed offset: no rules to change
    import importlib.util
    import zoneinfo

    bases = list(zoneinfo.TZPATH)
    spec = importlib.util.find_spec("tzdata")  # the package zoneinfo falls back to
    if spec is not None and spec.origin:
        bases.append(os.path.join(os.path.dirname(spec.origin), "zoneinfo"))
    for base in bases:
        try:
            st = os.stat(os.path.join(base, key))
        except OSError:
            continue
        return f"{key}:{st.st_size}:{st.st_mtime_ns}"
    return key
