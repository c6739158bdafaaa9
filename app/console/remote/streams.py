"""A parser of the agent CLIs' streams (and their session logs): a run's tokens per model call."""

import json
import os

WINDOW_TAIL = 256 << 10  # bytes read from the rollout's end for its last rate_limits


MAX_COUNT = (1 << 53) - 1  # past this a count is no count (JSON's exact integers end here)
NOTES_CAP = 20


def _model_name(value):
    """A model name read from an agent's output or logs, or None (empty, not a string, a placeholder)."""
    if not isinstance(value, str) or not value.strip() or value.startswith("<"):  # Claude's "<synthetic>"
        return None
    return value.strip()[:200]


class _Usage:
    """Token totals of a run, one entry per model call: from the agent's stream and, where the stream
    reports late, from the agent's own session log. A call seen again replaces its entry, never adds to it."""

    def __init__(self, fmt, input_includes_cache, agent=None, model=None):
        self.fmt = fmt
        self.agent = agent
        self.includes_cache = input_includes_cache
        self.calls = {}  # call key -> (model, [in, cw, cr, out, rsn])
        self.by_model = {}  # type: dict[str, list[int]]
        self.sums = [0, 0, 0, 0, 0]
        self.model = _model_name(model)  # the launch's model until the agent names one
        self.sessions = []
        self.result = None  # {"ok": bool, "text": str} once the agent said it is done
        self.error = None
        self.events = 0
        self.kind = None
        self.notes = []  # impossible counts that were ignored, named
        self._log = None  # [session id, its log file, bytes read]
        self._messages = {}  # type: dict[str, tuple]
        self._gemini_sums = {}  # type: dict[tuple, list[int]]
        self._open = {}  # Claude Code: the calls of the process under way, until its result replaces them
        self._closed = set()  # call keys a result replaced: a late copy never counts again
        self._ended = set()  # sessions whose final totals are in: their logs are read no more
        self._results = 0

    def _session(self, sid):
        if sid and isinstance(sid, str) and sid not in self.sessions and len(self.sessions) < 1000:
            self.sessions.append(sid[:200])

    def _note(self, text):
        if text not in self.notes and len(self.notes) < NOTES_CAP:
            self.notes.append(text)

    def _count(self, d, name):
        """``d[name]`` as a token count, 0 when absent. An impossible one (negative, not a whole number,
        past 2**53-1) is ignored with a note: a count read from an agent is never trusted blindly."""
        v = d.get(name) if isinstance(d, dict) else None
        if v is None:
            return 0
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT:
            return v
        self._note(f"ignored {str(name)[:40]}={str(v)[:40]} in {self.fmt} output: not a token count")
        return 0

    def _learn_model(self, value):
        """The agent named its model: calls counted before under no model move to it."""
        model = _model_name(value)
        if model is None:
            return
        if model == self.model:
            return
        self.model = model
        if not any(self.by_model.get("unknown", ())):
            return
        for key, (was, vals) in list(self.calls.items()):
            if was == "unknown":
                self._add(was, vals, -1)
                self.calls[key] = (model, vals)
                self._add(model, vals, 1)

    def _call(self, key, model, inp, cw, cr, out, rsn=0):
        if key in self._closed:
            return
        model = _model_name(model) or self.model or "unknown"
        vals = [max(0, v) for v in (inp, cw, cr, out, rsn)]
        old = self.calls.get(key)
        if old is not None and sum(vals[:4]) < sum(old[1][:4]):
            return  # a streamed snapshot only grows
        self.calls[key] = (model, vals)
        if old is not None:
            self._add(old[0], old[1], -1)
        self._add(model, vals, 1)

    def _drop(self, key):
        """A call replaced by a total that holds it: out of the sums, and never counted again."""
        old = self.calls.pop(key, None)
        if old is not None:
            self._add(old[0], old[1], -1)
        self._closed.add(key)

    def _add(self, model, vals, sign):
        """Keep the running sums per model and in all (a replaced call is taken out first)."""
        acc = self.by_model.setdefault(model, [0, 0, 0, 0, 0])
        for i, v in enumerate(vals):
            acc[i] += sign * v
            self.sums[i] += sign * v

    def feed(self, line):
        try:
            ev = json.loads(line)
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        self.events += 1
        kind = ev.get("type")
        self.kind = str(kind)[:40]
        getattr(self, "_" + self.fmt, self._text)(ev, kind)

    def _text(self, ev, kind):
        pass

    def _claude(self, ev, kind):  # Claude Code and Qwen Code: stream-json
        self._session(ev.get("session_id"))
        if kind == "system" and ev.get("model"):
            self._learn_model(ev["model"])
        elif kind == "assistant":
            msg = ev.get("message")
            if isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
                self._learn_model(msg.get("model"))
                self._claude_usage(str(msg.get("id") or f"#{self.events}")[:200], msg.get("model"), msg["usage"])
        elif kind == "result":
            ok = ev.get("subtype") == "success" and not ev.get("is_error")
            self.result = {"ok": ok, "text": str(ev.get("result") or ev.get("subtype") or "")[:500]}
            self._claude_result(ev)

    def begin(self):
        """A new agent process: a result replaces only the messages of its own process."""
        self._open = {}

    def _claude_usage(self, key, model, u):
        """One message's usage. Claude Code streams a message with the usage of its start (its output
        still 1 token or so); its session log and the run's result have the final count."""
        cr = self._count(u, "cache_read_input_tokens")
        inp = self._count(u, "input_tokens") - (cr if self.includes_cache else 0)
        cw, out = self._count(u, "cache_creation_input_tokens"), self._count(u, "output_tokens")
        if key not in self._closed:
            self._open[key] = None
        self._call(key, model, inp, cw, cr, out)

    def _claude_result(self, ev):
        """The process's totals replace its messages counted one by one: Claude Code's per model
        (``modelUsage``, its background calls included), Qwen Code's in ``usage`` (its memory agent's
        calls included, which its stream never shows)."""
        per_model = ev.get("modelUsage")
        if "modelUsage" not in ev and isinstance(ev.get("usage"), dict):
            u = ev["usage"]
            per_model = {
                self.model or "unknown": {
                    "inputTokens": u.get("input_tokens"),
                    "outputTokens": u.get("output_tokens"),
                    "cacheReadInputTokens": u.get("cache_read_input_tokens"),
                    "cacheCreationInputTokens": u.get("cache_creation_input_tokens"),
                }
            }
        if not isinstance(per_model, dict) or not per_model:
            return
        self._results += 1
        run = self.sessions[-1] if self.sessions else str(self._results)  # a repeated result replaces itself
        for key in self._open:
            self._drop(key)
        self._open = {}
        if self.sessions:
            self._ended.add(self.sessions[-1])
        for model, u in list(per_model.items())[:50]:
            if not isinstance(u, dict):
                continue
            cr = self._count(u, "cacheReadInputTokens")
            inp = self._count(u, "inputTokens") - (cr if self.includes_cache else 0)
            cw, out = self._count(u, "cacheCreationInputTokens"), self._count(u, "outputTokens")
            self._call(f"result-{run}|{str(model)[:200]}", model, inp, cw, cr, out)

    def _codex(self, ev, kind):  # codex exec --json
        if kind == "thread.started":
            self._session(ev.get("thread_id"))
        elif kind == "turn.completed":
            self._thread_total(ev.get("usage") or {})  # the thread's cumulative usage, as its log's
            self.result = {"ok": True, "text": ""}
        elif kind == "turn.failed":
            err = ev.get("error") or {}
            self.result = {"ok": False, "text": str(err.get("message") or err)[:500]}
        elif kind == "error":
            self.error = str(ev.get("message") or "")[:500]

    def _thread_total(self, u):
        """A Codex thread's cumulative usage (input includes the cached part): one call key per thread,
        replaced as it grows, so the stream's end and its log's running totals never add up twice."""
        cached = self._count(u, "cached_input_tokens")
        key = "thread-" + (self.sessions[-1] if self.sessions else str(len(self.calls)))
        inp = self._count(u, "input_tokens") - cached
        out, rsn = self._count(u, "output_tokens"), self._count(u, "reasoning_output_tokens")
        self._call(key, None, inp, 0, cached, out, rsn)

    def live_log(self):
        """What the current session's own log has gained since last time: Codex's and Gemini CLI's streams
        report usage only at the end, Claude Code's only at each message's start; their logs have each
        call's final count. OpenCode's stream never names the model; its messages do."""
        if not self.sessions:
            return
        sid = self.sessions[-1]
        if self.fmt == "opencode":
            if self.model is None:
                self._learn_model(_opencode_model(sid))
            return
        if sid in self._ended or (self.fmt not in ("codex", "gemini") and self.agent != "claude-code"):
            return
        if self._log is None or self._log[0] != sid:
            path = self._find_log(sid)
            if path is None:
                return
            self._log = [sid, path, 0]
        try:
            with open(self._log[1], "rb") as f:
                f.seek(self._log[2])
                data = f.read(8 << 20)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._log[2] += end
        read = {"codex": self._codex_line, "gemini": self._gemini_line, "claude": self._claude_line}[self.fmt]
        for line in data[:end].splitlines():
            if b'"token_count"' in line or b'"turn_context"' in line or b'"tokens"' in line or b'"usage"' in line:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict):
                    read(doc, sid)

    def _find_log(self, sid):
        import glob
        import time

        if self.fmt == "codex":
            home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
            days = (time.strftime("%Y/%m/%d", time.localtime(time.time() - d * 86400)) for d in (0, 1))
            patterns = [os.path.join(home, "sessions", day, "rollout-*-" + glob.escape(sid) + ".jsonl") for day in days]
        elif self.fmt == "claude":
            home = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
            patterns = [os.path.join(glob.escape(home), "projects", "*", glob.escape(sid) + ".jsonl")]
        else:
            home = os.path.join(os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~"), ".gemini")
            patterns = [os.path.join(home, "tmp", "*", "chats", "session-*-" + glob.escape(sid[:8]) + ".jsonl")]
        for pattern in patterns:  # Codex names its folders by the local date the thread began
            found = glob.glob(pattern)
            if found:
                return found[0]
        return None

    def _claude_line(self, doc, sid):
        msg = doc.get("message")
        if (
            doc.get("type") == "assistant"
            and isinstance(msg, dict)
            and msg.get("id")
            and isinstance(msg.get("usage"), dict)
        ):
            self._learn_model(msg.get("model"))
            self._claude_usage(str(msg["id"])[:200], msg.get("model"), msg["usage"])

    def _codex_line(self, doc, sid):
        payload = doc.get("payload") or {}
        if not isinstance(payload, dict):
            return
        if doc.get("type") == "turn_context":
            self._learn_model(payload.get("model"))
        total = (payload.get("info") or {}).get("total_token_usage")
        if isinstance(total, dict):
            self._thread_total(total)

    def _gemini_line(self, doc, sid):
        t = doc.get("tokens")
        if not isinstance(t, dict) or not doc.get("id"):
            return
        model = _model_name(doc.get("model"))
        cached, thoughts = self._count(t, "cached"), self._count(t, "thoughts")
        new = (self._count(t, "input") - cached, cached, self._count(t, "output") + thoughts, thoughts)
        # a message is written again when its tokens arrive: the last copy wins
        key = str(doc["id"])[:200]
        old = self._messages.get(key)
        self._messages[key] = (sid, model, new)
        touched = {(sid, model)}
        if old is not None:
            self._gemini_add(old, -1)
            touched.add(old[:2])
        self._gemini_add((sid, model, new), 1)
        for session, m in touched:
            inp, cr, out, rsn = self._gemini_sums[(session, m)]
            self._call(f"session-{session}|{m or ''}", m, inp, 0, cr, out, rsn)

    def _gemini_add(self, message, sign):
        """A chat message's tokens into (or out of) its session's and model's running sums."""
        acc = self._gemini_sums.setdefault(message[:2], [0, 0, 0, 0])
        for i, v in enumerate(message[2]):
            acc[i] += sign * v

    def _gemini(self, ev, kind):  # gemini --output-format stream-json
        self._session(ev.get("session_id"))
        if kind == "init" and not str(ev.get("model") or "").startswith("auto"):  # "auto": routed per call
            self._learn_model(ev.get("model"))
        elif kind == "result":
            self._gemini_result(ev.get("stats"))
            err = ev.get("error")
            ok = ev.get("status") == "success"
            self.result = {"ok": ok, "text": "" if ok else str((err or {}).get("message") or err or "")[:500]}
        elif kind == "error":
            self.error = str(ev.get("message") or "")[:500]

    def _gemini_result(self, stats):
        """The session's totals per model (the router's calls too, which no log holds) replace its log's.
        Their output leaves the thoughts out; their total holds them."""
        if not isinstance(stats, dict):
            return
        sid = self.sessions[-1] if self.sessions else str(self.events)
        models = stats.get("models")
        rows = list(models.items())[:50] if isinstance(models, dict) and models else [(None, stats)]
        for key in [k for k in self.calls if k.startswith(f"session-{sid}|")]:
            self._drop(key)
        self._ended.add(sid)
        for model, s in rows:
            if not isinstance(s, dict):
                continue
            prompt, cached = self._count(s, "input_tokens"), self._count(s, "cached")
            out, total = self._count(s, "output_tokens"), self._count(s, "total_tokens")
            thoughts = max(0, total - prompt - out)
            key = f"result-{sid}|{str(model or '')[:200]}"
            self._call(key, model, prompt - cached, 0, cached, out + thoughts, thoughts)

    def _opencode(self, ev, kind):  # opencode run --format json
        self._session(ev.get("sessionID"))
        part = ev.get("part") or {}
        if not isinstance(part, dict):
            return
        if kind == "step_finish":
            t = part.get("tokens") or {}
            cache = (t.get("cache") if isinstance(t, dict) else None) or {}
            inp, out, rsn = self._count(t, "input"), self._count(t, "output"), self._count(t, "reasoning")
            cw, cr = self._count(cache, "write"), self._count(cache, "read")
            # newer builds count reasoning apart from output (their total says so); older ones inside it
            apart = self._count(t, "total") >= inp + out + rsn + cw + cr > inp + out + cw + cr
            model = part.get("modelID") or ev.get("modelID")
            key = str(part.get("id") or f"#{self.events}")[:200]
            self._call(key, model, inp, cw, cr, out + (rsn if apart else 0), rsn)
            self.result = {"ok": True, "text": ""}  # opencode ends a run with its last step
        elif kind == "error":
            err = ev.get("error") or {}
            self.error = str((err.get("data") or {}).get("message") or err.get("name") or err)[:500]

    def totals(self):
        return self.sums, {m: v for m, v in self.by_model.items() if any(v)}


def _opencode_model(sid):
    """The model of an OpenCode session, from its messages: the database, else the older JSON files."""
    import glob
    import sqlite3
    from urllib.parse import quote

    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    base = os.path.join(data_home, "opencode")
    docs = []  # type: list[bytes | str]
    for db in sorted(glob.glob(os.path.join(glob.escape(base), "opencode*.db")))[:4]:
        try:
            con = sqlite3.connect("file:" + quote(db) + "?mode=ro", uri=True, timeout=1)
            try:
                q = "SELECT data FROM message WHERE session_id = ? ORDER BY rowid DESC LIMIT 20"
                docs.extend(row[0] for row in con.execute(q, (sid,)))
            finally:
                con.close()
        except sqlite3.Error:
            continue
    folder = os.path.join(glob.escape(base), "storage", "message", glob.escape(sid), "*.json")
    for path in sorted(glob.glob(folder))[-20:]:
        try:
            with open(path, "rb") as f:
                docs.append(f.read(1 << 20))
        except OSError:
            continue
    for raw in docs:
        try:
            doc = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict):
            nested = doc.get("model")
            model = doc.get("modelID") or (nested.get("modelID") if isinstance(nested, dict) else None)
            if _model_name(model):
                return str(model)
    return None


def plan_window(path, now):
    """``(name, percent)`` of the fullest open window in the last ``rate_limits`` of a Codex rollout, or None.

    A window whose reset is past says nothing of now; a reading of all zeros is passed over.
    """
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - WINDOW_TAIL))
            data = f.read(WINDOW_TAIL)
    except OSError:
        return None
    at = len(data)
    for _ in range(64):
        hit = data.rfind(b'"rate_limits":{', 0, at)
        if hit < 0:
            return None
        start = data.rfind(b"\n", 0, hit) + 1
        stop = data.find(b"\n", hit)
        at = start
        try:
            doc = json.loads(data[start : stop if stop >= 0 else len(data)])
            limits = doc["payload"]["rate_limits"]
        except (ValueError, TypeError, KeyError):
            continue
        found = []
        for name in ("primary", "secondary"):
            w = limits.get(name) if isinstance(limits, dict) else None
            if not isinstance(w, dict):
                continue
            used = w.get("used_percent")
            if isinstance(used, (int, float)) and not isinstance(used, bool) and 0 <= used <= 1000:
                reset = w.get("resets_at")
                if isinstance(reset, (int, float)) and not isinstance(reset, bool) and reset <= now:
                    continue
                found.append((float(used), name))
        if found and max(found)[0] > 0:  # all zeros: Codex's placeholder after a real reading, look further back
            used, name = max(found)
            return name, used
    return None
