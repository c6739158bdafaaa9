"""The workstation's side of agent runs on the dedicated machines: launch, list, tail, kill.

Everything lives on the host (the supervisor's run folders), so a restarted app finds every run
again by asking. Kept here: the last answer per host (shown, marked stale, while a host is
unreachable) and kills that could not be delivered, sent again on the next contact until the
host confirms them.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.console import agents
from app.console.ssh import HostError, Session, Target
from app.core import paths

LAUNCH_WAIT_S = 30.0  # the host reports the first event or why there is none within this
KILL_GRACE_S = 5.0
FINAL = ("finished", "failed", "crashed", "killed", "over-budget")

# per-token prices (in, cw 5m, cw 1h, cr, out) of a model, None when it has none
Prices = Callable[[str], Sequence[float] | None]


@dataclass
class Launch:
    agent: str
    goal: str
    cwd: str | None = None
    worktree: bool = False
    model: str | None = None
    until: str | None = None
    max_iterations: int | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    budget_hours: float | None = None
    stop_at_window: float | None = None  # percent of the Codex plan's tightest window, read from the run's rollout
    stall_minutes: float = 10.0
    command: str | None = None  # --agent custom
    format: str | None = None  # --agent custom: how its stdout reports usage
    rates: dict[str, list[float]] = field(default_factory=dict)
    claude_sandbox: bool = False  # the host's setting: Claude Code runs with IS_SANDBOX=1 (root may skip permissions)
    resolved_model: str | None = None  # the model as the host's CLI would pick it, for pricing
    model_source: str = ""  # where resolved_model came from, or why there is none

    def check(self) -> None:
        """Refuse what cannot run, before anything reaches the host (exit 2, as for a usage error)."""
        if not self.goal.strip():
            raise agents.Refused("the goal is empty")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise agents.Refused("--max-iterations must be 1 or more")
        if self.until and not self.max_iterations:
            raise agents.Refused("--until needs --max-iterations N (a loop must have a cap)")
        if self.max_iterations and not self.until:
            raise agents.Refused("--max-iterations is for a loop: give --until CMD too")
        for name, value in (("tokens", self.budget_tokens), ("usd", self.budget_usd), ("hours", self.budget_hours)):
            if value is not None and value <= 0:
                raise agents.Refused(f"--budget-{name} must be more than 0")
        if self.stop_at_window is not None:
            if not 0 < self.stop_at_window <= 100:
                raise agents.Refused("--stop-at-window takes a percent above 0, at most 100")
            if self.agent != "codex":
                raise agents.Refused(
                    "--stop-at-window: only Codex writes its plan's use into its logs (Claude Code's plan use is "
                    "not in its logs; use --budget-tokens against its 5-hour block instead)"
                )
        if self.stall_minutes <= 0:
            raise agents.Refused("--stall-minutes must be more than 0")
        if self.format is not None and self.format not in agents.FORMATS:
            raise agents.Refused(f"--format must be one of {', '.join(agents.FORMATS)}")

    def settle(self, host: str, uid: Any, model: Any, source: Any, prices: Prices | None) -> None:
        """What the host said before anything starts (its user, the CLI's configured model): refuse
        Claude Code as root without the host's sandbox setting, and a dollar budget that cannot be priced."""
        if self.agent == "claude-code" and uid == 0 and not self.claude_sandbox:
            raise agents.Refused(agents.ROOT_CLAUDE.format(host=host))
        if self.model:
            self.resolved_model, self.model_source = self.model, "--model"
        elif isinstance(model, str) and model:
            self.resolved_model, self.model_source = model[:200], str(source)[:300]
        else:
            self.model_source = str(source or "unknown")[:300]
        if self.budget_usd is None:
            return
        models = agents.priced_models(self.agent, self.resolved_model)
        if not models and self.agent not in agents.MODEL_IN_STREAM:
            raise agents.Refused(
                f"--budget-usd: the model of this {self.agent} run is unknown at launch ({self.model_source}), "
                "so its spending cannot be priced; pass --model MODEL"
            )
        for m in models:
            found = prices(m) if prices is not None else None
            if found is not None:
                self.rates[m] = list(found)
        if models and not any(m in self.rates for m in models):
            raise agents.Refused(
                f"--budget-usd: {', '.join(models)} has no price, so the run's spending cannot be counted; "
                "pass --model with a priced model (`tokenclub prices` lists them)"
            )
        if not self.rates:
            raise agents.AgentError(
                "--budget-usd needs a price: no model of this agent is priced yet; give --model with a known model"
            )

    def request(self, rid: str) -> dict[str, Any]:
        run = {
            "id": rid,
            "agent": self.agent,
            "argv": agents.command(self.agent, self.model, self.command),
            "format": agents.stream_format(self.agent, self.format),
            "model": agents.run_model(self.agent, self.resolved_model),
            "claude_sandbox": self.claude_sandbox,
            "input_includes_cache": agents.includes_cache(self.agent),
            "goal": self.goal,
            "cwd": self.cwd,
            "worktree": self.worktree,
            "until": self.until,
            "max_iterations": self.max_iterations,
            "budgets": {
                "tokens": self.budget_tokens,
                "usd": self.budget_usd,
                "hours": self.budget_hours,
                "window_pct": self.stop_at_window,
            },
            "stall_s": self.stall_minutes * 60,
        }
        return {"op": "launch", "run": run, "rates": self.rates, "wait_s": LAUNCH_WAIT_S}


def new_id() -> str:
    """Sortable by start, unique across hosts and concurrent launches."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def launch(target: Target, spec: Launch, prices: Prices | None = None) -> dict[str, Any]:
    """Start a run on ``target``; its row once the agent's first event (or the reason there is none) is in.

    The host is asked first who logs in and which model the agent's CLI is configured with, so a
    refusal comes before anything starts.
    """
    from app.console import hosts

    spec.check()
    spec.claude_sandbox = spec.claude_sandbox or hosts.claude_sandbox(target.name)
    rid = new_id()
    probe = {"op": "preflight", "agent": spec.agent, "cwd": spec.cwd}
    with Session(target, timeout=LAUNCH_WAIT_S + 30, hello=probe) as s:
        pre = s.info
        spec.settle(target.name, pre.get("uid"), pre.get("model"), pre.get("model_source"), prices)
        try:
            answer = s.request(spec.request(rid))
        except HostError as exc:
            if "lost" not in str(exc):  # refused before the request went out: nothing started
                raise
            raise HostError(
                f"{exc} (run {rid} may have started: `tokenclub session list --host {target.name}` shows it)",
                exc.kind,
            ) from None
    row = session_row(target.name, answer["state"], prices)
    row["first_event"] = answer.get("first_event")
    row["model"] = spec.resolved_model
    row["model_source"] = spec.model_source
    _remember(target.name, [answer["state"]], partial=True)
    return row


@contextlib.contextmanager
def price_book(db: Path | None = None, wait: float = 10.0) -> Iterator[PriceBook]:
    """The index's prices while the block runs (the default index unless ``db``)."""
    from app.core.pricing import Pricer
    from app.core.schema import connect

    conn = connect(db or paths.default_db(), wait)
    try:
        yield PriceBook(conn, Pricer(conn, paths.overrides_file()))
    finally:
        conn.close()


class PriceBook:
    """``prices(model)`` as the reports price, and ``rates(agent, model)`` for the supervisor's dollar budget."""

    def __init__(self, conn: Any, pricer: Any) -> None:
        self.conn, self.pricer, self.now = conn, pricer, int(time.time() * 1000)

    def prices(self, model: str) -> Sequence[float] | None:
        found: Sequence[float] | None = self.pricer.base_prices(model, self.now)
        if self.conn.in_transaction:  # a newly resolved rate: never hold the index's write lock over ssh
            self.conn.commit()
        return found

    def rates(self, agent: str, model: str | None) -> dict[str, list[float]]:
        """Every model this agent has used, and the one asked for, with a price."""
        from app.core.index import models_seen

        models = models_seen(self.conn, agent) | ({model} if model else set())
        return {m: list(p) for m in sorted(models) if (p := self.prices(m)) is not None}


# -- rows -------------------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def usd(amount: float) -> str:
    """Dollars with at least two significant digits: $0.0123, $0.001, $1.50 (a small sum is never $0.00)."""
    if amount <= 0 or not math.isfinite(amount):
        return "$0.00"
    places = max(2, 2 - math.floor(math.log10(amount)))
    text = f"{amount:.{places}f}"
    while places > 2 and text.endswith("0"):
        text, places = text[:-1], places - 1
    return "$" + text


def _cost(by_model: dict[str, list[int]], prices: Prices) -> tuple[float | None, list[str]]:
    """USD of a run's tokens per model at today's base prices; None when no model is priced."""
    cost, unpriced = None, []
    for model, (inp, cw, cr, out, *_rest) in by_model.items():
        p = prices(model)
        if p is None:
            unpriced.append(model)
            continue
        cost = (cost or 0.0) + inp * p[0] + cw * p[1] + cr * p[3] + out * p[4]
    return cost, sorted(unpriced)


def session_row(
    host: str, state: dict[str, Any], prices: Prices | None = None, now: float | None = None
) -> dict[str, Any]:
    """A run's state as ``session list --json`` prints it; ``prices`` prices it as the reports do."""
    t = state.get("tokens") or {}
    tokens = {k: int(t.get(k, 0)) for k in ("in", "cw", "cr", "out")}
    tokens["total"] = sum(tokens.values())
    started = state.get("started")
    end = state.get("ended") or (now or time.time())
    minutes = max((end - started) / 60, 1 / 60) if started else None
    cost, unpriced = state.get("cost_usd"), list[str]()
    if prices is not None:
        cost, unpriced = _cost(state.get("by_model") or {}, prices)
    return {
        "id": state["id"],
        "host": host,
        "agent": state.get("agent"),
        "status": state.get("status"),
        "reason": state.get("reason"),
        "started": _iso(started),
        "ended": _iso(state.get("ended")),
        "iterations": state.get("iterations", 0),
        "tokens": tokens,
        "reasoning": int(t.get("rsn", 0)),
        "cost_usd": None if cost is None else round(float(cost), 6),
        "unpriced_models": unpriced,
        "tokens_per_min": None if minutes is None else round(tokens["total"] / minutes),
        "models": sorted(state.get("by_model") or {}),
        "notes": [str(n)[:200] for n in (state.get("notes") or [])[:20]],
        "agent_sessions": state.get("sessions") or [],
        "events": state.get("events", 0),
        "events_size": state.get("events_size", 0),
        "workdir": state.get("workdir"),
        "branch": state.get("branch"),
        "exit_code": state.get("exit_code"),
        "remaining": state.get("remaining"),
    }


# -- what the workstation keeps -------------------------------------------------------------------


def _dir() -> Path:
    return paths.config_dir() / "console"


def _cache_file(host: str) -> Path:
    return _dir() / f"runs-{host}.json"


def _load(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _save(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    paths.write_atomic(path, json.dumps(doc).encode())


def _remember(host: str, states: list[dict[str, Any]], partial: bool = False, ids: list[str] | None = None) -> None:
    known = _load(_cache_file(host), {}) if partial or ids is not None else {}
    for s in states:
        known[s["id"]] = s
    if ids is not None:  # runs whose folder is gone on the host are gone here too
        known = {k: v for k, v in known.items() if k in set(ids)}
    _save(_cache_file(host), known)


def cached(host: str) -> dict[str, dict[str, Any]]:
    return dict(_load(_cache_file(host), {}))


def host_of(rid: str, names: Iterable[str]) -> str | None:
    """Which host ran ``rid``, from what the workstation last saw."""
    return next((h for h in names if rid in cached(h)), None)


def _pending_file() -> Path:
    return _dir() / "pending-kills.json"


def pending_kills() -> dict[str, list[str]]:
    return dict(_load(_pending_file(), {}))


def _set_pending(host: str, ids: list[str]) -> None:
    doc = pending_kills()
    if ids:
        doc[host] = sorted(set(ids))
    else:
        doc.pop(host, None)
    _save(_pending_file(), doc)


# -- list, tail, kill ---------------------------------------------------------------------------------


@dataclass
class HostRuns:
    host: str
    rows: list[dict[str, Any]]
    error: str | None = None
    killed: list[dict[str, Any]] = field(default_factory=list)  # pending kills carried out on this contact


def _poll(target: Target, prices: Prices | None) -> HostRuns:
    pending = pending_kills().get(target.name, [])
    try:
        with Session(target, timeout=60, hello={"op": "runs"}) as s:
            killed: list[dict[str, Any]] = []
            if pending:
                req: dict[str, Any] = {"op": "kill", "grace_s": KILL_GRACE_S}
                req.update({"all": True} if "*" in pending else {"ids": [i for i in pending if i != "*"]})
                killed = _listed(s.request(req), "killed")
                _set_pending(target.name, [])
                answer = s.request({"op": "runs"})
            else:
                answer = s.info
            runs, ids = _listed(answer, "runs"), _listed(answer, "ids")
    except HostError as exc:
        rows = [session_row(target.name, st, prices) | {"stale": True} for st in cached(target.name).values()]
        return HostRuns(target.name, rows, str(exc))
    _remember(target.name, runs, ids=ids)
    return HostRuns(target.name, [session_row(target.name, st, prices) for st in runs], killed=killed)


def _listed(answer: dict[str, Any], key: str) -> list[Any]:
    """``answer[key]`` as the host sent it: a list of ids, or of objects with a string ``id`` (run states,
    kill results); anything else is a protocol error, never a traceback."""
    items = answer.get(key)
    if not isinstance(items, list) or not all(
        isinstance(x, str) if key == "ids" else isinstance(x, dict) and isinstance(x.get("id"), str) for x in items
    ):
        raise HostError(
            f"a {key} answer that is not a list of {'ids' if key == 'ids' else 'objects with an id'}", "protocol"
        )
    return items


def list_runs(targets: Iterable[Target], prices: Prices | None = None) -> list[HostRuns]:
    """Every run on every host, asked in parallel; an unreachable host gives its last known rows."""
    chosen = list(targets)
    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        return list(pool.map(lambda t: _poll(t, prices), chosen))


def events(target: Target, rid: str, offset: int, limit: int = 1 << 20) -> tuple[bytes, int, int]:
    """Whole lines of the run's event stream from ``offset``: (bytes, next offset, size so far)."""
    with Session(target, timeout=60, hello={"op": "events", "id": rid, "offset": offset, "limit": limit}) as s:
        head = s.info
        data = s.last_payload
    nxt, size = head.get("next"), head.get("size")
    if type(nxt) is not int or type(size) is not int or nxt < 0 or size < 0 or len(data) > limit:
        raise HostError(f"an events answer with next {nxt!r:.40} and size {size!r:.40}", "protocol")
    return data, nxt, size


def kill(target: Target, ids: list[str] | None) -> list[dict[str, Any]]:
    """Stop runs (``None``: every live one) and verify nothing of them is left.

    When the host cannot be reached, the kill is kept and sent again on the next contact.
    """
    wanted = ["*"] if ids is None else ids
    req: dict[str, Any] = {"op": "kill", "grace_s": KILL_GRACE_S}
    req.update({"all": True} if ids is None else {"ids": ids})
    try:
        with Session(target, timeout=KILL_GRACE_S + 60, hello=req) as s:
            killed = _listed(s.info, "killed")
    except HostError as exc:
        _set_pending(target.name, sorted(set(pending_kills().get(target.name, [])) | set(wanted)))
        return [
            {"id": i, "host": target.name, "status": "kill-pending", "remaining": None, "reason": str(exc)}
            for i in wanted
        ]
    left = [i for i in pending_kills().get(target.name, []) if i not in wanted and "*" not in wanted]
    _set_pending(target.name, left)
    return [k | {"host": target.name} for k in killed]


# -- readable output --------------------------------------------------------------------------------


def readable(line: bytes) -> str | None:
    """One event of any agent's stream as a line a person reads, or None for bookkeeping events."""
    try:
        ev = json.loads(line)
    except ValueError:
        text = line.decode("utf-8", "replace").rstrip()
        return text or None
    if not isinstance(ev, dict):
        return None
    kind = ev.get("type")
    if kind in ("assistant", "user"):  # Claude Code, Qwen Code
        out = []
        for block in (ev.get("message") or {}).get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                out.append(str(block["text"]))
            elif block.get("type") == "tool_use":
                out.append(f"→ {block.get('name')} {json.dumps(block.get('input'))[:200]}")
            elif block.get("type") == "tool_result":
                content = block.get("content")
                out.append("← " + (content if isinstance(content, str) else json.dumps(content))[:200])
        return "\n".join(out) or None
    if kind == "result":
        text = ev.get("result") or ev.get("status") or ev.get("subtype") or ""
        return f"== result: {text}"[:2000]
    if kind in ("system", "init", "thread.started"):
        return f"== started ({ev.get('model') or ev.get('thread_id') or ev.get('session_id') or ''})"
    if kind in ("item.completed",):  # Codex
        item = ev.get("item") or {}
        text = item.get("text") or item.get("command") or item.get("aggregated_output") or ""
        return f"[{item.get('type')}] {text}"[:2000] if text else None
    if kind == "tokenclub_note":  # the supervisor's own, e.g. an impossible token count it ignored
        return f"!! tokenclub: {ev.get('note')}"[:2000]
    if kind in ("turn.failed", "error"):
        err = ev.get("error") or ev.get("message")
        return f"!! {err}"[:2000]
    if kind in ("message", "text"):  # Gemini CLI, OpenCode
        said = ev.get("content") or (ev.get("part") or {}).get("text")
        return str(said) if said and ev.get("role") != "user" else None
    if kind == "tool_use":
        part = ev.get("part") or ev
        return f"→ {part.get('tool') or part.get('tool_name') or part.get('name')}"
    return None
