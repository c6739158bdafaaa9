"""One module per agent; this module is the registry the faces and features hand the index (``SOURCES``).

The modules are imported when a source is first needed: a refresh that finds nothing new
(see ``app.core.snapshot``) and the settings' list of agents never load them.
"""

from __future__ import annotations

from importlib import import_module

from app.core.source import AGENTS, Source, Sources

# agent id -> (module, class), in display order
REGISTRY: dict[str, tuple[str, str]] = {
    "claude-code": ("claude_code", "ClaudeCode"),
    "codex": ("codex", "Codex"),
    "gemini-cli": ("gemini_cli", "GeminiCli"),
    "opencode": ("opencode", "OpenCode"),
    "qwen-code": ("qwen_code", "QwenCode"),
    "amp": ("amp", "Amp"),
    "pi-agent": ("pi_agent", "PiAgent"),
    "kimi-cli": ("kimi_cli", "KimiCli"),
    "kilo-cli": ("kilo_cli", "KiloCli"),
    "roo-code": ("vscode_tasks", "RooCode"),
    "kilo-code": ("vscode_tasks", "KiloCode"),
    "cline": ("vscode_tasks", "Cline"),
    "copilot-cli": ("copilot_cli", "CopilotCli"),
    "factory-droid": ("factory_droid", "FactoryDroid"),
    "goose": ("goose", "Goose"),
    "hermes-agent": ("hermes_agent", "HermesAgent"),
    "openclaw": ("openclaw", "OpenClaw"),
    "grok-build": ("grok_build", "GrokBuild"),
    "zcode": ("zcode", "ZCode"),
}
SOURCES = Sources(__name__)  # the index reads through this (a reader process rebuilds it by name)
__all__ = ["AGENTS", "REGISTRY", "SOURCES", "all_sources", "prepare", "source"]


def all_sources() -> list[Source]:
    """Every supported agent, in display order."""
    return [source(agent) for agent in REGISTRY]


def prepare() -> None:
    """What every reader process needs (memmem, orjson): loaded once before they are forked."""
    from app.sources.base import prepare_scan

    prepare_scan()


def source(agent: str) -> Source:
    module, name = REGISTRY[agent]
    cls: type[Source] = getattr(import_module(f"app.sources.{module}"), name)
    return cls()
