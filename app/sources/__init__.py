"""One module per agent; ``all_sources()`` is the registry the index walks."""

from __future__ import annotations

from app.sources.amp import Amp
from app.sources.base import Source
from app.sources.claude_code import ClaudeCode
from app.sources.codex import Codex
from app.sources.copilot_cli import CopilotCli
from app.sources.factory_droid import FactoryDroid
from app.sources.gemini_cli import GeminiCli
from app.sources.goose import Goose
from app.sources.hermes_agent import HermesAgent
from app.sources.kilo_cli import KiloCli
from app.sources.kimi_cli import KimiCli
from app.sources.opencode import OpenCode
from app.sources.pi_agent import PiAgent
from app.sources.qwen_code import QwenCode
from app.sources.vscode_tasks import Cline, KiloCode, RooCode


def all_sources() -> list[Source]:
    """Every supported agent, in display order."""
    return [
        ClaudeCode(),
        Codex(),
        GeminiCli(),
        OpenCode(),
        QwenCode(),
        Amp(),
        PiAgent(),
        KimiCli(),
        KiloCli(),
        RooCode(),
        KiloCode(),
        Cline(),
        CopilotCli(),
        FactoryDroid(),
        Goose(),
        HermesAgent(),
    ]
