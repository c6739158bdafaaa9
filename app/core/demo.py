"""A sample home for ``tokenclub demo``: a month of three agents' logs, written as the agents write them.

Claude Code, Codex CLI and Gemini CLI sessions in their own formats under ``.claude``, ``.codex``
and ``.gemini``, every call with a realistic cache split (Claude Code and Codex read most of
their prompt from cache, Gemini CLI about half). Most days burn a few million tokens; one day
goes past 10M, so the chart has a milestone crossed. Today's calls end before now. The
generator also sums what it wrote, bucket by bucket, as the parsers count it, so a report
over the sample can be checked against it.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from app.core.model import BUCKETS

DAYS = 30
BIG_DAY_AGO = 3  # the day past 10M, counted back from today
BIG_DAY_TOKENS = 14_000_000
CLAUDE_MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101")
CODEX_MODEL = "gpt-5.1-codex"
GEMINI_MODEL = "gemini-2.5-pro"
PROJECTS = ("/home/demo/api", "/home/demo/web", "/home/demo/infra")


@dataclass
class Sample:
    """What was written: per agent, the five buckets summed as the parsers count them."""

    home: Path
    by_agent: dict[str, dict[str, int]] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)  # local date -> total tokens
    files: int = 0

    def add(self, agent: str, day: date, **buckets: int) -> None:
        sums = self.by_agent.setdefault(agent, dict.fromkeys(BUCKETS, 0))
        for k, v in buckets.items():
            sums[k] += v
        total = buckets["in"] + buckets["cw"] + buckets["cr"] + buckets["out"]
        self.days[day.isoformat()] = self.days.get(day.isoformat(), 0) + total

    def totals(self) -> dict[str, int]:
        out = {k: sum(a[k] for a in self.by_agent.values()) for k in BUCKETS}
        out["total"] = out["in"] + out["cw"] + out["cr"] + out["out"]
        return out


def write_sample(home: Path, tz: tzinfo, now: datetime, days: int = DAYS, seed: int = 26) -> Sample:
    """Write ``days`` days of logs ending today (local to ``tz``) under ``home``; calls never after ``now``."""
    rng = random.Random(seed)
    sample = Sample(home)
    today = now.astimezone(tz).date()
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        target = _day_target(day, back, rng)
        start, end = _working_hours(day, tz, now)
        if end <= start:
            continue
        # the three agents side by side through the day, as parallel sessions run
        _claude(sample, day, start, end - start, int(target * 0.6), rng)
        _codex(sample, day, start + (end - start) / 10, (end - start) * 0.9, int(target * 0.28), rng)
        _gemini(sample, day, start + (end - start) / 5, (end - start) * 0.8, int(target * 0.12), rng)
        if back == 1:
            _insights(sample, day, tz)
    return sample


def _day_target(day: date, back: int, rng: random.Random) -> int:
    """A few million tokens a working day, less at weekends, one day past 10M."""
    if back == BIG_DAY_AGO:
        return BIG_DAY_TOKENS
    base = rng.randint(1_500_000, 6_500_000)
    return base // 4 if day.weekday() >= 5 else base


def _working_hours(day: date, tz: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """09:00 to 19:00 local; today up to a minute before now (or what is left of today)."""
    start = datetime.combine(day, time(9), tz)
    end = datetime.combine(day, time(19), tz)
    if day == now.astimezone(tz).date():
        end = min(end, now - timedelta(minutes=1))
        midnight = datetime.combine(day, time(0), tz)
        if end <= start:  # early in the day: the hours since midnight
            start = max(midnight + timedelta(minutes=1), end - timedelta(hours=2))
    return start, end


def _utc(ts: datetime) -> str:
    u = ts.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def _calls(tokens: int, per_call: int) -> int:
    return max(3, min(80, tokens // per_call))


def _times(start: datetime, span: timedelta, calls: int) -> list[datetime]:
    """Evenly through ``span``, the last call at its end: today's sessions are live a minute ago."""
    step = span / calls
    return [start + step * (i + 1) for i in range(calls)]


def _write(sample: Sample, path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines), encoding="utf-8")
    sample.files += 1


def _claude(sample: Sample, day: date, start: datetime, span: timedelta, tokens: int, rng: random.Random) -> None:
    """One session: each call reads ~86% of its prompt from cache, writes ~8%, outputs ~3%."""
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    project = rng.choice(PROJECTS)
    model = CLAUDE_MODELS[0] if rng.random() < 0.7 else CLAUDE_MODELS[1]
    calls = _calls(tokens, 150_000)
    per_call = tokens // calls
    lines = []
    for c, ts in enumerate(_times(start, span, calls)):
        cr = int(per_call * rng.uniform(0.82, 0.9))
        cw = int(per_call * rng.uniform(0.05, 0.09))
        out = int(per_call * rng.uniform(0.02, 0.04))
        inp = max(per_call - cr - cw - out, 1)
        usage = {
            "input_tokens": inp,
            "cache_creation_input_tokens": cw,
            "cache_read_input_tokens": cr,
            "output_tokens": out,
        }
        lines.append(_claude_record(f"msg_demo{session[:8]}{c:04d}", session, project, model, usage, ts))
        sample.add("claude-code", day, **{"in": inp, "cw": cw, "cr": cr, "out": out, "rsn": 0})
    _write(sample, sample.home / ".claude" / "projects" / project.replace("/", "-") / f"{session}.jsonl", lines)


def _insights(sample: Sample, day: date, tz: tzinfo) -> None:
    """A session that switches model and re-pays its cached prompt, and one idle past the cache lifetime."""
    base = datetime.combine(day, time(14), tz)
    cases = {  # session -> (minutes after base, model, in, cw, cr, out) per call
        "switch": [
            (0, CLAUDE_MODELS[1], 200, 4_000, 180_000, 900),
            (1, CLAUDE_MODELS[1], 200, 3_000, 184_000, 800),
            (2, CLAUDE_MODELS[0], 300, 187_000, 0, 700),
        ],
        "idle": [
            (0, CLAUDE_MODELS[0], 200, 5_000, 150_000, 600),
            (1, CLAUDE_MODELS[0], 200, 2_000, 155_000, 500),
            (31, CLAUDE_MODELS[0], 300, 157_000, 0, 600),
        ],
    }
    for name, calls in cases.items():
        session = f"demo-{name}-{day.isoformat()}"
        lines = []
        for n, (minutes, model, inp, cw, cr, out) in enumerate(calls):
            msg = f"msg_demo_{name}_{n}"
            usage = {
                "input_tokens": inp,
                "cache_creation_input_tokens": cw,
                "cache_read_input_tokens": cr,
                "output_tokens": out,
            }
            lines.append(_claude_record(msg, session, PROJECTS[0], model, usage, base + timedelta(minutes=minutes)))
            sample.add("claude-code", day, **{"in": inp, "cw": cw, "cr": cr, "out": out, "rsn": 0})
        _write(sample, sample.home / ".claude" / "projects" / PROJECTS[0].replace("/", "-") / f"{session}.jsonl", lines)


def _claude_record(
    msg: str, session: str, project: str, model: str, usage: dict[str, int], ts: datetime
) -> dict[str, Any]:
    """One Claude Code assistant line carrying ``message.usage``."""
    return {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": project,
        "sessionId": session,
        "version": "2.1.30",
        "message": {
            "id": msg,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Done."}],
            "stop_reason": "end_turn",
            "usage": usage,
        },
        "requestId": f"req_{msg}",
        "type": "assistant",
        "uuid": f"u-{msg}",
        "timestamp": _utc(ts),
    }


def _codex(sample: Sample, day: date, start: datetime, span: timedelta, tokens: int, rng: random.Random) -> None:
    """One rollout: ~88% of each prompt cached, output ~3% with half of it reasoning."""
    thread = str(uuid.UUID(int=rng.getrandbits(128)))
    project = rng.choice(PROJECTS)
    calls = _calls(tokens, 200_000)
    per_call = tokens // calls
    lines: list[dict[str, Any]] = [
        {"timestamp": _utc(start), "type": "session_meta", "payload": {"id": thread, "cwd": project}},
        {"timestamp": _utc(start), "type": "turn_context", "payload": {"cwd": project, "model": CODEX_MODEL}},
    ]
    total = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_output_tokens": 0}
    for ts in _times(start, span, calls):
        out = int(per_call * rng.uniform(0.02, 0.04))
        prompt = per_call - out
        cached = int(prompt * rng.uniform(0.84, 0.92))
        last = {
            "input_tokens": prompt,
            "cached_input_tokens": cached,
            "output_tokens": out,
            "reasoning_output_tokens": out // 2,
        }
        for k, v in last.items():
            total[k] += v
        info = {
            "total_token_usage": {**total, "total_tokens": total["input_tokens"] + total["output_tokens"]},
            "last_token_usage": {**last, "total_tokens": prompt + out},
        }
        lines.append({"timestamp": _utc(ts), "type": "event_msg", "payload": {"type": "token_count", "info": info}})
        sample.add("codex", day, **{"in": prompt - cached, "cw": 0, "cr": cached, "out": out, "rsn": out // 2})
    local = start.astimezone(start.tzinfo)  # Codex names its folders in local time
    folder = sample.home / ".codex" / "sessions" / f"{local:%Y}" / f"{local:%m}" / f"{local:%d}"
    _write(sample, folder / f"rollout-{local:%Y-%m-%dT%H-%M-%S}-{thread}.jsonl", lines)


def _gemini(sample: Sample, day: date, start: datetime, span: timedelta, tokens: int, rng: random.Random) -> None:
    """One chat: about half of each prompt cached, thoughts beside the output."""
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    project = rng.choice(PROJECTS)
    project_hash = hashlib.sha256(project.encode()).hexdigest()
    calls = _calls(tokens, 60_000)
    per_call = tokens // calls
    lines: list[dict[str, Any]] = [
        {"sessionId": session, "projectHash": project_hash, "startTime": _utc(start), "lastUpdated": _utc(start)}
    ]
    for ts in _times(start, span, calls):
        thoughts = int(per_call * rng.uniform(0.01, 0.02))
        output = int(per_call * rng.uniform(0.01, 0.03))
        prompt = per_call - thoughts - output
        cached = int(prompt * rng.uniform(0.4, 0.6))
        msg_id = str(uuid.UUID(int=rng.getrandbits(128)))
        tokens_doc = {
            "input": prompt,
            "output": output,
            "cached": cached,
            "thoughts": thoughts,
            "tool": 0,
            "total": prompt + output + thoughts,
        }
        asked = str(uuid.UUID(int=rng.getrandbits(128)))
        lines.append({"id": asked, "timestamp": _utc(ts), "type": "user", "content": "Go on."})
        lines.append(
            {
                "id": msg_id,
                "timestamp": _utc(ts),
                "type": "gemini",
                "content": "Done.",
                "tokens": tokens_doc,
                "model": GEMINI_MODEL,
            }
        )
        sample.add(
            "gemini-cli",
            day,
            **{"in": prompt - cached, "cw": 0, "cr": cached, "out": output + thoughts, "rsn": thoughts},
        )
    chats = sample.home / ".gemini" / "tmp" / project_hash / "chats"
    _write(sample, chats / f"session-{start:%Y-%m-%dT%H-%M}-{session[:8]}.jsonl", lines)
