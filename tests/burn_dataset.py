"""A generated home whose daily burn climbs through every tier (10M, 100M, 1B) in format-faithful logs.

Used by the screenshot tests and ``bench/bench_gui.py``. Tokens are only numbers in usage
lines, so a 1B-token day costs a few hundred lines, not gigabytes. The last day also holds
one model switch and one expired cache, the two things the insights look for.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from tests.logmaker import claude_line

CLAUDE_MODELS = ("claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001")
CODEX_MODEL = "gpt-5.1-codex"
PROJECTS = ("/home/dev/api", "/home/dev/web", "/home/dev/infra", "/home/dev/ml")


@dataclass
class Burn:
    """What was written: expected totals per UTC day, and the file count."""

    per_day: dict[str, int] = field(default_factory=dict)
    files: int = 0

    def add(self, ts: datetime, tokens: int) -> None:
        key = ts.date().isoformat()
        self.per_day[key] = self.per_day.get(key, 0) + tokens


def daily_target(i: int, days: int) -> int:
    """Day ``i`` of ``days``: from about 3M to about 1.3B tokens, geometric, with quieter weekends."""
    start, end = 3e6, 1.3e9
    return int(start * (end / start) ** (i / max(days - 1, 1)))


def write_burn_home(home: Path, days: int = 120, end: date | None = None, seed: int = 7) -> Burn:
    """Write ``days`` days of Claude Code and Codex logs ending on ``end`` (default: today, UTC)."""
    rng = random.Random(seed)
    last = end or datetime.now(UTC).date()
    burn = Burn()
    for i in range(days):
        day = last - timedelta(days=days - 1 - i)
        target = daily_target(i, days)
        if day.weekday() >= 5:
            target = int(target * 0.6)
        sessions = rng.randint(3, 9)
        for s in range(sessions):
            share = target // sessions
            if s % 3 == 2:
                _codex_session(home, day, s, share, rng, burn)
            else:
                _claude_session(home, day, s, share, rng, burn)
    _insight_cases(home, last, burn)
    return burn


def _when(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 12 * 60))


def _stamp(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _claude_session(home: Path, day: date, s: int, tokens: int, rng: random.Random, burn: Burn) -> None:
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    project = rng.choice(PROJECTS)
    model = CLAUDE_MODELS[0] if rng.random() < 0.6 else CLAUDE_MODELS[1]
    calls = max(4, min(60, tokens // 2_000_000))
    per_call = tokens // calls
    ts = _when(day, rng)
    lines = []
    for c in range(calls):
        ts += timedelta(seconds=rng.randint(10, 170))
        cr = int(per_call * 0.86)
        cw = int(per_call * 0.08)
        out = int(per_call * 0.04)
        inp = per_call - cr - cw - out
        use = CLAUDE_MODELS[2] if c % 7 == 3 else model
        if use == CLAUDE_MODELS[2]:  # a small side call: title or summary on the cheap model
            inp, cw, cr, out = 300, 0, 0, 40
        lines.append(
            claude_line(
                f"msg_{session[:8]}{c:04d}",
                _stamp(ts),
                inp=inp,
                cw=cw,
                cr=cr,
                out=out,
                model=use,
                session=session,
                cwd=project,
            )
        )
        burn.add(ts, inp + cw + cr + out)
    slug = project.replace("/", "-")
    path = home / ".claude" / "projects" / slug / f"{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    burn.files += 1


def _codex_session(home: Path, day: date, s: int, tokens: int, rng: random.Random, burn: Burn) -> None:
    thread = str(uuid.UUID(int=rng.getrandbits(128)))
    project = rng.choice(PROJECTS)
    start = _when(day, rng)
    calls = max(3, min(40, tokens // 2_500_000))
    per_call = tokens // calls
    out_lines = [
        {"timestamp": _stamp(start), "type": "session_meta", "payload": {"id": thread, "cwd": project}},
        {"timestamp": _stamp(start), "type": "turn_context", "payload": {"cwd": project, "model": CODEX_MODEL}},
    ]
    total = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_output_tokens": 0}
    ts = start
    for _ in range(calls):
        ts += timedelta(seconds=rng.randint(20, 200))
        out = int(per_call * 0.03)
        inp_all = per_call - out
        last = {
            "input_tokens": inp_all,
            "cached_input_tokens": int(inp_all * 0.9),
            "output_tokens": out,
            "reasoning_output_tokens": out // 2,
        }
        for k, v in last.items():
            total[k] += v
        info = {
            "total_token_usage": {**total, "total_tokens": total["input_tokens"] + total["output_tokens"]},
            "last_token_usage": {**last, "total_tokens": inp_all + out},
        }
        out_lines.append(
            {"timestamp": _stamp(ts), "type": "event_msg", "payload": {"type": "token_count", "info": info}}
        )
        burn.add(ts, inp_all + out)
    path = (
        home
        / ".codex"
        / "sessions"
        / f"{day.year:04d}"
        / f"{day.month:02d}"
        / f"{day.day:02d}"
        / f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{thread}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in out_lines))
    burn.files += 1


def _insight_cases(home: Path, day: date, burn: Burn) -> None:
    """One session that switches model and re-pays its prefix, one that idles past the cache lifetime."""
    base = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    calls = [  # (minutes after base, session, model, inp, cw, cr, out)
        (0, "switch", CLAUDE_MODELS[0], 200, 4_000, 180_000, 900),
        (1, "switch", CLAUDE_MODELS[0], 200, 3_000, 184_000, 800),
        (2, "switch", CLAUDE_MODELS[1], 300, 187_000, 0, 700),
        (0, "idle", CLAUDE_MODELS[1], 200, 5_000, 150_000, 600),
        (1, "idle", CLAUDE_MODELS[1], 200, 2_000, 155_000, 500),
        (31, "idle", CLAUDE_MODELS[1], 300, 157_000, 0, 600),
    ]
    for name in ("switch", "idle"):
        lines = []
        for n, (minutes, session, model, inp, cw, cr, out) in enumerate(calls):
            if session != name:
                continue
            ts = base + timedelta(minutes=minutes)
            lines.append(
                claude_line(
                    f"msg_{name}{n}",
                    _stamp(ts),
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                    model=model,
                    session=f"insight-{name}",
                    cwd="/home/dev/api",
                )
            )
            burn.add(ts, inp + cw + cr + out)
        path = home / ".claude" / "projects" / "-home-dev-api" / f"insight-{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines))
        burn.files += 1
