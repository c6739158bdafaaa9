"""The agent CLIs the console runs, each in its headless structured-output mode.

Each source declares its CLI's headless invocation (``descriptor.headless`` in ``app.sources``);
the console runs it as declared. The goal is never in an argv: every agent reads it from its stdin,
a file that ends. ``format`` names how the agent's stdout reports usage (the supervisor on the host
counts it); an agent is named as the index names it.
"""

from __future__ import annotations

import shlex

from app.core.descriptor import Headless
from app.sources import source

FORMATS = ("claude", "codex", "gemini", "opencode", "text")

# The agents whose source declares a headless mode, in the registry's order (a test holds the two
# equal): named here so that the command line's start, which offers them, loads no source. A
# dedicated machine is one the agent may trash: each mode runs without asking for approval.
AGENTS = ("claude-code", "codex", "gemini-cli", "opencode", "qwen-code")
CHOICES = (*AGENTS, "custom")
# the agents whose stream names the model before any usage; the others' model comes from --model,
# the CLI's config on the host, or (once running) its session log
MODEL_IN_STREAM = ("claude-code", "qwen-code", "custom")
# Gemini CLI's auto modes route each call to one of these (its models.ts)
_GEMINI_25 = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite")
GEMINI_AUTO = {
    "auto": _GEMINI_25,
    "auto-gemini-2.5": _GEMINI_25,
    "auto-gemini-3": ("gemini-3-pro-preview", "gemini-3-flash-preview", "gemini-2.5-flash-lite"),
}
ROOT_CLAUDE = (
    "Claude Code refuses to skip permissions (--dangerously-skip-permissions) when it runs as root, "
    "and {host} logs in as root. Log in as another user (`tokenclub host add` with --ssh USER@HOST), or, "
    "if {host} is a sandbox you may trash, `tokenclub host set {host} --claude-sandbox` (its runs then get "
    "IS_SANDBOX=1, Claude Code's own switch for sandboxes)"
)


class AgentError(ValueError):
    """An agent or a custom command that cannot be run as asked."""

    exit_code = 1


class Refused(AgentError):
    """A launch refused before anything starts, with how to fix it (exit 2, as for a usage error)."""

    exit_code = 2


def priced_models(agent: str, model: str | None) -> tuple[str, ...]:
    """The names a run's calls are counted and priced under: OpenCode's ``provider/`` prefix off; for a
    Gemini CLI auto mode, each model it may route to."""
    if not model:
        return ()
    if agent == "gemini-cli" and model in GEMINI_AUTO:
        return GEMINI_AUTO[model]
    if agent == "opencode" and "/" in model:
        return (model.partition("/")[2],)
    return (model,)


def run_model(agent: str, model: str | None) -> str | None:
    """The model the host counts calls under until the agent names one (None when routed per call)."""
    models = priced_models(agent, model)
    return models[0] if len(models) == 1 else None


def command(agent: str, model: str | None, template: str | None = None) -> list[str]:
    """The argv that runs ``agent`` (with ``model``); ``custom`` splits ``template`` (``{model}`` filled in)."""
    if agent == "custom":
        if not template:
            raise AgentError("--agent custom needs --command 'TEMPLATE' (the goal arrives on its stdin)")
        try:
            argv = [part.replace("{model}", model or "") for part in shlex.split(template)]
        except ValueError as exc:
            raise AgentError(f"--command: {exc}") from None
        if not argv or not argv[0]:
            raise AgentError("--command is empty")
        return argv
    inv = headless(agent)
    if template:
        raise AgentError("--command is only for --agent custom")
    return [*inv.argv, *((inv.model_flag, model) if model else ()), *inv.tail]


def stream_format(agent: str, custom_format: str | None) -> str:
    if agent == "custom":
        return custom_format or "text"
    return headless(agent).format


def includes_cache(agent: str) -> bool:
    return agent in AGENTS and headless(agent).input_includes_cache


def headless(agent: str) -> Headless:
    """How the console runs ``agent``: the headless mode its source declares."""
    inv = source(agent).descriptor.headless if agent in AGENTS else None
    if inv is None:
        raise AgentError(f"unknown agent {agent!r}; choose one of {', '.join(CHOICES)}")
    return inv
