#!/usr/bin/env python3
"""Deterministic generator of a large, format-faithful Claude Code + Codex log corpus.

    python bench/corpus.py HOME [--size-mb 1024] [--seed 1] [--jobs N]

Writes, under HOME:

* ``.claude/projects/<slug>/<session>.jsonl`` main transcripts, some
  ``<session>/subagents/agent-<id>.jsonl`` (+ ``.meta.json``) sub-agent transcripts, and
  resumed sessions whose new file starts with a verbatim copy of the earlier lines (same
  ``message.id``/``requestId``/timestamps, the new ``sessionId``);
* ``.codex/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<uuid>.jsonl`` and some flat
  ``.codex/archived_sessions/rollout-…jsonl``;
* ``EXPECTED.json``: the exact totals per UTC day and per agent, in TokenClub's buckets
  (written last: its presence marks a complete corpus).

Shapes follow /work/shared/fixtures/agent-logs/FORMATS.md §1 and §2. The corpus exercises:
streamed duplicates (one API response written as several lines sharing message.id +
requestId, output_tokens growing), resumed Claude sessions (global de-dup), sub-agent
transcripts (own ids, counted), Codex re-emits (identical total_token_usage, skipped),
``token_count`` with ``info: null``, turn_context model changes, archived rollouts, long
tool outputs (5–200 KB) and UTC-midnight crossings. It deliberately avoids the
constructs on which reference trackers legitimately differ: no Codex forks or sub-agent
threads, no context-window fill events, no total resets, no sidechain replays, no
``<synthetic>`` lines, and every Claude usage line has both ``message.id`` and
``requestId``.

Every session is generated from its own seed (master seed + index), so the output is
byte-identical whatever the number of worker processes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import random
import re
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

AGENT_CLAUDE = "claude-code"
AGENT_CODEX = "codex"
BUCKETS = ("in", "cw", "cr", "out", "rsn")

CLAUDE_MODELS = (
    ("claude-sonnet-4-5-20250929", 0.6),
    ("claude-opus-4-5-20251101", 0.25),
    ("claude-haiku-4-5-20251001", 0.15),
)
CODEX_MODELS = (("gpt-5.1-codex", 0.5), ("gpt-5.1-codex-max", 0.3), ("gpt-5-codex", 0.2))

#: The corpus spans DAYS days ending (exclusive) at END.
END = _dt.datetime(2026, 1, 30, tzinfo=_dt.UTC).timestamp()
DAYS = 120
START = END - DAYS * 86400

PROJECTS = (
    "myproj", "webapp", "api-server", "infra", "tokenclub", "data-pipeline", "mobile-app",
    "docs-site", "ml-experiments", "cli-tools", "billing", "auth-service", "design-system",
    "scraper", "game-engine",
)  # fmt: skip

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SEP = (",", ":")

#: The usage appended by :func:`append_line` (Claude buckets; total = in+cw+cr+out).
APPEND_USAGE = {"in": 3, "cw": 120, "cr": 5000, "out": 42, "rsn": 0}


# --------------------------------------------------------------------------- helpers


def ts(t: float) -> str:
    """ISO-8601 UTC with milliseconds and Z, as both agents write it."""
    ms = int(round(t * 1000))
    d = _dt.datetime.fromtimestamp(ms // 1000, _dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def day_of(t: float) -> str:
    ms = int(round(t * 1000))
    return _dt.datetime.fromtimestamp(ms // 1000, _dt.UTC).strftime("%Y-%m-%d")


def uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.getrandbits(2)]}{h[17:20]}-{h[20:32]}"


def uuid7(rng: random.Random, t: float) -> str:
    ms = f"{int(t * 1000):012x}"
    h = f"{rng.getrandbits(80):020x}"
    return f"{ms[:8]}-{ms[8:12]}-7{h[:3]}-{'89ab'[rng.getrandbits(2)]}{h[3:6]}-{h[6:18]}"


def b62(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(B62, k=n))


def pick(rng: random.Random, weighted) -> str:
    return rng.choices([m for m, _ in weighted], [w for _, w in weighted])[0]


_POOL: str = ""
WORDS = [
    "fn",
    "let",
    "mut",
    "self",
    "return",
    "if",
    "else",
    "for",
    "while",
    "match",
    "impl",
    "struct",
    "enum",
    "pub",
    "use",
    "mod",
    "async",
    "await",
    "token",
    "usage",
    "parse",
    "record",
    "line",
    "file",
    "path",
    "value",
    "result",
    "error",
    "count",
    "total",
    "cache",
    "input",
    "output",
    "model",
    "session",
    "index",
    "day",
    "report",
    "daily",
    "buffer",
    "reader",
    "writer",
    "json",
    "string",
    "number",
    "import",
    "from",
    "def",
    "class",
    "assert",
    "test",
    "fixture",
    "config",
    "option",
    "default",
    "timeout",
    "retry",
]


def _build_pool(size: int = 3 << 20) -> str:
    """A few MB of code/log-like text, JSON-escaped, to slice tool outputs from."""
    r = random.Random(12345)
    out, n = [], 0
    while n < size:
        ind = " " * (4 * r.randrange(0, 4))
        k = r.randrange(3, 14)
        ws = " ".join(r.choice(WORDS) for _ in range(k))
        kind = r.randrange(6)
        if kind == 0:
            line = f'{ind}{ws} = "{r.choice(WORDS)}_{r.randrange(10**6)}";'
        elif kind == 1:
            line = f"src/{r.choice(WORDS)}/{r.choice(WORDS)}.rs:{r.randrange(1, 3000)}: {ws}"
        elif kind == 2:
            line = f"{ind}// {ws}\t({r.randrange(100)}%)"
        else:
            line = f"{ind}{ws}({r.randrange(1000)}, {r.choice(WORDS)}) {{"
        out.append(line)
        n += len(line) + 1
    return json.dumps("\n".join(out))[1:-1]


def big_text(rng: random.Random, n: int) -> str:
    """n bytes (approx.) of JSON-escaped text, ready to sit between quotes."""
    pool = _POOL
    if n >= len(pool):
        n = len(pool) - 1
    a = rng.randrange(1, len(pool) - n)
    if pool[a - 1] == "\\":  # do not start inside an escape (e.g. a bare quote)
        a += 1
    s = pool[a : a + n]
    # Never end on a lone backslash (half of an escape); a leading "n"/"t" is harmless.
    k = len(s) - len(s.rstrip("\\"))
    if k % 2:
        s = s[:-1]
    return s


def tool_output_size(rng: random.Random) -> int:
    if rng.random() < 0.35:
        return rng.randrange(80, 2000)
    return int(5000 * (40 ** rng.random()))  # log-uniform 5 KB .. 200 KB


class Acc:
    """Expected totals for one task: day -> agent -> [in, cw, cr, out, rsn]."""

    def __init__(self) -> None:
        self.days: dict[str, dict[str, list[int]]] = {}
        self.files = 0
        self.lines = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
        self.bytes = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
        self.events = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
        self.models: dict[str, int] = {}

    def add(self, t: float, agent: str, vals, model: str) -> None:
        row = self.days.setdefault(day_of(t), {}).setdefault(agent, [0, 0, 0, 0, 0])
        for i, v in enumerate(vals):
            row[i] += v
        self.events[agent] += 1
        self.models[model] = self.models.get(model, 0) + 1

    def write(self, path: Path, lines: list[str], agent: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(lines).encode()
        with open(path, "wb") as f:
            f.write(data)
        self.files += 1
        self.lines[agent] += len(lines)
        self.bytes[agent] += len(data)


# --------------------------------------------------------------------------- Claude


class ClaudeSession:
    def __init__(self, rng, home: Path, project: str, sid: str, model: str) -> None:
        self.rng = rng
        self.home = home
        self.cwd = f"/home/dev/{project}"
        self.slug = "-home-dev-" + project
        self.sid = sid
        self.model = model
        self.branch = rng.choice(("main", "main", "dev", f"feature/{rng.choice(WORDS)}"))
        self.version = rng.choice(("2.0.76", "2.1.12", "2.1.30"))
        self.parent = None
        self.ctx = rng.randrange(8000, 20000)

    def env(self, uuid: str, t: float, typ: str, extra_agent: str | None = None) -> dict:
        d = {
            "parentUuid": self.parent,
            "isSidechain": extra_agent is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.sid,
            "version": self.version,
            "gitBranch": self.branch,
        }
        if extra_agent is not None:
            d["agentId"] = extra_agent
        d["type"] = typ
        return d

    def user_text(self, t: float, text: str, agent_id=None) -> str:
        u = uuid4(self.rng)
        d = self.env(u, t, "user", agent_id)
        d["message"] = {"role": "user", "content": text}
        d["uuid"] = u
        d["timestamp"] = ts(t)
        self.parent = u
        return json.dumps(d, separators=SEP) + "\n"

    def tool_result(self, t: float, tool_id: str, size: int, agent_id=None) -> str:
        rng = self.rng
        u = uuid4(rng)
        d = self.env(u, t, "user", agent_id)
        d["message"] = {
            "role": "user",
            "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": "@@BIG@@"}],
        }
        d["uuid"] = u
        d["timestamp"] = ts(t)
        if rng.random() < 0.5:
            d["toolUseResult"] = {"stdout": "@@HEAD@@", "stderr": "", "interrupted": False, "isImage": False}
        else:
            d["toolUseResult"] = {
                "type": "text",
                "file": {"filePath": f"{self.cwd}/src/{rng.choice(WORDS)}.py", "numLines": size // 40},
            }
        self.parent = u
        s = json.dumps(d, separators=SEP)
        big = big_text(rng, size)
        s = s.replace("@@BIG@@", big, 1).replace("@@HEAD@@", big[:200].rstrip("\\"), 1)
        return s + "\n"

    def api_call(self, t: float, acc: Acc | None, agent_id=None, tool: bool = True):
        """One API response, written as 1-4 streamed lines. Returns (lines, t, tool_id)."""
        rng = self.rng
        if rng.random() < 0.06:
            self.model = pick(rng, CLAUDE_MODELS)
        mid = "msg_01" + b62(rng, 22)
        rid = "req_011C" + b62(rng, 20)
        cin = rng.randrange(1, 30) if rng.random() < 0.9 else rng.randrange(100, 4000)
        cw = rng.randrange(0, 12000) if rng.random() < 0.7 else 0
        cr = self.ctx
        self.ctx = min(self.ctx + cw + rng.randrange(200, 3000), 180000)
        if self.ctx >= 180000 and rng.random() < 0.1:
            self.ctx = rng.randrange(10000, 30000)  # compaction
        out = rng.randrange(20, 4500)
        h1 = cw if rng.random() < 0.2 else 0
        blocks = []
        if rng.random() < 0.5:
            blocks.append({"type": "thinking", "thinking": "Let me " + " ".join(rng.choices(WORDS, k=12)),
                           "signature": b62(rng, 64)})  # fmt: skip
        if rng.random() < 0.7 or not tool:
            blocks.append({"type": "text", "text": " ".join(rng.choices(WORDS, k=rng.randrange(5, 60)))})
        tool_id = None
        if tool:
            tool_id = "toolu_01" + b62(rng, 22)
            name = rng.choice(("Bash", "Read", "Grep", "Edit", "Glob"))
            blocks.append({"type": "tool_use", "id": tool_id, "name": name,
                           "input": {"command": " ".join(rng.choices(WORDS, k=4))}})  # fmt: skip
        stop = "tool_use" if tool else "end_turn"
        n = len(blocks)
        # Output grows over the streamed lines; occasionally the last two lines repeat it.
        outs = sorted(rng.randrange(1, out) for _ in range(n - 1)) + [out]
        if n > 1 and rng.random() < 0.3:
            outs[-2] = out
        lines = []
        t0 = t
        for i, blk in enumerate(blocks):
            u = uuid4(rng)
            d = self.env(u, t, "assistant", agent_id)
            d.pop("type")
            d["message"] = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [blk],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": cin,
                    "cache_creation_input_tokens": cw,
                    "cache_read_input_tokens": cr,
                    "cache_creation": {"ephemeral_5m_input_tokens": cw - h1, "ephemeral_1h_input_tokens": h1},
                    "output_tokens": outs[i],
                    "service_tier": "standard",
                },
            }
            d["requestId"] = rid
            d["type"] = "assistant"
            d["uuid"] = u
            d["timestamp"] = ts(t)
            self.parent = u
            lines.append(json.dumps(d, separators=SEP) + "\n")
            t += rng.uniform(0.2, 3.0)
        # All lines of one response fall on the same UTC day (they do, up to a few seconds;
        # a response straddling midnight is a legitimate tie-break difference between trackers).
        if day_of(t0) != day_of(t):
            raise _Straddle(t)
        if acc is not None:
            acc.add(t0, AGENT_CLAUDE, (cin, cw, cr, out, 0), self.model)
        return lines, t, tool_id

    def call_safe(self, t, acc, agent_id=None, tool=True):
        while True:
            state = (self.rng.getstate(), self.parent, self.ctx, self.model)
            try:
                return self.api_call(t, acc, agent_id, tool)
            except _Straddle as e:
                self.rng.setstate(state[0])
                self.parent, self.ctx, self.model = state[1], state[2], state[3]
                t = (int(e.t) // 86400 + 1) * 86400 + 1.0


class _Straddle(Exception):
    def __init__(self, t: float) -> None:
        self.t = t


def gen_claude(task) -> Acc:
    idx, seed, home, budget = task
    rng = random.Random(seed * 1_000_003 + idx)
    home = Path(home)
    acc = Acc()
    project = rng.choice(PROJECTS)
    sess = ClaudeSession(rng, home, project, uuid4(rng), pick(rng, CLAUDE_MODELS))
    t = rng.uniform(START, END - 2 * 86400)
    lines: list[str] = []
    if rng.random() < 0.3:
        lines.append(json.dumps({"type": "summary", "summary": " ".join(rng.choices(WORDS, k=6)),
                                 "leafUuid": uuid4(rng)}, separators=SEP) + "\n")  # fmt: skip
    size = 0
    resume_at = None
    want_resume = rng.random() < 0.2
    want_sub = rng.random() < 0.3
    subagents = []
    while size < budget:
        # One user turn: prompt, then a chain of tool calls, then a final answer.
        lines.append(sess.user_text(t, " ".join(rng.choices(WORDS, k=rng.randrange(4, 30)))))
        t += rng.uniform(1, 20)
        for _ in range(rng.randrange(1, 12)):
            ls, t, tool_id = sess.call_safe(t, acc)
            lines += ls
            t += rng.uniform(0.5, 30)
            lines.append(sess.tool_result(t, tool_id, tool_output_size(rng)))
            t += rng.uniform(0.5, 10)
            if want_sub and rng.random() < 0.08 and len(subagents) < 3:
                subagents.append(t)
        ls, t, _ = sess.call_safe(t, acc, tool=False)
        lines += ls
        size = sum(map(len, lines))
        t += rng.uniform(30, 3 * 3600) if rng.random() < 0.8 else rng.uniform(3600, 30 * 3600)
        if want_resume and resume_at is None and size > budget * 0.6:
            resume_at = len(lines)
            break
    path = home / ".claude" / "projects" / sess.slug / f"{sess.sid}.jsonl"
    acc.write(path, lines, AGENT_CLAUDE)

    for ts0 in subagents:
        aid = f"{rng.getrandbits(28):07x}" if rng.random() < 0.5 else "a" + f"{rng.getrandbits(64):016x}"
        sub = ClaudeSession(rng, home, project, sess.sid, "claude-haiku-4-5-20251001")
        sub.cwd, sub.branch, sub.version = sess.cwd, sess.branch, sess.version
        st = ts0 + rng.uniform(0.5, 5)
        sl = [sub.user_text(st, "Find " + " ".join(rng.choices(WORDS, k=8)), aid)]
        st += 1
        for _ in range(rng.randrange(2, 10)):
            ls, st, tool_id = sub.call_safe(st, acc, aid)
            sl += ls
            st += rng.uniform(0.5, 5)
            sl.append(sub.tool_result(st, tool_id, tool_output_size(rng) // 3, aid))
            st += rng.uniform(0.5, 5)
        ls, st, _ = sub.call_safe(st, acc, aid, tool=False)
        sl += ls
        sdir = home / ".claude" / "projects" / sess.slug / sess.sid / "subagents"
        acc.write(sdir / f"agent-{aid}.jsonl", sl, AGENT_CLAUDE)
        (sdir / f"agent-{aid}.meta.json").write_text(
            json.dumps(
                {"agentType": "Explore", "description": "Search the code", "toolUseId": "toolu_01" + b62(rng, 22)}
            )
        )

    if resume_at is not None:
        # Resumed session: a new file that first copies the earlier history verbatim (same
        # message.id / requestId / timestamps, the new sessionId), then continues.
        new_sid = uuid4(rng)
        old = f'"sessionId":"{sess.sid}"'
        new = f'"sessionId":"{new_sid}"'
        copied = [ln.replace(old, new, 1) for ln in lines[:resume_at]]
        sess.sid = new_sid
        t += rng.uniform(600, 2 * 86400)
        more: list[str] = []
        size2 = 0
        while size2 < budget * 0.4:
            more.append(sess.user_text(t, "continue " + " ".join(rng.choices(WORDS, k=5))))
            t += rng.uniform(1, 20)
            for _ in range(rng.randrange(1, 8)):
                ls, t, tool_id = sess.call_safe(t, acc)
                more += ls
                t += rng.uniform(0.5, 30)
                more.append(sess.tool_result(t, tool_id, tool_output_size(rng)))
                t += rng.uniform(0.5, 10)
            ls, t, _ = sess.call_safe(t, acc, tool=False)
            more += ls
            size2 = sum(map(len, more))
            t += rng.uniform(30, 3 * 3600)
        acc.write(path.with_name(f"{new_sid}.jsonl"), copied + more, AGENT_CLAUDE)
    return acc


# --------------------------------------------------------------------------- Codex

RATE = (
    '"rate_limits":{"primary":{"used_percent":%.1f,"window_minutes":300,"resets_at":%d},'
    '"secondary":{"used_percent":%.1f,"window_minutes":10080,"resets_at":%d},"credits":null,"plan_type":"plus"}'
)


def _usage(i, c, o, r) -> str:
    return (
        f'{{"input_tokens":{i},"cached_input_tokens":{c},"output_tokens":{o},"reasoning_output_tokens":{r},'
        f'"total_tokens":{i + o}}}'
    )


def gen_codex(task) -> Acc:
    idx, seed, home, budget = task
    rng = random.Random(seed * 2_000_003 + idx)
    home = Path(home)
    acc = Acc()
    project = rng.choice(PROJECTS)
    cwd = f"/home/dev/{project}"
    t = rng.uniform(START, END - 2 * 86400)
    sid = uuid7(rng, t)
    model = pick(rng, CODEX_MODELS)
    tot = [0, 0, 0, 0]  # input, cached, output, reasoning
    ctx = rng.randrange(6000, 15000)
    lines: list[str] = []

    def emit(t, typ, payload: str) -> None:
        lines.append(f'{{"timestamp":"{ts(t)}","type":"{typ}","payload":{payload}}}\n')

    meta = {
        "id": sid, "timestamp": ts(t - 0.01), "cwd": cwd, "originator": "codex_cli_rs",
        "cli_version": rng.choice(("0.58.0", "0.63.0", "0.65.0")), "instructions": None, "source": "cli",
        "model_provider": "openai",
        "git": {"commit_hash": f"{rng.getrandbits(160):040x}", "branch": "main",
                "repository_url": f"git@github.com:dev/{project}.git"},
    }  # fmt: skip
    emit(t, "session_meta", json.dumps(meta, separators=SEP))
    emit(t + 0.001, "response_item", json.dumps({"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": f"<environment_context>\n  <cwd>{cwd}</cwd>\n</environment_context>"}]},
        separators=SEP))  # fmt: skip
    t += rng.uniform(2, 30)
    size = 0
    resets = int(t) + 18000
    while size < budget:
        if rng.random() < 0.25:
            model = pick(rng, CODEX_MODELS)
        tc = {"cwd": cwd, "approval_policy": "on-request",
              "sandbox_policy": {"type": "workspace-write", "network_access": False, "exclude_tmpdir_env_var": False,
                                 "exclude_slash_tmp": False},
              "model": model, "effort": rng.choice(("low", "medium", "high")), "summary": "auto"}  # fmt: skip
        emit(t, "turn_context", json.dumps(tc, separators=SEP))
        prompt = " ".join(rng.choices(WORDS, k=rng.randrange(4, 30)))
        emit(t + 0.001, "response_item", json.dumps({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": prompt}]}, separators=SEP))  # fmt: skip
        emit(t + 0.001, "event_msg", json.dumps({"type": "user_message", "message": prompt, "local_images": [],
                                                 "text_elements": []}, separators=SEP))  # fmt: skip
        t += rng.uniform(0.5, 2)
        if rng.random() < 0.3:
            rl = RATE % (rng.uniform(0, 90), resets, rng.uniform(0, 90), resets + 500000)
            emit(t, "event_msg", f'{{"type":"token_count","info":null,{rl}}}')
        ncalls = rng.randrange(1, 14)
        for k in range(ncalls):
            t += rng.uniform(2, 40)
            last = k == ncalls - 1
            summary, secret = " ".join(rng.choices(WORDS, k=3)), b62(rng, 200)
            reasoning = (
                f'{{"type":"reasoning","summary":[{{"type":"summary_text","text":"**{summary}**"}}],'
                f'"encrypted_content":"gAAAAA{secret}"}}'
            )
            emit(t, "response_item", reasoning)
            call_id = "call_" + b62(rng, 24)
            if not last:
                args = json.dumps(json.dumps({"command": ["bash", "-lc", " ".join(rng.choices(WORDS, k=5))]}))
                call = f'{{"type":"function_call","name":"shell","arguments":{args},"call_id":"{call_id}"}}'
                emit(t + 0.3, "response_item", call)
            # token_count for this model call
            inp = ctx + rng.randrange(50, 2500)
            cached = 0 if rng.random() < 0.1 else min(inp, int(ctx * rng.uniform(0.7, 1.0)))
            outp = rng.randrange(20, 5000)
            rsn = rng.randrange(0, outp) if rng.random() < 0.8 else 0
            ctx = min(inp + outp + rng.randrange(100, 3000), 250000)
            if ctx > 240000:
                ctx = rng.randrange(10000, 40000)
            tot = [tot[0] + inp, tot[1] + cached, tot[2] + outp, tot[3] + rsn]
            t += 0.5
            info = (
                f'{{"total_token_usage":{_usage(*tot)},"last_token_usage":{_usage(inp, cached, outp, rsn)},'
                '"model_context_window":272000}'
            )
            rl = RATE % (rng.uniform(0, 90), resets, rng.uniform(0, 90), resets + 500000)
            emit(t, "event_msg", f'{{"type":"token_count","info":{info},{rl}}}')
            acc.add(t, AGENT_CODEX, (inp - cached, 0, cached, outp, rsn), model)
            # Re-emits: the same totals again (UI / rate-limit refresh); sometimes byte-identical.
            while rng.random() < 0.35:
                t += rng.uniform(0.05, 1.5)
                if rng.random() < 0.5:
                    rl = RATE % (rng.uniform(0, 90), resets, rng.uniform(0, 90), resets + 500000)
                emit(t, "event_msg", f'{{"type":"token_count","info":{info},{rl}}}')
            if not last:
                t += rng.uniform(0.2, 20)
                out = json.dumps({"output": "@@BIG@@", "metadata": {"exit_code": rng.choice((0, 0, 0, 1)),
                                                                   "duration_seconds": round(rng.uniform(0, 9), 1)}},
                                 separators=SEP)  # fmt: skip
                big = big_text(rng, tool_output_size(rng))
                # function_call_output.output is a JSON string holding JSON: escape twice.
                inner = json.dumps(out)  # '"{\"output\":\"@@BIG@@\",...}"'
                big2 = big.replace("\\", "\\\\").replace('"', '\\"')
                output = inner.replace("@@BIG@@", big2, 1)
                emit(t, "response_item", f'{{"type":"function_call_output","call_id":"{call_id}","output":{output}}}')
        t += 0.1
        emit(t, "event_msg", json.dumps({"type": "agent_message", "message": " ".join(rng.choices(WORDS, k=12))},
                                        separators=SEP))  # fmt: skip
        size = sum(map(len, lines))
        # Next turn: minutes later, or (resume: appended to the same rollout) a day or two later.
        t += rng.uniform(20, 2 * 3600) if rng.random() < 0.85 else rng.uniform(3600, 40 * 3600)

    start = int(sid[:8] + sid[9:13], 16) / 1000
    local = _dt.datetime.fromtimestamp(start, _dt.UTC)
    name = f"rollout-{local.strftime('%Y-%m-%dT%H-%M-%S')}-{sid}.jsonl"
    if rng.random() < 0.15:
        path = home / ".codex" / "archived_sessions" / name
    else:
        path = home / ".codex" / "sessions" / local.strftime("%Y/%m/%d") / name
    acc.write(path, lines, AGENT_CODEX)
    return acc


# --------------------------------------------------------------------------- driver


def _init() -> None:
    global _POOL
    _POOL = _build_pool()


def _run(task):
    kind, rest = task
    return (gen_claude if kind == "c" else gen_codex)(rest)


def generate(home: Path, size_mb: float = 1024, seed: int = 1, jobs: int | None = None, quiet: bool = False) -> dict:
    """Generate the corpus under ``home`` (must be empty or absent); return EXPECTED."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    exp_path = home / "EXPECTED.json"
    if exp_path.exists():
        exp_path.unlink()
    t0 = time.perf_counter()
    # Budgets are per session; resumed copies and whole turns overshoot them by ~20%.
    total = int(size_mb * (1 << 20) * 0.83)
    n_sessions = max(24, int(size_mb * 0.55))
    n_claude = int(n_sessions * 0.6)
    n_codex = n_sessions - n_claude
    rng = random.Random(seed)
    tasks = []
    for i in range(n_claude):
        tasks.append(("c", (i, seed, str(home), int(total * 0.6 / n_claude * rng.uniform(0.3, 1.7)))))
    for i in range(n_codex):
        tasks.append(("x", (i, seed, str(home), int(total * 0.4 / n_codex * rng.uniform(0.3, 1.7)))))
    # Biggest first for better load balance.
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k][1][3])
    tasks = [tasks[k] for k in order]
    days: dict[str, dict[str, list[int]]] = {}
    files = 0
    lines = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
    nbytes = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
    events = {AGENT_CLAUDE: 0, AGENT_CODEX: 0}
    models: dict[str, int] = {}
    jobs = jobs or os.cpu_count() or 1
    with Pool(jobs, initializer=_init) as pool:
        for n, acc in enumerate(pool.imap_unordered(_run, tasks, chunksize=1), 1):
            for d, ags in acc.days.items():
                for ag, v in ags.items():
                    row = days.setdefault(d, {}).setdefault(ag, [0, 0, 0, 0, 0])
                    for i in range(5):
                        row[i] += v[i]
            files += acc.files
            for ag in lines:
                lines[ag] += acc.lines[ag]
                nbytes[ag] += acc.bytes[ag]
                events[ag] += acc.events[ag]
            for m, c in acc.models.items():
                models[m] = models.get(m, 0) + c
            if not quiet and n % 50 == 0:
                print(f"  {n}/{len(tasks)} sessions, {sum(nbytes.values()) / 2**20:.0f} MiB", file=sys.stderr)

    def bucket(v):
        d = dict(zip(BUCKETS, v, strict=False))
        d["total"] = v[0] + v[1] + v[2] + v[3]
        return d

    out_days = {}
    tot = {AGENT_CLAUDE: [0] * 5, AGENT_CODEX: [0] * 5}
    for d in sorted(days):
        out_days[d] = {}
        all_v = [0] * 5
        for ag in sorted(days[d]):
            v = days[d][ag]
            out_days[d][ag] = bucket(v)
            for i in range(5):
                all_v[i] += v[i]
                tot[ag][i] += v[i]
        out_days[d]["all"] = bucket(all_v)
    grand = [tot[AGENT_CLAUDE][i] + tot[AGENT_CODEX][i] for i in range(5)]
    expected = {
        "generator": "bench/corpus.py",
        "seed": seed,
        "size_mb": size_mb,
        "tz": "UTC",
        "buckets": "Claude: in=input_tokens cw=cache_creation_input_tokens cr=cache_read_input_tokens "
        "out=output_tokens rsn=0; Codex: in=input-cached cr=cached out=output (reasoning included) "
        "rsn=reasoning; total=in+cw+cr+out",
        "files": files,
        "lines": lines,
        "bytes": nbytes,
        "usage_events": events,
        "models": dict(sorted(models.items())),
        "generation_seconds": round(time.perf_counter() - t0, 2),
        "totals": bucket(grand),
        "by_agent": {ag: bucket(v) for ag, v in tot.items()},
        "days": out_days,
    }
    tmp = exp_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(expected, indent=1))
    os.replace(tmp, exp_path)
    return expected


def cached(corpus: Path | None, size_mb: float, seed: int) -> tuple[Path, dict]:
    """The corpus the benches read (``corpus``, else bench/.corpus/<size>) and its EXPECTED, generated unless it is."""
    size_tag = str(int(size_mb)) if size_mb == int(size_mb) else str(size_mb)
    home = (corpus or Path(__file__).resolve().parent / ".corpus" / size_tag).resolve()
    if not (home / "EXPECTED.json").exists():
        if home.exists():
            shutil.rmtree(home)  # a generation cut short: its files would not match a fresh EXPECTED
        print(f"generating corpus {home} ({size_mb} MB, seed {seed}) ...", flush=True)
        t0 = time.perf_counter()
        generate(home, size_mb, seed, quiet=True)
        print(f"  generated in {time.perf_counter() - t0:.1f} s")
    return home, json.loads((home / "EXPECTED.json").read_text())


# --------------------------------------------------------------------------- append


def append_line(home: Path, when: float | None = None) -> Path:
    """Append one valid Claude assistant usage line (new message id) to an existing main
    transcript under ``home``; its usage is :data:`APPEND_USAGE`. Returns the file."""
    home = Path(home)
    files = sorted((home / ".claude" / "projects").glob("*/*.jsonl"))
    if not files:
        raise FileNotFoundError("no Claude transcript under " + str(home))
    path = files[0]
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 65536))
        tail = f.read().decode("utf-8", "replace")
    sid = re.findall(r'"sessionId":"([^"]+)"', tail)[-1]
    cwd = re.findall(r'"cwd":"([^"]+)"', tail)[-1]
    parent = re.findall(r'"uuid":"([^"]+)"', tail)[-1]
    r = random.Random(os.urandom(16))
    u = APPEND_USAGE
    d = {
        "parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": sid,
        "version": "2.1.30", "gitBranch": "main",
        "message": {"id": "msg_01" + b62(r, 22), "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text", "text": "Done."}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": u["in"], "cache_creation_input_tokens": u["cw"],
                              "cache_read_input_tokens": u["cr"],
                              "cache_creation": {"ephemeral_5m_input_tokens": u["cw"], "ephemeral_1h_input_tokens": 0},
                              "output_tokens": u["out"], "service_tier": "standard"}},
        "requestId": "req_011C" + b62(r, 20), "type": "assistant", "uuid": uuid4(r),
        "timestamp": ts(time.time() if when is None else when),
    }  # fmt: skip
    with open(path, "ab") as f:
        f.write((json.dumps(d, separators=SEP) + "\n").encode())
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("home", type=Path, help="target HOME (created)")
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    exp = generate(a.home, a.size_mb, a.seed, a.jobs)
    dt = time.perf_counter() - t0
    mb = sum(exp["bytes"].values()) / 2**20
    print(
        f"{a.home}: {exp['files']} files, {sum(exp['lines'].values())} lines, {mb:.1f} MiB, "
        f"{len(exp['days'])} days, events {exp['usage_events']}, in {dt:.1f} s ({mb / dt:.0f} MiB/s)"
    )
    print("totals", exp["totals"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
