"""Kimi CLI: ``$KIMI_SHARE_DIR`` (``~/.kimi``) ``/sessions/<group>/<session>/wire.jsonl``.

Usage is the ``token_usage`` of ``message.type == "StatusUpdate"`` lines: ``input_other``
(fresh input), ``output``, ``input_cache_read`` and ``input_cache_creation``. The line's
``timestamp`` is epoch **seconds** (a float). The model is not on the line: it is the
``model`` of ``<root>/config.json``, else Kimi's default ``kimi-for-coding``.

The de-duplication key is the session plus the payload's ``message_id`` (one per model
call), or the line's offset in the file when a build writes none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.descriptor import Descriptor
from app.core.env import Env
from app.core.model import UsageEvent
from app.core.source import ParseResult, Source
from app.sources.base import count, needle, scan_jsonl, walk

MARKER = needle(b'"StatusUpdate"')

DEFAULT_MODEL = "kimi-for-coding"


class KimiCli(Source):
    agent = "kimi-cli"
    title = "Kimi CLI"
    descriptor = Descriptor(env=("KIMI_SHARE_DIR",))

    def roots(self, env: Env) -> list[Path]:
        return [Path(env.var("KIMI_SHARE_DIR") or env.home / ".kimi") / "sessions"]

    def discover(self, root: Path) -> Iterator[Path]:
        for path in walk(root, lambda name: name == "wire.jsonl"):
            if len(path.relative_to(root).parts) == 3:  # <group>/<session>/wire.jsonl
                yield path

    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        result = ParseResult(state=state)
        model = _configured_model(path.parents[3] / "config.json")
        session, project = path.parent.name, path.parent.parent.name

        def on_line(obj: dict[str, Any], at: int) -> None:
            message = obj.get("message")
            if not isinstance(message, dict) or message.get("type") != "StatusUpdate":
                return
            payload = message.get("payload")
            if not isinstance(payload, dict) or not isinstance(payload.get("token_usage"), dict):
                return
            usage = payload["token_usage"]
            inp, out = count(usage.get("input_other")), count(usage.get("output"))
            cr, cw = count(usage.get("input_cache_read")), count(usage.get("input_cache_creation"))
            if inp + out + cr + cw == 0:
                return
            seconds = obj.get("timestamp")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < 1e11:
                result.skip("usage line without timestamp")
                return
            msg_id = payload.get("message_id")
            result.events.append(
                UsageEvent(
                    key=f"kimi:{session}:{msg_id}" if isinstance(msg_id, str) and msg_id else f"kimi:{path}@{at}",
                    prio=0,
                    agent=self.agent,
                    ts=int(seconds * 1000),
                    model=model,
                    session=session,
                    project=project,
                    inp=inp,
                    cw=cw,
                    cr=cr,
                    out=out,
                )
            )

        scan_jsonl(path, offset, MARKER, on_line, result)
        return result


def _configured_model(config: Path) -> str:
    import orjson  # here, not at the top: a warm start never decodes JSON

    try:
        value = orjson.loads(config.read_bytes()).get("model")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return DEFAULT_MODEL
    return value if isinstance(value, str) and value else DEFAULT_MODEL
