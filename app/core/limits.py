"""Plan limits: where each subscription window stands, when it resets, and when the current pace fills it.

Qt-free and clock-explicit (every function takes ``now``), for the command line and the app alike.

Two kinds of readings feed it, both as :class:`Window` records:

* Codex's own rollouts carry its plan's windows (``rate_limits`` on ``token_count`` events):
  :func:`parse_rate_limits` turns one such object into a :class:`CodexSnapshot`, and
  :func:`newest_snapshot` picks the state from several (the file reading is ``app.sources.codex_limits``).
* Claude's account usage endpoint (opt-in, ``app.providers.claude_account``) answers the plan's
  utilisation; :func:`account_windows` reads its documented answer.

Claude Code's logs hold no plan state, so its 5-hour blocks are derived from the index as
ccusage's ``blocks`` defines them (:func:`blocks`, :func:`claude_blocks`, :func:`current_block`):
a block starts at the UTC hour of the first call after the previous block ended (or after a gap
of more than 5 hours) and lasts 5 hours.

:func:`pace` projects when a window reaches 100% at the rate used so far in it;
:func:`report` gathers windows, the current block and their paces into one JSON-ready document;
:func:`tightest` picks the window a tray ring follows, :func:`alerts_due` the notifications to send
(each threshold once per window).
"""

import math
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

BLOCK_HOURS = 5
BLOCK_MS = BLOCK_HOURS * 3_600_000
HOUR_MS = 3_600_000
CLAUDE = "claude-code"
CODEX = "codex"
LOG = "log"
ACCOUNT = "account endpoint"
# how far back the current block's chain of blocks is followed when no 5-hour gap ends it sooner
MAX_LOOKBACK_MS = 30 * 86_400_000
MAX_PERCENT = 1_000.0  # a reading above this is garbage, not a plan state
MAX_WINDOW_MINUTES = 366 * 24 * 60
# Claude's account windows: the answer's key, its name here, and its length
ACCOUNT_WINDOWS = {"five_hour": ("5h", 300), "seven_day": ("weekly", 10_080)}
ACCOUNT_MODEL_PREFIX = "seven_day_"  # seven_day_opus, seven_day_sonnet, …: per-model weekly windows


class Window(NamedTuple):
    """One plan window as last read.

    Attributes:
        agent: ``claude-code`` or ``codex``.
        account: the plan as the reading names it (``plus``, ``pro``, ``max``…), or ``""``.
        name: ``5h``, ``weekly``, ``weekly (opus)``, ``primary`` or ``secondary``.
        used_percent: 0-100 (may pass 100 once a plan allows overage).
        window_minutes: the window's length, when known.
        resets_at: when the window resets (UTC), when known.
        source: ``log`` (Codex's rollouts) or ``account endpoint``.
        read_at: when the reading was taken (the event's time, or the answer's).
    """

    agent: str
    account: str
    name: str
    used_percent: float
    window_minutes: int | None
    resets_at: datetime | None
    source: str
    read_at: datetime


class Pace(NamedTuple):
    """Where a window's current pace leads (see :func:`pace`).

    Attributes:
        state: ``full-before-reset``, ``lasts`` (stays under 100% until it resets), ``full``
            (already at 100%), ``reset`` (the window reset since the reading) or ``unknown``.
        full_at: when 100% is reached at this pace (``full-before-reset`` only).
        before_reset: how long before the reset that is (``full-before-reset`` only).
        percent_at_reset: the projected use when the window resets (``lasts`` only).
    """

    state: str
    full_at: datetime | None = None
    before_reset: timedelta | None = None
    percent_at_reset: float | None = None


class CodexSnapshot(NamedTuple):
    """One ``rate_limits`` object from a Codex ``token_count`` event, at the event's time."""

    ts: datetime
    plan: str
    windows: tuple[Window, ...]

    @property
    def placeholder_shaped(self) -> bool:
        """Every window at 0%: what Codex writes as a stand-in right after a real reading."""
        return all(w.used_percent == 0 for w in self.windows)


class BurnRate(NamedTuple):
    tokens_per_minute: float
    tokens_per_minute_for_indicator: float  # input + output only, as ccusage's indicator
    cost_per_hour: float


class Projection(NamedTuple):
    total_tokens: int
    total_cost: float
    remaining_minutes: int


class Block(NamedTuple):
    """A 5-hour block of Claude Code calls (or a gap between two), as ccusage's ``blocks`` defines it."""

    start: datetime
    end: datetime
    actual_end: datetime | None  # the last call's time
    is_active: bool
    is_gap: bool
    entries: int
    inp: int
    cw: int
    cr: int
    out: int
    cost_usd: float
    unpriced_tokens: int
    models: tuple[str, ...]
    burn_rate: BurnRate | None  # None for a gap or a block whose calls share one instant
    projection: Projection | None  # the active block's only

    @property
    def total(self) -> int:
        return self.inp + self.cw + self.cr + self.out


# -- Codex: rate_limits in the rollouts ---------------------------------------------------------------------


def parse_rate_limits(rate_limits: Any, ts: datetime) -> CodexSnapshot | None:
    """A ``rate_limits`` object read at ``ts`` (a ``token_count`` event's time), or None if it holds no window.

    ``resets_at`` is epoch seconds; older builds give ``resets_in_seconds`` from the event's time.
    A window that is not an object (``secondary: null``) or whose numbers are not plausible is left out.
    """
    if not isinstance(rate_limits, dict):
        return None
    plan = rate_limits.get("plan_type")
    plan = plan[:40] if isinstance(plan, str) else ""
    windows = []
    for name in ("primary", "secondary"):
        w = rate_limits.get(name)
        if not isinstance(w, dict):
            continue
        used = _number(w.get("used_percent"))
        if used is None or not 0 <= used <= MAX_PERCENT:
            continue
        minutes = _number(w.get("window_minutes"))
        length = int(minutes) if minutes is not None and 0 < minutes <= MAX_WINDOW_MINUTES else None
        windows.append(Window(CODEX, plan, name, used, length, _codex_reset(w, ts), LOG, ts))
    return CodexSnapshot(ts, plan, tuple(windows)) if windows else None


def _codex_reset(w: dict[str, Any], ts: datetime) -> datetime | None:
    at = _number(w.get("resets_at"))
    if at is not None and 0 < at < 2**33:
        return datetime.fromtimestamp(int(at), UTC)
    after = _number(w.get("resets_in_seconds"))
    if after is not None and 0 <= after <= MAX_WINDOW_MINUTES * 60:
        return ts + timedelta(seconds=int(after))
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def newest_snapshot(snapshots: Iterable[CodexSnapshot]) -> CodexSnapshot | None:
    """The plan's state among ``snapshots`` (any order, from any rollouts): the newest real reading.

    A reading of all zeros is a placeholder, skipped, when an older real reading's windows had
    not all reset by its time; otherwise (nothing before it, or every earlier window over) it
    is the truth: a fresh window at 0%.
    """
    ordered = sorted(snapshots, key=lambda s: s.ts, reverse=True)
    zero: CodexSnapshot | None = None
    for snap in ordered:
        if snap.placeholder_shaped:
            zero = zero or snap
            continue
        if zero is not None and all(w.resets_at is not None and w.resets_at <= zero.ts for w in snap.windows):
            return zero
        return snap
    return zero


# -- Claude's account usage endpoint -----------------------------------------------------------------------


def account_windows(answer: Any, read_at: datetime, plan: str = "") -> list[Window]:
    """The windows of the account usage endpoint's answer (``five_hour``, ``seven_day``, ``seven_day_<model>``).

    Each entry is ``{"utilization": 0-100, "resets_at": ISO 8601 or null}`` or null (no such
    window on this plan). Anything else in the answer is ignored; a malformed entry is left out.

    Raises:
        ValueError: the answer is not an object.
    """
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    out = []
    for key, entry in list(answer.items())[:64]:
        if not isinstance(key, str) or not isinstance(entry, dict):
            continue
        if key in ACCOUNT_WINDOWS:
            name, minutes = ACCOUNT_WINDOWS[key]
        elif key.startswith(ACCOUNT_MODEL_PREFIX) and key[len(ACCOUNT_MODEL_PREFIX) :].isidentifier():
            name, minutes = f"weekly ({key[len(ACCOUNT_MODEL_PREFIX) :][:30]})", 10_080
        else:
            continue
        used = _number(entry.get("utilization"))
        if used is None or not 0 <= used <= MAX_PERCENT:
            continue
        out.append(Window(CLAUDE, plan, name, used, minutes, iso_utc(entry.get("resets_at")), ACCOUNT, read_at))
    return out


def iso_utc(value: Any, longest: int = 64) -> datetime | None:
    """An ISO 8601 time read from a file or an answer, in UTC (a naive one taken as UTC).

    None when it is not one, or is longer than ``longest`` (the text is not trusted).
    """
    if not isinstance(value, str) or len(value) > longest:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- pace ------------------------------------------------------------------------------------------------


def pace(window: Window, now: datetime) -> Pace:
    """When ``window`` reaches 100% if use goes on at the rate it has had since the window opened.

    The rate is the reading's percent over the time from the window's start (its reset minus
    its length) to the reading; a reading older than the window's reset says nothing of now.
    """
    if window.resets_at is None or window.window_minutes is None:
        return Pace("unknown")
    if window.resets_at <= now:
        return Pace("reset")
    if window.used_percent >= 100:
        return Pace("full")
    start = window.resets_at - timedelta(minutes=window.window_minutes)
    elapsed = (window.read_at - start).total_seconds()
    if window.used_percent <= 0 or elapsed <= 0:
        return Pace("lasts", percent_at_reset=window.used_percent)
    per_second = window.used_percent / elapsed
    full_at = start + timedelta(seconds=100 / per_second)
    if full_at < window.resets_at:
        return Pace("full-before-reset", full_at=full_at, before_reset=window.resets_at - full_at)
    at_reset = per_second * (window.resets_at - start).total_seconds()
    return Pace("lasts", percent_at_reset=round(at_reset, 1))


# -- Claude Code's 5-hour blocks from the index -------------------------------------------------------------

_CALLS = (
    "SELECT ts, inp, cw, cr, out, cost, model FROM events"
    " WHERE agent = ? AND device IS NULL AND ts >= ? AND ts <= ? ORDER BY ts, id"
)


def claude_calls(conn: sqlite3.Connection, lo_ms: int, hi_ms: int) -> list[tuple[Any, ...]]:
    """This machine's Claude Code calls in ``lo_ms``..``hi_ms``: ``(ts, inp, cw, cr, out, cost, model)`` by time."""
    return conn.execute(_CALLS, (CLAUDE, lo_ms, hi_ms)).fetchall()


def blocks(calls: Sequence[Sequence[Any]], now: datetime, hours: int = BLOCK_HOURS) -> list[Block]:
    """ccusage's session blocks over ``calls`` (``(ts_ms, inp, cw, cr, out, cost|None, model)``, by time).

    A block opens at the UTC hour of its first call and takes every call less than ``hours``
    after its start and after the call before; a gap longer than ``hours`` between two calls
    appears as a gap block from the last call + ``hours`` to the next call. Blocks come by start time, as
    ccusage lists them (the next block's start, floored to the hour, may precede the gap's).
    """
    span = hours * HOUR_MS
    out: list[Block] = []
    group: list[Sequence[Any]] = []
    start = 0
    for call in calls:
        ts = call[0]
        if group and (ts - start > span or ts - group[-1][0] > span):
            out.append(_block(start, group, now, span))
            if ts - group[-1][0] > span:
                out.append(_gap(group[-1][0] + span, ts))
            group = []
        if not group:
            start = ts - ts % HOUR_MS
        group.append(call)
    if group:
        out.append(_block(start, group, now, span))
    out.sort(key=lambda b: b.start)
    return out


def _block(start_ms: int, calls: list[Sequence[Any]], now: datetime, span: int) -> Block:
    inp = cw = cr = out = unpriced = 0
    cost = 0.0
    models: dict[str, None] = {}
    for _, i, w, r, o, c, model in calls:
        inp, cw, cr, out = inp + i, cw + w, cr + r, out + o
        if c is None:
            unpriced += i + w + r + o
        else:
            cost += c
        models.setdefault(model or "", None)
    now_ms = now.timestamp() * 1000
    first, last = calls[0][0], calls[-1][0]
    end_ms = start_ms + span
    active = now_ms - last < span and now_ms < end_ms
    total = inp + cw + cr + out
    rate = None
    minutes = (last - first) / 60_000
    if minutes > 0:
        rate = BurnRate(total / minutes, (inp + out) / minutes, cost / minutes * 60)
    projection = None
    if active and rate is not None:
        remaining = max(0.0, (end_ms - now_ms) / 60_000)
        projection = Projection(
            round(total + rate.tokens_per_minute * remaining),
            round(cost + rate.cost_per_hour / 60 * remaining, 2),
            round(remaining),
        )
    return Block(
        _utc(start_ms),
        _utc(end_ms),
        _utc(last),
        active,
        False,
        len(calls),
        inp,
        cw,
        cr,
        out,
        cost,
        unpriced,
        tuple(m for m in models if m),  # in order of first use, as ccusage lists them
        rate,
        projection,
    )


def _gap(start_ms: int, end_ms: int) -> Block:
    return Block(_utc(start_ms), _utc(end_ms), None, False, True, 0, 0, 0, 0, 0, 0.0, 0, (), None, None)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def claude_blocks(conn: sqlite3.Connection, now: datetime, since: datetime | None = None) -> list[Block]:
    """Every block of this machine's Claude Code calls (from ``since``, a start that begins a block)."""
    lo = -(2**62) if since is None else int(since.timestamp() * 1000)
    return blocks(claude_calls(conn, lo, 2**62), now)


def current_block(conn: sqlite3.Connection, now: datetime) -> Block | None:
    """The block active at ``now``, or None.

    Reads back only as far as the nearest gap of more than 5 hours before ``now`` (where
    block boundaries start afresh), at most ``MAX_LOOKBACK_MS``: a bounded read of the index.
    """
    now_ms = int(now.timestamp() * 1000)
    lookback = 2 * BLOCK_MS
    while True:
        lo = now_ms - lookback
        calls = claude_calls(conn, lo, now_ms)
        if not calls:
            return None
        before = conn.execute(
            "SELECT MAX(ts) FROM events WHERE agent = ? AND device IS NULL AND ts < ? AND ts >= ?",
            (CLAUDE, lo, calls[0][0] - BLOCK_MS),
        ).fetchone()[0]
        if before is None or lookback >= MAX_LOOKBACK_MS:
            break  # the first call read opens a block, as it does when every call is read
        lookback = min(lookback * 4, MAX_LOOKBACK_MS)
    found = blocks(calls, now)
    last = found[-1] if found else None
    return last if last is not None and last.is_active else None


# -- the document ------------------------------------------------------------------------------------------


def block_dict(block: Block) -> dict[str, Any]:
    """A block as JSON, in ccusage's ``blocks --json`` field names (plus ``unpriced_tokens``).

    As there, the burn rate is given for the active block only.
    """
    rate, proj = block.burn_rate if block.is_active else None, block.projection
    return {
        "id": ("gap-" if block.is_gap else "") + _stamp(block.start),
        "startTime": _stamp(block.start),
        "endTime": _stamp(block.end),
        "actualEndTime": None if block.actual_end is None else _stamp(block.actual_end),
        "isActive": block.is_active,
        "isGap": block.is_gap,
        "entries": block.entries,
        "tokenCounts": {
            "inputTokens": block.inp,
            "outputTokens": block.out,
            "cacheCreationInputTokens": block.cw,
            "cacheReadInputTokens": block.cr,
        },
        "totalTokens": block.total,
        "costUSD": block.cost_usd,
        "unpriced_tokens": block.unpriced_tokens,
        "models": list(block.models),
        "burnRate": None
        if rate is None
        else {
            "tokensPerMinute": rate.tokens_per_minute,
            "tokensPerMinuteForIndicator": rate.tokens_per_minute_for_indicator,
            "costPerHour": round(rate.cost_per_hour, 2),
        },
        "projection": None
        if proj is None
        else {
            "totalTokens": proj.total_tokens,
            "totalCost": proj.total_cost,
            "remainingMinutes": proj.remaining_minutes,
        },
    }


def window_dict(window: Window, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """A window, its reading's age and its pace, as JSON (times in UTC and in ``tz``)."""
    p = pace(window, now)
    reset = window.resets_at
    return {
        "agent": window.agent,
        "account": window.account,
        "name": window.name,
        "used_percent": window.used_percent,
        "window_minutes": window.window_minutes,
        "resets_at": None if reset is None else _stamp(reset),
        "resets_at_local": None if reset is None else reset.astimezone(tz).isoformat(timespec="seconds"),
        "source": window.source,
        "read_at": _stamp(window.read_at),
        "age_seconds": max(0, int((now - window.read_at).total_seconds())),
        "pace": {
            "state": p.state,
            "full_at": None if p.full_at is None else _stamp(p.full_at),
            "full_at_local": None if p.full_at is None else p.full_at.astimezone(tz).isoformat(timespec="seconds"),
            "before_reset_seconds": None if p.before_reset is None else int(p.before_reset.total_seconds()),
            "percent_at_reset": p.percent_at_reset,
        },
    }


def report(
    windows: Sequence[Window],
    block: Block | None,
    now: datetime,
    tz: tzinfo,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """Every window known (tightest first within each agent), Claude's current block, and notes on what is missing."""
    order = sorted(windows, key=lambda w: (w.agent, w.source, -w.used_percent))
    return {
        "now": _stamp(now),
        "windows": [window_dict(w, now, tz) for w in order],
        "claude_block": None if block is None else block_dict(block),
        "notes": list(notes),
    }


def tightest(windows: Sequence[Window], now: datetime) -> Window | None:
    """The window nearest to full that has not reset since its reading (for a tray ring or a status line)."""
    live = [w for w in windows if w.resets_at is None or w.resets_at > now]
    return max(live, key=lambda w: w.used_percent, default=None)


def window_key(window: Window) -> str:
    """A window's identity until it resets (agent, account, name and reset time): what an alert is sent once for."""
    reset = "" if window.resets_at is None else _stamp(window.resets_at)
    return f"{window.agent}|{window.account}|{window.name}|{reset}"


def alerts_due(
    windows: Sequence[Window], thresholds: Sequence[int], sent: Iterable[str], now: datetime
) -> list[tuple[Window, int, str]]:
    """The alerts to send now: for each open window, the highest threshold it reached that was not sent yet.

    ``sent`` holds the keys already sent (``window_key(w) + "|" + str(threshold)``); each alert
    comes with the key to add to it, so each threshold is announced once per window, and a window
    that passed two thresholds since the last look is announced once, at the higher.
    """
    done = set(sent)
    out = []
    for w in windows:
        if w.resets_at is not None and w.resets_at <= now:
            continue
        reached = [t for t in thresholds if w.used_percent >= t]
        if not reached:
            continue
        top, wk = max(reached), window_key(w)
        if not any(f"{wk}|{t}" in done for t in thresholds if t >= top):  # nothing as high said yet
            out.append((w, top, f"{wk}|{top}"))
    return out


def _stamp(at: datetime) -> str:
    text = at.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# -- in words: the command line and the app's Limits panel say times and paces alike --------------


def duration(d: timedelta) -> str:
    """``1 h 20 min``, ``3 d 4 h``, ``45 s``."""
    s = max(0, int(d.total_seconds()))
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    dd, h = divmod(h, 24)
    return f"{dd} d {h} h" if h else f"{dd} d"


def clock(at: datetime, tz: tzinfo, now: datetime) -> str:
    """``15:40`` today, ``Tue 15:40`` within a week, else ``2026-12-24 15:40`` (local)."""
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if abs((local.date() - today).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def parse_stamp(stamp: str) -> datetime:
    """An ISO time of a limits document (``Z`` for UTC)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def pace_text(w: dict[str, Any], tz: tzinfo, now: datetime) -> str:
    """A window's pace (of :func:`window_dict`) in words: when it fills, or how full it is when it resets."""
    p = w["pace"]
    if p["state"] == "full-before-reset":
        full = parse_stamp(p["full_at"])
        before = duration(timedelta(seconds=p["before_reset_seconds"]))
        return f"at this pace: full at {clock(full, tz, now)}, {before} before it resets"
    if p["state"] == "lasts":
        return f"at this pace: {p['percent_at_reset']:g}% when it resets"
    if p["state"] == "full":
        return "full until it resets"
    if p["state"] == "reset":
        return "it has reset since this reading"
    return "pace unknown (no reset time or length)"
