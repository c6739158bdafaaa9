"""Roo Code, Kilo Code and Cline: VS Code extensions that keep one folder per task.

``<user data>/User/globalStorage/<extension id>/tasks/<task id>/ui_messages.json`` holds the
chat as one JSON array, rewritten whole on every change. Each model call is a
``say:"api_req_started"`` message whose ``text`` is itself JSON: ``tokensIn``, ``tokensOut``,
``cacheWrites``, ``cacheReads``, ``cost``. It is said as a placeholder before the call and its
text is filled in once the call ends, so a copy without tokens is not a call yet; the key is
the task id and the message's ``ts`` (epoch ms), the prio the record's token total, so the
filled-in copy replaces the placeholder.

The user data dir is ``$XDG_CONFIG_HOME/<editor>`` on Linux, ``~/Library/Application
Support/<editor>`` on macOS and ``%APPDATA%\\<editor>`` on Windows, for VS Code and the forks
that run these extensions; remote hosts use ``~/.vscode-server/data``.

Neither file names the model: Cline logs model switches in ``task_metadata.json``
(``model_usage[{ts, model_id}]``), Roo Code and Kilo Code put ``<model>…</model>`` in the
environment details of each user turn in ``api_conversation_history.json`` (entries carry
their own ``ts``). Newer Roo Code builds also write the task's ``history_item.json``, whose
``workspace`` is the project. These side files are companions: their change re-reads the task.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import BadCount, ParseResult, Source
from app.sources.base import count, num, read_json

EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf", "Positron", "Antigravity")
REMOTE = (".vscode-server", ".vscode-server-insiders")
UI_MESSAGES = "ui_messages.json"
MODEL_TAG = re.compile(r"<model>([^<]+)</model>")

Switches = list[tuple[int, str]]  # (epoch ms, model) in time order


def user_data_dirs(env: Env) -> list[Path]:
    """Every editor's user data dir, on every platform (the ones that do not exist are empty)."""
    bases = [env.xdg_config(), env.home / "Library" / "Application Support"]
    appdata = env.var("APPDATA")
    if appdata:
        bases.append(Path(appdata))
    dirs = [base / editor for base in bases for editor in EDITORS]
    return dirs + [env.home / remote / "data" for remote in REMOTE]


class VscodeTasks(Source):
    """One extension's task folders; subclasses name the extension and read its model log."""

    extension: ClassVar[str]
    whole_file = True

    def roots(self, env: Env) -> list[Path]:
        return [d / "User" / "globalStorage" / self.extension / "tasks" for d in user_data_dirs(env)]

    def discover(self, root: Path) -> Iterator[Path]:
        try:
            tasks = sorted(entry.path for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False))
        except OSError:
            return
        for task in tasks:
            path = Path(task) / UI_MESSAGES
            if path.is_file():
                yield path

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        import orjson  # here, not at the top: a warm start never decodes JSON

        result = ParseResult(state=state)
        messages = read_json(path, result)
        if messages is None:
            return result
        if not isinstance(messages, list):
            result.skip("not a message list")
            return result
        task = path.parent.name
        switches = self.models(path.parent)
        project = self.project(path.parent)
        for message in messages:
            if not isinstance(message, dict) or message.get("say") != "api_req_started":
                continue
            text = message.get("text")
            try:
                info = orjson.loads(text) if isinstance(text, str) else None
            except orjson.JSONDecodeError:
                info = None
            if not isinstance(info, dict):
                result.skip("api_req_started without JSON text")
                continue
            try:
                tokens_in, out = count(info.get("tokensIn")), count(info.get("tokensOut"))
                cw, cr = count(info.get("cacheWrites")), count(info.get("cacheReads"))
            except BadCount as exc:  # that call skipped, the task's others counted
                result.skip(str(exc))
                continue
            if tokens_in + out + cw + cr == 0:
                continue  # the placeholder said before the call
            ts = num(message.get("ts"))
            if not ts:
                result.skip("usage record without timestamp")
                continue
            inp = self.fresh_input(tokens_in, cw, cr)
            result.events.append(
                UsageEvent(
                    key=f"{self.agent}:{task}:{ts}",
                    prio=tokens_in + out + cw + cr,
                    agent=self.agent,
                    ts=ts,
                    model=self.model_at(switches, ts),
                    session=task,
                    project=project,
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                )
            )
        return result

    def fresh_input(self, tokens_in: int, cw: int, cr: int) -> int:
        """``tokensIn`` without the cache: Cline's providers already subtract it."""
        return tokens_in

    def models(self, task_dir: Path) -> Switches:
        """The task's model switches, in time order."""
        return []

    def project(self, task_dir: Path) -> str:
        """The workspace the task ran in, where the extension records it."""
        return ""

    def model_at(self, switches: Switches, ts: int) -> str:
        """The model in use at ``ts``: the last switch at or before it."""
        at = bisect_right(switches, ts, key=lambda s: s[0])
        return switches[max(at - 1, 0)][1] if switches else "unknown"


class Cline(VscodeTasks):
    """Cline (``saoudrizwan.claude-dev``); its CLI and JetBrains builds use ``~/.cline/data`` instead.

    ``CLINE_DATA_DIR``, else ``CLINE_DIR``/data, moves that folder.
    """

    agent = "cline"
    title = "Cline"
    descriptor = Descriptor(env=("XDG_CONFIG_HOME", "APPDATA", "CLINE_DATA_DIR", "CLINE_DIR"))
    extension = "saoudrizwan.claude-dev"

    def roots(self, env: Env) -> list[Path]:
        data = env.var("CLINE_DATA_DIR") or Path(env.var("CLINE_DIR") or env.home / ".cline") / "data"
        return [*super().roots(env), Path(data) / "tasks"]

    def companions(self, path: Path) -> tuple[Path, ...]:
        return (path.with_name("task_metadata.json"),)

    def models(self, task_dir: Path) -> Switches:
        meta = _load(task_dir / "task_metadata.json")
        usage = meta.get("model_usage") if isinstance(meta, dict) else None
        if not isinstance(usage, list):
            return []
        found = [(num(u.get("ts")), str(u["model_id"])) for u in usage if isinstance(u, dict) and u.get("model_id")]
        return sorted(found)


class RooCode(VscodeTasks):
    """Roo Code (``rooveterinaryinc.roo-cline``).

    Since Roo Code's "Fix cost and token tracking between provider styles" (2025-10-31)
    ``tokensIn`` is the whole prompt, cache reads and writes included, for every provider;
    before it, Anthropic-style providers wrote the uncached part only. A ``tokensIn`` below
    ``cacheWrites + cacheReads`` cannot hold them, so it is taken as fresh already.
    """

    agent = "roo-code"
    title = "Roo Code"
    descriptor = Descriptor(env=("XDG_CONFIG_HOME", "APPDATA"))
    extension = "rooveterinaryinc.roo-cline"

    def companions(self, path: Path) -> tuple[Path, ...]:
        return (path.with_name("api_conversation_history.json"), path.with_name("history_item.json"))

    def project(self, task_dir: Path) -> str:
        item = _load(task_dir / "history_item.json")
        workspace = item.get("workspace") if isinstance(item, dict) else None
        return workspace if isinstance(workspace, str) else ""

    def fresh_input(self, tokens_in: int, cw: int, cr: int) -> int:
        return tokens_in - cw - cr if tokens_in >= cw + cr else tokens_in

    def models(self, task_dir: Path) -> Switches:
        history = _load(task_dir / "api_conversation_history.json")
        if not isinstance(history, list):
            return []
        found: Switches = []
        for entry in history:
            if not isinstance(entry, dict) or entry.get("role") != "user" or not num(entry.get("ts")):
                continue
            content = entry.get("content")
            blocks = content if isinstance(content, list) else [{"text": content}]
            for block in blocks:
                text = block.get("text") if isinstance(block, dict) else None
                hit = MODEL_TAG.search(text) if isinstance(text, str) else None
                if hit:
                    found.append((num(entry.get("ts")), hit.group(1).strip()))
        return sorted(found)

    def model_at(self, switches: Switches, ts: int) -> str:
        """The call is said first, then the user turn that names the model is stored: the next one."""
        at = bisect_left(switches, ts, key=lambda s: s[0])
        return switches[min(at, len(switches) - 1)][1] if switches else "unknown"


class KiloCode(RooCode):
    """Kilo Code (``kilocode.kilo-code``), a Roo Code fork with Roo's task files and rules."""

    agent = "kilo-code"
    title = "Kilo Code"
    descriptor = Descriptor(env=("XDG_CONFIG_HOME", "APPDATA"))
    extension = "kilocode.kilo-code"


def _load(path: Path) -> Any:
    """A side file's JSON, or None when it is missing or does not decode (the usage still counts)."""
    import orjson  # here, not at the top: a warm start never decodes JSON

    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
