"""The user's settings: one JSON file, written atomically, validated on every change.

A file that cannot be read is moved aside (``settings.json.bad``) and the defaults are
used, so a hand edit gone wrong never stops the app and is never silently lost. Keys this
version does not know are kept on save.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from app.core import paths
from app.core.milestones import DEFAULT_MILESTONES, tier_label
from app.core.timezones import ZoneError, resolve_zone

THEMES = ("system", "light", "dark")
LIMIT_ALERTS = (80, 95)  # plan-window use (%) at which the app notifies, once per window
LIMITS_ACCOUNT_URL = "https://api.anthropic.com"  # where Claude's account usage endpoint lives
MAX_MILESTONES = 6
_SUFFIX = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}


class SettingsError(ValueError):
    """A setting's value is not valid; the message says why and what is expected."""


class InvalidSettings(SettingsError):
    """Several settings were rejected at once.

    Attributes:
        errors: each rejected key (as given to ``apply``) and why it was rejected.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {why}" for key, why in errors.items()))
        self.errors = dict(errors)


class Settings:
    """What the user chose; a plain class (the warm command line does not import ``dataclasses``)."""

    FIELDS = (
        "tz",
        "agents",
        "milestones",
        "notify_tiers",
        "start_at_login",
        "watching",
        "theme",
        "limit_alerts",
        "limits_account",
        "limits_account_url",
        "ring_follows_limits",
        "extra",
    )

    def __init__(
        self,
        tz: str | None = None,  # None: this machine's zone
        agents: dict[str, bool] | None = None,  # missing: on
        milestones: tuple[int, ...] = DEFAULT_MILESTONES,
        notify_tiers: bool = True,
        start_at_login: bool = False,
        watching: bool = True,
        theme: str = "system",
        extra: dict[str, Any] | None = None,  # keys from a newer version, kept as they are
        limit_alerts: tuple[int, ...] = LIMIT_ALERTS,
        limits_account: bool = False,  # opt-in: ask Claude's account usage endpoint with Claude Code's sign-in
        limits_account_url: str = LIMITS_ACCOUNT_URL,
        ring_follows_limits: bool = False,  # the tray ring shows the tightest plan window, not the day's milestone
    ) -> None:
        self.tz = tz
        self.agents: dict[str, bool] = {} if agents is None else agents
        self.milestones = milestones
        self.notify_tiers = notify_tiers
        self.start_at_login = start_at_login
        self.watching = watching
        self.theme = theme
        self.extra: dict[str, Any] = {} if extra is None else extra
        self.limit_alerts = limit_alerts
        self.limits_account = limits_account
        self.limits_account_url = limits_account_url
        self.ring_follows_limits = ring_follows_limits

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"

    def zone(self) -> tzinfo:
        return resolve_zone(self.tz)

    def enabled_agents(self) -> frozenset[str] | None:
        """The agents to read, or None when every agent is on (agents of other versions aside)."""
        known = _agent_ids()
        on = frozenset(agent for agent in known if self.agents.get(agent, True))
        return None if len(on) == len(known) else on

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "tz": self.tz,
            "agents": dict(sorted(self.agents.items())),
            "milestones": list(self.milestones),
            "notify_tiers": self.notify_tiers,
            "start_at_login": self.start_at_login,
            "watching": self.watching,
            "theme": self.theme,
            "limit_alerts": list(self.limit_alerts),
            "limits_account": self.limits_account,
            "limits_account_url": self.limits_account_url,
            "ring_follows_limits": self.ring_follows_limits,
        }


class Loaded(NamedTuple):
    settings: Settings
    warning: str | None = None  # set when the file was unreadable and moved aside


def load(path: Path | None = None) -> Loaded:
    path = path or paths.settings_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(Settings())
    except OSError as exc:  # unreadable (permissions, a folder in its place): left where it is
        return Loaded(Settings(), f"{path}: cannot be read ({exc.strerror or exc}); using the defaults")
    import json  # only when there is a file

    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise SettingsError("the file is not a JSON object")
        return Loaded(from_dict(data))
    except ValueError as exc:  # bad JSON, bad UTF-8 or a bad value (SettingsError)
        aside = path.with_name(path.name + ".bad")
        os.replace(path, aside)
        return Loaded(Settings(), f"{path}: {exc}; moved it to {aside} and started from the defaults")


def save(settings: Settings, path: Path | None = None) -> None:
    import json

    data = json.dumps(settings.as_dict(), indent=2, ensure_ascii=False).encode() + b"\n"
    paths.write_atomic(path or paths.settings_file(), data)


def from_dict(data: dict[str, Any]) -> Settings:
    s = Settings()
    known = {"tz", "agents", "milestones", "notify_tiers", "start_at_login", "watching", "theme", *LIMIT_KEYS}
    s.extra = {k: v for k, v in data.items() if k not in known}
    for key in known & data.keys():
        value = data[key]
        if key == "agents":
            if not isinstance(value, dict):
                raise SettingsError("agents must be an object of agent: true/false")
            known_agents = _agent_ids()
            for agent, on in value.items():
                if agent in known_agents:
                    apply(s, f"agents.{agent}", on)
                else:  # an agent of another version: kept for it, not ours to judge
                    s.agents[str(agent)] = _bool(f"agents.{agent}", on)
        elif key == "milestones":
            if not isinstance(value, list):
                raise SettingsError("milestones must be a list")
            s.milestones = parse_milestones(value)
        else:
            apply(s, key, value)
    return s


def apply(s: Settings, key: str, value: Any) -> None:
    """Set ``key`` (a name, or ``agents.<id>``) from a JSON value or command-line text."""
    if key == "tz":
        name = None if value in (None, "", "system", "local") else str(value)
        try:
            resolve_zone(name)
        except ZoneError as exc:
            raise SettingsError(str(exc)) from exc
        s.tz = name
    elif key.startswith("agents."):
        agent = key.split(".", 1)[1]
        known = _agent_ids()
        if agent not in known:
            raise SettingsError(f"unknown agent {agent!r} (known: {', '.join(known)})")
        s.agents[agent] = _bool(key, value)
    elif key == "milestones":
        items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
        s.milestones = parse_milestones([i for i in items if i != ""])
    elif key in ("notify_tiers", "start_at_login", "watching", "limits_account", "ring_follows_limits"):
        setattr(s, key, _bool(key, value))
    elif key == "theme":
        if value not in THEMES:
            raise SettingsError(f"theme must be one of {', '.join(THEMES)}")
        s.theme = str(value)
    elif key == "limit_alerts":
        s.limit_alerts = parse_percents(value)
    elif key == "limits_account_url":
        s.limits_account_url = parse_url(value)
    else:
        raise SettingsError(
            f"unknown setting {key!r} (settings: tz, agents.<id>, milestones, notify_tiers, "
            "start_at_login, watching, theme, limit_alerts, limits_account, limits_account_url, ring_follows_limits)"
        )


def updated(base: Settings, changes: Mapping[str, Any]) -> Settings:
    """A copy of ``base`` with every change applied (keys as ``apply`` takes them).

    Every change is checked, not just the first bad one, so a form can show each error
    next to its field.

    Raises:
        InvalidSettings: one or more changes were rejected; ``base`` is never modified.
    """
    import copy  # here: it brings weakref, a millisecond of every command line start

    result = copy.deepcopy(base)
    errors: dict[str, str] = {}
    for key, value in changes.items():
        try:
            apply(result, key, value)
        except SettingsError as exc:
            errors[key] = str(exc)
    if errors:
        raise InvalidSettings(errors)
    return result


LIMIT_KEYS = ("limit_alerts", "limits_account", "limits_account_url", "ring_follows_limits")


def parse_percents(value: Any) -> tuple[int, ...]:
    """``"80,95"`` or ``[80, 95]`` -> ``(80, 95)``: 1 to 4 whole percents, 1-100, increasing."""
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
    try:
        values = tuple(int(str(i).strip().rstrip("%")) for i in items if str(i).strip() != "")
    except ValueError:
        raise SettingsError("limit_alerts must be whole percents, e.g. 80,95") from None
    if not 1 <= len(values) <= 4 or any(not 1 <= v <= 100 for v in values):
        raise SettingsError("limit_alerts takes 1 to 4 percents between 1 and 100")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise SettingsError("limit_alerts must be increasing, e.g. 80,95")
    return values


def parse_url(value: Any) -> str:
    """An http(s) base URL (no credentials, query or fragment in it)."""
    text = str(value).strip().rstrip("/")
    match = re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?", text)
    if not match or len(text) > 300:
        raise SettingsError("limits_account_url must be an http(s) URL such as https://api.anthropic.com")
    return text


def parse_milestones(items: Sequence[Any]) -> tuple[int, ...]:
    """``["10M", "0.1B", 1000000000]`` -> ``(10_000_000, 100_000_000, 1_000_000_000)``, validated."""
    values = [parse_tokens(i) for i in items]
    if not 1 <= len(values) <= MAX_MILESTONES:
        raise SettingsError(f"give 1 to {MAX_MILESTONES} milestones")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise SettingsError("milestones must be strictly increasing, e.g. 10M,100M,1B")
    return tuple(values)


def parse_tokens(item: Any) -> int:
    if isinstance(item, bool):
        raise SettingsError(f"{item!r} is not a token count")
    if isinstance(item, int):
        value = item
    else:
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMbB]?)\s*", str(item))
        if not match:
            raise SettingsError(f"{item!r} is not a token count (examples: 250000, 10M, 0.1B, 1B)")
        value = round(float(match.group(1)) * _SUFFIX[match.group(2).upper()])
    if value <= 0:
        raise SettingsError(f"{item!r}: a milestone must be positive")
    return value


def describe_milestones(values: Sequence[int]) -> str:
    """``(10_000_000, 1_000_000_000)`` -> ``"10M, 1B"``: text ``apply("milestones", ...)`` reads back exactly."""
    return ", ".join(_milestone_text(v) for v in values)


def _milestone_text(value: int) -> str:
    label = tier_label(value)  # rounds to 6 significant digits: 12_345_678 would read back as 12_345_700
    return label if parse_tokens(label) == value else str(value)


def _agent_ids() -> list[str]:
    from app.core.source import AGENTS

    return sorted(AGENTS)


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0"):
        return False
    raise SettingsError(f"{key} must be true or false (or on/off)")
