#!/usr/bin/env python3
"""A stand-in for the agent CLIs in their headless modes, for the console's tests and bench.

Installed under the names ``claude``, ``codex``, ``gemini``, ``opencode`` and ``qwen``. Like the
real CLIs it reads the prompt from stdin (all of it, first) and streams that CLI's
structured events on stdout. Directive lines in the prompt, ``STANDIN key=value …``, choose
what it does: ``steps`` calls (``delay`` s apart, each ``usage=IN,CW,CR,OUT``); ``mode`` normal,
burn (calls until killed), hang (silent and idle after its first event), flood (200,000
non-usage lines), exit-now (exit 3 before any event), not-logged-in, no-result (exit 0
without the final result), wait-input (block reading the named pipe ``fifo``);
``grandchild=1`` (a detached grandchild in its own session that ignores hangup and TERM;
``grandchild=hup``: hangup only);
``touch=NAME`` / ``commit=1`` (progress in the work directory); ``exit=N``.
Claude Code's calls also go to its own log under ~/.claude/projects, with the stream's
message ids, as the real CLI writes them.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

NAME = os.path.basename(sys.argv[0])
HEADLESS = {
    "claude": ("-p", "--output-format", "stream-json", "--verbose"),
    "codex": ("exec", "--json"),
    "gemini": ("--output-format", "stream-json"),
    "opencode": ("run", "--format", "json"),
    "qwen": ("--output-format", "stream-json"),
}
MODELS = {
    "claude": "claude-sonnet-4-5-20250929",
    "codex": "gpt-5-codex",
    "gemini": "gemini-2.5-pro",
    "opencode": "claude-sonnet-4-5",
    "qwen": "qwen3-coder-plus",
}
NOT_LOGGED_IN = {
    "codex": ("Not logged in. Run `codex login` first.", 1),
    "gemini": ("Please set an Auth method in your settings.json or specify GEMINI_API_KEY", 41),
    "opencode": ("Error: no provider configured; run `opencode auth login`", 1),
}


def emit(doc):
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def directives(prompt):
    opts = {}
    for line in prompt.splitlines():
        if line.startswith("STANDIN "):
            for part in line.split()[1:]:
                key, _, value = part.partition("=")
                opts[key] = value
    return opts


def spawn_grandchild(deaf_to_term):
    """A daemon the console must still find and kill: own session, deaf to hangup (and TERM)."""
    code = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if deaf_to_term else "")
        + "if os.fork(): os._exit(0)\n"
        "os.setsid()\n"
        "while True: time.sleep(1)\n"
    )
    subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ).wait()


class Agent:
    def __init__(self, model, usage):
        self.model = model
        self.inp, self.cw, self.cr, self.out = usage
        self.session = str(uuid.uuid4())
        self.calls = 0
        self.log = None
        if NAME == "claude":
            slug = os.getcwd().replace("/", "-")
            folder = os.path.join(os.path.expanduser("~"), ".claude", "projects", slug)
            os.makedirs(folder, exist_ok=True)
            self.log = os.path.join(folder, self.session + ".jsonl")

    def start(self):
        if NAME in ("claude", "qwen"):
            emit(
                {
                    "type": "system",
                    "subtype": "init",
                    "session_id": self.session,
                    "model": self.model,
                    "cwd": os.getcwd(),
                    "tools": ["Bash", "Edit"],
                }
            )
        elif NAME == "codex":
            emit({"type": "thread.started", "thread_id": self.session})
        elif NAME == "gemini":
            emit({"type": "init", "timestamp": now_iso(), "session_id": self.session, "model": self.model})

    def call(self):
        self.calls += 1
        text = f"step {self.calls}"
        if NAME in ("claude", "qwen"):
            usage = {
                "input_tokens": self.inp + (self.cr if NAME == "qwen" else 0),  # Qwen's prompt count holds the cache
                "cache_creation_input_tokens": self.cw,
                "cache_read_input_tokens": self.cr,
                "output_tokens": self.out,
            }
            msg = {
                "id": "msg_" + uuid.uuid4().hex,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "usage": usage,
            }
            event = {"type": "assistant", "message": msg, "parent_tool_use_id": None, "session_id": self.session}
            emit(event)
            if NAME == "claude":
                emit(event)  # stream-json repeats a message once per content block
                self._log(msg)
        elif NAME == "codex":
            emit({"type": "turn.started"})
            emit(
                {
                    "type": "item.completed",
                    "item": {"id": f"item_{self.calls}", "type": "agent_message", "text": text},
                }
            )
            emit(
                {
                    "type": "turn.completed",
                    "usage": {
                        "input_tokens": self.inp + self.cr,
                        "cached_input_tokens": self.cr,
                        "output_tokens": self.out,
                    },
                }
            )
        elif NAME == "gemini":
            emit({"type": "message", "timestamp": now_iso(), "role": "assistant", "content": text, "delta": True})
        elif NAME == "opencode":
            base = {"timestamp": int(time.time() * 1000), "sessionID": self.session}
            emit(dict(base, type="step_start", part={"id": f"prt_s{self.calls}", "type": "step-start"}))
            emit(dict(base, type="text", part={"id": f"prt_t{self.calls}", "type": "text", "text": text}))
            tokens = {
                "input": self.inp,
                "output": self.out,
                "reasoning": 0,
                "cache": {"read": self.cr, "write": self.cw},
            }
            emit(
                dict(
                    base,
                    type="step_finish",
                    part={
                        "id": f"prt_f{self.calls}",
                        "type": "step-finish",
                        "reason": "stop",
                        "tokens": tokens,
                        "cost": 0,
                    },
                )
            )

    def _log(self, msg):
        line = {
            "parentUuid": None,
            "isSidechain": False,
            "userType": "external",
            "cwd": os.getcwd(),
            "sessionId": self.session,
            "version": "2.0.0",
            "message": msg,
            "requestId": "req_" + uuid.uuid4().hex,
            "type": "assistant",
            "uuid": str(uuid.uuid4()),
            "timestamp": now_iso(),
        }
        with open(self.log, "a") as f:
            f.write(json.dumps(line) + "\n")

    def result(self, ok=True):
        n = self.calls
        if NAME in ("claude", "qwen"):
            emit(
                {
                    "type": "result",
                    "subtype": "success" if ok else "error_during_execution",
                    "is_error": not ok,
                    "num_turns": n,
                    "result": "done" if ok else "failed",
                    "session_id": self.session,
                    "usage": {"input_tokens": n * self.inp, "output_tokens": n * self.out},
                }
            )
        elif NAME == "codex" and not ok:
            emit({"type": "turn.failed", "error": {"message": "the model refused"}})
        elif NAME == "gemini":
            stats = {
                "total_tokens": n * (self.inp + self.cr + self.out),
                "input_tokens": n * (self.inp + self.cr),
                "output_tokens": n * self.out,
                "cached": n * self.cr,
                "duration_ms": 10,
                "tool_calls": 0,
            }
            emit({"type": "result", "timestamp": now_iso(), "status": "success" if ok else "error", "stats": stats})


def main():
    if NAME not in HEADLESS:
        sys.exit("standin: unknown agent " + NAME)
    args = sys.argv[1:]
    want = HEADLESS[NAME]
    if [a for a in args if a in want] != [a for a in want if a in args] or not all(a in args for a in want):
        sys.stderr.write(f"{NAME}: usage: {NAME} {' '.join(want)} …\n")
        sys.exit(2)
    model = args[args.index("--model") + 1] if "--model" in args else MODELS[NAME]
    prompt = sys.stdin.read()
    opts = directives(prompt)
    mode = opts.get("mode", "normal")
    if opts.get("ignore-term") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "exit-now":
        sys.stderr.write("error: something broke\n")
        sys.exit(3)
    if mode == "not-logged-in":
        if NAME in NOT_LOGGED_IN:
            text, code = NOT_LOGGED_IN[NAME]
            sys.stderr.write(text + "\n")
            sys.exit(code)
        emit(
            {"type": "result", "subtype": "success", "is_error": True, "result": "Invalid API key · Please run /login"}
        )
        sys.exit(1)
    usage = [int(x) for x in opts.get("usage", "100,50,1000,20").split(",")]
    agent = Agent(model, usage)
    if opts.get("grandchild") in ("1", "hup"):
        spawn_grandchild(deaf_to_term=opts["grandchild"] == "1")
    agent.start()
    delay = float(opts.get("delay", "0.05"))
    if mode == "hang":
        while True:
            time.sleep(60)
    if mode == "wait-input":
        fd = os.open(opts["fifo"], os.O_RDWR)  # read-write: the read, not the open, waits for an answer
        os.read(fd, 1)
    steps = int(opts.get("steps", "3"))
    i = 0
    while mode == "burn" or i < steps:
        agent.call()
        i += 1
        time.sleep(delay)
    if mode == "flood":
        filler = {"type": "item.updated" if NAME == "codex" else "progress", "text": "x" * 160}
        line = json.dumps(filler) + "\n"
        for _ in range(200_000):
            sys.stdout.write(line)
        sys.stdout.flush()
    if "touch" in opts:
        with open(opts["touch"], "a") as f:
            f.write("step\n")
        if opts.get("commit") == "1" and os.path.exists(".git"):  # a worktree's .git is a file
            subprocess.run(["git", "add", "-A"], check=True)
            subprocess.run(["git", "commit", "-qm", "step"], check=True)
    code = int(opts.get("exit", "0"))
    if mode != "no-result":
        agent.result(ok=code == 0)
    sys.exit(code)


if __name__ == "__main__":
    main()
